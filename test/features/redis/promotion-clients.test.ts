/**
 * Issue 15, Proof: the applications of every region through a promotion carried out step by
 * step as `meridian promote` prints it, with real redis-server and redis-sentinel in two
 * regions. Each region runs the Deployment `app` (a workload with `dependsOn: ['redis:cache']`)
 * as rendered at each stage, its Redis client built only from that stage's rendered env
 * (`appClient`): Sentinel in the primary region (writes, `WAIT 1`, and reads), the region's
 * replicas in a secondary one (reads). Where a stage changes a Deployment, its pods roll as
 * the rendered strategy says (maxSurge 25 %, maxUnavailable 25 % of 2 replicas: one new pod,
 * Ready, then one old pod goes), the old clients serving until then; a new pod is Ready once its
 * client answers a read (an application whose readiness checks its Redis). Step 1 changes no
 * Deployment; in step 2 each region's Application syncs its StatefulSet and Deployment at once,
 * the new primary first (the order that opened a two-master window before the fence).
 *
 * It found the step-2 defect (docs/redis.md, "Step 2 inside the new primary"): the new
 * primary's pods 2 and 1 rolled first and followed pod 0, still the old secondary's replica;
 * pod 0, rolled last with the secondary's preStop (no handover), was failed over by down
 * detection while its recreated process could start as master: 736–1033 acknowledged writes
 * lost in 3 of 8 runs, and in every run the new primary's sentinels saw their master down
 * (`+sdown`, then `+odown master` and a failover by down detection), which is what this scenario asserts never happens: every move of the
 * master in the new primary is a handover.
 */
import type Redis from 'ioredis';
import { checkFence, type FenceCheck } from '../../../cli/promote-check';
import {
  appClient,
  command,
  describeRedis,
  FAST,
  Harness,
  missing,
  RedisGroup,
  type RenderedGroup,
  renderRedis,
  sleep,
  waitFor,
  redisCliExec,
} from './harness';

const NS = 'redis-promotion-clients';
const REGIONS = ['us-central1', 'us-east1'];

/** The fleet's acknowledged writes, in the order the application saw them acknowledged. */
interface Ack {
  readonly key: string;
  readonly region: string;
  /** performance.now() when WAIT 1 returned 1. */
  readonly at: number;
  /** The address the client sent it to. */
  readonly node?: string;
}

type Refusal = 'READONLY' | 'NOREPLICAS' | 'no master' | 'other';

