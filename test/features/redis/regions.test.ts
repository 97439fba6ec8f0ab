/**
 * Scenario 6 of the Redis issue: two regions. The secondary region's group replicates the
 * primary's through the exported Service (a GKE multi-cluster Service, here a proxy on its
 * own address); a promotion (the region roles swapped in the spec, as `meridian promote`
 * does) rolled out as the runbook says moves the master, with real redis-server and
 * redis-sentinel.
 */
import { command, describeRedis, FAST, Harness, missing, newMaster, RedisGroup, renderRedis, waitFor, Writer } from './harness';

// Real processes on a shared 2-core machine: a scenario that misses its time bound because
// the machine stalled is run again (up to twice), with its first failure printed. A real
// regression fails every attempt.
jest.retryTimes(2, { logErrorsBeforeRetry: true });

const NS = 'redis-regions';
// The primary region's Service, which the mesh routes to from every cluster (east-west gateway).
// The primary region's per-pod Services, which the mesh routes to from every cluster.
const UPSTREAM = (region: string, i: number) => `cache-${region}-${i}.${NS}.svc.cluster.local`;
const UPSTREAMS = (region: string) => [0, 1, 2].map((i) => UPSTREAM(region, i));

describeRedis('Redis across two regions (real redis-server and redis-sentinel)', () => {
  const h = new Harness(4);
  const before = renderRedis({ namespace: NS, regions: ['us-central1', 'us-east1'], redis: FAST });
  const after = renderRedis({ namespace: NS, regions: ['us-central1', 'us-east1'], primary: 'us-east1', redis: FAST });
  let central: RedisGroup;
  let east: RedisGroup;

  beforeAll(async () => {
    [central, east] = await h.regionGroups(before, ['us-central1', 'us-east1']);
  }, 90_000);

  afterAll(async () => {
    await h.cleanup();
  }, 30_000);

  /** Every node of the group holds every key. */
  const holds = (group: RedisGroup, keys: readonly string[]) =>
    waitFor(
      `every node of ${group.region} to hold ${keys.length} keys`,
      20_000,
      async () => {
        for (let i = 0; i < group.pods.length; i++) if ((await missing(group, i, keys)).length > 0) return undefined;
        return true;
      },
      () => group.describe(),
      250,
    );

  test('6. the secondary region replicates the primary; a promotion makes it the master region', async () => {
    // What the region charts render from the region roles.
    const regionService = (g: Map<string, { objects: Record<string, any>[] }>, region: string) =>
      g
        .get(region)!
        .objects.filter((o) => o.kind === 'Service' && o.metadata.name === `cache-${region}`)
        .map((o) => o.metadata.name);
    expect(regionService(before, 'us-central1')).toEqual(['cache-us-central1']);
    expect(regionService(before, 'us-east1')).toEqual(['cache-us-east1']);
    expect(east.env('redis')).toMatchObject({ ROLE: 'secondary', UPSTREAM_HOSTS: UPSTREAMS('us-central1').join(' ') });
    expect(central.env('redis').ROLE).toBe('primary');
    expect(central.env('redis').UPSTREAM_HOSTS).toBeUndefined();

    const master = await waitFor(
      'us-central1 to settle',
      30_000,
      () => central.settledMaster(),
      () => central.describe(),
    );
    const writer = new Writer(central, master, 'before');
    await writer.acknowledgedAtLeast(300);
    await writer.stop();
    await holds(east, writer.acknowledged);

    // The secondary: replicas only, the first pod through the cross-region address, the others
    // through the first pod; none can be promoted; its sentinels monitor nothing.
    expect(await east.roles()).toEqual(['slave', 'slave', 'slave']);
    // The first pod replicates from a replica of the primary region, never its master.
    expect(UPSTREAMS('us-central1')).toContain((await east.replication(0)).master_host);
    expect((await east.replication(0)).master_host).not.toBe(UPSTREAM('us-central1', master));
    for (const i of [1, 2]) expect((await east.replication(i)).master_host).toBe(east.pods[0].hostname);
    for (let i = 0; i < 3; i++) expect((await east.replication(i)).slave_priority).toBe('0');
    expect(await east.sentinelMasters()).toEqual([undefined, undefined, undefined]);
    // The primary's sentinels read replicas from the master's INFO only: a replica's replica,
    // the secondary's first pod, is not among them, so they never promote or reconfigure it.
    for (const p of central.pods) {
      const replicas = await command<string[][]>(p.sentinel, central.password, 'SENTINEL', 'REPLICAS', 'master');
      const field = (r: string[], f: string) => r[r.indexOf(f) + 1];
      expect(replicas.filter((r) => field(r, 'ip').includes('us-central1')).map((r) => field(r, 'flags'))).toEqual(['slave', 'slave']);
      expect(replicas.filter((x) => !field(x, 'ip').includes('us-central1'))).toEqual([]);
    }

    // A failover in the primary region stays in it, and the secondary follows the new master.
    await central.pods[master].containers.get('redis')!.stop('SIGKILL');
    let failedOver: number;
    try {
      failedOver = await waitFor(
        'a new master in us-central1',
        15_000,
        () => newMaster(central, master),
        () => central.describe(),
        50,
      );
    } finally {
      // The kubelet restarts the crashed container, also when the wait failed.
      central.startContainer(master, 'redis');
    }
    const during = new Writer(central, failedOver, 'failover');
    await during.acknowledgedAtLeast(300);
    await during.stop();
    await holds(east, during.acknowledged);
    expect(await east.roles()).toEqual(['slave', 'slave', 'slave']);
    await waitFor(
      'us-central1 to settle',
      30_000,
      () => central.settledMaster(),
      () => central.describe(),
    );

    // The promotion, rolled out in the runbook's order: the old primary first (its master stops
    // taking writes: nothing written there can be lost), then the new primary.
    const t0 = performance.now();
    await central.rollingUpdate(after.get('us-central1')!);
    const demoted = performance.now() - t0;
    expect(await central.roles()).not.toContain('master');
    await east.rollingUpdate(after.get('us-east1')!);
    const next = await waitFor(
      'us-east1 to settle on a master',
      40_000,
      () => east.settledMaster(),
      async () => `${await east.describe()}\n${await central.describe()}`,
    );
    const promoted = performance.now() - t0;
    // eslint-disable-next-line no-console
    console.log(
      `scenario 6: promotion of us-east1: old primary rolled in ${Math.round(demoted)} ms, new master ${east.pods[next].name} settled ${Math.round(promoted)} ms after the rollout began`,
    );

    expect(await missing(east, next, writer.acknowledged)).toEqual([]);
    expect(await central.sentinelMasters()).toEqual([undefined, undefined, undefined]);
    expect(await east.sentinelMasters()).toEqual(Array(3).fill(east.pods[next].hostname));

    // The old primary's nodes follow the new primary: its first pod through a replica's Service in us-east1.
    const later = new Writer(east, next, 'after');
    await later.acknowledgedAtLeast(300);
    await later.stop();
    await holds(central, [...writer.acknowledged, ...later.acknowledged]);
    expect(await central.roles()).toEqual(['slave', 'slave', 'slave']);
    expect(UPSTREAMS('us-east1')).toContain((await central.replication(0)).master_host);
    expect((await central.replication(0)).master_host).not.toBe(UPSTREAM('us-east1', next));
  }, 150_000);
});
