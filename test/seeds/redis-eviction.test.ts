/**
 * Issue 22, item 5: Bytspot keeps an ephemeral cache, sessions, locks and rate-limit counters in
 * Redis (seed 000). Sessions, locks and counters all carry a TTL, so `volatile-lru` evicts
 * exactly them when memory is full. Judged on dist/:
 *
 * - with a real redis-server running each group's rendered maxmemory-policy at a tiny maxmemory:
 *   a group holding state keeps every key it accepted and refuses the write that does not fit
 *   (-OOM), a cache keeps accepting writes by evicting;
 * - with the real promtool, on each group's rendered rules: refused writes and evictions of a
 *   group holding state page; a cache's evictions do not.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import Redis from 'ioredis';
import { stringify } from 'yaml';
import { onPath } from '../programs';
import { tempDir } from '../helpers';
import { findPromtool, runPromtool } from '../promtool';
import { DistCluster, distClusters, named } from './dist';
import { fixtureRepo, shopPlatform } from '../model/fixtures';
import { loadAll } from '../../model';
import { ProblemError } from '../../kernel/problems';

const clusters = distClusters('bytspot');
const REDIS = onPath('redis-server');
const PROMTOOL = findPromtool();

/** The group's maxmemory-policy, as its rendered redis.conf sets it. */
function renderedPolicy(c: DistCluster, group: string): string {
  const conf: string = named(c, 'ConfigMap', `${group}-config`).data['redis.conf'];
  const m = /^maxmemory-policy (\S+)$/m.exec(conf);
  if (!m) throw new Error(`${c.env}: ${group}-config sets no maxmemory-policy`);
  return m[1];
}

test('redis-server and promtool are installed, or the run is local', () => {
  if (process.env.CI === 'true') expect({ redis: !!REDIS, promtool: !!PROMTOOL }).toEqual({ redis: true, promtool: true });
});

describe.each(clusters.map((c) => [c.env, c] as const))('bytspot %s: sessions, locks and rate limits are never evicted', (_, c) => {
  const holding = (use: string) => Object.entries(c.spec.redis).filter(([, g]) => g.holds.includes(use as never));

  test.each(['sessions', 'locks', 'rate-limits'])('%s live in a group rendered with noeviction', (use) => {
    const groups = holding(use);
    expect(groups.length).toBe(1);
    expect(renderedPolicy(c, groups[0][0])).toBe('noeviction');
  });

  test('the cache lives in a group of its own, rendered with allkeys-lru', () => {
    const groups = holding('cache');
    expect(groups.map(([, g]) => g.holds)).toEqual([['cache']]);
    expect(renderedPolicy(c, groups[0][0])).toBe('allkeys-lru');
  });

  test('bytspot-api is a client of every group', () => {
    const env = named(c, 'Deployment', 'bytspot-api').spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    for (const g of Object.keys(c.spec.redis)) expect(env).toContain(`REDIS_${g.toUpperCase()}_SENTINELS`);
  });
});

// ---------------------------------------------------------------------------------------------
// A real redis-server per rendered policy

interface Fill {
  /** Keys with a TTL the server accepted. */
  readonly accepted: number;
  /** Of them, still present (with their TTL) after the fill. */
  readonly kept: number;
  /** The first refusal, if any. */
  readonly refused?: string;
  readonly evicted: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.kill(proc.pid!, 'SIGKILL');
  await exited;
}

/**
 * Starts redis-server on 127.0.0.1 with `policy` and 2 MB of maxmemory, writes session-like
 * keys (1 KB, a one-hour TTL) until one is refused or 20 000 are written, and reports.
 */
async function fill(policy: string): Promise<Fill> {
  const dir = tempDir('meridian-redis-eviction-');
  const port = await freePort();
  const proc = spawn(
    REDIS!,
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory', '2mb', '--maxmemory-policy', policy],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    proc.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited:\n${log}`));
    });
  });
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await ready;
    await client.connect();
    const value = 'x'.repeat(1024);
    const accepted: string[] = [];
    let refused: string | undefined;
    for (let i = 0; i < 20_000 && refused === undefined; i++) {
      try {
        await client.set(`session:${i}`, value, 'EX', 3600);
        accepted.push(`session:${i}`);
      } catch (e) {
        refused = (e as Error).message;
      }
    }
    let kept = 0;
    for (let i = 0; i < accepted.length; i += 500) {
      const batch = accepted.slice(i, i + 500);
      const ttls = await Promise.all(batch.map((k) => client.ttl(k)));
      kept += ttls.filter((t) => t > 0).length;
    }
    const stats = await client.info('stats');
    const evicted = Number(/^evicted_keys:(\d+)/m.exec(stats)![1]);
    return { accepted: accepted.length, kept, refused, evicted };
  } finally {
    client.disconnect();
    await stop(proc);
  }
}

