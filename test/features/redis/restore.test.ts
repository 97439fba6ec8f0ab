/**
 * Issue 15 item 5, the restore: a snapshot taken from a running group with `redis-cli --rdb`
 * restores a group that lost every disk, through the steps of docs/redis.md ("Runbook: restore
 * a region's cache"), which this test reads from the document and runs as written, with real
 * redis-server; the fresh group then starts from the rendered StatefulSet's own scripts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../helpers';
import { describeRedis, FAST, Harness, missing, renderRedis, restoreSteps, waitFor, Writer } from './harness';

jest.retryTimes(2, { logErrorsBeforeRetry: true });

describeRedis("Restoring a group's data from an RDB snapshot (real redis-server and redis-sentinel)", () => {
  const h = new Harness(10);
  const lost = renderRedis({ namespace: 'redis-lost', regions: ['us-central1'], redis: FAST });
  const fresh = renderRedis({ namespace: 'redis-restored', regions: ['us-central1'], redis: FAST });
  const work = tempDir('meridian-redis-restore-');

  afterAll(async () => {
    // The runbook's redis-server stops itself; should a step have failed, stop it by its pid.
    const pidFile = path.join(work, 'pid');
    if (fs.existsSync(pidFile)) {
      try {
        process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await h.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }, 30_000);

  test('why the runbook converts: with appendonly yes, redis-server ignores a dump.rdb on the volume', async () => {
    const rendered = renderRedis({ namespace: 'redis-naive', regions: ['us-central1'], redis: FAST }).get('us-central1')!;
    const group = h.group(rendered);
    await group.bootstrap();
    const master = await group.settled(30_000);
    const w = new Writer(group, master, 'naive');
    await w.acknowledgedAtLeast(200);
    await w.stop();
    const dir = tempDir('meridian-redis-naive-');
    try {
      const rdb = spawnSync(
        'redis-cli',
        ['-h', group.pods[master].hostname, '-p', '6379', '--no-auth-warning', '-a', group.password, '--rdb', path.join(dir, 'dump.rdb')],
        {
          timeout: 30_000,
        },
      );
      expect(rdb.status).toBe(0);
      await Promise.all(group.pods.map((_, i) => group.killPod(i)));
      // The group's own redis.conf (appendonly yes), on a volume holding only the snapshot.
      fs.writeFileSync(path.join(dir, 'redis.conf'), rendered.configMap.data['redis.conf']);
      const sock = path.join(dir, 's');
      const server = h.spawn(
        'naive',
        ['redis-server', path.join(dir, 'redis.conf'), '--dir', dir, '--port', '0', '--unixsocket', sock],
        { PATH: process.env.PATH },
        path.join(dir, 'log'),
      );
      try {
        const keys = await waitFor('the naive server to answer', 10_000, async () => {
          const r = spawnSync('redis-cli', ['-s', sock, 'DBSIZE'], { encoding: 'utf8' });
          return r.status === 0 && /^[0-9]+$/.test(r.stdout.trim()) ? Number(r.stdout.trim()) : undefined;
        });
        expect(keys).toBe(0);
      } finally {
        await server.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  test('a snapshot taken with redis-cli --rdb, converted by the runbook, starts a new group with every key', async () => {
    const group = h.group(lost.get('us-central1')!);
    await group.bootstrap();
    const master = await group.settled(30_000);
    const before = new Writer(group, master, 'before');
    await before.acknowledgedAtLeast(2000);
    await before.stop();
    // Writes go on while the snapshot is taken: the snapshot holds a consistent prefix of them.
    const during = new Writer(group, master, 'during');
    await during.acknowledgedAtLeast(50);
    const snapshot = path.join(work, 'snapshot.rdb');
    const replica = (master + 1) % group.pods.length;
    const taken = spawnSync('redis-cli', ['-h', group.pods[replica].hostname, '-p', '6379', '--no-auth-warning', '-a', group.password, '--rdb', snapshot], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    await during.stop();
    expect(taken.status).toBe(0);
    expect(`${taken.stdout}${taken.stderr}`).toMatch(/Transfer finished with success/);

    // Every disk lost: a new group with empty volumes; pod 0's volume gets the runbook's steps.
    await Promise.all(group.pods.map((_, i) => group.killPod(i)));
    const restored = h.group(fresh.get('us-central1')!);
    const dataDir = restored.pods[0].dataDir;
    expect(fs.readdirSync(dataDir)).toEqual([]);
    const run = spawnSync('sh', ['-c', `${restoreSteps()}\ncp "$DATA_DIR/restore.pid" "${path.join(work, 'pid')}" 2>/dev/null || true\n`], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SNAPSHOT: snapshot, DATA_DIR: dataDir },
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toMatch(/^loaded [0-9]+ keys from the snapshot\n/);
    expect(Number(/^loaded ([0-9]+) keys/.exec(run.stdout)![1])).toBeGreaterThanOrEqual(2000);
    expect(fs.readdirSync(dataDir).sort()).toEqual(['appendonlydir']);

    await restored.bootstrap();
    const next = await restored.settled(30_000);
    expect(next).toBe(0);
    for (let i = 0; i < restored.pods.length; i++) {
      const gone = await waitFor(
        `${restored.pods[i].name} to hold the snapshot's keys`,
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
    // eslint-disable-next-line no-console
    console.log(
      `restore: snapshot of ${fs.statSync(snapshot).size} bytes (${before.acknowledged.length} + up to ${during.acknowledged.length} keys); every key on the 3 restored nodes`,
    );
  }, 180_000);
});
