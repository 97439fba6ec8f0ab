/**
 * The Redis alerts per region role (issue 15, item 2), with the real promtool: the rules
 * rendered for ggen's primary region (us-central1) and a secondary one (us-east1) are fed
 * the metrics redis_exporter reports for a healthy group in that role, and no Redis alert
 * may fire; fed the other role's healthy metrics, the role-specific alerts do fire (so the
 * steady-state check can fail: the primary's RedisNoMaster is what paged forever in every
 * secondary region before).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { loadAll } from '../../../model';
import { buildEnvironment } from '../../../synth/render';
import { redisBackupJob, redisJob, sentinelJob } from '../../../features/observability/rules';
import { MASTER_SET } from '../../../features/redis/redis-sentinel';
import { ROOT, tempDir } from '../../helpers';
import { findPromtool, runPromtool } from '../../promtool';

type Obj = Record<string, any>;
const PROMTOOL = findPromtool();
const NS = 'marketplace';
const job = redisJob('cache');

/** The rule groups of the Rules object `cache-redis` rendered for each region of ggen prod. */
function rules(): Map<string, Obj[]> {
  const [prod] = loadAll(ROOT, { platform: 'ggen', env: 'prod' });
  const out = new Map<string, Obj[]>();
  for (const [chart, folder] of buildEnvironment(prod, 'ggen/prod')) {
    const r = (chart.toJson() as Obj[]).find((o) => o.kind === 'Rules' && o.metadata.name === job);
    if (r) out.set(folder.split('/').pop()!, r.spec.groups);
  }
  return out;
}

