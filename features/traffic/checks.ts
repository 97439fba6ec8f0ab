/**
 * Istio routing references, as `istioctl analyze` reports them (IST0101 ReferencedResourceNotFound
 * and friends): every host a VirtualService or DestinationRule names resolves to a Service
 * of the cluster or a ServiceEntry host, every subset routed to is defined, and every
 * subset selects pods — in any region cluster of the environment, since subsets are how
 * traffic crosses regions.
 */
import * as path from 'node:path';
import { at, Cluster, Json, Located, matchesLabels, Problem, problem, showSelector } from '../../checks/objects';
import type { FieldProblem } from '../../kernel/problems';
import { re2Error } from '../../kernel/re2';

/** Istio's default DNS domain suffix of Kubernetes Services. */
export const SERVICE_SUFFIX = '.svc.cluster.local';

/** Istio resolves a short name (no dot) in the namespace of the rule naming it; anything else is taken as written. */
export function qualifyHost(host: string, namespace: string | undefined): string {
  return host.includes('.') || host.startsWith('*') ? host : `${host}.${namespace ?? 'default'}${SERVICE_SUFFIX}`;
}

/** The Service a fully qualified host names in a cluster, if any. */
export function serviceOfHost(cluster: Cluster, host: string): Located | undefined {
  if (!host.endsWith(SERVICE_SUFFIX)) return undefined;
  const parts = host.slice(0, -SERVICE_SUFFIX.length).split('.');
  return parts.length === 2 ? cluster.find('Service', parts[1], parts[0]) : undefined;
}

function hostMatches(pattern: string, host: string): boolean {
  return pattern === host || (pattern.startsWith('*') && host.endsWith(pattern.slice(1)));
}

/** A ServiceEntry of the cluster declaring the host. */
function serviceEntryOf(cluster: Cluster, host: string): Located | undefined {
  return cluster.of('ServiceEntry').find((se) => ((se.obj.spec?.hosts ?? []) as string[]).some((h) => hostMatches(h, host)));
}

interface Destination {
  path: string;
  host: string;
  subset?: string;
  port?: number;
}

function destinations(vs: Json): Destination[] {
  const out: Destination[] = [];
  const add = (path: string, d: Json) => {
    if (d && typeof d.host === 'string') out.push({ path, host: d.host, subset: d.subset, port: d.port?.number });
  };
  for (const section of ['http', 'tcp', 'tls']) {
    ((vs.spec?.[section] ?? []) as Json[]).forEach((route, i) => {
      ((route.route ?? []) as Json[]).forEach((r, j) => add(at('spec', section, i, 'route', j, 'destination'), r.destination));
      if (section === 'http') {
        add(at('spec', section, i, 'mirror'), route.mirror);
        ((route.mirrors ?? []) as Json[]).forEach((m, j) => add(at('spec', section, i, 'mirrors', j, 'destination'), m.destination));
      }
    });
  }
  return out;
}

function destinationRulesFor(cluster: Cluster, host: string): Located[] {
  return cluster.of('DestinationRule').filter((dr) => qualifyHost(String(dr.obj.spec?.host ?? ''), dr.obj.metadata.namespace) === host);
}

