import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  AuthorizationPolicy,
  AuthorizationPolicySpecAction,
  PeerAuthentication,
  PeerAuthenticationSpecPortLevelMtlsMode,
} from '../../imports/security.istio.io';
import { MTLS_EXCEPTION } from '../../kernel/mesh';

export interface ScrapeAccessProps {
  /** Base of the objects' names: `<name>-scrape`. */
  readonly name: string;
  readonly namespace: string;
  /** Labels of the scraped pods. */
  readonly selector: Record<string, string>;
  /** The metrics port (a number: mTLS and network policy settings are per port number). */
  readonly port: number;
  /** The metrics paths. */
  readonly paths: string[];
  /**
   * More metrics ports of the same pods, with their paths: one object each for all ports, since
   * Istio applies only the oldest of several workload PeerAuthentications selecting a pod.
   * @default []
   */
  readonly also?: readonly { readonly port: number; readonly paths: readonly string[] }[];
  /** Namespace of the scrapers. @default 'gmp-system' (GKE Managed Service for Prometheus) */
  readonly scraperNamespace?: string;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * Lets Managed Prometheus, which runs outside the mesh, scrape one metrics port of meshed
 * pods under strict mTLS, and nothing more: the port accepts plaintext (a recorded mTLS
 * exception), an ALLOW policy admits `GET <paths>` on it without a peer identity, and a
 * NetworkPolicy admits the scrapers' namespace to that port only. Every other request on
 * the port still needs a caller identity the service's ALLOW policies name.
 */
export class ScrapeAccess extends Construct {
  constructor(scope: Construct, id: string, props: ScrapeAccessProps) {
    super(scope, id);
    const all = [{ port: props.port, paths: props.paths }, ...(props.also ?? [])];
    for (const p of all) {
      if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
        throw new Error(`ScrapeAccess '${id}': port (${p.port}) must be a port number`);
      }
    }
    const scrapers = props.scraperNamespace ?? 'gmp-system';
    const metadata = { name: `${props.name}-scrape`, namespace: props.namespace, labels: props.labels };

    new PeerAuthentication(this, 'Resource', {
      metadata: {
        ...metadata,
        annotations: {
          [MTLS_EXCEPTION]: `Managed Prometheus (${scrapers}) scrapes ${all.map((p) => `${p.paths.join(', ')} on port ${p.port}`).join(' and ')} from outside the mesh`,
        },
      },
      spec: {
        selector: { matchLabels: props.selector },
        portLevelMtls: Object.fromEntries(all.map((p) => [String(p.port), { mode: PeerAuthenticationSpecPortLevelMtlsMode.PERMISSIVE }])),
      },
    });

    new AuthorizationPolicy(this, 'Allow', {
      metadata,
      spec: {
        selector: { matchLabels: props.selector },
        action: AuthorizationPolicySpecAction.ALLOW,
        rules: all.map((p) => ({ to: [{ operation: { ports: [String(p.port)], paths: [...p.paths], methods: ['GET'] } }] })),
      },
    });

    new kplus.k8s.KubeNetworkPolicy(this, 'Network', {
      metadata,
      spec: {
        podSelector: { matchLabels: props.selector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': scrapers } } }],
            ports: all.map((p) => ({ protocol: 'TCP', port: kplus.k8s.IntOrString.fromNumber(p.port) })),
          },
        ],
      },
    });
  }
}
