/**
 * Issue 15 item 5, the scheduled backup: the rendered `backup` container's own script
 * (features/redis/scripts/backup.py, from the group's ConfigMap, with the container's command
 * and environment), run unmodified beside real redis-server and redis-sentinel, uploads an RDB
 * to a stand-in of Cloud Storage's JSON API on 127.0.0.1, and the restore runbook of
 * docs/redis.md, run as written, brings back every key from the uploaded object. A failed
 * upload (an HTTP error, then an object Cloud Storage reports with another MD5) does not
 * advance the last-success metric.
 *
 * The stand-in follows the documented semantics the script relies on:
 * - the metadata server's token endpoint (cloud.google.com/compute/docs/access/authenticate-workloads,
 *   "Metadata server": GET /computeMetadata/v1/instance/service-accounts/default/token with
 *   `Metadata-Flavor: Google`, answering `{access_token, expires_in, token_type}`; refused without the header);
 * - a single-request upload (cloud.google.com/storage/docs/uploading-objects, JSON API
 *   objects.insert: POST /upload/storage/v1/b/BUCKET/o?uploadType=media&name=NAME, the bytes as
 *   the body, `Authorization: Bearer`), answering the object resource whose `size` is a decimal
 *   string and `md5Hash` the base64 of the MD5 (cloud.google.com/storage/docs/json_api/v1/objects#resource);
 * - `ifGenerationMatch=0`: the upload succeeds only if no live object has that name, else 412
 *   (cloud.google.com/storage/docs/request-preconditions).
 * The script reaches them through GCE_METADATA_HOST and STORAGE_EMULATOR_HOST, the variables
 * Google's client libraries read for the same purpose; the manifests set neither.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { tempDir } from '../../helpers';
import { describeRedis, FAST, Harness, missing, renderRedis, restoreSteps, waitFor, Writer } from './harness';

const BUCKET = 'meridian-test-backups';
const TOKEN = 'ya29.stand-in-token';

interface Stored {
  readonly name: string;
  readonly body: Buffer;
}

/** Cloud Storage's upload endpoint and the metadata server's token endpoint, as documented (see above). */
class StandIn {
  readonly objects = new Map<string, Stored>();
  /** What the next uploads get: 'fail' (HTTP 503), 'corrupt' (stored, but reported with another MD5), then 'ok'. */
  readonly plan: ('fail' | 'corrupt' | 'ok')[] = [];
  readonly requests: string[] = [];
  /** Called with each upload before it is answered. */
  onUpload: (n: number) => Promise<void> = async () => {};
  private uploads = 0;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const json = (status: number, o: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    this.requests.push(`${req.method} ${url.pathname}`);
    if (req.method === 'GET' && url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token') {
      if (req.headers['metadata-flavor'] !== 'Google') return json(403, { error: 'Missing Metadata-Flavor:Google header.' });
      return json(200, { access_token: TOKEN, expires_in: 3599, token_type: 'Bearer' });
    }
    const m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return json(404, { error: { code: 404, message: 'Not Found' } });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { error: { code: 401, message: 'Invalid Credentials' } });
    if (url.searchParams.get('uploadType') !== 'media') return json(400, { error: { code: 400, message: 'uploadType must be media here' } });
    const name = url.searchParams.get('name');
    if (decodeURIComponent(m[1]) !== BUCKET || !name) return json(400, { error: { code: 400, message: 'bucket or name' } });
    if (Number(req.headers['content-length']) !== body.length) return json(400, { error: { code: 400, message: 'Content-Length' } });
    const n = ++this.uploads;
    await this.onUpload(n);
    const mode = this.plan.shift() ?? 'ok';
    if (mode === 'fail') return json(503, { error: { code: 503, message: 'Backend Error' } });
    if (url.searchParams.get('ifGenerationMatch') === '0' && this.objects.has(name)) {
      return json(412, { error: { code: 412, message: 'At least one of the pre-conditions you specified did not hold.' } });
    }
    this.objects.set(name, { name, body });
    const md5 = createHash('md5')
      .update(mode === 'corrupt' ? Buffer.concat([body, Buffer.from('x')]) : body)
      .digest('base64');
    return json(200, { kind: 'storage#object', bucket: BUCKET, name, size: String(body.length), md5Hash: md5, generation: String(Date.now() * 1000) });
  }
}

/** The backup container's metrics, by name. */
async function metrics(address: string): Promise<Record<string, number>> {
  const r = await fetch(`http://${address}:9122/metrics`);
  const text = await r.text();
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.startsWith('meridian_redis_backup_'))
      .map((l) => [l.split(' ')[0].slice('meridian_redis_backup_'.length), Number(l.split(' ')[1])]),
  );
}

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
    // One pod takes the snapshots, never the master.
    for (let i = 0; i < group.pods.length; i++) {
      if (i === taker) continue;
      expect(await metrics(group.pods[i].address)).toMatchObject({ taker: 0, attempts_total: 0, last_success_timestamp_seconds: 0 });
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