(REDIS ? describe : describe.skip)('the rendered policies under memory pressure (real redis-server)', () => {
  const prod = clusters.find((c) => c.env === 'prod')!;

  test('volatile-lru (the policy rendered before) evicts sessions it had accepted: why it is not used', async () => {
    const r = await fill('volatile-lru');
    expect(r.refused).toBeUndefined();
    expect(r.evicted).toBeGreaterThan(0);
    expect(r.kept).toBeLessThan(r.accepted);
  }, 60_000);

  test.each(Object.keys(prod.spec.redis))(
    'group %s',
    async (group) => {
      const r = await fill(renderedPolicy(prod, group));
      if (prod.spec.redis[group].holds.some((h) => h !== 'cache')) {
        // State: nothing accepted is ever lost; the write that does not fit is refused.
        expect(r.refused).toMatch(/^OOM command not allowed/);
        expect({ kept: r.kept, evicted: r.evicted }).toEqual({ kept: r.accepted, evicted: 0 });
        expect(r.accepted).toBeGreaterThan(100);
      } else {
        // Cache: writes keep succeeding, the least recently used keys make room.
        expect(r.refused).toBeUndefined();
        expect(r.accepted).toBe(20_000);
        expect(r.evicted).toBeGreaterThan(0);
      }
    },
    60_000,
  );
});

// ---------------------------------------------------------------------------------------------
// The alerts, with the real promtool

type Obj = Record<string, any>;
interface Series {
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly values: string;
}

