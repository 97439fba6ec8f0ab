/**
 * Flows against the rendered objects of one environment's region clusters: what each layer
 * decides, read from the objects only (NetworkPolicy, PeerAuthentication, AuthorizationPolicy,
 * Sidecar, ServiceEntry, Service), with the mesh topology Meridian's manifests assume:
 *
 * - Istio multi-primary, multi-network: a call to a host of another cluster leaves through
 *   the source cluster's egress to that cluster's east-west gateway (port 15443, an internal
 *   load balancer address of the VPC) and arrives at the pod from the gateway pod, with the
 *   caller's mTLS identity intact (AUTO_PASSTHROUGH). A name the mesh does not know
 *   (`*.svc.clusterset.local` of GKE multi-cluster Services) is passed through by the sidecar
 *   as plain TCP, straight to the other cluster's pod address.
 * - The sidecar captures the application's TCP connections (not DNS, which the agent forwards
 *   from the pod, nor the proxy's own connection to istiod); what it may send is what its
 *   Sidecar imports (`egress.hosts`), and with `outboundTrafficPolicy: REGISTRY_ONLY` only to
 *   names the mesh knows. The merged metrics port 15020 is served by the agent, outside the
 *   sidecar's inbound authorization.
 * - The clusters' own parts as docs/validation.md ("What the clusters must provide") lists
 *   them: kube-dns, istiod, the gateways, the Managed Prometheus collectors, KEDA.
 * - Addresses: pods of the N-th region cluster in 10.(64+N).0.0/16, its east-west gateway at
 *   10.(96+N).0.15 (VPC-native GKE uses private ranges); Google APIs at a public address and
 *   in private.googleapis.com; the metadata server at its link-local addresses.
 */
import type { EnvironmentPlan } from '../../model/plan';
import { Located, matchesLabels, selects } from '../objects';
import { authorize, IstioPolicy, MeshRequest, mtlsMode } from './istio-authorization';
import { END_USER, failsOver, Flow, intendedFlows, Party, partyName, SystemRole } from './intent';
import { ContainerPort, inRange, NetEndpoint, NetPod, NetworkPolicyModel } from './network-policy';

export const EAST_WEST_PORT = 15443;
const MERGED_METRICS_PORT = 15020;

interface WorldPod extends NetPod {
  readonly party: Party;
  readonly serviceAccount: string;
  readonly meshed: boolean;
  readonly owner?: Located;
}

/** One region cluster as its rendered objects (and the parts the cluster provides) make it. */
export class ClusterWorld {
  readonly namespaces = new Map<string, Record<string, string>>();
  readonly pods: WorldPod[] = [];
  readonly netpol: NetworkPolicyModel;
  readonly istio: IstioPolicy[] = [];
  readonly sidecars: Located[] = [];
  readonly serviceEntries: Located[] = [];
  readonly services: Located[] = [];
  readonly virtualServices: Located[] = [];
  /** `Kind ns/name` → the object, for messages. */
  readonly byRef = new Map<string, Located>();
  readonly eastWestAddress: string;

