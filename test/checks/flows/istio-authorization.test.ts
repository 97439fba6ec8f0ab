/**
 * The Istio authorization evaluator on the examples of Istio's AuthorizationPolicy reference
 * (https://istio.io/latest/docs/reference/config/security/authorization-policy/), its
 * authorization concept page (evaluation order) and the authorization tasks for TCP traffic
 * and explicit deny (https://istio.io/latest/docs/tasks/security/authorization/), with the
 * outcome each page states. PeerAuthentication modes follow the PeerAuthentication reference.
 */
import { authorize, IstioPolicy, MeshRequest, mtlsMode } from '../../../checks/flows/istio-authorization';

const policy = (namespace: string, name: string, spec: object): IstioPolicy => ({ ref: `${namespace}/${name}`, obj: { metadata: { name, namespace }, spec } });
const httpbin = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };
const curl = 'cluster.local/ns/default/sa/curl';
const get = (path: string, extra: Partial<MeshRequest> = {}, claims: Record<string, string> = {}): MeshRequest => ({
  principal: curl,
  sourceIp: '10.0.0.7',
  port: 8000,
  http: { method: 'GET', path, claims },
  ...extra,
});

describe('Istio AuthorizationPolicy reference examples', () => {
  // "allows requests from the curl service account or the test namespace, GET /info* or POST /data, with a Google-issued JWT"
  const reference = policy('foo', 'httpbin', {
    action: 'ALLOW',
    rules: [
      {
        from: [{ source: { principals: [curl] } }, { source: { namespaces: ['test'] } }],
        to: [{ operation: { methods: ['GET'], paths: ['/info*'] } }, { operation: { methods: ['POST'], paths: ['/data'] } }],
        when: [{ key: 'request.auth.claims[iss]', values: ['https://accounts.google.com'] }],
      },
    ],
  });
  const google = { iss: 'https://accounts.google.com' };

  it('allows GET /info* from the named principal with the issuer', () => {
    expect(authorize([reference], httpbin, get('/info/a', {}, google))).toMatchObject({ allowed: true, decision: 'allow', by: ['foo/httpbin'] });
  });
  it('allows POST /data from any workload of the test namespace', () => {
    const v = authorize([reference], httpbin, {
      principal: 'cluster.local/ns/test/sa/any',
      sourceIp: '10.0.0.8',
      port: 8000,
      http: { method: 'POST', path: '/data', claims: google },
    });
    expect(v.allowed).toBe(true);
  });
  it('denies GET /data (operations pair methods with paths), another issuer, another namespace', () => {
    expect(authorize([reference], httpbin, get('/data', {}, google))).toMatchObject({ allowed: false, decision: 'no-allow-match' });
    expect(authorize([reference], httpbin, get('/info', {}, { iss: 'https://example.com' })).allowed).toBe(false);
    expect(authorize([reference], httpbin, get('/info', { principal: 'cluster.local/ns/prod/sa/curl' }, google)).allowed).toBe(false);
  });
  it('never matches principals or namespaces on plaintext traffic', () => {
    expect(authorize([reference], httpbin, get('/info', { principal: undefined }, google)).allowed).toBe(false);
  });

  // "denies requests from the dev namespace to the POST method on all workloads in the foo namespace"
  const denyDevPost = policy('foo', 'deny-dev-post', {
    action: 'DENY',
    rules: [{ from: [{ source: { namespaces: ['dev'] } }], to: [{ operation: { methods: ['POST'] } }] }],
  });
  it('DENY takes precedence over a matching ALLOW', () => {
    const allowAll = policy('foo', 'allow-all', { action: 'ALLOW', rules: [{}] });
    const post: MeshRequest = { principal: 'cluster.local/ns/dev/sa/x', sourceIp: '10.0.0.9', port: 8000, http: { method: 'POST', path: '/' } };
    expect(authorize([allowAll, denyDevPost], httpbin, post)).toMatchObject({ allowed: false, decision: 'deny', by: ['foo/deny-dev-post'] });
    expect(authorize([allowAll, denyDevPost], httpbin, { ...post, http: { method: 'GET', path: '/' } })).toMatchObject({ allowed: true, decision: 'allow' });
  });

  it('allow-nothing (no rules) denies everything; allow-all (an empty rule) allows everything; no ALLOW policy allows', () => {
    expect(authorize([policy('foo', 'allow-nothing', {})], httpbin, get('/'))).toMatchObject({ allowed: false, decision: 'no-allow-match' });
    expect(authorize([policy('foo', 'allow-all', { rules: [{}] })], httpbin, get('/')).allowed).toBe(true);
    expect(authorize([], httpbin, get('/'))).toMatchObject({ allowed: true, decision: 'no-allow-policy' });
  });

  it('deny-all (DENY with an empty rule) denies even what an ALLOW policy matches', () => {
    const v = authorize([policy('foo', 'allow-all', { rules: [{}] }), policy('foo', 'deny-all', { action: 'DENY', rules: [{}] })], httpbin, get('/'));
    expect(v).toMatchObject({ allowed: false, decision: 'deny' });
  });

  it('a selector limits a policy to its workloads; the root namespace applies to every workload', () => {
    const onV2 = policy('foo', 'v2-only', { selector: { matchLabels: { version: 'v2' } }, rules: [{ from: [{ source: { principals: ['nobody'] } }] }] });
    expect(authorize([onV2], httpbin, get('/')).decision).toBe('no-allow-policy');
    const root = policy('istio-system', 'mesh-deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] });
    expect(authorize([root], httpbin, get('/admin/users'))).toMatchObject({ allowed: false, by: ['istio-system/mesh-deny'] });
    const otherNs = policy('bar', 'allow-nothing', {});
    expect(authorize([otherNs], httpbin, get('/')).allowed).toBe(true);
  });

  it('requestPrincipals "*" requires a valid JWT; notRequestPrincipals "*" in a DENY rejects requests without one', () => {
    const requireJwt = policy('foo', 'require-jwt', { rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] });
    expect(authorize([requireJwt], httpbin, get('/')).allowed).toBe(false);
    const withJwt: MeshRequest = { ...get('/'), http: { method: 'GET', path: '/', requestPrincipal: 'https://securetoken.google.com/p/uid' } };
    expect(authorize([requireJwt], httpbin, withJwt).allowed).toBe(true);
    const denyNoJwt = policy('foo', 'deny-no-jwt', { action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }] });
    expect(authorize([denyNoJwt], httpbin, get('/')).allowed).toBe(false);
    expect(authorize([denyNoJwt], httpbin, withJwt).allowed).toBe(true);
  });

  it('matches prefix, suffix and presence patterns, and notPaths', () => {
    const p = policy('foo', 'paths', { rules: [{ to: [{ operation: { paths: ['/api/*', '*.png'], notPaths: ['/api/private*'] } }] }] });
    expect(authorize([p], httpbin, get('/api/x')).allowed).toBe(true);
    expect(authorize([p], httpbin, get('/img/a.png')).allowed).toBe(true);
    expect(authorize([p], httpbin, get('/api/private/x')).allowed).toBe(false);
    expect(authorize([p], httpbin, get('/other')).allowed).toBe(false);
  });

  it('a matching CUSTOM policy hands the decision to its provider, which the model does not prove', () => {
    const ext = policy('foo', 'ext-authz', {
      action: 'CUSTOM',
      provider: { name: 'my-custom-authz' },
      rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }],
    });
    expect(authorize([ext], httpbin, get('/admin/x'))).toMatchObject({ allowed: false, decision: 'custom' });
    expect(authorize([ext], httpbin, get('/public')).allowed).toBe(true);
  });

  it('ipBlocks and remoteIpBlocks', () => {
    const p = policy('foo', 'ips', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/24'], notIpBlocks: ['10.0.0.9'] } }] }] });
    expect(authorize([p], httpbin, get('/')).allowed).toBe(true);
    expect(authorize([p], httpbin, get('/', { sourceIp: '10.0.0.9' })).allowed).toBe(false);
    const remote = policy('foo', 'remote', { action: 'DENY', rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }] });
    expect(authorize([remote], httpbin, get('/', { remoteIp: '203.0.113.5' })).allowed).toBe(false);
  });
});