export function routingProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  const unresolved = (host: string) => `host "${host}" is neither a Service of this cluster nor a host of a ServiceEntry: Envoy would have no endpoints for it`;

  for (const vs of cluster.of('VirtualService')) {
    const ns = vs.obj.metadata.namespace;
    for (const d of destinations(vs.obj)) {
      const host = qualifyHost(d.host, ns);
      const service = serviceOfHost(cluster, host);
      if (!service && !serviceEntryOf(cluster, host)) {
        problems.push(problem(vs, at(d.path, 'host'), unresolved(d.host)));
        continue;
      }
      if (service && d.port !== undefined) {
        const ports = ((service.obj.spec?.ports ?? []) as Json[]).map((p) => p.port as number);
        if (!ports.includes(d.port)) {
          problems.push(
            problem(
              vs,
              at(d.path, 'port', 'number'),
              `${d.port} is not a port of Service ${service.obj.metadata.namespace}/${service.obj.metadata.name} (${ports.join(', ')})`,
            ),
          );
        }
      }
      if (d.subset !== undefined) {
        const rules = destinationRulesFor(cluster, host);
        if (rules.length === 0) {
          problems.push(problem(vs, at(d.path, 'subset'), `"${d.subset}" needs a DestinationRule for host "${host}", and none is rendered`));
        } else if (!rules.some((dr) => ((dr.obj.spec?.subsets ?? []) as Json[]).some((s) => s.name === d.subset))) {
          const names = rules.flatMap((dr) => ((dr.obj.spec?.subsets ?? []) as Json[]).map((s) => s.name as string));
          problems.push(
            problem(
              vs,
              at(d.path, 'subset'),
              `"${d.subset}" is not a subset of DestinationRule ${rules.map((r) => `"${r.obj.metadata.name}"`).join(', ')} for host "${host}" (subsets: ${names.join(', ') || 'none'})`,
            ),
          );
        }
      }
    }
  }

  problems.push(...gatewayBindingProblems(cluster));
  problems.push(...gatewayHostProblems(cluster));

  for (const dr of cluster.of('DestinationRule')) {
    const raw = String(dr.obj.spec?.host ?? '');
    if (raw.startsWith('*')) continue;
    const host = qualifyHost(raw, dr.obj.metadata.namespace);
    if (!serviceOfHost(cluster, host) && !serviceEntryOf(cluster, host)) {
      problems.push(problem(dr, 'spec.host', unresolved(raw)));
      continue;
    }
    ((dr.obj.spec?.subsets ?? []) as Json[]).forEach((subset, i) => {
      const labels: Record<string, string> = subset.labels ?? {};
      if (Object.keys(labels).length === 0 || subsetSelectsPods(cluster.environment, host, labels)) return;
      problems.push(
        problem(
          dr,
          at('spec.subsets', i, 'labels'),
          `subset "${subset.name}" (${showSelector(labels)}) selects no pods behind ${host} in any cluster of ${envName(cluster)}`,
        ),
      );
    });
  }
  return problems;
}

/**
 * A VirtualService bound to a Gateway serves only the hosts a server of that Gateway admits
 * for the VirtualService's namespace (`<namespace>/<dns name>`, either part `*`, `.` for the
 * Gateway's own namespace), as istioctl's IST0132 reports. A Gateway in another namespace
 * than the cluster's rendered ones (installed by someone else) is not checked.
 */
function gatewayBindingProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  for (const vs of cluster.of('VirtualService')) {
    const ns = vs.obj.metadata.namespace ?? 'default';
    ((vs.obj.spec?.gateways ?? []) as string[]).forEach((ref, i) => {
      if (ref === 'mesh') return;
      const [gwNs, gwName] = ref.includes('/') ? ref.split('/') : [ns, ref];
      const gateway = cluster.find('Gateway', gwNs, gwName);
      if (!gateway) {
        if (cluster.of('Gateway', gwNs).length > 0)
          problems.push(problem(vs, at('spec.gateways', i), `Gateway ${gwNs}/${gwName} is not rendered in this cluster`));
        return;
      }
      const admitted = ((gateway.obj.spec?.servers ?? []) as Json[])
        .flatMap((srv) => (srv.hosts ?? []) as string[])
        .map((h) => {
          const [hostNs, dns] = h.includes('/') ? h.split('/') : ['*', h];
          return { ns: hostNs === '.' ? gwNs : hostNs, dns };
        });
      ((vs.obj.spec?.hosts ?? []) as string[]).forEach((host, j) => {
        if (admitted.some((a) => (a.ns === '*' || a.ns === ns) && (a.dns === '*' || hostMatches(a.dns, host)))) return;
        problems.push(
          problem(
            vs,
            at('spec.hosts', j),
            `"${host}" is not admitted for namespace ${ns} by Gateway ${gwNs}/${gwName} (hosts: ${admitted.map((a) => `${a.ns}/${a.dns}`).join(', ')}): the gateway would not route it`,
          ),
        );
      });
    });
  }
  return problems;
}

