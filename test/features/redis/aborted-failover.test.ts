/**
 * Item 9 of issue 15 (the rest of it): a failover that does not complete. Redis Sentinel starts
 * no new attempt until 2 × failover-timeout after the last one started
 * (sentinelStartFailoverIfNeeded), and a sentinel that voted for another leader waits the same
 * (sentinelVoteLeader); meanwhile the primary region has no master and takes no write. The
 * pods' watchers (common.sh, watch_failover) have one sentinel fail over (SENTINEL FAILOVER)
 * once the failover has stalled.
 *
 * Both cases lose the master's whole pod (its zone: redis and sentinel), so two sentinels of
 * three are left, and make the failover fail deterministically:
 *
 * - the failover aborts: the replica the leader selects does not take the promotion (an ACL
 *   on it refuses SLAVEOF, as a replica that hangs right then would not answer it); the
 *   leader gives up after failover-timeout (`-failover-abort-slave-timeout`), and the fault
 *   is cleared at that moment;
 * - the leader is lost: both survivors voted for the master's own sentinel (the request it
 *   sends as a candidate, SENTINEL IS-MASTER-DOWN-BY-ADDR with its run id, sent here for it
 *   as its pod goes), which never fails over: its pod is gone. A split vote ends in the same
 *   state: no failover in progress, every sentinel waiting out 2 × failover-timeout.
 *
 * failover-timeout is 15 s here (down-after 1 s), so that Sentinel's own next attempt (not
 * before 30 s after the master's loss) and the watcher's are far apart. Each case waits for a
 * master that takes a write acknowledged by a replica (WAIT 1) only until the earliest moment
 * Sentinel could have made one on its own, 2 × failover-timeout after the loss: on the scripts
 * without the watcher it fails there. Each counts the nodes reporting master at once (never
 * two), the failovers (one), and the acknowledged writes lost (none).
 */
import * as fs from 'fs';
import * as path from 'path';
import { command, describeRedis, FAST, Harness, missing, RedisGroup, renderRedis, sampleUntil, waitFor, Writer, writableAfter } from './harness';

const FAILOVER_TIMEOUT_MS = 15_000;
const OPTIONS = { ...FAST, failoverTimeout: `${FAILOVER_TIMEOUT_MS / 1000}s` };

/** The most nodes reporting the master role at one time, sampled until `until` settles. */
async function mostMasters(group: RedisGroup, until: Promise<unknown>): Promise<number> {
  let most = 0;
  await sampleUntil(until, 50, async () => {
    const roles = await group.roles();
    most = Math.max(most, roles.filter((r) => r === 'master').length);
  });
  return most;
}

/** How often `pattern` occurs in the whole log of a container of pods `from`. */
function count(group: RedisGroup, from: number[], container: 'redis' | 'sentinel', pattern: RegExp): number {
  return from.reduce((n, i) => n + (group.pods[i].log(container, 100_000).match(new RegExp(pattern.source, 'g'))?.length ?? 0), 0);
}

/** The sentinel state saved on pod i's volume: its run id and current epoch. */
function savedSentinel(group: RedisGroup, i: number): { myid: string; epoch: number } {
  const conf = fs.readFileSync(path.join(group.pods[i].dataDir, 'sentinel.conf'), 'utf8');
  return { myid: /^sentinel myid (\S+)/m.exec(conf)![1], epoch: Number(/^sentinel current-epoch (\d+)/m.exec(conf)?.[1] ?? 0) };
}

