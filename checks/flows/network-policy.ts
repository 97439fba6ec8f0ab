/**
 * Kubernetes NetworkPolicy (networking.k8s.io/v1) as the API defines it, evaluated on one
 * connection. Sources followed:
 * - https://kubernetes.io/docs/concepts/services-networking/network-policies/ ("Behavior of
 *   to and from selectors", "Targeting a range of ports", isolation per direction);
 * - the field docs of k8s.io/api networking/v1 types.go (policyTypes default, empty ports /
 *   from / to meaning "all", a port name resolved against the selected or destination pod,
 *   protocol default TCP, endPort only with a numeric port);
 * - the e2e suite test/e2e/network/netpol (ipBlock also matches pod IPs, as its CIDR cases
 *   expect). Its cases are ported in test/checks/flows/netpol-e2e-cases.ts.
 *
 * A connection is allowed when the source pod's egress and the destination pod's ingress both
 * allow it. A direction of a pod is isolated when a policy of its namespace selects it with that
 * policy type; an isolated direction allows what any rule of any selecting policy allows.
 * Policies only act on pods of their own cluster: a peer in another cluster is an address.
 */
import * as ipaddr from 'ipaddr.js';
import { Json, LabelSelector, selects } from '../objects';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  /** @default 'TCP' */
  readonly protocol?: Protocol;
}

/** A pod of the cluster the policies belong to. */
export interface NetPod {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** An address of the pod, for ipBlock peers. */
  readonly ip: string;
  /** Named ports are resolved against these. @default [] */
  readonly ports?: readonly ContainerPort[];
}

/** A side of a connection: a pod of this cluster, or an address outside it (another cluster, a VM, the internet). */
export type NetEndpoint = { readonly pod: NetPod } | { readonly ip: string };

/** A NetworkPolicy as rendered, and a name for it in verdicts. */
export interface NetworkPolicyObject {
  readonly ref: string;
  readonly obj: { readonly metadata: { readonly name: string; readonly namespace?: string }; readonly spec?: Json };
}

/** What one direction decided. */
export interface DirectionVerdict {
  readonly allowed: boolean;
  /** The direction is isolated (some policy selects the pod for it). */
  readonly isolated: boolean;
  /** Policies that select the pod for this direction (they decide it). */
  readonly selectedBy: readonly string[];
  /** Policies with a rule admitting the connection. */
  readonly allowedBy: readonly string[];
}

export interface NetVerdict {
  readonly allowed: boolean;
  /** Undefined when the source is not a pod of this cluster (its own cluster decides). */
  readonly egress?: DirectionVerdict;
  /** Undefined when the destination is not a pod of this cluster. */
  readonly ingress?: DirectionVerdict;
}

export class NetworkPolicyModel {
  /**
   * @param namespaces labels of each namespace of the cluster (`kubernetes.io/metadata.name` is added)
   * @param policies every NetworkPolicy of the cluster
   */
  constructor(
    private readonly namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>,
    private readonly policies: readonly NetworkPolicyObject[],
  ) {}

  /** Is `port`/`protocol` from `src` to `dst` allowed? */
  connect(src: NetEndpoint, dst: NetEndpoint, port: number, protocol: Protocol = 'TCP'): NetVerdict {
    const egress = 'pod' in src ? this.direction('Egress', src.pod, dst, port, protocol) : undefined;
    const ingress = 'pod' in dst ? this.direction('Ingress', dst.pod, src, port, protocol) : undefined;
    return { allowed: (egress?.allowed ?? true) && (ingress?.allowed ?? true), egress, ingress };
  }

