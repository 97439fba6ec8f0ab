/**
 * Who may talk to whom in one region cluster, derived from the spec's service graph: each
 * `dependsOn` edge becomes an Istio ALLOW policy on the callee (by the caller's mTLS
 * principal) and a pair of NetworkPolicy rules (caller egress, callee ingress); exposed
 * services admit the ingress gateway; Redis pods admit each other; each service reaches the
 * external destinations it declares. Everything else is denied.
 */
import { Construct } from 'constructs';
import type { EgressSpec } from '../../model/schema';
import {
  ExternalHost,
  MeshAllow,
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
  /** What it calls (refs of other endpoints). @default [] */
  readonly dependsOn?: readonly string[];
  /** Its pods call each other on its ports (replication, gossip). @default false */
  readonly peers?: boolean;
  /** Reached from the ingress gateway. @default false */
  readonly exposed?: boolean;
  /** Reached from other regions' clusters through the east-west gateway. @default false */
  readonly crossRegion?: boolean;
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
/** Istio's multi-network port on east-west gateways (mTLS passthrough). */
export const EAST_WEST_PORT = 15443;

/** The endpoint of a Redis group: its pods call each other on both ports, clients call both. */
export function redisEndpoint(name: string, redis: RedisSentinel): MeshEndpoint {
  const pod = redis.statefulSet.toJson().spec.template.spec as { serviceAccountName?: string };
  return {
    ref: `redis:${name}`,
    name,
    namespace: redis.namespace,
    selector: redis.selector,
    serviceAccount: pod.serviceAccountName ?? 'default',
    ports: [REDIS_PORT, SENTINEL_PORT],
    peers: true,
  };
}

/** Renders MeshSecurity, NetworkPolicies and MeshEgress for each namespace. */
export function addAccessControl(scope: Construct, namespaces: readonly string[], endpoints: readonly MeshEndpoint[], opts: AccessOptions): void {
  const byRef = new Map(endpoints.map((e) => [e.ref, e]));
  const callers = (target: MeshEndpoint) => endpoints.filter((e) => (e.dependsOn ?? []).includes(target.ref));
  const pods = (e: MeshEndpoint, from: string): NetworkPeer => ({ podLabels: e.selector, namespace: e.namespace === from ? undefined : e.namespace });
  const gatewayPeer = (g: Gateway): NetworkPeer => ({ namespace: g.namespace, podLabels: g.labels });
  const tcp = (ports: readonly number[]) => ports.map((port) => ({ port }));

  for (const ns of namespaces) {
    const local = endpoints.filter((e) => e.namespace === ns);
    const allow: MeshAllow[] = [];
    const workloads: WorkloadNetworkAccess[] = [];
    const hosts = new Map<string, ExternalHost['ports'][number][]>();

    for (const e of local) {
      const ingress: NetworkRule[] = [];
      const egress: NetworkRule[] = [];
      if (e.ports.length > 0) {
        for (const caller of callers(e)) {
          allow.push({ name: `${e.name}-from-${caller.name}`, selector: e.selector, from: [caller], ports: [...e.ports] });
          ingress.push({ peers: [pods(caller, ns)], ports: tcp(e.ports) });
        }
        if (e.peers) {
          allow.push({ name: `${e.name}-from-peers`, selector: e.selector, from: [e], ports: [...e.ports] });
          ingress.push({ peers: [pods(e, ns)], ports: tcp(e.ports) });
          egress.push({ peers: [pods(e, ns)], ports: tcp(e.ports) });
        }
        if (e.exposed) {
          allow.push({ name: `${e.name}-from-ingress-gateway`, selector: e.selector, from: [opts.ingressGateway], ports: [...e.ports] });
          ingress.push({ peers: [gatewayPeer(opts.ingressGateway)], ports: tcp(e.ports) });
        }
        // Calls from other regions keep their callers' identities through the east-west
        // gateway (mTLS passthrough): the policies above admit them; only the address differs.
        if (e.crossRegion) ingress.push({ peers: [gatewayPeer(opts.eastWestGateway)], ports: tcp(e.ports) });
      }
      let remote = false;
      for (const ref of e.dependsOn ?? []) {
        const dep = byRef.get(ref);
        if (!dep || dep.crossRegion) remote = true;
        if (dep && dep.ports.length > 0) egress.push({ peers: [pods(dep, ns)], ports: tcp(dep.ports) });
      }
      // The other regions' east-west gateways, behind internal load balancers of the VPC.
      if (remote) egress.push({ peers: [{ cidr: '0.0.0.0/0' }], ports: [{ port: EAST_WEST_PORT }] });
      for (const out of e.egress ?? []) {
        egress.push({ peers: [out.cidr ? { cidr: out.cidr } : { cidr: '0.0.0.0/0', except: PRIVATE_RANGES }], ports: [{ port: out.port }] });
        if (out.host) {
          const ports = hosts.get(out.host) ?? [];
          if (!ports.some((p) => p.number === out.port)) ports.push({ number: out.port, protocol: out.protocol.toUpperCase() as 'TLS' | 'TCP' | 'HTTP' });
          hosts.set(out.host, ports);
        }
      }
      if (e.workloadIdentity) egress.push(...METADATA_SERVER);
      workloads.push({ name: e.name, selector: e.selector, ingress: mergeRules(ingress), egress: mergeRules(egress) });
    }

    new MeshSecurity(scope, `MeshSecurity-${ns}`, { namespace: ns, trustDomain: opts.trustDomain, allow, labels: opts.labels });
    new NetworkPolicies(scope, `NetworkPolicies-${ns}`, { namespace: ns, workloads, labels: opts.labels });
    if (hosts.size > 0) {
      new MeshEgress(scope, `MeshEgress-${ns}`, {
        namespace: ns,
        hosts: [...hosts].sort(([a], [b]) => a.localeCompare(b)).map(([host, ports]) => ({ host, ports: ports.sort((a, b) => a.number - b.number) })),
        labels: opts.labels,
      });
    }
  }
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