describe('Istio authorization of TCP traffic (authz-tcp task)', () => {
  const echo = { namespace: 'foo', labels: { app: 'tcp-echo' } };
  const tcp = (port: number): MeshRequest => ({ principal: 'cluster.local/ns/foo/sa/curl', sourceIp: '10.0.0.7', port });

  it('an ALLOW on ports admits those ports only', () => {
    const p = policy('foo', 'tcp-policy', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      action: 'ALLOW',
      rules: [{ to: [{ operation: { ports: ['9000', '9001'] } }] }],
    });
    expect(authorize([p], echo, tcp(9000)).allowed).toBe(true);
    expect(authorize([p], echo, tcp(9002)).allowed).toBe(false);
  });
  it('an ALLOW rule with an HTTP-only field never matches TCP traffic', () => {
    const p = policy('foo', 'tcp-policy', { action: 'ALLOW', rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }] });
    expect(authorize([p], echo, tcp(9000))).toMatchObject({ allowed: false, decision: 'no-allow-match' });
  });
  it('a DENY rule with an HTTP-only field is applied without it: it denies all TCP traffic on the port', () => {
    const p = policy('foo', 'tcp-policy', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }] });
    expect(authorize([p], echo, tcp(9000))).toMatchObject({ allowed: false, decision: 'deny' });
    expect(authorize([p], echo, tcp(9001)).allowed).toBe(true);
  });
});

describe('PeerAuthentication modes', () => {
  const w = { namespace: 'foo', labels: { app: 'cache' } };
  it('is PERMISSIVE when nothing sets it; the mesh, namespace, workload and port levels override in that order; UNSET inherits', () => {
    expect(mtlsMode([], w, 6379)).toEqual({ mode: 'PERMISSIVE' });
    const mesh = policy('istio-system', 'default', { mtls: { mode: 'STRICT' } });
    expect(mtlsMode([mesh], w, 6379)).toEqual({ mode: 'STRICT', by: 'istio-system/default' });
    const ns = policy('foo', 'default', { mtls: { mode: 'PERMISSIVE' } });
    expect(mtlsMode([mesh, ns], w, 6379).mode).toBe('PERMISSIVE');
    const workload = policy('foo', 'cache', {
      selector: { matchLabels: { app: 'cache' } },
      mtls: { mode: 'UNSET' },
      portLevelMtls: { '6379': { mode: 'DISABLE' } },
    });
    expect(mtlsMode([mesh, ns, workload], w, 6379)).toEqual({ mode: 'DISABLE', by: 'foo/cache' });
    expect(mtlsMode([mesh, ns, workload], w, 26379)).toEqual({ mode: 'PERMISSIVE', by: 'foo/default' });
  });
});
