/**
 * Issue 15 item 4: a promotion carried out step by step as `meridian promote` prints it, with
 * real redis-server and redis-sentinel in two regions, while a writer tries every node of both
 * regions all the time. Step 1 (the rendered fence) rolls out in the old primary; `promote`'s
 * own check (cli/promote-check.ts, here through redis-cli instead of kubectl exec) must pass;
 * step 2 is then applied in the order that opened a two-master window before: the new primary
 * first, the old primary after. No write acknowledged by WAIT is lost, and no two nodes ever
 * accept writes in overlapping time.
 */
import type Redis from 'ioredis';
import { checkFence, type FenceCheck, type FenceGroup } from '../../../cli/promote-check';
import { connect, describeRedis, FAST, Harness, missing, RedisGroup, renderRedis, sleep, waitFor, redisCliExec } from './harness';

const NS = 'redis-promotion';
const REGIONS = ['us-central1', 'us-east1'];

interface Attempt {
  readonly key: string;
  readonly region: string;
  readonly pod: string;
  /** performance.now() when the node answered OK to the SET. */
  readonly accepted: number;
  readonly acknowledged: boolean;
}

/** Per pod, the first and last time it accepted a write, in the order of the first. */
function acceptedIntervals(attempts: readonly Attempt[]): { pod: string; first: number; last: number }[] {
  const byPod = new Map<string, { pod: string; first: number; last: number }>();
  for (const a of attempts) {
    const w = byPod.get(a.pod) ?? { pod: a.pod, first: a.accepted, last: a.accepted };
    w.first = Math.min(w.first, a.accepted);
    w.last = Math.max(w.last, a.accepted);
    byPod.set(a.pod, w);
  }
  return [...byPod.values()].sort((a, b) => a.first - b.first);
}

/** Tries a SET (then WAIT 1) on every node of every group, round after round; keeps what each node accepted. */
class EveryNodeWriter {
  readonly attempts: Attempt[] = [];
  refused = 0;
  private stopped = false;
  private readonly clients = new Map<string, Redis>();
  readonly done: Promise<void>;

  constructor(private readonly groups: readonly RedisGroup[]) {
    this.done = this.run();
  }

  private client(group: RedisGroup, i: number): Redis {
    const pod = group.pods[i];
    // A recreated pod has a new address: a new connection.
    const id = `${pod.hostname}@${pod.address}`;
    let c = this.clients.get(id);
    if (!c) {
      c = connect(pod.redis, group.password);
      this.clients.set(id, c);
    }
    return c;
  }

  private async run(): Promise<void> {
    for (let round = 0; !this.stopped; round++) {
      await Promise.all(
        this.groups.flatMap((g) =>
          g.pods.map(async (p, i) => {
            const key = `w:${round}:${p.name}@${g.region}`;
            const c = this.client(g, i);
            try {
              if (c.status === 'wait' || c.status === 'end') {
                if (c.status === 'end') throw new Error('closed');
                await c.connect();
              }
              await c.set(key, String(round));
              const accepted = performance.now();
              const acked = Number(await c.call('WAIT', '1', '500')) >= 1;
              this.attempts.push({ key, region: g.region, pod: p.name, accepted, acknowledged: acked });
            } catch {
              // READONLY (a replica), NOREPLICAS (fenced, or no replica), or the pod is away.
              this.refused++;
              if (c.status === 'end') this.clients.delete(`${p.hostname}@${p.address}`);
            }
          }),
        ),
      );
      await sleep(5);
    }
  }

  acknowledged(region?: string): string[] {
    return this.attempts.filter((a) => a.acknowledged && (region === undefined || a.region === region)).map((a) => a.key);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    for (const c of this.clients.values()) c.disconnect();
  }
}