  private direction(type: 'Ingress' | 'Egress', subject: NetPod, peer: NetEndpoint, port: number, protocol: Protocol): DirectionVerdict {
    const selectedBy: string[] = [];
    const allowedBy: string[] = [];
    // The pod whose container ports name the destination port: the subject for ingress, the peer for egress.
    const target = type === 'Ingress' ? subject : 'pod' in peer ? peer.pod : undefined;
    for (const p of this.policies) {
      const spec = p.obj.spec ?? {};
      if ((p.obj.metadata.namespace ?? 'default') !== subject.namespace) continue;
      if (!spec.podSelector || !selects(spec.podSelector, subject.labels)) continue;
      if (!policyTypes(spec).includes(type)) continue;
      selectedBy.push(p.ref);
      const rules: Json[] = (type === 'Ingress' ? spec.ingress : spec.egress) ?? [];
      const side = type === 'Ingress' ? 'from' : 'to';
      const admits = rules.some((r) => this.peersMatch(r?.[side], subject.namespace, peer) && portsMatch(r?.ports, port, protocol, target));
      if (admits) allowedBy.push(p.ref);
    }
    const isolated = selectedBy.length > 0;
    return { allowed: !isolated || allowedBy.length > 0, isolated, selectedBy, allowedBy };
  }

  /** An absent or empty list of peers matches every source or destination. */
  private peersMatch(peers: Json[] | undefined, policyNamespace: string, peer: NetEndpoint): boolean {
    if (!peers || peers.length === 0) return true;
    return peers.some((p) => this.peerMatches(p, policyNamespace, peer));
  }

  private peerMatches(p: Json, policyNamespace: string, peer: NetEndpoint): boolean {
    const ip = 'pod' in peer ? peer.pod.ip : peer.ip;
    if (p.ipBlock) return inBlock(ip, p.ipBlock.cidr, p.ipBlock.except ?? []);
    if (!p.podSelector && !p.namespaceSelector) return false;
    // Selectors only name pods of this cluster.
    if (!('pod' in peer)) return false;
    const pod = peer.pod;
    const nsOk = p.namespaceSelector ? selects(p.namespaceSelector as LabelSelector, this.namespaceLabels(pod.namespace)) : pod.namespace === policyNamespace;
    const podOk = p.podSelector ? selects(p.podSelector as LabelSelector, pod.labels) : true;
    return nsOk && podOk;
  }

  private namespaceLabels(ns: string): Record<string, string> {
    return { ...(this.namespaces.get(ns) ?? {}), 'kubernetes.io/metadata.name': ns };
  }
}

/** `policyTypes` as the API server defaults it: Ingress always, Egress when egress rules exist. */
export function policyTypes(spec: Json): string[] {
  if (Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0) return spec.policyTypes;
  return spec.egress && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

function portsMatch(ports: Json[] | undefined, port: number, protocol: Protocol, target: NetPod | undefined): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined || p.port === null) return true;
    if (typeof p.port === 'number') {
      const end = typeof p.endPort === 'number' ? p.endPort : p.port;
      return port >= p.port && port <= end;
    }
    if (/^\d+$/.test(p.port)) return Number(p.port) === port;
    // A named port: the destination pod must serve that name on this number and protocol.
    return (target?.ports ?? []).some((c) => c.name === p.port && c.containerPort === port && (c.protocol ?? 'TCP') === protocol);
  });
}

/** Is `ip` inside `cidr` and outside every `except` range? */
export function inBlock(ip: string, cidr: string, except: readonly string[]): boolean {
  return inRange(ip, cidr) && !except.some((e) => inRange(ip, e));
}

export function inRange(ip: string, cidr: string): boolean {
  const addr = parsed(addresses, ip, ipaddr.parse);
  const [range, bits] = parsed(ranges, cidr, ipaddr.parseCIDR);
  if (addr.kind() !== range.kind()) return false;
  return addr.match(range, bits);
}

// The flow checks ask about the same few addresses and blocks for every pair of pods: parsed
// once per process (about 0.1 s of a full synth otherwise). Only parses that succeed are kept.
const addresses = new Map<string, ReturnType<typeof ipaddr.parse>>();
const ranges = new Map<string, ReturnType<typeof ipaddr.parseCIDR>>();
function parsed<T>(cache: Map<string, T>, text: string, parse: (text: string) => T): T {
  let value = cache.get(text);
  if (value === undefined) {
    value = parse(text);
    cache.set(text, value);
  }
  return value;
}
