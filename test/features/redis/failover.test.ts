/**
 * Scenarios 1-3 of the Redis issue, plus the preStop handover, with real redis-server and
 * redis-sentinel running the scripts and configuration RedisSentinel renders.
 */
import { execFileSync } from 'node:child_process';
import {
  command,
  describeRedis,
  DOWN_AFTER_MS,
  FAILOVER_TIMEOUT_MS,
  FAST,
  Harness,
  median,
  missing,
  newMaster,
  RedisGroup,
  renderRedis,
  waitFor,
  Writer,
} from './harness';

// Real processes on a shared 2-core machine: a scenario that misses its time bound because
// the machine stalled is run again (up to twice), with its first failure printed. A real
// regression fails every attempt.
jest.retryTimes(2, { logErrorsBeforeRetry: true });

const redisVersion = () => /v=([0-9.]+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1];

describeRedis('Redis Sentinel with real redis-server and redis-sentinel (one region)', () => {
  const h = new Harness(1);
  let group: RedisGroup;
  const settled = (timeoutMs = 20_000) =>
    waitFor(
      'the group to settle on one master with every replica attached',
      timeoutMs,
      () => group.settledMaster(),
      () => group.describe(),
    );
  /** The new master after `old` was killed: a quorum of sentinels names it and it reports the role. */
  const promoted = (old: number) =>
    waitFor(
      'a new master',
      DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 5000,
      () => newMaster(group, old),
      () => group.describe(),
      20,
    );

  beforeAll(async () => {
    group = h.group(renderRedis({ namespace: 'redis-failover', regions: ['us-central1'], redis: FAST }).get('us-central1')!);
    await group.bootstrap();
  }, 60_000);

  afterAll(async () => {
    await h.cleanup();
  }, 30_000);

  test('1. bootstrap: exactly one master, the replicas attached, all sentinels agree', async () => {
    // eslint-disable-next-line no-console
    console.log(
      `containers run redis-server ${redisVersion()} with the ${h.userland === 'busybox' ? 'busybox userland of the alpine image' : "host's sh and tools"}`,
    );
    expect(await settled()).toBe(0);
    expect(await group.roles()).toEqual(['master', 'slave', 'slave']);
    // Nodes and sentinels know each other by hostname, never by IP.
    const info = await group.replication(0);
    expect(info.slave0).toMatch(/^ip=cache-[12]\.cache-us-central1-headless\.redis-failover\.svc\.cluster\.local,port=6379,state=online/);
    // Sentinels learn replicas from the master's INFO (every 10 s) and each other from hellos (every 2 s).
    await waitFor(
      'each sentinel to know the 2 replicas and the 2 other sentinels',
      25_000,
      async () => {
        for (const p of group.pods) {
          const replicas = await command<string[][]>(p.sentinel, group.password, 'SENTINEL', 'REPLICAS', 'master');
          const sentinels = await command<string[][]>(p.sentinel, group.password, 'SENTINEL', 'SENTINELS', 'master');
          if (replicas.length !== 2 || sentinels.length !== 2) return undefined;
          const hosts = [...replicas, ...sentinels].map((r) => r[r.indexOf('ip') + 1]);
          if (!hosts.every((ip) => /^cache-\d\.cache-us-central1-headless\./.test(ip))) throw new Error(`not hostnames: ${hosts.join(', ')}`);
        }
        return true;
      },
      () => group.describe(),
      500,
    );
    // A client that speaks Sentinel finds the master; replicas refuse writes.
    expect(await command(group.pods[2].sentinel, group.password, 'SENTINEL', 'get-master-addr-by-name', 'master')).toEqual([group.pods[0].hostname, '6379']);
    expect(await command(group.pods[0].redis, group.password, 'SET', 'hello', 'world')).toBe('OK');
    await expect(command(group.pods[1].redis, group.password, 'SET', 'hello', 'world')).rejects.toThrow(/READONLY/);
  }, 60_000);

  test('2. kill -9 of the master: a new master within down-after + failover timeout, every WAIT-acknowledged write on it', async () => {
    const runs = 5;
    const times: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const old = await settled(30_000);
      const writer = new Writer(group, old, `s2-run${run}`);
      await writer.acknowledgedAtLeast(100);
      const t0 = performance.now();
      await group.pods[old].containers.get('redis')!.stop('SIGKILL');
      try {
        const next = await promoted(old);
        times.push(performance.now() - t0);
        await writer.stop();
        expect(await missing(group, next, writer.acknowledged)).toEqual([]);
      } finally {
        // The kubelet restarts the crashed container, whatever the checks found: a retry, and
        // the scenarios after this one, start from a whole group.
        group.startContainer(old, 'redis');
      }
    }
    await settled(30_000);
    const ms = times.map((t) => Math.round(t));
    // eslint-disable-next-line no-console
    console.log(
      `scenario 2: failover after kill -9 of the master (down-after ${DOWN_AFTER_MS} ms): ${ms.join(', ')} ms; median ${Math.round(median(times))} ms`,
    );
    for (const t of times) expect(t).toBeLessThan(DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS);
  }, 120_000);

  test('2b. kill -9 of the master while a replica restarted moments before still syncs: the sentinels promote the replica that has the acknowledged writes', async () => {
    const old = await settled(30_000);
    const [restarted, other] = [1, 2].map((k) => (old + k) % group.pods.length);
    const pw = group.password;
    // Sentinel promotes, among the replicas it may promote, the one with the best priority, then
    // the highest offset of its last INFO of each (up to 10 s old): which one it picks between
    // two of equal priority depends on when it last asked each, the race scenario 2 lost writes
    // to under load. Here `other` has a worse priority than the rendered one, so the sentinels
    // pick `restarted` whenever it may be promoted at all: what it holds then decides.
    const [, otherPriority] = await command<string[]>(group.pods[other].redis, pw, 'CONFIG', 'GET', 'replica-priority');
    await command(group.pods[other].redis, pw, 'CONFIG', 'SET', 'replica-priority', '150');
    // The master's full syncs start 30 s late (as a large dataset's transfer would take): the
    // restarted replica holds only what its own volume had until then.
    await command(group.pods[old].redis, pw, 'CONFIG', 'SET', 'repl-diskless-sync-delay', '30');
    const writer = new Writer(group, old, 's2b');
    let oldKilled = false;
    const seen: string[] = [];
    try {
      await writer.acknowledgedAtLeast(50);
      await group.pods[restarted].containers.get('redis')!.stop('SIGKILL');
      const t0 = Date.now();
      group.startContainer(restarted, 'redis');
      // Every sentinel has read the restarted replica's INFO since it started (they ask every
      // 10 s), while it waits for its sync: what they know of it is its new process's.
      let view = '';
      await waitFor(
        'every sentinel to have read the restarted replica in its sync',
        20_000,
        async () => {
          const info = await group.replication(restarted).catch(() => undefined);
          // (Its link down: the master has not sent its data yet.)
          if (info?.role !== 'slave' || info.master_link_status === 'up') return undefined;
          const views: string[] = [];
          for (const [i, p] of group.pods.entries()) {
            const me = (await group.sentinelReplicas(i)).find((o) => o.ip === group.pods[restarted].hostname);
            view = `${p.name}: ${me ? `flags ${me.flags}, info-refresh ${me['info-refresh']} ms, priority ${me['slave-priority']}` : 'not listed'}`;
            if (!me || me.flags !== 'slave' || Number(me['info-refresh']) >= Date.now() - t0) return undefined;
            views.push(me['slave-priority']);
          }
          seen.push(...views);
          return true;
        },
        async () => `last sentinel view: ${view}\n${await group.describe()}`,
        200,
      );
      // Writes since the restart: acknowledged by `other` only.
      await writer.acknowledgedAtLeast(writer.acknowledged.length + 20);
      await group.pods[old].containers.get('redis')!.stop('SIGKILL');
      oldKilled = true;
      const next = await promoted(old);
      await writer.stop();
      // eslint-disable-next-line no-console
      console.log(`scenario 2b: the sentinels had the restarted replica at priority ${seen.join(', ')}; they promoted ${group.pods[next].name}`);
      expect(await missing(group, next, writer.acknowledged)).toEqual([]);
      expect(next).toBe(other);
    } finally {
      await writer.stop();
      if (oldKilled) group.startContainer(old, 'redis');
      // `other` back to its priority if it is still a replica (a master's is 0: watch_priority).
      const role = await command<unknown[]>(group.pods[other].redis, pw, 'ROLE').catch(() => ['down']);
      if (role[0] === 'slave') await command(group.pods[other].redis, pw, 'CONFIG', 'SET', 'replica-priority', otherPriority);
      if (!oldKilled) await command(group.pods[old].redis, pw, 'CONFIG', 'SET', 'repl-diskless-sync-delay', '0').catch(() => undefined);
    }
    // The restarted replica catches up with the new master, and then every sentinel may promote it.
    await waitFor(
      'the restarted replica to become promotable, ready, for every sentinel',
      30_000,
      async () => {
        if (!(await group.ready(restarted, 'redis'))) return undefined;
        for (let i = 0; i < group.pods.length; i++) {
          const me = (await group.sentinelReplicas(i)).find((o) => o.ip === group.pods[restarted].hostname);
          if (me?.['slave-priority'] !== '100') return undefined;
        }
        return true;
      },
      () => group.describe(),
      500,
    );
    expect(group.pods[restarted].log('redis', 200)).toMatch(/caught up with .*: promotable now \(replica-priority 100\)/);
    await settled(30_000);
  }, 120_000);

  test("3. the old master's pod comes back (new IP, stale sentinel state): it rejoins as a replica of the new master, no data lost", async () => {
    const old = await settled(30_000);
    const before = new Writer(group, old, 's3-before');
    await before.acknowledgedAtLeast(100);
    await before.stop();
    // The whole pod goes (its node crashed): its sentinel misses the failover, and its
    // persisted state still names this node master when the pod comes back.
    await group.killPod(old);
    let next: number;
    let after: Writer;
    try {
      next = await waitFor(
        'a new master',
        DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 5000,
        () => newMaster(group, old),
        () => group.describe(),
        50,
      );
      after = new Writer(group, next, 's3-after');
      await after.acknowledgedAtLeast(100);
      await after.stop();
    } finally {
      // Here, or when a check above failed: a retry starts from a whole group.
      group.startPod(old);
    }
    const roles = new Set<string>();
    const master = await waitFor(
      'the old master to rejoin',
      30_000,
      async () => {
        roles.add((await group.roles())[old]);
        return group.settledMaster();
      },
      () => group.describe(),
      50,
    );
    expect(master).toBe(next);
    expect(roles).not.toContain('master');
    expect((await group.replication(old)).master_host).toBe(group.pods[next].hostname);
    expect(await missing(group, old, [...before.acknowledged, ...after.acknowledged])).toEqual([]);
  }, 60_000);

  test('preStop: a master hands over to an in-sync replica before it stops; no acknowledged write is lost', async () => {
    const old = await settled(30_000);
    const writer = new Writer(group, old, 'prestop');
    await writer.acknowledgedAtLeast(100);
    const sdowns = () =>
      group.pods.map(
        (p) =>
          p
            .log('sentinel', 1_000_000)
            .split('\n')
            .filter((l) => l.includes('+sdown master')).length,
      );
    const sdownsBefore = sdowns();
    const t0 = performance.now();
    const deleting = group.deletePod(old);
    let next: number;
    try {
      next = await waitFor(
        'a new master',
        20_000,
        () => newMaster(group, old),
        () => group.describe(),
        20,
      );
      const handover = performance.now() - t0;
      await deleting;
      await writer.stop();
      expect(group.pods[old].log('redis', 40)).toMatch(/is the master now; this node and its replicas follow it/);
      expect(await missing(group, next, writer.acknowledged)).toEqual([]);
      // The pause of writes held the sentinels' PINGs to the old master (queued behind their
      // hello PUBLISH) no longer than down-after: none saw it down during the handover.
      expect(sdowns()).toEqual(sdownsBefore);
      const paused = /writes were paused for ([\d.]+) s/.exec(group.pods[old].log('redis', 40))?.[1];
      // eslint-disable-next-line no-console
      console.log(
        `preStop handover: a new master ${Math.round(handover)} ms after the pod's deletion began; writes paused ${paused} s; no sentinel saw the master down (down-after ${DOWN_AFTER_MS} ms)`,
      );
    } finally {
      // The pod comes back with a new IP (the sentinels find it by name), also after a failed check.
      await deleting;
      group.startPod(old);
    }
    await group.waitReady(old);
    expect(await settled(30_000)).toBe(next);
    expect(await missing(group, old, writer.acknowledged)).toEqual([]);
  }, 90_000);
});
