/**
 * Who may talk to whom in one region cluster, derived from the spec's service graph: each
 * `dependsOn` edge becomes an Istio ALLOW policy on the callee (by the caller's mTLS
 * principal) and a pair of NetworkPolicy rules (caller egress, callee ingress); exposed
 * services admit the ingress gateway; Redis pods admit each other; each service reaches the
 * external destinations it declares. Everything else is denied.
 */
import { Construct } from 'constructs';
import type { ClusterPlan, ServicePlan } from '../../model/plan';
import type { EgressSpec, JobSpec, ServiceSpec } from '../../model/schema';
import { GOOGLE_OIDC, pushAudience, pushServiceAccount, taskPush } from '../autoscaling/rules';
import { firebaseIssuer, type JwtAuthenticationProps } from './jwt-authentication';
import { KUBE_DNS } from './network-policies';
import {
  ExternalHost,
  ExternalProtocol,
  MeshAllow,
  MeshDeny,
  MeshSidecars,
  WorkloadSidecar,
  MeshEgress,
  MeshSecurity,
  NetworkPeer,
  NetworkPolicies,
  NetworkRule,
  REDIS_PORT,
  RedisSentinel,
  SENTINEL_PORT,
  WorkloadNetworkAccess,
} from '..';

/** A workload as the access policies see it. */
export interface MeshEndpoint {
  /** How `dependsOn` names it: `api`, or `redis:cache` for a Redis group. */
  readonly ref: string;
  /** Base of its policies' names. */
  readonly name: string;
  readonly namespace: string;
  /** Labels of its pods. */
  readonly selector: Record<string, string>;
  readonly serviceAccount: string;
  /** Ports it serves. */
  readonly ports: readonly number[];
  /** Names its callers dial (its Services), which their Sidecars import. @default - `<name>.<namespace>.svc.cluster.local` when it serves ports */
  readonly hosts?: readonly string[];
  /** What it calls (refs of other endpoints). @default [] */
  readonly dependsOn?: readonly string[];
  /** Its pods call each other on its ports (replication, gossip). @default false */
  readonly peers?: boolean;
  /** Names its pods dial to reach each other (with `peers`), besides `hosts`. @default [] */
  readonly peerHosts?: readonly string[];
  /** Reached from the ingress gateway. @default false */
  readonly exposed?: boolean;
  /** Reached from other regions' clusters through the east-west gateway. @default false */
  readonly crossRegion?: boolean;
  /** The ports other regions reach when `crossRegion`. @default - all its ports */
  readonly crossRegionPorts?: readonly number[];
  /** Its callers' calls may be sent to other regions (DestinationRule failover): they may reach the east-west gateways. @default - crossRegion */
  readonly failover?: boolean;
  /** It opens connections to its own kind in another region (Redis replication): it may reach the east-west gateways. @default false */
  readonly remoteUpstream?: boolean;
  /** Runs in other regions only: nothing is rendered for it here, its callers reach it through the east-west gateways. @default false */
  readonly absent?: boolean;
  /** Paths on its served ports that only Managed Prometheus may read: denied to the ingress gateway. @default [] */
  readonly privatePaths?: readonly { readonly port: number; readonly paths: readonly string[] }[];
  /** External destinations it calls. @default [] */
  readonly egress?: readonly EgressSpec[];
  /** Gets Google credentials from the GKE metadata server (Workload Identity). @default false */
  readonly workloadIdentity?: boolean;
}

export interface Gateway {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Record<string, string>;
}

export interface AccessOptions {
  readonly trustDomain: string;
  readonly ingressGateway: Gateway;
  readonly eastWestGateway: Gateway;
  /** Where pods send DNS queries. @default - the kube-dns pods of kube-system */
  readonly dns?: readonly NetworkPeer[];
  /** Labels of every object. @default {} */
  readonly labels?: Record<string, string>;
}

/** Private IPv4 ranges: a host egress opens its port to the internet, not to the VPC. */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'];
/** The GKE metadata server, which Workload Identity's token requests reach (port 988 on Dataplane V2). */
const METADATA_SERVER: NetworkRule[] = [
  { peers: [{ cidr: '169.254.169.254/32' }], ports: [{ port: 80 }] },
  { peers: [{ cidr: '169.254.169.252/32' }], ports: [{ port: 988 }] },
];
/**
 * The metadata server as the mesh sees it: with `outboundTrafficPolicy: REGISTRY_ONLY` a
 * sidecar forwards only to declared destinations, and Workload Identity needs these.
 */