  constructor(
    readonly region: string,
    readonly index: number,
    objects: readonly Located[],
    readonly env: EnvironmentPlan,
  ) {
    this.eastWestAddress = `10.${96 + index}.0.15`;
    const policies: { ref: string; obj: Located['obj'] }[] = [];
    for (const o of objects) {
      const ref = refOf(o);
      this.byRef.set(ref, o);
      const kind = o.obj.kind;
      if (kind === 'Namespace') this.namespaces.set(o.obj.metadata.name, o.obj.metadata.labels ?? {});
      else if (kind === 'NetworkPolicy') policies.push({ ref, obj: o.obj });
      else if (kind === 'AuthorizationPolicy' || kind === 'PeerAuthentication') this.istio.push({ ref, obj: o.obj });
      else if (kind === 'Sidecar') this.sidecars.push(o);
      else if (kind === 'ServiceEntry') this.serviceEntries.push(o);
      else if (kind === 'Service') this.services.push(o);
      else if (kind === 'VirtualService') this.virtualServices.push(o);
    }
    for (const o of objects) {
      const template = podTemplateOf(o);
      if (!template) continue;
      const ns = o.obj.metadata.namespace ?? 'default';
      const labels: Record<string, string> = template.metadata?.labels ?? {};
      const nsLabels = this.namespaces.get(ns) ?? {};
      // Istio's injection: the namespace label, overridden per pod by the sidecar.istio.io/inject label (or the older annotation).
      const inject = template.metadata?.labels?.['sidecar.istio.io/inject'] ?? template.metadata?.annotations?.['sidecar.istio.io/inject'];
      const meshed = inject === undefined ? nsLabels['istio-injection'] === 'enabled' : inject === 'true';
      const ports: ContainerPort[] = (template.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
      if (meshed) ports.push({ name: 'http-envoy-prom', containerPort: MERGED_METRICS_PORT });
      const name = labels['app.kubernetes.io/name'] ?? o.obj.metadata.name;
      this.addPod({
        party: { kind: 'workload', region, namespace: ns, name },
        namespace: ns,
        labels,
        ports,
        serviceAccount: template.spec?.serviceAccountName ?? 'default',
        meshed,
        owner: o,
      });
    }
    const mesh = env.platform.mesh;
    const system = (role: SystemRole, namespace: string, labels: Record<string, string>, serviceAccount: string, meshed: boolean) =>
      this.addPod({ party: { kind: 'system', region, role }, namespace, labels, ports: [], serviceAccount, meshed });
    system('ingress-gateway', mesh.ingressGateway.namespace, mesh.ingressGateway.labels, mesh.ingressGateway.serviceAccount, true);
    system('east-west-gateway', mesh.eastWestGateway.namespace, mesh.eastWestGateway.labels, mesh.eastWestGateway.serviceAccount, true);
    system('kube-dns', 'kube-system', { 'k8s-app': 'kube-dns' }, 'kube-dns', false);
    system('istiod', 'istio-system', { app: 'istiod' }, 'istiod', false);
    system('gmp', 'gmp-system', { 'app.kubernetes.io/name': 'collector' }, 'collector', false);
    system('keda', 'keda', { app: 'keda-operator' }, 'keda-operator', false);
    system('foreign', 'meridian-probe', { app: 'probe' }, 'default', true);
    system('foreign-plaintext', 'meridian-probe-plaintext', { app: 'probe' }, 'default', false);
    this.netpol = new NetworkPolicyModel(this.namespaces, policies);
  }

  private addPod(p: Omit<WorldPod, 'ip'>): void {
    const n = this.pods.length + 10;
    this.pods.push({ ...p, ip: `10.${64 + this.index}.${Math.floor(n / 250)}.${(n % 250) + 1}` });
  }

  podsOf(party: Party): WorldPod[] {
    return this.pods.filter((p) => samePartyAs(p.party, party));
  }

  principal(pod: WorldPod): string {
    return `${this.env.platform.mesh.trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount}`;
  }
}

const samePartyAs = (a: Party, b: Party) => partyName(a) === partyName(b) && a.kind === b.kind;

function podTemplateOf(o: Located):
  | {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: { containers?: { ports?: ContainerPort[] }[]; serviceAccountName?: string };
    }
  | undefined {
  const k = o.obj.kind;
  if (k === 'Deployment' || k === 'StatefulSet' || k === 'DaemonSet') return o.obj.spec?.template;
  if (k === 'CronJob') return o.obj.spec?.jobTemplate?.spec?.template;
  if (k === 'Job') return o.obj.spec?.template;
  return undefined;
}

export const refOf = (o: Located) => `${o.obj.kind} ${o.obj.metadata.namespace ? `${o.obj.metadata.namespace}/` : ''}${o.obj.metadata.name}`;

/** A layer that decided a flow: the objects (by ref) and what they did. */
export interface LayerVerdict {
  readonly layer: 'route' | 'sidecar' | 'egress' | 'ingress' | 'mtls' | 'authorization';
  readonly allowed: boolean;
  readonly by: readonly string[];
  readonly detail: string;
}

export interface FlowVerdict {
  readonly flow: Flow;
  readonly allowed: boolean;
  readonly layers: readonly LayerVerdict[];
  /** The first layer that denied, if any. */
  readonly deniedBy?: LayerVerdict;
}

/** Every region cluster of an environment, from its rendered objects (`<region>/<namespace>/<file>` under the env folder). */
export class EnvironmentWorld {
  readonly clusters = new Map<string, ClusterWorld>();

