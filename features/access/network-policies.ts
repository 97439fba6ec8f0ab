import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';

const k8s = kplus.k8s;

/**
 * One side of a connection: pods (of this namespace, or of `namespace`), or an address
 * range. Pods and a range are exclusive.
 */
export interface NetworkPeer {
  /** Labels of the pods. @default - every pod of the namespace */
  readonly podLabels?: Record<string, string>;
  /** The pods' namespace, by name. @default - the policy's namespace */
  readonly namespace?: string;
  /** An IPv4 range instead of pods. @default - none */
  readonly cidr?: string;
  /** Ranges cut out of `cidr`. @default [] */
  readonly except?: string[];
}

export interface NetworkPort {
  readonly port: number;
  /** @default 'TCP' */
  readonly protocol?: 'TCP' | 'UDP';
}

/** Connections allowed with any of `peers` on any of `ports`. */
export interface NetworkRule {
  readonly peers: NetworkPeer[];
  readonly ports: NetworkPort[];
}

/** What one workload may receive and send, beyond the namespace's infrastructure rules. */
export interface WorkloadNetworkAccess {
  /** Name of the NetworkPolicy. */
  readonly name: string;
  /** Labels of the workload's pods. */
  readonly selector: Record<string, string>;
  /** @default [] (nothing comes in) */
  readonly ingress?: NetworkRule[];
  /** @default [] (nothing goes out but DNS and istiod) */
  readonly egress?: NetworkRule[];
}

export interface NetworkPoliciesProps {
  readonly namespace: string;
  /** The cluster's DNS servers, which every pod may query on port 53. @default - kube-dns pods of kube-system */
  readonly dns?: readonly NetworkPeer[];
  /** The Istio control plane, which every sidecar reaches on 15012 (xDS and certificates). @default - istiod pods of istio-system */
  readonly istiod?: NetworkPeer;
  /** Who may scrape the sidecars' merged metrics on 15020. @default - the Managed Prometheus collectors of gmp-system */
  readonly metricsScrapers?: NetworkPeer;
  /** @default [] */
  readonly workloads?: WorkloadNetworkAccess[];
  /** Labels of every object. @default {} */
  readonly labels?: Record<string, string>;
}

/** Istio's control-plane port: xDS configuration and workload certificates. */
export const ISTIOD_PORT = 15012;
/** The sidecar agent's merged Prometheus endpoint (application and Envoy metrics). */
export const ISTIO_METRICS_PORT = 15020;
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** GKE Standard's cluster DNS: the kube-dns pods of kube-system. */
export const KUBE_DNS: NetworkPeer = { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } };

/**
 * Kubernetes NetworkPolicies for one namespace: deny every connection in and out, then allow
 * DNS and istiod to every pod, metrics scraping of the sidecars, and per workload exactly
 * the connections it declares. The mesh's AuthorizationPolicies check identities; these
 * check addresses and ports, and hold even for a pod whose sidecar is bypassed.
 */
export class NetworkPolicies extends Construct {
  public readonly namespace: string;

  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    this.namespace = props.namespace;
    const fail = (msg: string): never => {
      throw new Error(`NetworkPolicies '${id}': ${msg}`);
    };
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: props.labels });
    const peer = (p: NetworkPeer, where: string): kplus.k8s.NetworkPolicyPeer => {
      if (p.cidr !== undefined && (p.podLabels || p.namespace)) fail(`${where}: a peer is either pods or a cidr, not both`);
      if (p.cidr !== undefined) return { ipBlock: { cidr: p.cidr, except: p.except?.length ? p.except : undefined } };
      const other = p.namespace !== undefined && p.namespace !== props.namespace;
      return {
        // A namespace selector alone admits every pod of that namespace.
        podSelector: p.podLabels ? { matchLabels: p.podLabels } : other ? undefined : {},
        namespaceSelector: other ? { matchLabels: { [NAMESPACE_NAME_LABEL]: p.namespace! } } : undefined,
      };
    };
    const ports = (list: NetworkPort[], where: string) =>
      list.map((p) => {
        if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) fail(`${where}: port (${p.port}) must be a whole number from 1 to 65535`);
        return { port: k8s.IntOrString.fromNumber(p.port), protocol: p.protocol ?? 'TCP' };
      });
    const rules = (list: NetworkRule[], where: string) =>
      list.map((r, i) => {
        if (r.peers.length === 0) fail(`${where}[${i}]: peers is empty: a rule without peers would allow everything`);
        return { peers: r.peers.map((p) => peer(p, `${where}[${i}]`)), ports: ports(r.ports, `${where}[${i}]`) };
      });

    new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: metadata('default-deny'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    const dns = props.dns?.length ? props.dns : [KUBE_DNS];
    new k8s.KubeNetworkPolicy(this, 'Dns', {
      metadata: metadata('allow-dns'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: dns.map((d, i) => peer(d, `dns[${i}]`)),
            ports: ports(
              [
                { port: 53, protocol: 'UDP' },
                { port: 53, protocol: 'TCP' },
              ],
              'dns',
            ),
          },
        ],
      },
    });
    const istiod = props.istiod ?? { namespace: 'istio-system', podLabels: { app: 'istiod' } };
    new k8s.KubeNetworkPolicy(this, 'Istiod', {
      metadata: metadata('allow-istiod'),
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [peer(istiod, 'istiod')], ports: ports([{ port: ISTIOD_PORT }], 'istiod') }] },
    });
    const scrapers = props.metricsScrapers ?? { namespace: 'gmp-system' };
    new k8s.KubeNetworkPolicy(this, 'Metrics', {
      metadata: metadata('allow-metrics-scraping'),
      spec: {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [{ from: [peer(scrapers, 'metricsScrapers')], ports: ports([{ port: ISTIO_METRICS_PORT }], 'metricsScrapers') }],
      },
    });

    const names = new Set(['default-deny', 'allow-dns', 'allow-istiod', 'allow-metrics-scraping']);
    for (const w of props.workloads ?? []) {
      if (names.has(w.name)) fail(`workload "${w.name}": the name is used by another NetworkPolicy of the namespace`);
      names.add(w.name);
      if (Object.keys(w.selector).length === 0) fail(`workload "${w.name}": selector is empty: it would apply to every pod of the namespace`);
      const ingress = rules(w.ingress ?? [], `workload "${w.name}" ingress`);
      const egress = rules(w.egress ?? [], `workload "${w.name}" egress`);
      new k8s.KubeNetworkPolicy(this, `Workload-${w.name}`, {
        metadata: metadata(w.name),
        spec: {
          podSelector: { matchLabels: w.selector },
          policyTypes: ['Ingress', 'Egress'],
          ingress: ingress.length ? ingress.map((r) => ({ from: r.peers, ports: r.ports })) : undefined,
          egress: egress.length ? egress.map((r) => ({ to: r.peers, ports: r.ports })) : undefined,
        },
      });
    }
  }
}
