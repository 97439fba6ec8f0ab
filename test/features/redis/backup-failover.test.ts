/**
 * Issue 15 item 5: the snapshot taker during a real failover. The rendered `backup`
 * containers' own script, unmodified, beside real redis-server and redis-sentinel (down-after
 * 1 s, failover-timeout 5 s) and the Cloud Storage stand-in (./gcs-stand-in.ts), interval 1m:
 *
 * 1. the group settles and the containers start: one replica takes the first snapshot;
 * 2. 12 s into the interval the master's pod is killed (kill -9, every container): a replica
 *    is promoted; 8 s later the pod is recreated (empty state of its own) and rejoins as a replica;
 * 3. 3 s before the next snapshot is due, the pod that is then the taker is killed; it is
 *    recreated once the next snapshot is in;
 * 4. 3 s before the third is due, the master's pod is killed; recreated once the third is in.
 *
 * It shows that exactly one snapshot is taken per interval (none early because the taker moved
 * or a pod came back; the second by the surviving replica while the taker's pod is down; the
 * third by the lowest in-sync replica after the failover; none when a pod returns), that each snapshot holds every key acknowledged by every
 * replica (`WAIT 2`) before it started (loaded into a new redis-server), and that the newest
 * last success the scraped containers report (what RedisBackupStale reads) never goes back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUCKET, metrics, StandIn, type Stored } from './gcs-stand-in';
import { command, describeRedis, FAST, Harness, newMaster, renderRedis, sampleUntil, sleep, waitFor, Writer } from './harness';

const INTERVAL_MS = 60_000;

/** The snapshot taker the docs state: the in-sync replica with the lowest ordinal that is not the master. */
const takerOf = (master: number, up: readonly number[]) => Math.min(...up.filter((i) => i !== master));

interface Sample {
  readonly at: number;
  /** Each scraped backup container's last success (s since the epoch, 0: none). */
  readonly lastSuccess: Record<number, number>;
  readonly takers: number[];
}

