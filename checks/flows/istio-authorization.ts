/**
 * Istio's authorization of one request at a workload's sidecar, as Istio 1.30 defines it.
 * Sources followed:
 * - https://istio.io/latest/docs/reference/config/security/authorization-policy/ (fields, the
 *   examples ported in test/checks/flows/istio-authorization.test.ts, "*" and prefix/suffix
 *   matching, an empty rule matching everything, an ALLOW policy without rules matching nothing);
 * - https://istio.io/latest/docs/concepts/security/#authorization-policies (CUSTOM, then DENY,
 *   then ALLOW: no ALLOW policy on the workload allows, otherwise one must match; policies of
 *   the root namespace apply to every workload; `principals` and `namespaces` need mTLS);
 * - https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/ (HTTP-only fields on
 *   TCP traffic: an ALLOW rule using them never matches, a DENY rule is applied without them);
 * - https://istio.io/latest/docs/reference/config/security/peer_authentication/ (mode per
 *   workload, port, namespace and mesh, UNSET inheriting; PERMISSIVE by default).
 */
import { inRange } from './network-policy';
import { matchesLabels } from '../objects';

/** An Istio policy as rendered, and a name for it in verdicts. */
export interface IstioPolicy {
  readonly ref: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly obj: { readonly metadata: { readonly name: string; readonly namespace?: string }; readonly spec?: any };
}

/** The workload receiving the request. */
export interface MeshWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A request (or a TCP connection) as the destination's sidecar sees it. */
export interface MeshRequest {
  /** The peer's certificate identity, `<trust domain>/ns/<ns>/sa/<sa>`; absent for plaintext. */
  readonly principal?: string;
  /** The address the connection comes from (the peer's, or the last proxy's). */
  readonly sourceIp: string;
  /** The client address as the gateway saw it (X-Forwarded-For), for remoteIpBlocks. @default sourceIp */
  readonly remoteIp?: string;
  /** The port the workload receives on. */
  readonly port: number;
  /** HTTP requests carry the fields below; TCP connections do not. */
  readonly http?: {
    readonly method: string;
    readonly path: string;
    readonly host?: string;
    /** `<iss>/<sub>` of a validated JWT. */
    readonly requestPrincipal?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly claims?: Readonly<Record<string, string | readonly string[]>>;
  };
}

export interface AuthzVerdict {
  readonly allowed: boolean;
  /** Which step decided: a matching CUSTOM, DENY or ALLOW policy, or the absence of ALLOW policies. */
  readonly decision: 'custom' | 'deny' | 'allow' | 'no-allow-policy' | 'no-allow-match';
  /** The policies that decided (the matching ones; for no-allow-match, the ALLOW policies that did not match). */
  readonly by: readonly string[];
}

export const ROOT_NAMESPACE = 'istio-system';

/**
 * Evaluates the AuthorizationPolicies of a cluster for one request at `workload`.
 * A matching CUSTOM policy delegates the decision to an external authorizer this model cannot
 * run: the request counts as not proven allowed.
 */
export function authorize(policies: readonly IstioPolicy[], workload: MeshWorkload, req: MeshRequest, rootNamespace = ROOT_NAMESPACE): AuthzVerdict {
  const applying = policies.filter((p) => applies(p, workload, rootNamespace));
  const byAction = (action: string) => applying.filter((p) => (p.obj.spec?.action ?? 'ALLOW') === action);
  const custom = byAction('CUSTOM').filter((p) => matchesPolicy(p, req, 'CUSTOM'));
  if (custom.length > 0) return { allowed: false, decision: 'custom', by: refs(custom) };
  const deny = byAction('DENY').filter((p) => matchesPolicy(p, req, 'DENY'));
  if (deny.length > 0) return { allowed: false, decision: 'deny', by: refs(deny) };
  const allowPolicies = byAction('ALLOW');
  if (allowPolicies.length === 0) return { allowed: true, decision: 'no-allow-policy', by: [] };
  const allow = allowPolicies.filter((p) => matchesPolicy(p, req, 'ALLOW'));
  if (allow.length > 0) return { allowed: true, decision: 'allow', by: refs(allow) };
  return { allowed: false, decision: 'no-allow-match', by: refs(allowPolicies) };
}

