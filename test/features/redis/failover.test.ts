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
        const next = await waitFor(
          'a new master',
          DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 5000,
          () => newMaster(group, old),
          () => group.describe(),
          20,
        );
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
      20_000,
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