describeRedis('Redis Sentinel after a failover that did not complete (real redis-server and redis-sentinel)', () => {
  const h = new Harness(13);

  afterAll(async () => {
    await h.cleanup();
  }, 30_000);

  /** A bootstrapped group with pod 0 the master, and a writer on it that has 200 acknowledged writes. */
  async function start(namespace: string): Promise<{ group: RedisGroup; writer: Writer }> {
    const group = h.group(renderRedis({ namespace, regions: ['us-central1'], redis: OPTIONS }).get('us-central1')!);
    await group.bootstrap();
    expect(await group.settled()).toBe(0);
    const writer = new Writer(group, 0, namespace, 1);
    await writer.acknowledgedAtLeast(200);
    return { group, writer };
  }

  /** After the master's loss at t0: a master by Sentinel's own earliest retry, never two, one failover, no write lost. */
  async function expectRecovered(group: RedisGroup, writer: Writer, t0: number, what: string): Promise<number> {
    const ownRetry = t0 + 2 * FAILOVER_TIMEOUT_MS;
    const writable = writableAfter(group, t0, Math.max(0, ownRetry - performance.now()), `${group.namespace}-probe`);
    const most = mostMasters(group, writable);
    const ms = await writable.catch(async (e) => {
      await most;
      throw e;
    });
    expect(await most).toBe(1);
    const roles = await group.roles();
    const master = roles.indexOf('master');
    // eslint-disable-next-line no-console
    console.log(
      `${what}: acknowledged writes again ${ms} ms after the master's loss (Sentinel's own next attempt: not before ${2 * FAILOVER_TIMEOUT_MS} ms); new master ${group.pods[master].name}`,
    );
    expect(master).toBeGreaterThan(0);
    expect(await missing(group, master, writer.acknowledged)).toEqual([]);
    // One failover: each surviving sentinel switched master once (the leader at the end of the
    // failover, the other as soon as its hellos announce the promotion), one watcher asked for it.
    await waitFor('both sentinels to switch master', FAILOVER_TIMEOUT_MS + 5000, async () =>
      count(group, [1, 2], 'sentinel', /\+switch-master/) >= 2 ? true : undefined,
    );
    expect(count(group, [1, 2], 'sentinel', /\+switch-master/)).toBe(2);
    expect(count(group, [1, 2], 'sentinel', /Executing user requested FAILOVER/)).toBe(1);
    expect(count(group, [1, 2], 'redis', /this pod's sentinel fails over/)).toBe(1);
    return ms;
  }

  test("the failover aborts (the selected replica does not take the promotion): a master long before Sentinel's own retry", async () => {
    const { group, writer } = await start('redis-abort');
    // Pod 1 is the replica the sentinels will select (the lowest priority), and refuses SLAVEOF.
    const victim = group.pods[1].redis;
    const [, priority] = await command<string[]>(victim, group.password, 'CONFIG', 'GET', 'replica-priority');
    await command(victim, group.password, 'CONFIG', 'SET', 'replica-priority', '1');
    await command(victim, group.password, 'ACL', 'SETUSER', 'default', '-slaveof', '-replicaof');
    // The sentinels read a replica's priority from its INFO (every 10 s).
    await waitFor('every sentinel to see pod 1 preferred', 30_000, async () => {
      for (const p of group.pods) {
        const replicas = await command<string[][]>(p.sentinel, group.password, 'SENTINEL', 'REPLICAS', 'master');
        const r = replicas.find((e) => e[e.indexOf('name') + 1].startsWith(group.pods[1].hostname));
        if (!r || r[r.indexOf('slave-priority') + 1] !== '1') return undefined;
      }
      return true;
    });

    await group.loseZone(0);
    const t0 = performance.now();
    await writer.stop();
    await waitFor(
      'the failover to abort',
      FAILOVER_TIMEOUT_MS + 15_000,
      async () => (count(group, [1, 2], 'sentinel', /-failover-abort-slave-timeout/) > 0 ? true : undefined),
      () => group.describe(),
      50,
    );
    const aborted = Math.round(performance.now() - t0);
    expect(count(group, [1, 2], 'sentinel', new RegExp(`\\+selected-slave slave ${group.pods[1].hostname.replace(/\./g, '\\.')}`))).toBe(1);
    // The fault ends with the attempt: what stays is Sentinel's wait.
    await command(victim, group.password, 'ACL', 'SETUSER', 'default', '+slaveof', '+replicaof');
    await command(victim, group.password, 'CONFIG', 'SET', 'replica-priority', priority);

    const ms = await expectRecovered(group, writer, t0, `failover aborted after ${aborted} ms`);
    expect(ms).toBeGreaterThan(aborted);
  }, 120_000);

  test("the elected leader is lost with the master's pod (the survivors voted for it): a master long before Sentinel's own retry", async () => {
    const { group, writer } = await start('redis-lostleader');
    const leader = savedSentinel(group, 0);
    const epoch = Math.max(...[0, 1, 2].map((i) => savedSentinel(group, i).epoch)) + 1;

    await group.loseZone(0);
    const t0 = performance.now();
    // The vote requests pod 0's sentinel sends as a candidate in the next epoch; both grant it.
    for (const i of [1, 2]) {
      const reply = await command<unknown[]>(
        group.pods[i].sentinel,
        group.password,
        'SENTINEL',
        'IS-MASTER-DOWN-BY-ADDR',
        group.pods[0].hostname,
        6379,
        epoch,
        leader.myid,
      );
      expect(reply[1]).toBe(leader.myid);
    }
    await writer.stop();
    await expectRecovered(group, writer, t0, 'leader lost after its election');
  }, 120_000);
});