  constructor(
    readonly env: EnvironmentPlan,
    objectsByRegion: ReadonlyMap<string, readonly Located[]>,
  ) {
    env.clusters.forEach((c, i) => this.clusters.set(c.region, new ClusterWorld(c.region, i, objectsByRegion.get(c.region) ?? [], env)));
  }

  /** Does any cluster of the mesh have a Service with this host? (multi-primary: every istiod knows every cluster's Services) */
  private meshKnows(host: string): boolean {
    const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(host);
    if (!m) return false;
    return [...this.clusters.values()].some((w) => w.services.some((s) => s.obj.metadata.name === m[1] && s.obj.metadata.namespace === m[2]));
  }

  /** Evaluates a flow, whether intended or probed. */
  evaluate(flow: Flow): FlowVerdict {
    const layers: LayerVerdict[] = [];
    const done = () => {
      const deniedBy = layers.find((l) => !l.allowed);
      return { flow, allowed: deniedBy === undefined, layers, deniedBy };
    };
    const fromWorld = this.worldOf(flow.from);
    const toWorld = this.worldOf(flow.to);
    const sources = fromWorld ? fromWorld.podsOf(flow.from) : [];
    const targets = toWorld ? toWorld.podsOf(flow.to) : [];
    if (flow.from.kind !== 'external' && sources.length === 0) {
      layers.push({ layer: 'egress', allowed: false, by: [], detail: `no pod of ${partyName(flow.from)} is rendered` });
      return done();
    }
    if (flow.to.kind === 'workload' && targets.length === 0) {
      layers.push({ layer: 'ingress', allowed: false, by: [], detail: `no pod of ${partyName(flow.to)} is rendered` });
      return done();
    }
    if (flow.from.kind === 'system' && flow.from.role === 'ingress-gateway' && flow.http && flow.to.kind === 'workload') {
      const routes = routesTo(fromWorld!, flow.to, flow.http.path);
      layers.push({
        layer: 'route',
        allowed: routes.length > 0,
        by: routes,
        detail: routes.length > 0 ? `routed to ${flow.to.name}` : `no VirtualService of the gateway routes ${flow.http.path} to ${flow.to.name}`,
      });
      if (routes.length === 0) return done();
    }
    // Every pod of the source and of the destination must allow it (a canary next to its stable pods, say).
    const src = sources[0];
    const captured =
      src !== undefined && src.meshed && src.party.kind === 'workload' && flow.protocol === 'TCP' && flow.kind !== 'dns' && flow.kind !== 'istiod';

    // 1. The source's sidecar: may it send there, and how (mTLS through the mesh, or passed through)?
    let mtls = src?.meshed === true && flow.to.kind !== 'external';
    let passthrough = false;
    if (captured) {
      const s = this.sidecarDecision(fromWorld!, src, flow);
      layers.push(s.verdict);
      if (!s.verdict.allowed) return done();
      passthrough = s.passthrough;
      if (passthrough) mtls = false;
    }
    if (flow.to.kind === 'system' && flow.to.role !== 'east-west-gateway') mtls = false;
    const targetMeshed = targets.length > 0 && targets.every((t) => t.meshed);
    if (!targetMeshed) mtls = false;

    const crossCluster = fromWorld !== undefined && toWorld !== undefined && fromWorld !== toWorld;
    // How the connection leaves the source and arrives at the destination.
    const viaGateway = crossCluster && !passthrough;
    for (const s of sources) {
      const egressTo: NetEndpoint[] =
        flow.to.kind === 'external'
          ? flow.to.ips.map((ip) => ({ ip }))
          : viaGateway
            ? [{ ip: toWorld!.eastWestAddress }]
            : crossCluster
              ? targets.map((t) => ({ ip: t.ip }))
              : targets.map((t) => ({ pod: t }));
      const port = viaGateway ? EAST_WEST_PORT : flow.port;
      for (const to of egressTo) {
        const v = fromWorld!.netpol.connect({ pod: s }, to, port, flow.protocol).egress!;
        if (!v.allowed || s === sources[sources.length - 1]) {
          layers.push({
            layer: 'egress',
            allowed: v.allowed,
            by: v.allowed ? v.allowedBy : deciding(v.selectedBy, flow.from),
            detail: `egress of ${partyName(flow.from)} to ${'pod' in to ? partyName(flow.to) : to.ip}:${port}`,
          });
          if (!v.allowed) return done();
          break;
        }
      }
    }
    if (flow.to.kind === 'external') return done();

    const arrivingFrom: NetEndpoint[] = viaGateway
      ? toWorld!.podsOf({ kind: 'system', region: toWorld!.region, role: 'east-west-gateway' }).map((pod) => ({ pod }))
      : crossCluster
        ? sources.map((s) => ({ ip: s.ip }))
        : sources.map((pod) => ({ pod }));
    for (const t of targets) {
      for (const from of arrivingFrom) {
        const v = toWorld!.netpol.connect(from, { pod: t }, flow.port, flow.protocol).ingress!;
        if (!v.allowed || (t === targets[targets.length - 1] && from === arrivingFrom[arrivingFrom.length - 1])) {
          const via = viaGateway ? ' through the east-west gateway' : crossCluster ? ` from ${(from as { ip: string }).ip} (another cluster's pod)` : '';
          layers.push({
            layer: 'ingress',
            allowed: v.allowed,
            by: v.allowed ? v.allowedBy : deciding(v.selectedBy, flow.to),
            detail: `ingress of ${partyName(flow.to)}:${flow.port}${via}`,
          });
          if (!v.allowed) return done();
        }
      }
    }
    if (!targetMeshed || flow.port === MERGED_METRICS_PORT) return done();

    // The destination's sidecar: mTLS mode on the port, then authorization.
    for (const t of targets) {
      const mode = mtlsMode(toWorld!.istio, t, flow.port);
      if (!mtls && mode.mode === 'STRICT') {
        layers.push({
          layer: 'mtls',
          allowed: false,
          by: mode.by ? [mode.by] : [],
          detail: `plaintext${passthrough ? ' (passed through: the mesh does not know the name)' : ''} on a STRICT port`,
        });
        return done();
      }
      if (mtls && mode.mode === 'DISABLE') mtls = false;
      const request: MeshRequest = {
        principal: mtls ? fromWorld!.principal(src) : undefined,
        sourceIp: viaGateway ? toWorld!.podsOf({ kind: 'system', region: toWorld!.region, role: 'east-west-gateway' })[0].ip : src.ip,
        port: flow.port,
        http: flow.http && { method: flow.http.method, path: flow.http.path, host: flow.host, requestPrincipal: flow.http.requestPrincipal },
      };
      const v = authorize(toWorld!.istio, t, request);
      if (!v.allowed || t === targets[targets.length - 1]) {
        layers.push({
          layer: 'authorization',
          allowed: v.allowed,
          by: v.by,
          detail: `${v.decision}${mtls ? ` (principal ${request.principal})` : ' (no peer identity: plaintext)'}`,
        });
        if (!v.allowed) return done();
      }
    }
    return done();
  }