export const METADATA_HOST: ExternalHost = {
  host: 'metadata.google.internal',
  addresses: ['169.254.169.254/32', '169.254.169.252/32'],
  ports: [
    { number: 80, protocol: 'HTTP' },
    { number: 988, protocol: 'TCP' },
  ],
};
/** The mesh name of a declared address range: a ServiceEntry needs a host, even for an address. */
export const cidrHost = (cidr: string) => `${cidr.replace(/[./]/g, '-')}.cidr.meridian.internal`;
/** Istio's multi-network port on east-west gateways (mTLS passthrough). */
export const EAST_WEST_PORT = 15443;

/** The endpoint of a Redis group: its pods call each other on both ports, clients call both. */
export function redisEndpoint(
  name: string,
  redis: RedisSentinel,
  across: { readonly crossRegion?: boolean; readonly upstreams?: readonly string[]; readonly clusterDomain?: string } = {},
): MeshEndpoint {
  const pod = redis.statefulSet.toJson().spec.template.spec as { serviceAccountName?: string };
  const host = (service: string) => `${service}.${redis.namespace}.svc.${across.clusterDomain ?? 'cluster.local'}`;
  return {
    ref: `redis:${name}`,
    name,
    namespace: redis.namespace,
    selector: redis.selector,
    serviceAccount: pod.serviceAccountName ?? 'default',
    ports: [REDIS_PORT, SENTINEL_PORT],
    // The sentinels, the pods by name (the master), and the region's Service (a secondary region's reads).
    hosts: [host(redis.name), host(redis.headlessServiceName), ...(redis.crossRegionServiceName ? [host(redis.crossRegionServiceName)] : [])],
    peers: true,
    peerHosts: across.upstreams ?? [],
    // Replication from the other regions arrives through the east-west gateway, with the
    // replicas' own identity (the group's ServiceAccount, which `<name>-from-peers` admits).
    crossRegion: across.crossRegion,
    crossRegionPorts: across.crossRegion ? [REDIS_PORT] : undefined,
    failover: false,
    remoteUpstream: (across.upstreams ?? []).length > 0,
    // The backup container uploads snapshots with the pod's Workload Identity.
    ...(redis.backupInterval ? { workloadIdentity: true, egress: [CLOUD_STORAGE] } : {}),
  };
}

/** Where a backed-up Redis group's snapshots go: Cloud Storage's JSON API. */
export const CLOUD_STORAGE: EgressSpec = { host: 'storage.googleapis.com', port: 443, protocol: 'tls' };