const refs = (ps: readonly IstioPolicy[]) => ps.map((p) => p.ref);

function applies(p: IstioPolicy, w: MeshWorkload, root: string): boolean {
  const ns = p.obj.metadata.namespace ?? 'default';
  if (ns !== root && ns !== w.namespace) return false;
  // targetRef(s) bind gateways and waypoints, not sidecars.
  if (p.obj.spec?.targetRef || p.obj.spec?.targetRefs) return false;
  const labels = p.obj.spec?.selector?.matchLabels;
  return !labels || matchesLabels(labels, w.labels);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rule = any;

function matchesPolicy(p: IstioPolicy, req: MeshRequest, action: string): boolean {
  const rules: Rule[] = p.obj.spec?.rules ?? [];
  // No rules: an ALLOW policy matches nothing (allow-nothing); DENY and CUSTOM policies likewise never match.
  return rules.some((r) => matchesRule(r ?? {}, req, action));
}

const HTTP_SOURCE_FIELDS = ['requestPrincipals', 'notRequestPrincipals'];
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];
const HTTP_CONDITION = /^(request\.|experimental\.envoy\.filters\.)/;

/** A rule matches when one of its sources, one of its operations and all its conditions match (absent lists match). */
function matchesRule(rule: Rule, req: MeshRequest, action: string): boolean {
  const tcp = req.http === undefined;
  if (tcp && action !== 'DENY' && usesHttpFields(rule)) return false;
  const from: Rule[] = rule.from ?? [];
  const to: Rule[] = rule.to ?? [];
  const when: Rule[] = rule.when ?? [];
  const sourceOk = from.length === 0 || from.some((f) => matchesSource(f.source ?? {}, req));
  const operationOk = to.length === 0 || to.some((t) => matchesOperation(t.operation ?? {}, req));
  const whenOk = when.every((c: Rule) => (tcp && HTTP_CONDITION.test(c.key) ? true : matchesCondition(c, req)));
  return sourceOk && operationOk && whenOk;
}

function usesHttpFields(rule: Rule): boolean {
  const has = (o: Rule, fields: string[]) => fields.some((f) => o?.[f] !== undefined);
  return (
    (rule.from ?? []).some((f: Rule) => has(f.source, HTTP_SOURCE_FIELDS)) ||
    (rule.to ?? []).some((t: Rule) => has(t.operation, HTTP_OPERATION_FIELDS)) ||
    (rule.when ?? []).some((c: Rule) => HTTP_CONDITION.test(c.key))
  );
}

/** Each field present must match (its `not` twin must not); on TCP traffic HTTP-only fields are skipped (DENY only reaches here with them). */
function matchesSource(s: Rule, req: MeshRequest): boolean {
  const ns = principalNamespace(req.principal);
  const tcp = req.http === undefined;
  return (
    field(s.principals, s.notPrincipals, req.principal) &&
    field(s.namespaces, s.notNamespaces, ns) &&
    (tcp || field(s.requestPrincipals, s.notRequestPrincipals, req.http?.requestPrincipal)) &&
    ipField(s.ipBlocks, s.notIpBlocks, req.sourceIp) &&
    ipField(s.remoteIpBlocks, s.notRemoteIpBlocks, req.remoteIp ?? req.sourceIp)
  );
}

function matchesOperation(o: Rule, req: MeshRequest): boolean {
  const port = String(req.port);
  const portsOk = (o.ports === undefined || o.ports.includes(port)) && !(o.notPorts ?? []).includes(port);
  if (req.http === undefined) return portsOk;
  const host = req.http.host?.toLowerCase();
  return (
    portsOk && field(lower(o.hosts), lower(o.notHosts), host) && field(o.methods, o.notMethods, req.http.method) && field(o.paths, o.notPaths, req.http.path)
  );
}

function matchesCondition(c: Rule, req: MeshRequest): boolean {
  const value = conditionValue(c.key, req);
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const anyMatch = (patterns: string[]) => values.some((v) => patterns.some((p) => stringMatch(p, v)));
  if (c.values !== undefined && !anyMatch(c.values)) return false;
  if (c.notValues !== undefined && anyMatch(c.notValues)) return false;
  return true;
}