  private worldOf(p: Party): ClusterWorld | undefined {
    return p.kind === 'external' ? undefined : this.clusters.get(p.region);
  }

  /** What the source's Sidecar lets it send: the host (or address) must be imported, and known to the mesh under REGISTRY_ONLY. */
  private sidecarDecision(w: ClusterWorld, pod: WorldPod, flow: Flow): { verdict: LayerVerdict; passthrough: boolean } {
    const sidecar =
      w.sidecars.find(
        (s) =>
          s.obj.metadata.namespace === pod.namespace &&
          s.obj.spec?.workloadSelector &&
          selects({ matchLabels: s.obj.spec.workloadSelector.labels }, pod.labels),
      ) ?? w.sidecars.find((s) => s.obj.metadata.namespace === pod.namespace && !s.obj.spec?.workloadSelector);
    const registryOnly = sidecar?.obj.spec?.outboundTrafficPolicy?.mode === 'REGISTRY_ONLY';
    const by = sidecar ? [refOf(sidecar)] : [];
    const imported = (ns: string, host: string) => !sidecar || importsHost(sidecar, pod.namespace, ns, host);
    const ok = (detail: string, passthrough = false) => ({ verdict: { layer: 'sidecar' as const, allowed: true, by, detail }, passthrough });
    const no = (detail: string) => ({ verdict: { layer: 'sidecar' as const, allowed: false, by, detail }, passthrough: false });

    if (flow.to.kind === 'external') {
      const entries = w.serviceEntries.filter((se) => visibleTo(se, pod.namespace) && seCovers(se, flow));
      const usable = entries.filter((se) => imported(se.obj.metadata.namespace ?? '', flow.host ?? se.obj.spec?.hosts?.[0] ?? ''));
      if (usable.length > 0)
        return { verdict: { layer: 'sidecar', allowed: true, by: [...by, ...usable.map(refOf)], detail: 'a ServiceEntry declares it' }, passthrough: false };
      if (registryOnly) return no(`REGISTRY_ONLY and no ServiceEntry imported by the Sidecar declares ${flow.host ?? flow.to.ips.join(', ')}:${flow.port}`);
      return ok('passed through (ALLOW_ANY)', true);
    }
    const host = flow.host;
    if (host && this.meshKnows(host)) {
      const ns = host.split('.')[1];
      if (!imported(ns, host)) return no(`its Sidecar does not import ${ns}/${host}`);
      return ok(`${host} is imported`);
    }
    if (registryOnly) return no(`REGISTRY_ONLY and the mesh knows no service ${host ?? '(an address)'}`);
    return ok(`${host ?? 'the address'} is not a mesh service: passed through as plain TCP`, true);
  }

