/**
 * Issue 15, item 7: a master cut off from its replicas must stop accepting writes before the
 * sentinels can have promoted another node, or every write it takes in between is discarded
 * when it rejoins. Run at the production timings (downAfter 5 s and the derived
 * minReplicasMaxLag), with real redis-server and redis-sentinel:
 * - the replicas frozen (SIGSTOP): how long the master keeps accepting writes (the lag it
 *   counts in whole seconds, rechecked once a second);
 * - the master frozen: how long until the sentinels have promoted a replica.
 * The first must be shorter than the second. With `min-replicas-max-lag 10` against a 5 s
 * down-after (before this fix) the master accepted writes for about 11 s, the new master
 * existed after about 6 s.
 */
import { connect, describeRedis, Harness, median, newMaster, RedisGroup, renderRedis, sleep, waitFor } from './harness';

jest.retryTimes(1, { logErrorsBeforeRetry: true });

describeRedis('A cut-off master stops taking writes before its replacement exists (production timings)', () => {
  const h = new Harness(6);
  const rendered = renderRedis({ namespace: 'redis-fencing', regions: ['us-central1'], redis: { memory: '256Mi', storage: '1Gi' } }).get('us-central1')!;
  let group: RedisGroup;

  beforeAll(async () => {
    group = h.group(rendered);
    await group.bootstrap();
  }, 60_000);

  afterAll(async () => {
    await h.cleanup();
  }, 30_000);

  const settled = () =>
    waitFor(
      'the group to settle',
      40_000,
      () => group.settledMaster(),
      () => group.describe(),
    );

  /** Writes to node `i` until one is refused; returns the ms from `t0` to the last accepted write. */
  async function acceptsUntilRefused(i: number, t0: () => number, limitMs: number): Promise<number> {
    const client = connect(group.pods[i].redis, group.password);
    await client.connect();
    let last = 0;
    try {
      for (let n = 0; ; n++) {
        try {
          await client.set(`fence:${n}`, 'x');
          last = performance.now() - t0();
        } catch (e) {
          if (/NOREPLICAS/.test((e as Error).message)) return last;
          throw e;
        }
        if (performance.now() - t0() > limitMs) throw new Error(`still accepting writes ${limitMs} ms after the cut`);
        await sleep(5);
      }
    } finally {
      client.disconnect();
    }
  }

  test('the master refuses writes before the sentinels promote a replica', async () => {
    const env = group.env('redis');
    const downAfter = Number(env.DOWN_AFTER_MS);
    expect(downAfter).toBe(5000);
    const accepted: number[] = [];
    const failovers: number[] = [];
    for (let run = 0; run < 2; run++) {
      const master = await settled();
      const replicas = [0, 1, 2].filter((i) => i !== master);
      let cut = performance.now();
      const writing = acceptsUntilRefused(master, () => cut, 20_000);
      await sleep(200);
      cut = performance.now();
      for (const r of replicas) group.pods[r].containers.get('redis')!.signal('SIGSTOP');
      try {
        accepted.push(await writing);
      } finally {
        for (const r of replicas) group.pods[r].containers.get('redis')!.signal('SIGCONT');
      }
      await settled();

      const t0 = performance.now();
      group.pods[master].containers.get('redis')!.signal('SIGSTOP');
      try {
        await waitFor(
          'a new master',
          30_000,
          () => newMaster(group, master),
          () => group.describe(),
          50,
        );
        failovers.push(performance.now() - t0);
      } finally {
        group.pods[master].containers.get('redis')!.signal('SIGCONT');
      }
    }
    await settled();
    // eslint-disable-next-line no-console
    console.log(
      `fencing (down-after ${downAfter} ms): a master cut off from its replicas accepted writes for ${accepted.map(Math.round).join(', ')} ms; ` +
        `a frozen master was replaced after ${failovers.map(Math.round).join(', ')} ms`,
    );
    expect(Math.max(...accepted)).toBeLessThan(Math.min(...failovers));
    expect(median(accepted)).toBeLessThan(downAfter);
  }, 240_000);
});