const sel = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries({ namespace: NS, ...labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
const pod = (i: number) => `cache-${i}`;
const host = (region: string, i: number) => `cache-${i}.cache-${region}-headless.${NS}.svc.cluster.local`;

/** What redis_exporter reports, every 30 s for an hour, for a healthy group of 3 pods in `role`. */
function steadyState(role: 'primary' | 'secondary', region: string, upstream: string): { series: string; values: string }[] {
  const samples = 120;
  const s: { series: string; values: string }[] = [];
  const gauge = (series: string, v: number) => s.push({ series, values: `${v}x${samples}` });
  const counter = (series: string, perSample: number) => s.push({ series, values: `0+${perSample}x${samples}` });
  for (let i = 0; i < 3; i++) {
    const isMaster = role === 'primary' && i === 0;
    gauge(sel('up', { job, pod: pod(i) }), 1);
    gauge(sel('redis_up', { job, pod: pod(i) }), 1);
    gauge(sel('redis_instance_info', { job, pod: pod(i), role: isMaster ? 'master' : 'slave', redis_version: '7.4.2' }), 1);
    gauge(sel('redis_db_keys', { job, pod: pod(i), db: 'db0' }), 250_000);
    counter(sel('redis_keyspace_hits_total', { job, pod: pod(i) }), 900);
    counter(sel('redis_keyspace_misses_total', { job, pod: pod(i) }), 100);
    gauge(sel('redis_memory_used_bytes', { job, pod: pod(i) }), 400e6);
    gauge(sel('redis_memory_max_bytes', { job, pod: pod(i) }), 1.2e9);
    if (!isMaster) {
      // Pod 0 of a secondary follows the primary region; the others follow the region's first pod (or the master).
      const master = role === 'secondary' && i === 0 ? upstream : host(region, 0);
      gauge(sel('redis_master_link_up', { job, pod: pod(i), master_host: master, master_port: '6379' }), 1);
      gauge(sel('redis_master_last_io_seconds_ago', { job, pod: pod(i), master_host: master, master_port: '6379' }), 1);
      gauge(sel('redis_master_sync_in_progress', { job, pod: pod(i), master_host: master, master_port: '6379' }), 0);
    }
    if (role === 'primary') {
      gauge(
        sel('redis_sentinel_master_status', {
          job: sentinelJob('cache'),
          pod: pod(i),
          master_name: MASTER_SET,
          master_address: `${host(region, 0)}:6379`,
          master_status: 'ok',
        }),
        1,
      );
    }
  }
  // The backup containers (rendered in the primary region only; a secondary's rules do not read them):
  // pod 1, the snapshot taker, confirmed its last upload at time 0, within the 24h interval.
  for (let i = 0; i < 3; i++) gauge(sel('meridian_redis_backup_last_success_timestamp_seconds', { job: redisBackupJob('cache'), pod: pod(i) }), 0);
  // The first pod's replicas (the master's in the primary region) acknowledge every second.
  for (const r of [1, 2])
    gauge(sel('redis_connected_slave_lag_seconds', { job, pod: pod(0), slave_ip: host(region, r), slave_port: '6379', slave_state: 'online' }), 0);
  return s;
}

/** promtool compares annotations too: the rule's, with its `{{ $labels.x }}` filled in. */
function expected(groups: Obj[], alert: string, labels: Record<string, string>): Obj {
  const rule = groups.flatMap((g) => g.rules).find((r: Obj) => r.alert === alert && r.labels?.severity === labels.severity);
  const fill = (t: string) => t.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => labels[k] ?? '');
  return { exp_labels: labels, exp_annotations: Object.fromEntries(Object.entries(rule.annotations as Record<string, string>).map(([k, v]) => [k, fill(v)])) };
}

function alertsOf(groups: Obj[]): string[] {
  return [...new Set(groups.flatMap((g) => g.rules.filter((r: Obj) => r.alert).map((r: Obj) => r.alert as string)))].sort();
}

test('promtool is installed, or the run is local', () => {
  if (process.env.CI === 'true') expect(PROMTOOL).toBeDefined();
});

(PROMTOOL ? describe : describe.skip)('Redis alerts per region role (real promtool)', () => {
  const rendered = rules();
  const upstream = `cache-us-central1.${NS}.svc.clusterset.local`;

  /** Runs promtool on the rules of `region` with `series`, expecting `firing` (alert → labels) at 10, 30 and 60 minutes, nothing else. */
  function check(region: string, series: { series: string; values: string }[], firing: Record<string, Record<string, string>[]>) {
    const dir = tempDir('meridian-redis-alerts-');
    try {
      const groups = rendered.get(region)!;
      fs.writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups }));
      const tests = [
        {
          interval: '30s',
          input_series: series,
          alert_rule_test: [10, 30, 60].flatMap((m) =>
            alertsOf(groups).map((alert) => ({
              eval_time: `${m}m`,
              alertname: alert,
              exp_alerts: (firing[alert] ?? []).map((l) => expected(groups, alert, l)),
            })),
          ),
        },
      ];
      fs.writeFileSync(path.join(dir, 'test.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '30s', tests }, { lineWidth: 0 }));
      const r = runPromtool(PROMTOOL!, ['test', 'rules', 'test.yaml'], dir);
      if (r.code !== 0) throw new Error(`promtool test rules (${region}):\n${r.output}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const labels = (region: string, severity: string, extra: Record<string, string> = {}) => ({
    namespace: NS,
    severity,
    redis: 'cache',
    platform: 'ggen',
    env: 'prod',
    region,
    ...extra,
  });

  test('each role has its own health signals', () => {
    const primary = alertsOf(rendered.get('us-central1')!);
    const secondary = alertsOf(rendered.get('us-east1')!);
    expect(primary).toEqual(expect.arrayContaining(['RedisNoMaster', 'RedisMultipleMasters', 'RedisSentinelsDisagree', 'RedisReplicaEmpty']));
    expect(primary).not.toContain('RedisUpstreamLinkDown');
    // Backups are the primary's (seed 004 §3.1): a secondary holds a copy of the primary's data.
    expect(primary).toContain('RedisBackupStale');
    expect(alertsOf(rendered.get('us-east1')!)).not.toContain('RedisBackupStale');
    expect(secondary).toEqual(expect.arrayContaining(['RedisUpstreamLinkDown', 'RedisUpstreamSilent', 'RedisSecondaryHasMaster', 'RedisReplicaEmpty']));
    expect(secondary).not.toContain('RedisNoMaster');
    expect(rendered.get('europe-west1')).toEqual(rendered.get('us-east1')!.map((g) => JSON.parse(JSON.stringify(g).replace(/us-east1/g, 'europe-west1'))));
  });

  test('primary region: nothing fires in the steady state', () => {
    check('us-central1', steadyState('primary', 'us-central1', upstream), {});
  });

  test('secondary region: nothing fires in the steady state', () => {
    check('us-east1', steadyState('secondary', 'us-east1', upstream), {});
  });

  test("the steady state is role-specific: a secondary's healthy group would page the primary's RedisNoMaster, and vice versa", () => {
    expect(() => check('us-central1', steadyState('secondary', 'us-central1', upstream), {})).toThrow(/RedisNoMaster/);
    check('us-central1', steadyState('secondary', 'us-central1', upstream), { RedisNoMaster: [labels('us-central1', 'critical')] });
    check('us-east1', steadyState('primary', 'us-east1', upstream), { RedisSecondaryHasMaster: [labels('us-east1', 'critical')] });
  });

  test('primary region: RedisBackupStale fires 15 minutes after no backup container is scraped any more', () => {
    const series = steadyState('primary', 'us-central1', upstream).filter((x) => !x.series.startsWith('meridian_redis_backup_'));
    const dir = tempDir('meridian-redis-alerts-');
    try {
      const groups = rendered.get('us-central1')!;
      fs.writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups }));
      // absent() keeps the selector's labels: the job (Managed Prometheus adds the Rules' namespace).
      const firing = [expected(groups, 'RedisBackupStale', { ...labels('us-central1', 'critical'), namespace: '', job: redisBackupJob('cache') })];
      delete firing[0].exp_labels.namespace;
      const tests = [
        {
          interval: '30s',
          input_series: series,
          alert_rule_test: [
            { eval_time: '14m30s', alertname: 'RedisBackupStale', exp_alerts: [] },
            { eval_time: '15m', alertname: 'RedisBackupStale', exp_alerts: firing },
          ],
        },
      ];
      fs.writeFileSync(path.join(dir, 'test.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '30s', tests }, { lineWidth: 0 }));
      const r = runPromtool(PROMTOOL!, ['test', 'rules', 'test.yaml'], dir);
      if (r.code !== 0) throw new Error(r.output);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a secondary replica whose upstream link is down raises RedisUpstreamLinkDown within 2 minutes', () => {
    const series = steadyState('secondary', 'us-east1', upstream).map((x) =>
      // The link drops at minute 5 (samples every 30 s; `1x9` is ten samples).
      x.series.startsWith('redis_master_link_up') && x.series.includes(`pod="${pod(0)}"`) ? { ...x, values: '1x9 0x110' } : x,
    );
    const dir = tempDir('meridian-redis-alerts-');
    try {
      fs.writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups: rendered.get('us-east1') }));
      const groups = rendered.get('us-east1')!;
      const firing = [expected(groups, 'RedisUpstreamLinkDown', labels('us-east1', 'critical', { pod: pod(0), master_host: upstream }))];
      const tests = [
        {
          interval: '30s',
          input_series: series,
          alert_rule_test: [
            { eval_time: '5m30s', alertname: 'RedisUpstreamLinkDown', exp_alerts: [] },
            { eval_time: '6m', alertname: 'RedisUpstreamLinkDown', exp_alerts: firing },
          ],
        },
      ];
      fs.writeFileSync(path.join(dir, 'test.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '30s', tests }, { lineWidth: 0 }));
      const r = runPromtool(PROMTOOL!, ['test', 'rules', 'test.yaml'], dir);
      if (r.code !== 0) throw new Error(r.output);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
