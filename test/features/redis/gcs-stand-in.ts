/**
 * A stand-in on 127.0.0.1 for the two Google endpoints the rendered `backup` container calls
 * (features/redis/scripts/backup.py), for the real-redis backup scenarios.
 *
 * It follows the documented semantics the script relies on:
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
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export const BUCKET = 'meridian-test-backups';
export const TOKEN = 'ya29.stand-in-token';

export interface Stored {
  readonly name: string;
  readonly body: Buffer;
  /** When the upload arrived (ms since the epoch). */
  readonly at: number;
}

/** Cloud Storage's upload endpoint and the metadata server's token endpoint, as documented (see above). */
export class StandIn {
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
    this.objects.set(name, { name, body, at: Date.now() });
    const md5 = createHash('md5')
      .update(mode === 'corrupt' ? Buffer.concat([body, Buffer.from('x')]) : body)
      .digest('base64');
    return json(200, { kind: 'storage#object', bucket: BUCKET, name, size: String(body.length), md5Hash: md5, generation: String(Date.now() * 1000) });
  }
}

/** The backup container's metrics, by name. */
export async function metrics(address: string): Promise<Record<string, number>> {
  const r = await fetch(`http://${address}:9122/metrics`);
  const text = await r.text();
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.startsWith('meridian_redis_backup_'))
      .map((l) => [l.split(' ')[0].slice('meridian_redis_backup_'.length), Number(l.split(' ')[1])]),
  );
}