  /** The intended flows of the environment, each evaluated. */
  intended(): FlowVerdict[] {
    return intendedFlows(this.env).map((f) => this.evaluate(f));
  }

  /**
   * Connections nobody intends that cross a namespace, a cluster or the edge: every workload,
   * gateway and foreign probe as a source, every port of every workload as a destination.
   * Returns those the rendered objects allow.
   */
  unintendedAllowed(intended: readonly Flow[]): FlowVerdict[] {
    const key = (f: Flow) => `${partyName(f.from)}>${partyName(f.to)}:${f.port}/${f.protocol}${f.http ? ` ${f.http.method} ${f.http.path}` : ''}`;
    const intendedKeys = new Set(intended.map(key));
    // Connections between workloads are intended whatever the request; the edge and scraping only on their paths.
    const intendedPairs = new Set(
      intended.filter((f) => f.kind !== 'edge' && f.kind !== 'scrape').map((f) => `${partyName(f.from)}>${partyName(f.to)}:${f.port}`),
    );
    const edgePrefixes = new Map<string, string[]>();
    for (const f of intended) {
      if (f.kind !== 'edge' || !f.http) continue;
      const k = `${partyName(f.from)}>${partyName(f.to)}:${f.port}`;
      edgePrefixes.set(k, [...(edgePrefixes.get(k) ?? []), f.http.path]);
    }
    const metricsPaths = new Map<string, string[]>();
    for (const c of this.env.clusters) {
      for (const [name, s] of Object.entries(c.services)) if (s.metrics) metricsPaths.set(`${c.region}/${s.namespace}/${name}`, [s.metrics.path]);
    }
    const isIntended = (f: Flow): boolean => {
      if (intendedKeys.has(key(f))) return true;
      const pair = `${partyName(f.from)}>${partyName(f.to)}:${f.port}`;
      if (!f.http) return intendedPairs.has(pair);
      if (f.from.kind === 'system' && f.from.role === 'ingress-gateway') {
        const metrics = metricsPaths.get(partyName(f.to)) ?? [];
        if (metrics.some((m) => underPrefix(f.http!.path, m))) return false;
        return (edgePrefixes.get(pair) ?? []).some((p) => underPrefix(f.http!.path, p));
      }
      // A meshed caller's requests are intended whatever their path when the connection is.
      return intendedPairs.has(pair) || intendedKeys.has(`${pair}/${f.protocol}`);
    };

    const out: FlowVerdict[] = [];
    const all = [...this.clusters.values()];
    const workloads = all.flatMap((w) => w.pods.filter((p) => p.party.kind === 'workload'));
    const seen = new Set<string>();
    for (const dw of all) {
      for (const dst of dw.pods.filter((p) => p.party.kind === 'workload')) {
        const ports = [...new Set((dst.ports ?? []).map((p) => p.containerPort))].sort((a, b) => a - b);
        const sources: { party: Party; ns: string }[] = [
          ...workloads.map((p) => ({ party: p.party, ns: p.namespace })),
          ...all.flatMap((w) =>
            (['ingress-gateway', 'foreign', 'foreign-plaintext', 'gmp'] as const)
              .filter((role) => role === 'ingress-gateway' || w === dw)
              .map((role) => ({
                party: { kind: 'system', region: w.region, role } as Party,
                ns: w.podsOf({ kind: 'system', region: w.region, role })[0].namespace,
              })),
          ),
        ];
        for (const s of sources) {
          const crossesCluster = s.party.kind !== 'external' && s.party.region !== dw.region;
          if (!crossesCluster && s.ns === dst.namespace) continue;
          for (const port of ports) {
            const requests = this.candidateRequests(dst, port, s.party);
            for (const http of requests) {
              const flow: Flow = { kind: 'probe', from: s.party, to: dst.party, port, protocol: 'TCP', host: this.hostFor(dw, dst, port), http, why: 'probe' };
              const k = key(flow);
              if (seen.has(k)) continue;
              seen.add(k);
              if (isIntended(flow)) continue;
              const v = this.evaluate(flow);
              if (v.allowed) out.push(v);
            }
          }
        }
      }
    }
    return out;
  }