/** The hosts routed through each Gateway (`namespace/name`) of a cluster: the hosts of the VirtualServices bound to it. */
function hostsByGateway(cluster: Cluster): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const gw of cluster.of('Gateway')) out.set(`${gw.obj.metadata.namespace ?? 'default'}/${gw.obj.metadata.name}`, new Set());
  for (const vs of cluster.of('VirtualService')) {
    const ns = vs.obj.metadata.namespace ?? 'default';
    for (const ref of (vs.obj.spec?.gateways ?? []) as string[]) {
      if (ref === 'mesh') continue;
      const key = ref.includes('/') ? ref : `${ns}/${ref}`;
      for (const host of (vs.obj.spec?.hosts ?? []) as string[]) out.get(key)?.add(host);
    }
  }
  return out;
}

/**
 * Every host a Gateway routes in one region cluster is routed by the same Gateway in every
 * cluster of the environment that renders it: the global load balancer sends each client to
 * the nearest healthy region whatever the host (one backend service for all hosts), so a
 * gateway without the host's route answers 404 to the clients it is sent.
 */
function gatewayHostProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  const here = hostsByGateway(cluster);
  const others = cluster.environment.filter((c) => c !== cluster).map((c) => ({ region: path.basename(c.folder), hosts: hostsByGateway(c) }));
  for (const gw of cluster.of('Gateway')) {
    const key = `${gw.obj.metadata.namespace ?? 'default'}/${gw.obj.metadata.name}`;
    const routed = here.get(key)!;
    const missing = new Map<string, string[]>();
    for (const other of others) {
      for (const host of other.hosts.get(key) ?? []) {
        if (!routed.has(host)) missing.set(host, [...(missing.get(host) ?? []), other.region]);
      }
    }
    for (const [host, regions] of [...missing].sort(([a], [b]) => a.localeCompare(b))) {
      problems.push(
        problem(
          gw,
          'spec.servers',
          `no VirtualService bound to this Gateway routes host "${host}", which it routes in ${regions.join(', ')}: the global load balancer sends clients of every host to the nearest healthy region, where this gateway would answer 404`,
        ),
      );
    }
  }
  return problems;
}

/** Pods behind the host's Service, in any cluster of the environment, that carry the subset's labels. */
function subsetSelectsPods(environment: readonly Cluster[], host: string, labels: Record<string, string>): boolean {
  let serviceSeen = false;
  for (const c of environment) {
    const service = serviceOfHost(c, host);
    if (!service) continue;
    serviceSeen = true;
    const selector: Record<string, string> = service.obj.spec?.selector ?? {};
    if (c.pods(service.obj.metadata.namespace).some((p) => matchesLabels(selector, p.labels) && matchesLabels(labels, p.labels))) return true;
  }
  // A ServiceEntry host has no pods to select: nothing to check.
  return !serviceSeen;
}

function envName(cluster: Cluster): string {
  return path.dirname(cluster.folder);
}

/**
 * Every regex Envoy will evaluate compiles in RE2: Istio's StringMatch `regex` and
 * `uriRegexRewrite.match` in networking.istio.io objects, `safe_regex.regex` in EnvoyFilter
 * patches. Envoy rejects the whole listener or route configuration with one bad expression, so
 * synth (and `meridian validate`) refuse it first.
 */
export function regexProblems(manifest: Record<string, unknown>): FieldProblem[] {
  if (!String(manifest.apiVersion ?? '').startsWith('networking.istio.io/')) return [];
  const problems: FieldProblem[] = [];
  const walk = (value: unknown, pointer: (string | number)[]) => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, [...pointer, i]));
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      const regex = typeof v === 'string' && (k === 'regex' || (k === 'match' && pointer[pointer.length - 1] === 'uriRegexRewrite'));
      if (!regex) {
        walk(v, [...pointer, k]);
        continue;
      }
      const error = re2Error(v);
      if (error !== undefined)
        problems.push({ path: at('', ...pointer, k), message: `${JSON.stringify(v)} is not a regex RE2 (Envoy's engine) accepts: ${error}` });
    }
  };
  walk(manifest.spec, ['spec']);
  return problems;
}