function refusal(err: unknown): Refusal {
  const m = err instanceof Error ? err.message : String(err);
  if (m.startsWith('READONLY')) return 'READONLY';
  if (m.startsWith('NOREPLICAS')) return 'NOREPLICAS';
  // The Sentinel client has no master to send to: the sentinels name none (or are away), the
  // connection to the one they named closed, or the command found no connection in time.
  if (/sentinel|Connection is closed|timed out|ECONNREFUSED|ECONNRESET|max retries|Stream isn't writeable/i.test(m)) return 'no master';
  return 'other';
}

/** One pod of the Deployment `app` in one region: its client, its reads, and (primary env) its writes. */
class AppPod {
  readonly client: Redis;
  readonly writes: boolean;
  /** performance.now() of each successful read. */
  readonly reads: number[] = [];
  /** Reads that returned the value of a key written in another region. */
  foreignHits = 0;
  readErrors = 0;
  writeAttempts = 0;
  accepted = 0;
  readonly refused: Record<Refusal, number> = { READONLY: 0, NOREPLICAS: 0, 'no master': 0, other: 0 };
  readonly otherErrors = new Set<string>();
  ready?: number;
  stoppedAt?: number;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  constructor(
    readonly name: string,
    readonly group: RedisGroup,
    env: Record<string, string>,
    private readonly fleet: Fleet,
  ) {
    const app = appClient(group, env);
    this.client = app.client;
    this.writes = app.writes;
    // The pod starts: its client connects (and keeps reconnecting as its retry strategy says).
    this.client.connect().catch(() => undefined);
    this.loops.push(this.readLoop());
    if (this.writes) this.loops.push(this.writeLoop());
  }

  private async readLoop(): Promise<void> {
    while (!this.stopped) {
      const ack = this.fleet.acks[Math.max(0, this.fleet.acks.length - 20)];
      try {
        const value = ack ? await this.client.get(ack.key) : await this.client.ping();
        this.reads.push(performance.now());
        if (this.ready === undefined) this.ready = performance.now();
        if (ack && value !== null && ack.region !== this.group.region) this.foreignHits++;
      } catch {
        this.readErrors++;
        await sleep(20);
      }
      await sleep(10);
    }
  }

  private async writeLoop(): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      const key = `app:${this.name}:${n}`;
      this.writeAttempts++;
      try {
        await this.client.set(key, this.group.region);
        this.accepted++;
        if (Number(await this.client.call('WAIT', '1', '1000')) >= 1)
          this.fleet.acks.push({ key, region: this.group.region, at: performance.now(), node: this.client.stream?.remoteAddress });
      } catch (err) {
        const r = refusal(err);
        this.refused[r]++;
        if (r === 'other') this.otherErrors.add(String(err));
        await sleep(20);
      }
      await sleep(10);
    }
  }

  /** The pod is deleted: its client stops with it. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stoppedAt = performance.now();
    await Promise.all(this.loops);
    this.client.disconnect();
  }
}

/** Longest time without a successful read in [from, to] (a pod's reads, or a region's pods together). */
function longestGap(times: readonly number[], from: number, to: number): number {
  const ts = [from, ...[...times].sort((a, b) => a - b).filter((t) => t > from && t < to), to];
  let gap = 0;
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i] - ts[i - 1]);
  return gap;
}

/** Every region's Deployment `app`, rolled as its rendered strategy says. */
class Fleet {
  readonly acks: Ack[] = [];
  readonly pods: AppPod[] = [];
  private serial = 0;

  constructor(private readonly replicas: number) {}

  running(region: string): AppPod[] {
    return this.pods.filter((p) => p.group.region === region && p.stoppedAt === undefined);
  }

  start(group: RedisGroup, env: Record<string, string>): AppPod {
    const pod = new AppPod(`${group.region}-${this.serial++}`, group, env, this);
    this.pods.push(pod);
    return pod;
  }

  async deploy(group: RedisGroup, env: Record<string, string>): Promise<void> {
    for (let i = 0; i < this.replicas; i++) this.start(group, env);
    await this.allReady(group.region);
  }

  private async allReady(region: string): Promise<void> {
    await waitFor(`the app pods of ${region} to be ready`, 60_000, async () => (this.running(region).every((p) => p.ready !== undefined) ? true : undefined));
  }

  /** A rolling update with maxSurge 1 and maxUnavailable 0: a new pod, Ready, then an old one deleted. */
  async roll(group: RedisGroup, env: Record<string, string>): Promise<void> {
    const old = this.running(group.region);
    for (const o of old) {
      this.start(group, env);
      await this.allReady(group.region);
      await o.stop();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.pods.filter((p) => p.stoppedAt === undefined).map((p) => p.stop()));
  }

  /** Reads per region: the longest time no pod of the region read, and the longest a serving pod went without a read. */
  readGaps(region: string, from: number, to: number): { region: number; pod: number } {
    const pods = this.pods.filter((p) => p.group.region === region && p.ready !== undefined && p.ready < to && (p.stoppedAt ?? to) > from);
    const pod = Math.max(...pods.map((p) => longestGap(p.reads, Math.max(from, p.ready!), Math.min(to, p.stoppedAt ?? to))));
    return {
      region: longestGap(
        pods.flatMap((p) => p.reads),
        from,
        to,
      ),
      pod,
    };
  }
}