  /** Requests a probe makes on a port: a connection, or for HTTP ports GET / and the metrics paths. */
  private candidateRequests(dst: WorldPod, port: number, from: Party): (Flow['http'] | undefined)[] {
    const http = this.isHttpPort(dst, port);
    if (!http || port === MERGED_METRICS_PORT) return [undefined];
    const paths = new Set(['/']);
    for (const c of this.env.clusters) {
      for (const [name, s] of Object.entries(c.services)) {
        if (name === (dst.party as { name: string }).name && s.metrics) paths.add(s.metrics.path);
        if (name === (dst.party as { name: string }).name && s.expose && from.kind === 'system') for (const p of s.expose.paths) paths.add(p);
      }
    }
    if (port === 9121) ['/metrics', '/scrape'].forEach((p) => paths.add(p));
    // The strongest caller: one holding a valid end-user token (anyone may sign up).
    return [...paths].sort().map((path) => ({ method: 'GET', path, requestPrincipal: END_USER }));
  }

  private isHttpPort(dst: WorldPod, port: number): boolean {
    const named = (dst.ports ?? []).find((p) => p.containerPort === port)?.name ?? '';
    return (
      /^(http|grpc|ws|sse)/.test(named) ||
      (this.worldOf(dst.party)?.services ?? []).some(
        (s) =>
          (s.obj.spec?.ports ?? []).some(
            (p: { targetPort?: number | string; port: number; name?: string; appProtocol?: string }) =>
              (p.targetPort ?? p.port) === port && /^(http|grpc)/.test(p.appProtocol ?? p.name ?? ''),
          ) && selects({ matchLabels: s.obj.spec?.selector ?? {} }, dst.labels),
      )
    );
  }

