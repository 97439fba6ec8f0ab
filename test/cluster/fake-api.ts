/**
 * A local stand-in for the Kubernetes API servers of a fleet (there is no API server on these
 * machines): one HTTPS listener on 127.0.0.1 (a certificate made by openssl for the test, given to
 * the client as the kubeconfig's certificate-authority-data), one path prefix per cluster, speaking the subset
 * `meridian status` and `meridian drift` use, so the real @kubernetes/client-node talks to it
 * over the network through a kubeconfig:
 *   discovery  GET /api, /api/v1, /apis, /apis/<group>/<version> (APIVersions, APIGroupList, APIResourceList)
 *   get        GET [/apis/<g>/<v>|/api/v1][/namespaces/<ns>]/<plural>/<name>
 *   list       GET [...][/namespaces/<ns>]/<plural>?labelSelector=k=v,...  (a <Kind>List)
 *   log        GET /api/v1/namespaces/<ns>/pods/<name>/log?container=<c>   (text/plain)
 * Failures are metav1.Status bodies with the reason and code a real server sends (NotFound,
 * Unauthorized, Forbidden with "User ... cannot <verb> resource ..."), after
 * kubernetes/apimachinery pkg/api/errors/errors.go. Bearer tokens are checked per cluster.
 */
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { CRD_SOURCES } from '../../checks/schema-files';
import { tempDir } from '../helpers';

export type Obj = Record<string, any>;

const SHARED = path.resolve(__dirname, '../..', process.env.MERIDIAN_SHARED ?? '../shared');

export interface FakeCluster {
  /** Live objects, with apiVersion and kind. */
  objects: Obj[];
  /** `<namespace>/<pod>/<container>` → the container's log. */
  logs?: Record<string, string>;
  /** The token the server accepts; the kubeconfig holds `token` unless `kubeconfigToken` says otherwise. */
  token?: string;
  kubeconfigToken?: string;
  /** Requests this RBAC refuses, e.g. `get pods/log` or `list pods`. */
  forbidden?: string[];
  /** The server takes requests and never answers. */
  hang?: boolean;
}

export interface FakeFleet {
  /** A kubeconfig with one context per cluster (and per `unreachable` name, pointing at a closed port). */
  readonly kubeconfig: string;
  /** Every request, as `<context> <method> <path>`. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * Which kinds the API server serves at the cluster scope: the built-in ones Meridian renders, and every
 * custom resource whose pinned CRD (the files `npm run import` reads) says `scope: Cluster`, so a kind
 * added to the CRDs is served as a real server would serve it.
 */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  ...CRD_SOURCES.flatMap((file) =>
    parseAllDocuments(fs.readFileSync(path.join(SHARED, 'crds', file), 'utf8'))
      .map((d) => d.toJS() as Obj | null)
      .filter((crd) => crd?.kind === 'CustomResourceDefinition' && crd.spec?.scope === 'Cluster')
      .map((crd) => crd!.spec.names.kind as string),
  ),
]);

/** The plural the API server would serve a kind under (the CRDs and built-ins used here follow this rule). */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith('y')) return `${k.slice(0, -1)}ies`;
  if (k.endsWith('s')) return k;
  return `${k}s`;
}

const status = (code: number, reason: string, message: string, details: Obj = {}) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  details,
  code,
});