describeRedis('A promotion in two steps, as meridian promote prints them (real redis-server and redis-sentinel)', () => {
  const h = new Harness(18);
  const opts = { namespace: NS, regions: REGIONS, redis: FAST };
  const start = renderRedis(opts);
  const fenced = renderRedis({ ...opts, promotion: 'us-east1' });
  const moved = renderRedis({ ...opts, primary: 'us-east1' });
  let central: RedisGroup;
  let east: RedisGroup;

  beforeAll(async () => {
    [central, east] = await h.regionGroups(start, ['us-central1', 'us-east1']);
  }, 90_000);

  afterAll(async () => {
    await h.cleanup();
  }, 30_000);

  const exec = redisCliExec((context) => (context === 'us-central1' ? central : east));
  const check = (): FenceCheck => {
    const fence: FenceGroup = {
      name: 'cache',
      from: central.pods.map((p) => ({ context: 'us-central1', namespace: NS, pod: p.name })),
      to: { context: 'us-east1', namespace: NS, pod: east.pods[0].name },
    };
    return checkFence([fence], exec);
  };

  /** Which acknowledged writes a node lacks: per node that acknowledged them, how many and when (wall clock, as in the logs). */
  const lacking = async (writer: EveryNodeWriter, group: RedisGroup, i: number, keys: readonly string[]): Promise<string> => {
    const gone = new Set(await missing(group, i, keys));
    const byPod = new Map<string, number[]>();
    for (const a of writer.attempts) {
      if (!a.acknowledged || !gone.has(a.key)) continue;
      const at = performance.timeOrigin + a.accepted;
      byPod.set(`${a.pod}@${a.region}`, [...(byPod.get(`${a.pod}@${a.region}`) ?? []), at]);
    }
    const iso = (t: number) => new Date(t).toISOString().slice(11, 23);
    const lines = [...byPod].map(([pod, ts]) => `  ${ts.length} acknowledged by ${pod} between ${iso(Math.min(...ts))} and ${iso(Math.max(...ts))}`);
    return `${gone.size} acknowledged writes missing:\n${lines.join('\n')}`;
  };

  const holds = (writer: EveryNodeWriter, group: RedisGroup, i: number, keys: readonly string[]) =>
    waitFor(
      `${group.pods[i].name} of ${group.region} to hold ${keys.length} keys`,
      30_000,
      async () => ((await missing(group, i, keys)).length === 0 ? true : undefined),
      async () => `${await lacking(writer, group, i, keys)}\n${await group.describe()}`,
      250,
    );

  test('step 1 fences, the check passes only once the new primary holds every write, step 2 in either order loses nothing', async () => {
    // The rendered steps: step 1 changes the old primary's redis.conf only; step 2 the roles.
    expect(fenced.get('us-central1')!.configMap.data['redis.conf']).toContain('min-replicas-to-write 2147483647');
    expect(fenced.get('us-east1')!.configMap).toEqual(start.get('us-east1')!.configMap);
    expect(fenced.get('us-east1')!.statefulSet).toEqual(start.get('us-east1')!.statefulSet);
    expect(moved.get('us-central1')!.configMap.data['redis.conf']).not.toContain('2147483647');

    await central.settled(30_000);
    const writer = new EveryNodeWriter([central, east]);
    await waitFor('200 acknowledged writes', 20_000, async () => (writer.acknowledged('us-central1').length >= 200 ? true : undefined));
    // Not fenced yet: the check refuses.
    expect(check().ok).toBe(false);

    // Step 1, synced: the old primary rolls (highest ordinal first; the master hands over to a fenced replica).
    const t0 = performance.now();
    await central.rollingUpdate(fenced.get('us-central1')!);
    const fenceRolled = performance.now() - t0;
    const passed = await waitFor(
      "promote's check to pass",
      30_000,
      async () => {
        const c = check();
        return c.ok ? c : undefined;
      },
      async () => check().lines.join('\n'),
      100,
    );
    const checkedAt = performance.now();
    expect(passed.lines[0]).toMatch(/^redis cache: fenced \(us-central1\/cache-[0-2] refuses writes at offset [0-9]+\); us-east1\/cache-0 holds it/);

    // Step 2, applied in the order that opened the two-master window: the new primary first.
    const t2 = performance.now();
    await east.rollingUpdate(moved.get('us-east1')!);
    const next = await waitFor(
      'us-east1 to settle on a master',
      40_000,
      () => east.settledMaster(),
      async () => `${await east.describe()}\n${await central.describe()}`,
    );
    const eastReady = performance.now() - t2;
    const t3 = performance.now();
    await central.rollingUpdate(moved.get('us-central1')!);
    const centralRolled = performance.now() - t3;
    await waitFor('100 acknowledged writes in us-east1', 20_000, async () => (writer.acknowledged('us-east1').length >= 100 ? true : undefined));
    await writer.stop();

    // Never two nodes accepting writes: every write us-central1 accepted came before the check
    // passed, and before the first one us-east1 accepted.
    const accepted = (region: string) => writer.attempts.filter((a) => a.region === region).map((a) => a.accepted);
    const lastCentral = Math.max(...accepted('us-central1'));
    const firstEast = Math.min(...accepted('us-east1'));
    expect(lastCentral).toBeLessThan(checkedAt);
    expect(lastCentral).toBeLessThan(firstEast);
    // In us-east1: first its pod 0, the old stream's holder, promoted where it is by the first
    // pod that rolled (take_stream), then the master its preStop handed over to; one at a time.
    const eastWriters = acceptedIntervals(writer.attempts.filter((a) => a.region === 'us-east1'));
    expect(eastWriters.map((w) => w.pod)).toEqual([east.pods[0].name, east.pods[next].name]);
    expect(eastWriters[0].last).toBeLessThan(eastWriters[1].first);

    // Nothing acknowledged is lost: the new master holds every acknowledged write of both regions, and so does every old-primary node.
    const acknowledged = writer.acknowledged();
    await holds(writer, east, next, acknowledged);
    for (let i = 0; i < central.pods.length; i++) await holds(writer, central, i, acknowledged);
    expect(await central.roles()).toEqual(['slave', 'slave', 'slave']);
    expect(await central.sentinelMasters()).toEqual([undefined, undefined, undefined]);

    // eslint-disable-next-line no-console
    console.log(
      [
        `promotion in two steps (down-after 1 s, 3 pods per region):`,
        `step 1 rollout ${Math.round(fenceRolled)} ms, check passed ${Math.round(checkedAt - t0 - fenceRolled)} ms after it;`,
        `step 2: new primary rolled and settled in ${Math.round(eastReady)} ms, old primary rolled in ${Math.round(centralRolled)} ms;`,
        `writes: ${writer.acknowledged('us-central1').length} acknowledged in us-central1, ${writer.acknowledged('us-east1').length} in us-east1, ${writer.refused} refused attempts, 0 lost;`,
        `no node accepted a write for ${Math.round(firstEast - lastCentral)} ms (last in us-central1 ${Math.round(lastCentral - t0)} ms after step 1 began, first in us-east1 ${Math.round(firstEast - t2)} ms after step 2 began);`,
        `us-east1's pod 0 took writes for ${Math.round(eastWriters[0].last - eastWriters[0].first)} ms, then none for ${Math.round(eastWriters[1].first - eastWriters[0].last)} ms (its handover to ${eastWriters[1].pod})`,
      ].join(' '),
    );
  }, 240_000);
});