function conditionValue(key: string, req: MeshRequest): string | readonly string[] | undefined {
  const bracket = /^([a-z.]+)\[(.+)\]$/.exec(key);
  if (bracket && bracket[1] === 'request.headers') return req.http?.headers?.[bracket[2].toLowerCase()];
  if (bracket && bracket[1] === 'request.auth.claims') return req.http?.claims?.[bracket[2].split('][')[0]];
  switch (key) {
    case 'source.ip':
      return req.sourceIp;
    case 'remote.ip':
      return req.remoteIp ?? req.sourceIp;
    case 'source.namespace':
      return principalNamespace(req.principal);
    case 'source.principal':
      return req.principal;
    case 'request.auth.principal':
      return req.http?.requestPrincipal;
    case 'destination.port':
      return String(req.port);
    default:
      throw new Error(`AuthorizationPolicy condition key "${key}" is not modelled`);
  }
}

/** `values` (any matches) and `notValues` (none matches); an absent value matches no pattern. */
function field(values: string[] | undefined, notValues: string[] | undefined, actual: string | undefined): boolean {
  const any = (ps: string[]) => actual !== undefined && actual !== '' && ps.some((p) => stringMatch(p, actual));
  if (values !== undefined && !any(values)) return false;
  if (notValues !== undefined && any(notValues)) return false;
  return true;
}

function ipField(blocks: string[] | undefined, notBlocks: string[] | undefined, ip: string): boolean {
  const within = (bs: string[]) => bs.some((b) => inRange(ip, b.includes('/') ? b : `${b}/32`));
  if (blocks !== undefined && !within(blocks)) return false;
  if (notBlocks !== undefined && within(notBlocks)) return false;
  return true;
}

const lower = (xs: string[] | undefined) => xs?.map((x) => x.toLowerCase());

/** Istio's string match: exact, `prefix*`, `*suffix`, or `*` for any non-empty value. */
export function stringMatch(pattern: string, value: string): boolean {
  if (pattern.includes('{')) throw new Error(`path template "${pattern}" is not modelled`);
  if (pattern === '*') return value.length > 0;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

function principalNamespace(principal: string | undefined): string | undefined {
  const m = principal ? /\/ns\/([^/]+)\/sa\//.exec(principal) : null;
  return m ? m[1] : undefined;
}

// ---------------------------------------------------------------------------------------
// PeerAuthentication

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface MtlsVerdict {
  readonly mode: MtlsMode;
  /** The PeerAuthentication that set the mode, if any. */
  readonly by?: string;
}

/**
 * The mTLS mode a workload applies on one port: a workload-specific PeerAuthentication (its
 * port-level mode first), then its namespace's, then the mesh-wide one in the root namespace;
 * UNSET inherits from the next level; PERMISSIVE when nothing sets it.
 */
export function mtlsMode(policies: readonly IstioPolicy[], workload: MeshWorkload, port: number, rootNamespace = ROOT_NAMESPACE): MtlsVerdict {
  const inNs = (ns: string) => policies.filter((p) => (p.obj.metadata.namespace ?? 'default') === ns);
  const selecting = inNs(workload.namespace).filter((p) => {
    const labels = p.obj.spec?.selector?.matchLabels;
    return labels && Object.keys(labels).length > 0 && matchesLabels(labels, workload.labels);
  });
  const wide = (ns: string) => inNs(ns).filter((p) => !p.obj.spec?.selector?.matchLabels || Object.keys(p.obj.spec.selector.matchLabels).length === 0);
  const candidates: [IstioPolicy, string | undefined][] = [];
  // Istio picks the oldest selecting policy when several apply; Meridian never renders two on one port, so order by name.
  for (const p of [...selecting].sort((a, b) => a.ref.localeCompare(b.ref))) candidates.push([p, p.obj.spec?.portLevelMtls?.[String(port)]?.mode]);
  for (const p of selecting) candidates.push([p, p.obj.spec?.mtls?.mode]);
  for (const p of wide(workload.namespace)) candidates.push([p, p.obj.spec?.mtls?.mode]);
  if (workload.namespace !== rootNamespace) for (const p of wide(rootNamespace)) candidates.push([p, p.obj.spec?.mtls?.mode]);
  for (const [p, mode] of candidates) {
    if (mode && mode !== 'UNSET') return { mode: mode as MtlsMode, by: p.ref };
  }
  return { mode: 'PERMISSIVE' };
}