/** Starts the fleet's API servers; `unreachable` names contexts whose server refuses connections. */
export async function startFakeFleet(clusters: Record<string, FakeCluster>, unreachable: string[] = []): Promise<FakeFleet> {
  const requests: string[] = [];
  const hanging = new Set<http.ServerResponse>();
  const dir = tempDir('meridian-kube-');
  const tls = selfSignedCertificate(dir);
  const server = https.createServer(tls, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/clusters\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const name = m?.[1] ?? '';
    const cluster = clusters[name];
    requests.push(`${name} ${req.method} ${m?.[2] ?? url.pathname}${url.search}`);
    if (!cluster) return send(res, 404, status(404, 'NotFound', 'no such cluster'));
    if (cluster.hang) {
      hanging.add(res);
      return;
    }
    const token = /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token !== (cluster.token ?? `token-${name}`)) return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    answer(cluster, req.method ?? 'GET', m?.[2] ?? '/', url.searchParams, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  // A port that was just free and is closed again: connections to it are refused.
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  const names = [...Object.keys(clusters), ...unreachable];
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': names[0],
    clusters: names.map((n) => ({
      name: n,
      cluster: { server: `https://127.0.0.1:${clusters[n] ? port : closedPort}/clusters/${n}`, 'certificate-authority-data': tls.cert.toString('base64') },
    })),
    users: names.map((n) => ({ name: n, user: { token: clusters[n]?.kubeconfigToken ?? `token-${n}` } })),
    contexts: names.map((n) => ({ name: n, context: { cluster: n, user: n } })),
  };
  const file = path.join(dir, 'kubeconfig');
  fs.writeFileSync(file, stringify(kubeconfig));
  return {
    kubeconfig: file,
    requests,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A key and a certificate for 127.0.0.1, valid for a day. */
function selfSignedCertificate(dir: string): { key: Buffer; cert: Buffer } {
  const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`openssl could not make a certificate: ${r.stderr?.toString() ?? r.error?.message}`);
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

function send(res: http.ServerResponse, code: number, body: unknown, type = 'application/json'): void {
  res.writeHead(code, { 'content-type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

function answer(cluster: FakeCluster, method: string, p: string, query: URLSearchParams, res: http.ServerResponse): void {
  if (method !== 'GET') return send(res, 405, status(405, 'MethodNotAllowed', `${method} is not supported by this test server (meridian only reads)`));
  // Pods are always served: every cluster runs them.
  const kinds = new Map<string, { apiVersion: string; kind: string }>([['v1 Pod', { apiVersion: 'v1', kind: 'Pod' }]]);
  for (const o of cluster.objects) kinds.set(`${o.apiVersion} ${o.kind}`, { apiVersion: o.apiVersion, kind: o.kind });
  const versions = [...new Set([...kinds.values()].map((k) => k.apiVersion))];

  if (p === '/api') return send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
  if (p === '/apis') {
    const groups = [...new Set(versions.filter((v) => v.includes('/')).map(groupOf))].sort();
    return send(res, 200, {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((g) => {
        const vs = versions.filter((v) => groupOf(v) === g).map((v) => ({ groupVersion: v, version: v.split('/')[1] }));
        return { name: g, versions: vs, preferredVersion: vs[0] };
      }),
    });
  }
  const gv = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(\/.*)?$/.exec(p);
  if (!gv) return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
  const apiVersion = gv[1] ?? gv[2];
  const rest = gv[3] ?? '';
  const served = [...kinds.values()].filter((k) => k.apiVersion === apiVersion);
  if (rest === '') {
    if (served.length === 0) return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const resources = served.flatMap((k) => {
      const r = {
        name: pluralOf(k.kind),
        singularName: k.kind.toLowerCase(),
        namespaced: !CLUSTER_SCOPED.has(k.kind),
        kind: k.kind,
        verbs: ['get', 'list', 'watch'],
      };
      return k.kind === 'Pod' ? [r, { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] }] : [r];
    });
    return send(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersion, resources });
  }
  const r = /^(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(log))?$/.exec(rest);
  const kind = r && served.find((k) => pluralOf(k.kind) === r[2]);
  if (!r || !kind) return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
  const [, namespace, plural, name, sub] = r;
  const resource = `${plural}${sub ? `/${sub}` : ''}`;
  const verb = name ? 'get' : 'list';
  if (cluster.forbidden?.includes(`${verb} ${resource}`)) {
    const group = groupOf(apiVersion);
    return send(
      res,
      403,
      status(
        403,
        'Forbidden',
        `${name ? `${plural}${group ? `.${group}` : ''} "${name}"` : `${plural}${group ? `.${group}` : ''}`} is forbidden: User "meridian-reader" cannot ${verb} resource "${resource}" in API group "${group}"${namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope'}`,
        { name, group, kind: plural },
      ),
    );
  }
  const inScope = cluster.objects.filter((o) => o.apiVersion === apiVersion && o.kind === kind.kind && (!namespace || o.metadata?.namespace === namespace));
  if (name) {
    const found = inScope.find((o) => o.metadata?.name === name);
    if (!found) return send(res, 404, status(404, 'NotFound', `${plural} "${name}" not found`, { name, kind: plural }));
    if (sub === 'log') {
      const log = cluster.logs?.[`${namespace}/${name}/${query.get('container')}`];
      if (log === undefined) return send(res, 400, status(400, 'BadRequest', `container ${query.get('container')} is not valid for pod ${name}`));
      return send(res, 200, log, 'text/plain');
    }
    return send(res, 200, found);
  }
  const selector = (query.get('labelSelector') ?? '')
    .split(',')
    .filter(Boolean)
    .map((s) => s.split('='));
  const items = inScope.filter((o) => selector.every(([k, v]) => o.metadata?.labels?.[k] === v));
  // A built-in kind's list items carry no apiVersion and kind; a custom resource's do.
  const builtIn = !apiVersion.includes('.');
  return send(res, 200, {
    apiVersion,
    kind: `${kind.kind}List`,
    metadata: { resourceVersion: '123456' },
    items: items.map((o) => (builtIn ? { ...o, apiVersion: undefined, kind: undefined } : o)),
  });
}
