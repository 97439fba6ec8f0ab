/**
 * Issue 15, item 8: a master whose redis crashes and is restarted by the kubelet before
 * down-after (no failover) came back as master with a new replication id: both replicas
 * resynced in full and `min-replicas-to-write 1` refused every write until one had finished, a
 * time that grows with the dataset. The start script now has a replica that still holds the
 * data promoted and follows it: writes resume after the failover whatever the size, only the
 * restarted node resyncs.
 *
 * Production timings (down-after 5 s, failover-timeout 60 s) and memory (2Gi: maxmemory
 * 1228 MB), with real redis-server and redis-sentinel, at two dataset sizes
 * (REDIS_CRASH_SIZES_MB, default "16,320": megabytes of values, 1000-byte incompressible
 * values, loaded with pipelined Lua batches). A writer tries SET + WAIT 1 on every node all the
 * time; the write outage is the longest gap between two acknowledged writes.
 */
import type Redis from 'ioredis';
import { command, connect, describeRedis, Harness, RedisGroup, renderRedis, sampleUntil, sleep, waitFor } from './harness';
import { parseInfo } from '../../../cli/promote-check';

// Real processes on a shared 2-core machine: a run that missed a bound because the machine
// stalled is run once more, its first failure printed. A real regression fails both.
jest.retryTimes(1, { logErrorsBeforeRetry: true });

const SIZES_MB = (process.env.REDIS_CRASH_SIZES_MB ?? '16,320').split(',').map(Number);
const VALUE_BYTES = 1000;
const BATCH = 2000;

// Deterministic per script run (redis seeds scripts' math.random the same way each time); each
// key takes a different slice of a random block, so no value compresses (RDB's LZF would
// otherwise make the full sync of a repetitive dataset unrealistically cheap).
const FILL = `
local prefix, from, n, size = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = {}
for i = 1, 65536 do t[i] = string.char(math.random(0, 255)) end
local block = table.concat(t)
for i = from, from + n - 1 do
  local o = (i * 7919) % (65536 - size) + 1
  redis.call('SET', prefix .. i, string.sub(block, o, o + size - 1))
end
return n`;

interface Ack {
  readonly key: string;
  readonly at: number;
}

/** Tries SET then WAIT 1 on every node, round after round; keeps the writes a replica acknowledged. */
class EveryNodeWriter {
  readonly acked: Ack[] = [];
  private stopped = false;
  private readonly clients = new Map<string, Redis>();
  readonly done: Promise<void>;

  constructor(private readonly group: RedisGroup) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let round = 0; !this.stopped; round++) {
      await Promise.all(
        this.group.pods.map(async (p) => {
          const id = `${p.hostname}@${p.address}`;
          let c = this.clients.get(id);
          if (!c || c.status === 'end') {
            c = connect(p.redis, this.group.password);
            this.clients.set(id, c);
          }
          const key = `w:${round}:${p.name}`;
          try {
            if (c.status === 'wait') await c.connect();
            await c.set(key, String(round));
            if (Number(await c.call('WAIT', '1', '200')) >= 1) this.acked.push({ key, at: performance.now() });
          } catch {
            // READONLY (a replica), NOREPLICAS (no replica in sync), LOADING, or down.
            if (c.status === 'end') this.clients.delete(id);
          }
        }),
      );
      await sleep(5);
    }
  }

  /** The longest time without an acknowledged write between `from` and `to`. */
  longestGap(from: number, to: number): number {
    const times = [from, ...this.acked.map((a) => a.at).filter((t) => t > from && t < to), to];
    let gap = 0;
    for (let k = 1; k < times.length; k++) gap = Math.max(gap, times[k] - times[k - 1]);
    return gap;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    for (const c of this.clients.values()) c.disconnect();
  }
}