const SCENARIO =
  'Applications of every region through a promotion in two steps, configured from each stage’s rendered Deployment (real redis-server and redis-sentinel)';
describeRedis(SCENARIO, () => {
  const h = new Harness(15);
  const opts = { namespace: NS, regions: REGIONS, redis: FAST };
  const start = renderRedis(opts);
  const fenced = renderRedis({ ...opts, promotion: 'us-east1' });
  const moved = renderRedis({ ...opts, primary: 'us-east1' });
  let central: RedisGroup;
  let east: RedisGroup;
  let fleet: Fleet;

  beforeAll(async () => {
    // The Services each cluster renders: the region's (which the mesh routes to from every
    // cluster) and the Sentinel Service `cache`.
    [central, east] = await h.regionGroups(start, ['us-central1', 'us-east1'], `cache.${NS}.svc.cluster.local`);
  }, 90_000);

  afterAll(async () => {
    if (fleet) await fleet.stop();
    await h.cleanup();
  }, 30_000);

  const exec = redisCliExec((context) => (context === 'us-central1' ? central : east));
  const check = (): FenceCheck =>
    checkFence(
      [
        {
          name: 'cache',
          from: central.pods.map((p) => ({ context: 'us-central1', namespace: NS, pod: p.name })),
          to: { context: 'us-east1', namespace: NS, pod: east.pods[0].name },
        },
      ],
      exec,
    );

  const deployment = (r: RenderedGroup) => r.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'app')!;

  /** One region's Application synced: its StatefulSet and its Deployment roll at the same time. */
  const sync = async (group: RedisGroup, next: RenderedGroup) => {
    await Promise.all([group.rollingUpdate(next), fleet.roll(group, next.clientEnv)]);
  };

  test('reads continue in both regions, writes are refused while no region may write, none acknowledged is lost; after step 2 the new primary writes and the old one reads it', async () => {
    // What each stage renders for the applications: step 1 changes no Deployment; step 2 swaps the contracts.
    for (const r of REGIONS) expect(deployment(fenced.get(r)!)).toEqual(deployment(start.get(r)!));
    expect(Object.keys(start.get('us-central1')!.clientEnv)).toContain('REDIS_SENTINELS');
    expect(Object.keys(start.get('us-east1')!.clientEnv)).toContain('REDIS_READ_HOST');
    expect(moved.get('us-east1')!.clientEnv.REDIS_SENTINELS).toBe(`cache.${NS}.svc.cluster.local:26379`);
    expect(moved.get('us-central1')!.clientEnv.REDIS_READ_HOST).toBe(`cache-us-central1.${NS}.svc.cluster.local`);
    const strategy = deployment(start.get('us-central1')!).spec;
    expect(strategy.strategy.rollingUpdate).toEqual({ maxSurge: '25%', maxUnavailable: '25%' });
    // 25 % of 2 replicas: surge rounds up to 1, unavailable down to 0 (Kubernetes' rounding).
    expect(strategy.replicas).toBe(2);

    await central.settled(30_000);
    fleet = new Fleet(strategy.replicas);
    const t0 = performance.now();
    await Promise.all([fleet.deploy(central, start.get('us-central1')!.clientEnv), fleet.deploy(east, start.get('us-east1')!.clientEnv)]);
    await waitFor('writes and reads to flow', 20_000, async () => (fleet.acks.length >= 100 ? true : undefined));
    expect(check().ok).toBe(false);

    // Step 1: the old primary's StatefulSet rolls to the fence; no Deployment changes.
    const t1 = performance.now();
    await central.rollingUpdate(fenced.get('us-central1')!);
    await waitFor(
      "promote's check to pass",
      30_000,
      async () => (check().ok ? true : undefined),
      async () => check().lines.join('\n'),
      100,
    );
    const ackedBeforeStep2 = fleet.acks.length;

    // Step 2, the new primary's Application first, then the old primary's.
    const t2 = performance.now();
    await sync(east, moved.get('us-east1')!);
    await waitFor(
      'us-east1 to settle on a master',
      40_000,
      () => east.settledMaster(),
      async () => `${await east.describe()}\n${await central.describe()}`,
    );
    const t3 = performance.now();
    await sync(central, moved.get('us-central1')!);
    const t4 = performance.now();
    // The master moved within the new primary by handovers only (each master's preStop): no
    // sentinel there ever saw its master down, nor took another region's configuration.
    const events = east.pods.flatMap((p) =>
      p
        .log('sentinel', 1_000_000)
        .split('\n')
        .filter((l) => l.includes('+odown master') || (l.includes('+config-update-from') && !l.includes(`.${east.domain} 26379 @`)))
        .map((l) => `${p.name}: ${l.trim()}`),
    );
    // Each handover's own account (which replicas, how long writes were paused), shown with
    // the events when there are any, and its pauses in the summary.
    const handovers = east.pods.flatMap((p) =>
      p
        .log('redis', 1_000_000)
        .split('\n')
        .filter((l) => l.includes('preStop:'))
        .map((l) => `${p.name}: ${l.trim()}`),
    );
    expect({ events, handovers: events.length > 0 ? handovers : [] }).toEqual({ events: [], handovers: [] });
    const pauses = handovers.flatMap((l) => /^(\S+): .*writes were paused for ([\d.]+) s/.exec(l)?.slice(1, 3).join(' ') ?? []);
    // The new primary's sentinels know their own group only: no sentinel of the old primary
    // (whose hello messages, published on its master, flow down every replication stream).
    for (const p of east.pods) {
      const known = await command<string[][]>(p.sentinel, east.password, 'SENTINEL', 'SENTINELS', east.masterSet);
      const hosts = known.map((e) => e[e.indexOf('ip') + 1]);
      expect(hosts.filter((x) => !x.endsWith(`.${east.domain}`))).toEqual([]);
    }

    // After: the new primary's clients write, the old primary's read those writes.
    const eastAcks = () => fleet.acks.filter((a) => a.region === 'us-east1');
    const n = eastAcks().length;
    await waitFor('the new primary’s clients to write and the old primary’s to read it', 30_000, async () =>
      eastAcks().length >= n + 100 && fleet.running('us-central1').every((p) => p.foreignHits >= 20) ? true : undefined,
    );
    const t5 = performance.now();
    const oldReaders = fleet.running('us-central1');
    expect(oldReaders.map((p) => p.writes)).toEqual([false, false]);
    expect(fleet.running('us-east1').map((p) => p.writes)).toEqual([true, true]);
    // The old primary's clients are read-only now.
    await expect(oldReaders[0].client.set('x', 'y')).rejects.toThrow(/READONLY/);
    await fleet.stop();

    // Nothing the applications saw acknowledged is lost: on the new master, and readable through
    // the old primary's rendered client contract.
    const acknowledged = fleet.acks.map((a) => a.key);
    const master = await east.settled(30_000);
    const lost = new Set(await missing(east, master, acknowledged));
    if (lost.size > 0) {
      const where = new Map<string, number>();
      for (const a of fleet.acks.filter((x) => lost.has(x.key))) where.set(`${a.region}→${a.node}`, (where.get(`${a.region}→${a.node}`) ?? 0) + 1);
      // eslint-disable-next-line no-console
      console.log(
        `lost, by where they were written: ${JSON.stringify([...where])}; now ${east.pods.map((p) => `${p.name}=${p.address}`).join(' ')} ${central.pods.map((p) => `${p.name}=${p.address}`).join(' ')}\n${await east.describe()}\n${await central.describe()}`,
      );
    }
    expect([...lost]).toEqual([]);
    const reader = appClient(central, moved.get('us-central1')!.clientEnv).client;
    try {
      await reader.connect();
      await waitFor(
        'every acknowledged write readable in us-central1',
        30_000,
        async () => {
          for (let i = 0; i < acknowledged.length; i += 500) {
            const values = await reader.mget(...acknowledged.slice(i, i + 500));
            if (values.some((v) => v === null)) return undefined;
          }
          return true;
        },
        () => central.describe(),
        250,
      );
    } finally {
      reader.disconnect();
    }
    // Every node of the old primary gets them too: the one the reader reached may be ahead of the
    // others (each follows the stream at its own pace).
    await waitFor(
      'every node of us-central1 to hold every acknowledged write',
      30_000,
      async () => {
        for (let i = 0; i < central.pods.length; i++) if ((await missing(central, i, acknowledged)).length > 0) return undefined;
        return true;
      },
      async () => {
        const counts = await Promise.all(central.pods.map(async (p, i) => `${p.name}: ${(await missing(central, i, acknowledged)).length} missing`));
        return `${counts.join(', ')}\n${await central.describe()}`;
      },
      250,
    );

    // Who wrote where: us-central1 before the fence took hold, us-east1 only after step 2; never both at once.
    const acked = (region: string) => fleet.acks.filter((a) => a.region === region).map((a) => a.at);
    const lastCentral = Math.max(...acked('us-central1'));
    const firstEast = Math.min(...acked('us-east1'));
    expect(lastCentral).toBeLessThan(t2);
    expect(firstEast).toBeGreaterThan(t2);
    expect(fleet.acks.length).toBeGreaterThan(ackedBeforeStep2);
    const other = fleet.pods.flatMap((p) => [...p.otherErrors]);
    expect(other).toEqual([]);

    const sum = (region: string, f: (p: AppPod) => number) => fleet.pods.filter((p) => p.group.region === region).reduce((s, p) => s + f(p), 0);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const gaps = (region: string) =>
      [
        ['before', t0, t1],
        ['step 1', t1, t2],
        ['step 2', t2, t4],
        ['after', t4, t5],
      ]
        .map(([stage, a, b]) => {
          const g = fleet.readGaps(region, a as number, b as number);
          return `${stage} ${s(g.region)}/${s(g.pod)}`;
        })
        .join(', ');
    const refused = (region: string) => (['READONLY', 'NOREPLICAS', 'no master'] as const).map((r) => `${sum(region, (p) => p.refused[r])} ${r}`).join(', ');
    // eslint-disable-next-line no-console
    console.log(
      [
        `promotion with application clients (down-after 1 s, 3 redis pods and 2 app pods per region):`,
        `step 1 took ${s(t2 - t1)} (rollout and check), step 2: us-east1 synced and settled in ${s(t3 - t2)} (handovers: writes paused ${pauses.map((x) => `${x} s`).join(', ') || 'never'}), us-central1 synced in ${s(t4 - t3)};`,
        `longest read gap per stage (region/any serving pod): us-central1 ${gaps('us-central1')}; us-east1 ${gaps('us-east1')};`,
        `writes: ${fleet.acks.length} acknowledged (${acked('us-central1').length} in us-central1, ${acked('us-east1').length} in us-east1), 0 lost;`,
        `no write acknowledged anywhere for ${s(firstEast - lastCentral)} (last in us-central1 ${s(lastCentral - t1)} after step 1 began, first in us-east1 ${s(firstEast - t2)} after step 2 began);`,
        `refused: us-central1 ${refused('us-central1')}; us-east1 ${refused('us-east1')};`,
        `accepted but not acknowledged: ${sum('us-central1', (p) => p.accepted) + sum('us-east1', (p) => p.accepted) - fleet.acks.length};`,
        `reads: ${sum('us-central1', (p) => p.reads.length)} in us-central1 (${sum('us-central1', (p) => p.readErrors)} failed), ${sum('us-east1', (p) => p.reads.length)} in us-east1 (${sum('us-east1', (p) => p.readErrors)} failed)`,
      ].join(' '),
    );
  }, 240_000);
});