/** Renders MeshSecurity, NetworkPolicies, MeshEgress and MeshSidecars for each namespace. */
export function addAccessControl(scope: Construct, namespaces: readonly string[], endpoints: readonly MeshEndpoint[], opts: AccessOptions): void {
  const byRef = new Map(endpoints.map((e) => [e.ref, e]));
  const present = endpoints.filter((e) => !e.absent);
  // Callers in other regions reach a service through failover: their identity must be admitted too.
  const callers = (target: MeshEndpoint) => endpoints.filter((e) => (e.dependsOn ?? []).includes(target.ref));
  const pods = (e: MeshEndpoint, from: string): NetworkPeer => ({ podLabels: e.selector, namespace: e.namespace === from ? undefined : e.namespace });
  const gatewayPeer = (g: Gateway): NetworkPeer => ({ namespace: g.namespace, podLabels: g.labels });
  const tcp = (ports: readonly number[]) => ports.map((port) => ({ port }));
  const ingressPrincipal = `${opts.trustDomain}/ns/${opts.ingressGateway.namespace}/sa/${opts.ingressGateway.serviceAccount}`;

  for (const ns of namespaces) {
    const local = present.filter((e) => e.namespace === ns);
    const allow: MeshAllow[] = [];
    const deny: MeshDeny[] = [];
    const workloads: WorkloadNetworkAccess[] = [];
    const sidecars: WorkloadSidecar[] = [];
    const hosts = new Map<string, ExternalHost>();
    const declare = (h: ExternalHost) => {
      const known = hosts.get(h.host);
      const ports = [...(known?.ports ?? [])];
      for (const p of h.ports) if (!ports.some((q) => q.number === p.number)) ports.push(p);
      hosts.set(h.host, { ...h, ports: ports.sort((a, b) => a.number - b.number) });
    };

    for (const e of local) {
      const ingress: NetworkRule[] = [];
      const egress: NetworkRule[] = [];
      const dials = new Set<string>();
      if (e.ports.length > 0) {
        for (const caller of callers(e)) {
          allow.push({ name: `${e.name}-from-${caller.name}`, selector: e.selector, from: [caller], ports: [...e.ports] });
          if (!caller.absent) ingress.push({ peers: [pods(caller, ns)], ports: tcp(e.ports) });
        }
        if (e.peers) {
          allow.push({ name: `${e.name}-from-peers`, selector: e.selector, from: [e], ports: [...e.ports] });
          ingress.push({ peers: [pods(e, ns)], ports: tcp(e.ports) });
          egress.push({ peers: [pods(e, ns)], ports: tcp(e.ports) });
          for (const h of [...hostsOf(e), ...(e.peerHosts ?? [])]) dials.add(`${ns}/${h}`);
        }
        if (e.exposed) {
          allow.push({ name: `${e.name}-from-ingress-gateway`, selector: e.selector, from: [opts.ingressGateway], ports: [...e.ports] });
          ingress.push({ peers: [gatewayPeer(opts.ingressGateway)], ports: tcp(e.ports) });
        }
        // Calls from other regions keep their callers' identities through the east-west
        // gateway (mTLS passthrough): the policies above admit them; only the address differs.
        if (e.crossRegion) ingress.push({ peers: [gatewayPeer(opts.eastWestGateway)], ports: tcp(e.crossRegionPorts ?? e.ports) });
        // Metrics served on a routed port: the gateway (of any region) may not read them.
        for (const p of e.privatePaths ?? []) {
          if (!e.exposed || p.paths.length === 0) continue;
          deny.push({
            name: `${e.name}-metrics-not-public`,
            selector: e.selector,
            principals: [ingressPrincipal],
            ports: [p.port],
            paths: p.paths.flatMap((path) => [path, `${path.replace(/\/$/, '')}/*`]),
          });
        }
      }
      let remote = e.remoteUpstream ?? false;
      for (const ref of e.dependsOn ?? []) {
        const dep = byRef.get(ref);
        if (!dep || dep.absent || (dep.failover ?? dep.crossRegion)) remote = true;
        if (dep && !dep.absent && dep.ports.length > 0) egress.push({ peers: [pods(dep, ns)], ports: tcp(dep.ports) });
        if (dep) for (const h of hostsOf(dep)) dials.add(`${dep.namespace}/${h}`);
      }
      // The other regions' east-west gateways, behind internal load balancers of the VPC.
      if (remote) egress.push({ peers: [{ cidr: '0.0.0.0/0' }], ports: [{ port: EAST_WEST_PORT }] });
      for (const out of e.egress ?? []) {
        egress.push({ peers: [out.cidr ? { cidr: out.cidr } : { cidr: '0.0.0.0/0', except: PRIVATE_RANGES }], ports: [{ port: out.port }] });
        const protocol = out.protocol.toUpperCase() as ExternalProtocol;
        const host = out.host ?? cidrHost(out.cidr!);
        declare({ host, addresses: out.cidr ? [out.cidr] : undefined, ports: [{ number: out.port, protocol }] });
        dials.add(`./${host}`);
      }
      if (e.workloadIdentity) {
        egress.push(...METADATA_SERVER);
        declare(METADATA_HOST);
        dials.add(`./${METADATA_HOST.host}`);
      }
      workloads.push({ name: e.name, selector: e.selector, ingress: mergeRules(ingress), egress: mergeRules(egress) });
      sidecars.push({ name: e.name, selector: e.selector, hosts: [...dials].sort() });
    }

    new MeshSecurity(scope, `MeshSecurity-${ns}`, { namespace: ns, trustDomain: opts.trustDomain, allow, deny, labels: opts.labels });
    new NetworkPolicies(scope, `NetworkPolicies-${ns}`, { namespace: ns, workloads, dns: opts.dns, labels: opts.labels });
    if (hosts.size > 0) {
      new MeshEgress(scope, `MeshEgress-${ns}`, {
        namespace: ns,
        hosts: [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host)),
        labels: opts.labels,
      });
    }
    new MeshSidecars(scope, `MeshSidecars-${ns}`, { namespace: ns, workloads: sidecars, labels: opts.labels });
  }
}

function hostsOf(e: MeshEndpoint): readonly string[] {
  return e.hosts ?? (e.ports.length > 0 ? [`${e.name}.${e.namespace}.svc.cluster.local`] : []);
}

/**
 * Folds rules so a policy reads as a reviewer would write it: one rule per peer with all its
 * ports, then one rule per set of ports with all its peers. What is allowed is unchanged.
 */
export function mergeRules(rules: readonly NetworkRule[]): NetworkRule[] {
  const key = (v: unknown) => JSON.stringify(v);
  const byPeer = new Map<string, { peer: NetworkPeer; ports: NetworkRule['ports'] }>();
  for (const r of rules) {
    for (const peer of r.peers) {
      const entry = byPeer.get(key(peer)) ?? { peer, ports: [] };
      for (const p of r.ports) if (!entry.ports.some((q) => key(q) === key(p))) entry.ports.push(p);
      byPeer.set(key(peer), entry);
    }
  }
  const byPorts = new Map<string, NetworkRule>();
  for (const { peer, ports } of byPeer.values()) {
    const rule = byPorts.get(key(ports)) ?? { peers: [], ports };
    rule.peers.push(peer);
    byPorts.set(key(ports), rule);
  }
  return [...byPorts.values()];
}