describeRedis('Backups through a failover (real redis-server and sentinel, the rendered backup container, a stand-in for GCS)', () => {
  const h = new Harness(12);
  const rendered = renderRedis({
    namespace: 'redis-backup-failover',
    regions: ['us-central1'],
    redis: { ...FAST, backup: { bucket: BUCKET, interval: '1m' } },
  });
  const standIn = new StandIn();

  afterAll(async () => {
    await h.cleanup();
    await standIn.stop();
  }, 30_000);

  test('one snapshot per interval while the master and then the taker are killed; each complete; the reported last success never goes back', async () => {
    const group = h.group(rendered.get('us-central1')!);
    const all = group.pods.map((_, i) => i);
    await group.bootstrap();
    const m0 = await group.settled(30_000);
    const writers = [new Writer(group, m0, 'a', 2)];
    await writers[0].acknowledgedAtLeast(300);

    const port = await standIn.start();
    const startBackup = (i: number) =>
      group.startContainer(i, 'backup', { GCE_METADATA_HOST: `127.0.0.1:${port}`, STORAGE_EMULATOR_HOST: `http://127.0.0.1:${port}` });
    all.forEach(startBackup);
    const started = Date.now();

    const samples: Sample[] = [];
    let finish = () => {};
    const finished = new Promise<void>((r) => (finish = r));
    const sampling = sampleUntil(finished, 500, async () => {
      const at = Date.now();
      const lastSuccess: Record<number, number> = {};
      const takers: number[] = [];
      for (const i of all) {
        if (!group.pods[i].containers.get('backup')?.running) continue;
        const m = await metrics(group.pods[i].address).catch(() => undefined);
        if (!m) continue;
        lastSuccess[i] = m.last_success_timestamp_seconds;
        if (m.taker === 1) takers.push(i);
      }
      samples.push({ at, lastSuccess, takers });
    });

    const objects = () => [...standIn.objects.values()].sort((a, b) => a.at - b.at);
    const podOf = (o: Stored) => group.pods.findIndex((p) => o.name.endsWith(`-${p.name}.rdb`));
    /** The snapshot's start, to the second (the object's name): every key acknowledged before it must be in it. */
    const startOf = (o: Stored) =>
      Date.parse(/([0-9]{8}T[0-9]{6}Z)/.exec(o.name)![1].replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const nth = (n: number, timeoutMs: number) =>
      waitFor(
        `snapshot ${n}`,
        timeoutMs,
        async () => objects()[n - 1],
        async () => `${await group.describe()}\n${all.map((i) => group.pods[i].log('backup', 8)).join('\n')}`,
        200,
      );
    const logs = () => all.map((i) => `${group.pods[i].name}:\n${group.pods[i].log('backup', 12)}`).join('\n');

    try {
      // 1. The first snapshot.
      const s1 = await nth(1, 30_000);
      expect(podOf(s1)).toBe(takerOf(m0, all));

      // 2. Mid-interval, the master's pod is lost; the StatefulSet recreates it 8 s later.
      await sleep(Math.max(0, s1.at + 12_000 - Date.now()));
      await group.killPod(m0);
      const masterKilled = Date.now();
      await writers[0].stop();
      const m1 = await waitFor(
        'a new master',
        30_000,
        () => newMaster(group, m0),
        () => group.describe(),
      );
      const failedOver = Date.now();
      writers.push(new Writer(group, m1, 'b', 2));
      await sleep(8_000);
      group.startPod(m0);
      await group.waitReady(m0);
      startBackup(m0);
      await waitFor(`${group.pods[m0].name} in sync with the new master`, 30_000, async () => {
        const r = await group.replication(m0);
        return r.master_link_status === 'up' && r.master_sync_in_progress === '0' ? true : undefined;
      });

      // 3. 3 s before the next snapshot is due: nothing taken since the first (the taker moved
      // twice, and the recreated pod's own state is empty); then the taker's pod is lost.
      await sleep(Math.max(0, s1.at + INTERVAL_MS - 3_000 - Date.now()));
      expect({ objects: objects().map((o) => o.name), logs: objects().length === 1 ? '' : logs() }).toEqual({ objects: [s1.name], logs: '' });
      const t2 = takerOf(m1, all);
      const survivor = all.find((i) => i !== m1 && i !== t2)!;
      await group.killPod(t2);
      const takerKilled = Date.now();

      // The surviving replica takes the next one, while the taker's pod is still down.
      const s2 = await nth(2, 60_000);
      expect(podOf(s2)).toBe(survivor);
      expect(startOf(s2) - startOf(s1)).toBeGreaterThanOrEqual(INTERVAL_MS);

      // The lost pod comes back: it is the taker again, and takes nothing before the interval ends.
      group.startPod(t2);
      await group.waitReady(t2);
      startBackup(t2);
      await waitFor(
        `${group.pods[t2].name} reported as the taker`,
        30_000,
        async () => ((await metrics(group.pods[t2].address).catch(() => undefined))?.taker === 1 ? true : undefined),
        async () => logs(),
      );

      // 4. 3 s before the third is due, the master's pod is lost: the lowest in-sync replica
      // after the failover takes it, before the pod is recreated.
      await sleep(Math.max(0, s2.at + INTERVAL_MS - 3_000 - Date.now()));
      expect(objects().map((o) => o.name)).toEqual([s1.name, s2.name]);
      await group.killPod(m1);
      const masterKilled2 = Date.now();
      await writers[1].stop();
      const m2 = await waitFor(
        'a new master',
        30_000,
        () => newMaster(group, m1),
        () => group.describe(),
      );
      const failedOver2 = Date.now();
      writers.push(new Writer(group, m2, 'c', 2));
      const s3 = await nth(3, 60_000);
      expect(podOf(s3)).toBe(
        takerOf(
          m2,
          all.filter((i) => i !== m1),
        ),
      );
      expect(startOf(s3) - startOf(s2)).toBeGreaterThanOrEqual(INTERVAL_MS);
      group.startPod(m1);
      await group.waitReady(m1);
      startBackup(m1);
      await sleep(5_000);
      expect(objects().map((o) => o.name)).toEqual([s1.name, s2.name, s3.name]);

      finish();
      await sampling;
      await Promise.all(writers.map((w) => w.stop()));

      // Each snapshot, loaded by a new redis-server, holds every key acknowledged before it started.
      const acked = writers.flatMap((w) => w.acknowledged.map((key, k) => ({ key, at: w.acknowledgedAt[k] })));
      const counts: number[] = [];
      for (const s of [s1, s2, s3]) {
        const before = acked.filter((a) => a.at < startOf(s)).map((a) => a.key);
        counts.push(before.length);
        expect(await missingFrom(s, before)).toEqual([]);
      }

      // What RedisBackupStale reads: the newest last success of the scraped containers never went back.
      const newest = samples.map((s) => Math.max(0, ...Object.values(s.lastSuccess)));
      const backwards = newest.flatMap((v, k) =>
        k > 0 && v < newest[k - 1] ? [{ at: (samples[k].at - started) / 1000, from: newest[k - 1], to: v, pods: samples[k].lastSuccess }] : [],
      );
      expect(backwards).toEqual([]);
      expect(newest[newest.length - 1]).toBeGreaterThanOrEqual(Math.floor(s3.at / 1000));
      const twoTakers = samples.filter((x) => x.takers.length > 1).length;
      const after = (a: number, b: number) => `${((a - b) / 1000).toFixed(1)} s`;

      // eslint-disable-next-line no-console
      console.log(
        `backup through a failover: snapshot 1 by ${group.pods[podOf(s1)].name} ${after(s1.at, started)} after the containers started; ` +
          `master ${group.pods[m0].name} killed ${after(masterKilled, s1.at)} after it, ${group.pods[m1].name} master ${after(failedOver, masterKilled)} later; ` +
          `taker ${group.pods[t2].name} killed ${after(s1.at + INTERVAL_MS, takerKilled)} before due; snapshot 2 by ${group.pods[survivor].name} uploaded ${after(s2.at, s1.at + INTERVAL_MS)} after due; ` +
          `master ${group.pods[m1].name} killed ${after(s2.at + INTERVAL_MS, masterKilled2)} before due, ${group.pods[m2].name} master ${after(failedOver2, masterKilled2)} later; ` +
          `snapshot 3 by ${group.pods[podOf(s3)].name} uploaded ${after(s3.at, s2.at + INTERVAL_MS)} after due; ` +
          `${counts.join(', ')} acknowledged keys checked in them; ${samples.length} samples of the metrics, ${twoTakers} with two pods reporting taker`,
      );
    } finally {
      finish();
      await sampling;
      await Promise.all(writers.map((w) => w.stop()));
    }
  }, 240_000);

  /** The keys of `keys` a new redis-server, started on the uploaded object, does not hold. */
  async function missingFrom(s: Stored, keys: readonly string[]): Promise<string[]> {
    const dir = fs.mkdtempSync(path.join(h.root, 'restore-'));
    fs.writeFileSync(path.join(dir, 'dump.rdb'), s.body);
    const address = h.address();
    const proc = h.spawn(
      `restore ${s.name}`,
      [
        'redis-server',
        '--bind',
        address,
        '--port',
        '6379',
        '--dir',
        dir,
        '--dbfilename',
        'dump.rdb',
        '--appendonly',
        'no',
        '--save',
        '',
        '--requirepass',
        h.password,
      ],
      { PATH: h.path },
      path.join(dir, 'redis.log'),
    );
    try {
      const target = { host: address, port: 6379 };
      await waitFor(
        `redis-server on ${s.name}`,
        20_000,
        async () => ((await command(target, h.password, 'PING')) === 'PONG' ? true : undefined),
        async () => fs.readFileSync(path.join(dir, 'redis.log'), 'utf8'),
      );
      const out: string[] = [];
      for (let k = 0; k < keys.length; k += 500) {
        const chunk = keys.slice(k, k + 500);
        const values = await command<(string | null)[]>(target, h.password, 'MGET', ...chunk);
        out.push(...chunk.filter((_, j) => values[j] === null));
      }
      return out;
    } finally {
      await proc.stop('SIGKILL');
    }
  }
});
