/**
 * Issue 15 item 5, the scheduled backup: the rendered `backup` container's own script
 * (features/redis/scripts/backup.py, from the group's ConfigMap, with the container's command
 * and environment), run unmodified beside real redis-server and redis-sentinel, uploads an RDB
 * to a stand-in of Cloud Storage's JSON API on 127.0.0.1, and the restore runbook of
 * docs/redis.md, run as written, brings back every key from the uploaded object. A failed
 * upload (an HTTP error, then an object Cloud Storage reports with another MD5) does not
 * advance the last-success metric.
 *
 * The stand-in for Cloud Storage and the metadata server: ./gcs-stand-in.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../helpers';
import { BUCKET, metrics, StandIn } from './gcs-stand-in';
import { describeRedis, FAST, Harness, missing, renderRedis, restoreSteps, waitFor, Writer } from './harness';

describeRedis('Scheduled backup to Cloud Storage (real redis-server, the rendered backup container, a stand-in for GCS)', () => {
  const h = new Harness(11);
  const rendered = renderRedis({ namespace: 'redis-backup', regions: ['us-central1'], redis: { ...FAST, backup: { bucket: BUCKET, interval: '1m' } } });
  const fresh = renderRedis({ namespace: 'redis-restored', regions: ['us-central1'], redis: FAST });
  const standIn = new StandIn();
  const work = tempDir('meridian-redis-backup-');

  afterAll(async () => {
    const pidFile = path.join(work, 'pid');
    if (fs.existsSync(pidFile)) {
      try {
        process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await h.cleanup();
    await standIn.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }, 30_000);

  test('one replica uploads a snapshot; failed uploads leave the last success where it was; the runbook restores every key from the object', async () => {
    const group = h.group(rendered.get('us-central1')!);
    const backup = rendered.get('us-central1')!.statefulSet.spec.template.spec.containers.find((c: any) => c.name === 'backup');
    expect(backup.command).toEqual(['python3', '/etc/redis/backup.py']);
    const env = Object.fromEntries(backup.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ BACKUP_INTERVAL_SECONDS: '60', BACKUP_RETRY_SECONDS: '6', BACKUP_CHECK_SECONDS: '1', BACKUP_PREFIX: 'test/cache/' });

    await group.bootstrap();
    const master = await group.settled(30_000);
    const taker = master === 0 ? 1 : 0;
    const before = new Writer(group, master, 'before');
    await before.acknowledgedAtLeast(3000);
    await before.stop();

    // The first upload fails (503), the second is reported with another MD5, the third succeeds.
    standIn.plan.push('fail', 'corrupt', 'ok');
    const seen: Record<string, number>[] = [];
    standIn.onUpload = async () => {
      seen.push(await metrics(group.pods[taker].address));
    };
    const port = await standIn.start();
    const started = Date.now();
    for (let i = 0; i < group.pods.length; i++) {
      group.startContainer(i, 'backup', { GCE_METADATA_HOST: `127.0.0.1:${port}`, STORAGE_EMULATOR_HOST: `http://127.0.0.1:${port}` });
    }
    const uploaded = await waitFor(
      'a snapshot Cloud Storage confirmed',
      60_000,
      async () => {
        const m = await metrics(group.pods[taker].address).catch(() => undefined);
        return m && m.last_success_timestamp_seconds > 0 ? m : undefined;
      },
      async () => fs.readFileSync(path.join(group.pods[taker].dir, 'backup.log'), 'utf8'),
      250,
    );
    const elapsed = (Date.now() - started) / 1000;

    // Before each upload: nothing confirmed yet, and each failure counted.
    expect(seen.map((m) => [m.last_success_timestamp_seconds, m.failures_total, m.attempts_total])).toEqual([
      [0, 0, 1],
      [0, 1, 2],
      [0, 2, 3],
    ]);
    expect(uploaded).toMatchObject({ failures_total: 2, attempts_total: 3, taker: 1, interval_seconds: 60 });
    // One pod takes the snapshots, never the master; the others report the group's last success, recorded in its data.
    for (let i = 0; i < group.pods.length; i++) {
      if (i === taker) continue;
      expect(await metrics(group.pods[i].address)).toMatchObject({ taker: 0, attempts_total: 0 });
      const reported = await waitFor(`${group.pods[i].name} to report the group's last success`, 10_000, async () => {
        const m = await metrics(group.pods[i].address);
        return m.last_success_timestamp_seconds > 0 ? m.last_success_timestamp_seconds : undefined;
      });
      expect(reported).toBe(uploaded.last_success_timestamp_seconds);
    }
    const names = [...standIn.objects.keys()].sort();
    expect(names).toHaveLength(2);
    for (const n of names) expect(n).toMatch(new RegExp(`^test/cache/[0-9]{8}T[0-9]{6}Z-${group.pods[taker].name}\\.rdb$`));
    const good = standIn.objects.get(names[names.length - 1])!;
    expect(uploaded.last_size_bytes).toBe(good.body.length);
    expect(good.body.subarray(0, 5).toString()).toBe('REDIS');
    // The snapshot left nothing on the data volume but the state that survives restarts.
    expect(fs.readdirSync(path.join(group.pods[taker].dataDir, 'backup'))).toEqual(['state.json']);

    // Every disk lost: the runbook's steps, as written, on a new group's pod 0 with the uploaded object.
    await Promise.all(group.pods.map((_, i) => group.killPod(i)));
    const snapshot = path.join(work, 'snapshot.rdb');
    fs.writeFileSync(snapshot, good.body);
    const restored = h.group(fresh.get('us-central1')!);
    const dataDir = restored.pods[0].dataDir;
    const run = spawnSync('sh', ['-c', `${restoreSteps()}\ncp "$DATA_DIR/restore.pid" "${path.join(work, 'pid')}" 2>/dev/null || true\n`], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SNAPSHOT: snapshot, DATA_DIR: dataDir },
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    await restored.bootstrap();
    expect(await restored.settled(30_000)).toBe(0);
    for (let i = 0; i < restored.pods.length; i++) {
      const gone = await waitFor(
        `${restored.pods[i].name} to hold every key`,
        20_000,
        async () => {
          const m = await missing(restored, i, before.acknowledged);
          return m.length === 0 ? m : undefined;
        },
        () => restored.describe(),
        250,
      );
      expect(gone).toEqual([]);
    }
    const log = fs.readFileSync(path.join(group.pods[taker].dir, 'backup.log'), 'utf8');
    // eslint-disable-next-line no-console
    console.log(
      `backup: ${before.acknowledged.length} keys, snapshot ${good.body.length} bytes (${uploaded.last_duration_seconds} s, SYNC and upload), ` +
        `confirmed ${elapsed.toFixed(1)} s after the containers started (two failed attempts, retries every 6 s); ${/uploaded .*$/m.exec(log)?.[0]}`,
    );
  }, 180_000);
});