// ---------------------------------------------------------------------------------------
// The workloads of one cluster as the policies see them, and the JWT checks of a service.

/** The pods a construct runs, as the policies select them. */
export interface WorkloadPods {
  readonly selector: Record<string, string>;
  readonly serviceAccount: string;
}

const serviceHost = (name: string, namespace: string) => `${name}.${namespace}.svc.cluster.local`;

/** A service that runs in this cluster. */
export function serviceEndpoint(c: ClusterPlan, name: string, svc: ServicePlan, pods: WorkloadPods): MeshEndpoint {
  return {
    ref: name,
    name,
    namespace: svc.namespace,
    selector: pods.selector,
    serviceAccount: pods.serviceAccount,
    ports: svc.ports.map((p) => p.port),
    dependsOn: svc.dependsOn,
    exposed: svc.expose !== undefined,
    egress: svc.egress,
    workloadIdentity: true,
    hosts: svc.ports.length > 0 ? [serviceHost(name, svc.namespace)] : [],
    // Every DestinationRule fails over to the other regions (and a split service is called
    // from their gateways): those calls arrive through this region's east-west gateway.
    crossRegion: svc.ports.length > 0 && c.multiRegion && (svc.crossRegion || (svc.trafficPolicy.localityFailover ?? true)),
    privatePaths: metricsOnServedPort(svc),
  };
}

/** A scheduled job that runs in this cluster: it serves nothing. */
export function jobEndpoint(name: string, job: JobSpec, pods: WorkloadPods): MeshEndpoint {
  return {
    ref: name,
    name,
    namespace: job.namespace,
    selector: pods.selector,
    serviceAccount: pods.serviceAccount,
    ports: [],
    dependsOn: job.dependsOn,
    egress: job.egress,
    workloadIdentity: true,
  };
}

/** A service of the platform that runs in other regions only: callers here reach it through the east-west gateways. */
export function absentEndpoint(name: string, svc: ServiceSpec): MeshEndpoint {
  return {
    ref: name,
    name,
    namespace: svc.namespace,
    selector: {},
    serviceAccount: name,
    ports: [],
    hosts: [serviceHost(name, svc.namespace)],
    dependsOn: svc.dependsOn,
    absent: true,
  };
}

/** The metrics path of a service that serves it on one of its routed ports. */
function metricsOnServedPort(svc: ServicePlan): { port: number; paths: string[] }[] {
  const m = svc.metrics;
  if (!m) return [];
  const port = typeof m.port === 'number' ? svc.ports.find((p) => p.port === m.port) : svc.ports.find((p) => p.name === m.port);
  return port ? [{ port: port.port, paths: [m.path] }] : [];
}

/** Where the cluster's pods send DNS queries (`regions.<r>.dns`). */
export function dnsPeers(c: ClusterPlan): NetworkPeer[] | undefined {
  const dns = c.platform.regions[c.region].dns;
  if (!dns) return undefined;
  const peers: NetworkPeer[] = dns.provider === 'cloud-dns' ? [{ cidr: '169.254.169.254/32' }] : [KUBE_DNS];
  if (dns.nodeLocalCache) peers.push({ cidr: '169.254.20.10/32' });
  return peers;
}

/**
 * The JWT checks on a service's pods: its `auth` issuer's, and, for a Cloud Tasks push target,
 * Google's OIDC tokens for the queue's own service account only (Google signs tokens for any
 * account that asks).
 */
export function jwtAuthentications(c: ClusterPlan, name: string, svc: ServicePlan, selector: Record<string, string>): JwtAuthenticationProps[] {
  const platform = c.platform;
  const out: JwtAuthenticationProps[] = [];
  if (svc.auth) {
    const issuer = platform.jwtIssuers[svc.auth.jwt];
    out.push({
      name,
      namespace: svc.namespace,
      selector,
      issuer:
        issuer.type === 'firebase' ? firebaseIssuer(platform.project) : { issuer: issuer.issuer!, audiences: issuer.audiences!, jwksUri: issuer.jwksUri! },
      publicPaths: svc.auth.publicPaths,
    });
  }
  const pushed = taskPush(svc);
  if (pushed && platform.ingress) {
    out.push({
      name,
      namespace: svc.namespace,
      selector,
      issuer: { ...GOOGLE_OIDC, audiences: [pushAudience(pushed.push, svc, platform.ingress.hosts)] },
      requiredClaims: { email: [pushServiceAccount(pushed, platform.project)] },
    });
  }
  return out;
}