(PROMTOOL ? describe : describe.skip)('alerts on keys that must not be evicted (real promtool)', () => {
  const prod = clusters.find((c) => c.env === 'prod')!;
  const groupsOf = (group: string): Obj[] => named(prod, 'Rules', `${group}-redis`).spec.groups;
  const alertNames = (groups: Obj[]) => [...new Set(groups.flatMap((g) => g.rules.filter((r: Obj) => r.alert).map((r: Obj) => r.alert as string)))];

  /** A healthy master `<group>-0` for an hour, with `extra` series; promtool expects `firing` at 30 min and nothing else of `alerts`. */
  function check(group: string, extra: Series[], firing: Record<string, Obj[]>, alerts: string[]) {
    const dir = tempDir('meridian-redis-eviction-alerts-');
    const groups = groupsOf(group);
    const sel = (s: Series) =>
      `${s.name}{${Object.entries({ namespace: 'bytspot', job: `${group}-redis`, pod: `${group}-0`, ...s.labels })
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`;
    const healthy: Series[] = [
      { name: 'up', values: '1x120' },
      { name: 'redis_up', values: '1x120' },
      { name: 'redis_instance_info', labels: { role: 'master' }, values: '1x120' },
      { name: 'redis_memory_used_bytes', values: '100e6x120' },
      { name: 'redis_memory_max_bytes', values: '300e6x120' },
    ];
    const series = [...healthy.filter((h) => !extra.some((e) => e.name === h.name)), ...extra].map((s) => ({ series: sel(s), values: s.values }));
    const rule = (alert: string, severity: string) => groups.flatMap((g) => g.rules).find((r: Obj) => r.alert === alert && r.labels.severity === severity);
    const exp = (alert: string, labels: Obj) => {
      const r = rule(alert, labels.severity);
      const fill = (t: string) => t.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m: string, k: string) => labels[k] ?? '');
      return { exp_labels: labels, exp_annotations: Object.fromEntries(Object.entries(r.annotations as Record<string, string>).map(([k, v]) => [k, fill(v)])) };
    };
    fs.writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups }));
    const tests = [
      {
        interval: '30s',
        input_series: series,
        alert_rule_test: alerts.map((alert) => ({ eval_time: '30m', alertname: alert, exp_alerts: (firing[alert] ?? []).map((l) => exp(alert, l)) })),
      },
    ];
    fs.writeFileSync(path.join(dir, 'test.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '30s', tests }, { lineWidth: 0 }));
    const r = runPromtool(PROMTOOL!, ['test', 'rules', 'test.yaml'], dir);
    if (r.code !== 0) throw new Error(`promtool test rules (${group}):\n${r.output}`);
  }
  const labels = (group: string, severity: string) => ({
    namespace: 'bytspot',
    pod: `${group}-0`,
    severity,
    redis: group,
    platform: 'bytspot',
    env: 'prod',
    region: 'us-east1',
  });
  const stateGroup = Object.entries(prod.spec.redis).find(([, g]) => g.holds.includes('sessions'))?.[0];
  const cacheGroup = Object.entries(prod.spec.redis).find(([, g]) => g.holds.includes('cache'))![0];
  const WATCHED = ['RedisWritesRejected', 'RedisKeysEvicted', 'RedisMemoryNearFull'];

  test('the group holding sessions has the alerts', () => {
    expect(stateGroup).toBeDefined();
    expect(alertNames(groupsOf(stateGroup!))).toEqual(expect.arrayContaining(WATCHED));
  });

  test('refused writes (-OOM) page', () => {
    // 3 refused writes a minute from minute 20 on.
    check(
      stateGroup!,
      [{ name: 'redis_errors_total', labels: { err: 'OOM' }, values: '0x40 0+1.5x80' }],
      { RedisWritesRejected: [labels(stateGroup!, 'critical')] },
      WATCHED,
    );
  });

  test('an eviction pages', () => {
    check(stateGroup!, [{ name: 'redis_evicted_keys_total', values: '0x50 5x70' }], { RedisKeysEvicted: [labels(stateGroup!, 'critical')] }, WATCHED);
  });

  test('memory above 90 % of maxmemory for 10 minutes warns', () => {
    check(stateGroup!, [{ name: 'redis_memory_used_bytes', values: '280e6x120' }], { RedisMemoryNearFull: [labels(stateGroup!, 'warning')] }, WATCHED);
  });

  test("a healthy state group is silent; the cache's evictions are its normal work", () => {
    check(stateGroup!, [{ name: 'redis_errors_total', labels: { err: 'OOM' }, values: '0x120' }], {}, WATCHED);
    check(cacheGroup, [{ name: 'redis_evicted_keys_total', values: '0+50x120' }], {}, alertNames(groupsOf(cacheGroup)));
  });
});

describe('spec: the policy follows what a group holds', () => {
  const problemsOf = (redis: Record<string, unknown>): string[] => {
    const platform = shopPlatform();
    (platform as Record<string, unknown>).redis = redis;
    try {
      loadAll(fixtureRepo(platform));
    } catch (e) {
      if (!(e instanceof ProblemError && e.source === 'spec')) throw e;
      return e.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`);
    }
    return [];
  };
  const group = { namespace: 'shop', passwordSecret: 'shop-redis-password' };

  test('fails when a group holding sessions evicts', () => {
    expect(problemsOf({ cache: group, state: { ...group, holds: ['sessions', 'locks'], maxmemoryPolicy: 'volatile-lru' } })).toEqual([
      'platforms/shop.ts: redis.state.maxmemoryPolicy: must be noeviction: the group holds sessions, locks, which volatile-lru evicts when memory is full (it evicts exactly the keys with a TTL) (got "volatile-lru")',
    ]);
  });

  test('fails when one group holds a cache and rate limits', () => {
    expect(problemsOf({ cache: { ...group, holds: ['cache', 'rate-limits'] } })).toEqual([
      'platforms/shop.ts: redis.cache.holds: holds a cache and rate-limits: a cache needs eviction when full and rate-limits must never be evicted, so no one maxmemory-policy serves both; put the cache in its own group (got ["cache","rate-limits"])',
    ]);
  });

  test('the policy defaults from what the group holds', () => {
    const [env] = loadAll(fixtureRepo({ ...shopPlatform(), redis: { cache: { ...group }, b: { ...group, holds: ['locks'] } } } as never));
    const redis = env.clusters[0].redis;
    expect([redis.cache.maxmemoryPolicy, redis.b.maxmemoryPolicy]).toEqual(['allkeys-lru', 'noeviction']);
  });
});