describeRedis('A crashed master that restarts before down-after (issue 15 item 8, production timings)', () => {
  const h = new Harness(9);
  const rendered = renderRedis({ namespace: 'redis-crash', regions: ['us-central1'], redis: { memory: '2Gi', storage: '4Gi' } }).get('us-central1')!;
  let group: RedisGroup;
  let loadedKeys = 0;

  beforeAll(async () => {
    group = h.group(rendered);
    await group.bootstrap();
  }, 60_000);

  afterAll(async () => {
    await h.cleanup();
  }, 60_000);

  const info = async (i: number, section: string) => parseInfo(await command<string>(group.pods[i].redis, group.password, 'INFO', section));

  /** Loads values until the dataset holds `mb` megabytes of them; waits until both replicas have all of it. */
  async function fill(master: number, mb: number): Promise<void> {
    const target = Math.ceil((mb * 1e6) / VALUE_BYTES);
    const c = connect(group.pods[master].redis, group.password);
    await c.connect();
    try {
      while (loadedKeys < target) {
        const n = Math.min(BATCH, target - loadedKeys);
        await c.call('EVAL', FILL, '0', 'fill:', String(loadedKeys), String(n), String(VALUE_BYTES));
        loadedKeys += n;
      }
      await waitFor('both replicas to hold the dataset', 120_000, async () => (Number(await c.call('WAIT', '2', '1000')) >= 2 ? true : undefined));
    } finally {
      c.disconnect();
    }
    // AOF rewrites the load started: the crash should not land in one by chance.
    await waitFor(
      'no AOF rewrite in progress',
      120_000,
      async () => {
        for (let i = 0; i < group.pods.length; i++) {
          const p = await info(i, 'persistence');
          if (p.aof_rewrite_in_progress !== '0' || p.aof_rewrite_scheduled !== '0') return undefined;
        }
        return true;
      },
      undefined,
      500,
    );
  }

  const settled = () =>
    waitFor(
      'one master with every replica attached',
      180_000,
      () => group.settledMaster(),
      () => group.describe(),
      250,
    );

  test.each(SIZES_MB)(
    '%i MB: writes resume after a failover, not after a full resync; the crashed node never comes back as master; no acknowledged write lost',
    async (mb) => {
      const downAfter = Number(group.env('redis').DOWN_AFTER_MS);
      expect(downAfter).toBe(5000);
      let master = await settled();
      await fill(master, mb);
      master = await settled();
      const memory = await info(master, 'memory');

      const writer = new EveryNodeWriter(group);
      await waitFor('writes acknowledged', 10_000, async () => (writer.acked.length >= 50 ? true : undefined));
      const crashedAt = performance.now();
      await group.crashContainer(master, 'redis');

      // Until the group has settled again with the restarted node a ready replica: every 25 ms
      // what the restarted node says it is; when it is ready again.
      let readyAt: number | undefined;
      const roles = new Set<string>();
      const recovered = (async () => {
        await waitFor(
          'the restarted node to be ready',
          180_000,
          async () => ((await group.ready(master, 'redis')) ? true : undefined),
          () => group.describe(),
          200,
        );
        readyAt = performance.now();
        return settled();
      })();
      await sampleUntil(recovered, 25, async () => {
        try {
          roles.add(String((await command<unknown[]>(group.pods[master].redis, group.password, 'ROLE'))[0]));
        } catch {
          /* down or loading */
        }
      });
      const after = await recovered;
      await sleep(500);
      await writer.stop();
      const end = performance.now();

      const outage = writer.longestGap(crashedAt - 1000, end);
      const resumedAt = writer.acked.find((a) => a.at > crashedAt + 50)?.at ?? end;
      const log = group.pods[master].log('redis', 200);
      const path = /asking the sentinels to promote one/.test(log)
        ? 'forced failover (replicas at one offset)'
        : /fail over on their own/.test(log)
          ? "the sentinels' own failover"
          : 'restarted as master';
      // eslint-disable-next-line no-console
      console.log(
        `item 8, ${mb} MB of values (${loadedKeys} keys, used_memory ${Math.round(Number(memory.used_memory) / 1e6)} MB, down-after ${downAfter} ms): ` +
          `write outage ${Math.round(outage)} ms; writes resumed ${Math.round(resumedAt - crashedAt)} ms after the crash, ` +
          `the restarted node ready after ${Math.round(readyAt! - crashedAt)} ms; ${path}; master now ${group.pods[after].name}; ` +
          `restarted node reported ${[...roles].join(', ') || 'nothing'}`,
      );

      // It never served as master: no full resync of the replicas that carry the writes.
      expect(roles).not.toContain('master');
      expect(after).not.toBe(master);
      expect(group.pods[master].log('redis', 200)).toMatch(/still hold its data: not starting as master/);
      // Writes did not wait for the restarted node's data: at the larger size they resumed before
      // it had reloaded and resynced it (before, they resumed only after a replica's full resync,
      // which follows the reload).
      if (mb === Math.max(...SIZES_MB)) expect(resumedAt).toBeLessThan(readyAt!);
      await expectEveryWrite(after, writer);
    },
    600_000,
  );

  test('with one replica down the crashed master restarts as master: a promoted replica would wait for a full resync too', async () => {
    const master = await settled();
    const down = (master + 1) % group.pods.length;
    // That replica's redis is away (its sentinel runs: a majority still answers).
    await group.pods[down].containers.get('redis')!.stop('SIGKILL');
    const writer = new EveryNodeWriter(group);
    await waitFor('writes acknowledged', 10_000, async () => (writer.acked.length >= 50 ? true : undefined));
    const crashedAt = performance.now();
    await group.crashContainer(master, 'redis');
    await waitFor(
      'writes to resume on the restarted master',
      120_000,
      async () => (writer.acked.some((a) => a.at > crashedAt + 50) ? true : undefined),
      () => group.describe(),
      100,
    );
    const resumed = writer.acked.find((a) => a.at > crashedAt + 50)!.at - crashedAt;
    group.startContainer(down, 'redis');
    const after = await settled();
    await writer.stop();
    // eslint-disable-next-line no-console
    console.log(
      `item 8, one replica down, ${Math.round((loadedKeys * VALUE_BYTES) / 1e6)} MB of values: writes resumed ${Math.round(resumed)} ms after the crash (the remaining replica's full resync)`,
    );
    expect(after).toBe(master);
    expect(group.pods[master].log('redis', 200)).toMatch(/only 1 replica\(s\) still hold this node's data, min-replicas-to-write is 1: .*starting as master/);
    await expectEveryWrite(after, writer);
  }, 300_000);

  /** Every acknowledged write is on the master and, once caught up, on every node. */
  async function expectEveryWrite(master: number, writer: EveryNodeWriter): Promise<void> {
    const keys = writer.acked.map((a) => a.key);
    const values = await group.values(master, keys);
    expect(keys.filter((_, k) => values[k] === null)).toEqual([]);
    for (let i = 0; i < group.pods.length; i++) {
      await waitFor(`${group.pods[i].name} to hold every acknowledged write`, 30_000, async () => {
        const v = await group.values(i, keys);
        return v.every((x) => x !== null) ? true : undefined;
      });
    }
  }
});
