/**
 * What the applications of every region see (issue 15, item 1): a client configured only from
 * the rendered environment of a rendered Deployment that depends on the group, in the primary
 * region (a Sentinel client that writes) and in a secondary region (reads from the region's own
 * replicas), before, during and after the loss of a zone's pod in each region, with real
 * redis-server and redis-sentinel.
 */
import Redis from 'ioredis';
import { appClient, command, describeRedis, FAST, Harness, missing, newMaster, RedisGroup, renderRedis, sleep, waitFor } from './harness';

jest.retryTimes(2, { logErrorsBeforeRetry: true });

const NS = 'redis-clients';
const REGIONS = ['us-central1', 'us-east1'];

/** An application's traffic: writes acknowledged by WAIT 1 (primary) or reads of the last acknowledged key (secondary). */
class Traffic {
  readonly acknowledged: string[] = [];
  ok = 0;
  errors = 0;
  /** Longest time without a successful command, ms. */
  longestGap = 0;
  private last = performance.now();
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(client: Redis, mode: 'write' | 'read', prefix: string, source?: Traffic) {
    this.done = (async () => {
      for (let n = 0; !this.stopped; n++) {
        try {
          if (mode === 'write') {
            const key = `${prefix}:${n}`;
            await client.set(key, `v${n}`);
            if (Number(await client.call('WAIT', '1', '1000')) >= 1) this.acknowledged.push(key);
          } else {
            const key = source?.acknowledged[Math.max(0, source.acknowledged.length - 50)];
            if (key) await client.get(key);
            else await client.ping();
          }
          this.ok++;
          const now = performance.now();
          this.longestGap = Math.max(this.longestGap, now - this.last);
          this.last = now;
        } catch {
          this.errors++;
          await sleep(20);
        }
      }
    })();
  }

  /** Resets the gap measure, so that it covers what follows. */
  mark(): void {
    this.longestGap = 0;
    this.last = performance.now();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

describeRedis('Applications in every region reach Redis from their rendered environment (real redis-server and redis-sentinel)', () => {
  const h = new Harness(5);
  const rendered = renderRedis({ namespace: NS, regions: REGIONS, redis: FAST });
  let central: RedisGroup;
  let east: RedisGroup;
  const clients: Redis[] = [];

  beforeAll(async () => {
    // The Services each cluster renders: the region's (which the mesh routes to from every
    // cluster) and the Sentinel Service `cache`.
    [central, east] = await h.regionGroups(rendered, ['us-central1', 'us-east1'], `cache.${NS}.svc.cluster.local`);
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await h.cleanup();
  }, 30_000);

  test('the rendered contract: Sentinel in the primary region, the local replicas in a secondary one', async () => {
    expect(central.role).toBe('primary');
    expect(rendered.get('us-central1')!.clientEnv).toEqual({
      REDIS_ROLE: 'primary',
      REDIS_SENTINELS: `cache.${NS}.svc.cluster.local:26379`,
      REDIS_MASTER_SET: 'master',
      REDIS_PASSWORD: 'secret:cache-redis-password/password',
    });
    expect(rendered.get('us-east1')!.clientEnv).toEqual({
      REDIS_ROLE: 'secondary',
      REDIS_READ_HOST: `cache-us-east1.${NS}.svc.cluster.local`,
      REDIS_READ_PORT: '6379',
      REDIS_PASSWORD: 'secret:cache-redis-password/password',
    });
    // Why a secondary gets no Sentinel address: its sentinels know no master.
    const eastSentinel = east.resolve(`cache.${NS}.svc.cluster.local`)!;
    expect(await command({ host: eastSentinel, port: 26379 }, h.password, 'SENTINEL', 'get-master-addr-by-name', 'master')).toBeNull();
  }, 30_000);

  test('a client in each region works before, during and after the loss of a zone in each region; no acknowledged write lost', async () => {
    const master = await waitFor(
      'us-central1 to settle',
      30_000,
      () => central.settledMaster(),
      () => central.describe(),
    );
    const writerApp = appClient(central, rendered.get('us-central1')!.clientEnv);
    const readerApp = appClient(east, rendered.get('us-east1')!.clientEnv);
    clients.push(writerApp.client, readerApp.client);
    expect([writerApp.writes, readerApp.writes]).toEqual([true, false]);
    await writerApp.client.connect();
    await readerApp.client.connect();
    // The secondary's client is read-only: the replicas refuse a write.
    await expect(readerApp.client.set('x', 'y')).rejects.toThrow(/READONLY/);

    const writes = new Traffic(writerApp.client, 'write', 'app');
    const reads = new Traffic(readerApp.client, 'read', 'app', writes);
    try {
      await waitFor('writes and reads to flow', 10_000, async () => (writes.acknowledged.length > 50 && reads.ok > 50 ? true : undefined));

      // The primary region loses the master's zone: the whole pod (redis and sentinel) goes.
      writes.mark();
      reads.mark();
      const t0 = performance.now();
      await central.killPod(master);
      let failover = 0;
      try {
        await waitFor(
          'a new master in us-central1',
          15_000,
          () => newMaster(central, master),
          () => central.describe(),
          50,
        );
        failover = performance.now() - t0;
        const acked = writes.acknowledged.length;
        await waitFor('writes to resume', 15_000, async () => (writes.acknowledged.length > acked + 20 ? true : undefined));
      } finally {
        central.startPod(master);
      }
      const writeGap = writes.longestGap;
      const readGapPrimaryLoss = reads.longestGap;
      await waitFor(
        'us-central1 to settle',
        30_000,
        () => central.settledMaster(),
        () => central.describe(),
      );

      // The secondary region loses a zone: its first pod, the one replicating across regions.
      reads.mark();
      await east.killPod(0);
      const t1 = performance.now();
      const ok = reads.ok;
      await waitFor('reads in us-east1 to continue', 10_000, async () => (reads.ok > ok + 20 ? true : undefined));
      const readResume = performance.now() - t1;
      east.startPod(0);
      await east.waitReady(0, 30_000);
      const readGapSecondaryLoss = reads.longestGap;

      // eslint-disable-next-line no-console
      console.log(
        `clients: primary zone loss: new master after ${Math.round(failover)} ms, longest write gap ${Math.round(writeGap)} ms, ` +
          `longest read gap in us-east1 ${Math.round(readGapPrimaryLoss)} ms; secondary zone loss: reads continued within ${Math.round(readResume)} ms ` +
          `(longest read gap ${Math.round(readGapSecondaryLoss)} ms); ${writes.acknowledged.length} writes acknowledged, ${reads.ok} reads, ${reads.errors} read errors`,
      );
      // Reads in the secondary never stop for longer than a reconnection to another pod.
      expect(readGapPrimaryLoss).toBeLessThan(2000);
      expect(readGapSecondaryLoss).toBeLessThan(3000);
    } finally {
      await writes.stop();
      await reads.stop();
    }

    // Every write the application saw acknowledged is on the primary's master and in the secondary region.
    const now = await waitFor(
      'us-central1 to settle',
      30_000,
      () => central.settledMaster(),
      () => central.describe(),
    );
    expect(await missing(central, now, writes.acknowledged)).toEqual([]);
    await waitFor(
      'every node of us-east1 to hold every acknowledged write',
      20_000,
      async () => {
        for (let i = 0; i < east.pods.length; i++) if ((await missing(east, i, writes.acknowledged)).length > 0) return undefined;
        return true;
      },
      () => east.describe(),
      250,
    );
  }, 150_000);
});