  /** A mesh host that reaches the pod on the port: a Service of its cluster selecting it. */
  private hostFor(w: ClusterWorld, pod: WorldPod, port: number): string | undefined {
    const svc = w.services
      .filter((s) => s.obj.metadata.namespace === pod.namespace && s.obj.spec?.selector && matchesLabels(s.obj.spec.selector, pod.labels))
      .find((s) => (s.obj.spec?.ports ?? []).some((p: { targetPort?: number | string; port: number }) => (p.targetPort ?? p.port) === port));
    return svc ? `${svc.obj.metadata.name}.${svc.obj.metadata.namespace}.svc.cluster.local` : undefined;
  }
}

/** The gateway VirtualServices of a cluster with an HTTP route sending `path` to the workload's Service. */
function routesTo(w: ClusterWorld, to: Extract<Party, { kind: 'workload' }>, path: string): string[] {
  const fqdn = `${to.name}.${to.namespace}.svc.cluster.local`;
  const out: string[] = [];
  for (const vs of w.virtualServices) {
    const gateways: string[] = vs.obj.spec?.gateways ?? [];
    if (gateways.length === 0 || gateways.every((g) => g === 'mesh')) continue;
    const ns = vs.obj.metadata.namespace ?? 'default';
    const routed = (vs.obj.spec?.http ?? []).some(
      (r: { match?: { uri?: { prefix?: string; exact?: string; regex?: string } }[]; route?: { destination?: { host?: string } }[] }) => {
        const matches = r.match?.length ? r.match : [{}];
        const pathOk = matches.some(
          (m) => !m.uri || (m.uri.prefix !== undefined && path.startsWith(m.uri.prefix)) || m.uri.exact === path || m.uri.regex !== undefined,
        );
        const hostOk = (r.route ?? []).some((d) => {
          const h = d.destination?.host ?? '';
          return h === fqdn || `${h}.${ns}.svc.cluster.local` === fqdn || `${h}.svc.cluster.local` === fqdn;
        });
        return pathOk && hostOk;
      },
    );
    if (routed) out.push(refOf(vs));
  }
  return out;
}

/** The isolating policies, the one named after the workload first (its own rules are where a fix goes), then default-deny. */
function deciding(refs: readonly string[], party: Party): string[] {
  const own = party.kind === 'workload' ? `NetworkPolicy ${party.namespace}/${party.name}` : '';
  const rank = (r: string) => (r === own ? 0 : r.endsWith('/default-deny') ? 1 : 2);
  return [...refs].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`) || prefix === '/';
}

/** Sidecar `egress[].hosts` entries are `<namespace>/<host>`: `.` the Sidecar's namespace, `*` any, `~` none; the host may be `*` or `*.<suffix>`. */
function importsHost(sidecar: Located, sidecarNs: string, ns: string, host: string): boolean {
  for (const e of sidecar.obj.spec?.egress ?? []) {
    for (const entry of e.hosts ?? []) {
      const [n, h] = String(entry).split('/');
      const nsOk = n === '*' || n === ns || (n === '.' && ns === sidecarNs);
      const hostOk = h === '*' || h === host || (h.startsWith('*.') && host.endsWith(h.slice(1)));
      if (nsOk && hostOk) return true;
    }
  }
  return false;
}

function visibleTo(se: Located, ns: string): boolean {
  const exportTo: string[] | undefined = se.obj.spec?.exportTo;
  return !exportTo || exportTo.includes('*') || exportTo.includes(ns) || (exportTo.includes('.') && se.obj.metadata.namespace === ns);
}

function seCovers(se: Located, flow: Flow): boolean {
  const spec = se.obj.spec ?? {};
  if (!(spec.ports ?? []).some((p: { number: number }) => p.number === flow.port)) return false;
  if (flow.to.kind !== 'external') return false;
  if (flow.host) return (spec.hosts ?? []).some((h: string) => h === flow.host || (h.startsWith('*.') && flow.host!.endsWith(h.slice(1))));
  const ips = flow.to.ips;
  return ips.every((ip) => (spec.addresses ?? []).some((a: string) => inRange(ip, a.includes('/') ? a : `${a}/32`)));
}

export { failsOver };
