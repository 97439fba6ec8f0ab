import { Construct } from 'constructs';
import { AuthorizationPolicy, AuthorizationPolicySpecAction, PeerAuthentication, PeerAuthenticationSpecMtlsMode } from '../../imports/security.istio.io';

/** A workload's mesh identity: the ServiceAccount its sidecar presents through mTLS. */
export interface MeshPrincipal {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Calls one workload accepts: from these principals, on these ports. */
export interface MeshAllow {
  /** Name of the AuthorizationPolicy, e.g. `cache-from-api`. */
  readonly name: string;
  /** Labels of the pods that accept the calls. */
  readonly selector: Record<string, string>;
  /** Who may call. */
  readonly from: MeshPrincipal[];
  /** Ports that may be called. @default - every port of the pods */
  readonly ports?: number[];
}

/** Requests one workload refuses, whatever an ALLOW policy says: from these principals, to these paths. */
export interface MeshDeny {
  /** Name of the AuthorizationPolicy, e.g. `api-metrics-not-public`. */
  readonly name: string;
  /** Labels of the pods that refuse the requests. */
  readonly selector: Record<string, string>;
  /** Callers refused, as full principals (`cluster.local/ns/istio-ingress/sa/istio-ingressgateway`). */
  readonly principals: string[];
  /** Request paths refused (Istio's exact, `prefix*` or `*suffix` forms). */
  readonly paths: string[];
  /** Ports the refusal applies on. @default - every port */
  readonly ports?: number[];
}

export interface MeshSecurityProps {
  readonly namespace: string;
  /** The mesh's trust domain, the first part of every principal. @default 'cluster.local' */
  readonly trustDomain?: string;
  /** What is allowed on top of nothing. @default [] */
  readonly allow?: MeshAllow[];
  /** What is refused even when allowed. @default [] */
  readonly deny?: MeshDeny[];
  /** Labels of every object. @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * The mesh's zero-trust baseline for one namespace: a PeerAuthentication that requires
 * mutual TLS, an allow-nothing AuthorizationPolicy (an ALLOW policy without rules denies
 * every request to the namespace), and one ALLOW policy per permitted caller, matched on
 * the caller's mTLS principal, so a stolen pod IP grants nothing.
 */
export class MeshSecurity extends Construct {
  public readonly namespace: string;
  public readonly trustDomain: string;
  public readonly peerAuthentication: PeerAuthentication;
  public readonly allowNothing: AuthorizationPolicy;

  constructor(scope: Construct, id: string, props: MeshSecurityProps) {
    super(scope, id);
    this.namespace = props.namespace;
    this.trustDomain = props.trustDomain ?? 'cluster.local';
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: props.labels });

    this.peerAuthentication = new PeerAuthentication(this, 'Resource', {
      metadata: metadata('default'),
      spec: { mtls: { mode: PeerAuthenticationSpecMtlsMode.STRICT } },
    });
    this.allowNothing = new AuthorizationPolicy(this, 'AllowNothing', { metadata: metadata('allow-nothing'), spec: {} });

    const names = new Set<string>(['allow-nothing']);
    for (const allow of props.allow ?? []) {
      const fail = (msg: string): never => {
        throw new Error(`MeshSecurity '${id}': allow "${allow.name}": ${msg}`);
      };
      if (names.has(allow.name)) fail('is named twice');
      names.add(allow.name);
      if (allow.from.length === 0) fail('from is empty: an ALLOW rule without sources would admit every caller');
      if (Object.keys(allow.selector).length === 0) fail('selector is empty: it would open every workload of the namespace');
      for (const port of allow.ports ?? []) {
        if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`port (${port}) must be a whole number from 1 to 65535`);
      }
      new AuthorizationPolicy(this, `Allow-${allow.name}`, {
        metadata: metadata(allow.name),
        spec: {
          action: AuthorizationPolicySpecAction.ALLOW,
          selector: { matchLabels: allow.selector },
          rules: [
            {
              from: [{ source: { principals: allow.from.map((p) => this.principal(p)) } }],
              to: allow.ports?.length ? [{ operation: { ports: allow.ports.map(String) } }] : undefined,
            },
          ],
        },
      });
    }
    for (const d of props.deny ?? []) {
      const fail = (msg: string): never => {
        throw new Error(`MeshSecurity '${id}': deny "${d.name}": ${msg}`);
      };
      if (names.has(d.name)) fail('is named twice');
      names.add(d.name);
      if (d.principals.length === 0) fail('principals is empty: the policy would refuse every caller');
      if (d.paths.length === 0) fail('paths is empty: the policy would refuse every request of these callers');
      if (Object.keys(d.selector).length === 0) fail('selector is empty');
      new AuthorizationPolicy(this, `Deny-${d.name}`, {
        metadata: metadata(d.name),
        spec: {
          action: AuthorizationPolicySpecAction.DENY,
          selector: { matchLabels: d.selector },
          rules: [
            {
              from: [{ source: { principals: d.principals } }],
              to: [{ operation: { paths: d.paths, ports: d.ports?.length ? d.ports.map(String) : undefined } }],
            },
          ],
        },
      });
    }
  }

  /** `cluster.local/ns/<namespace>/sa/<serviceAccount>` */
  public principal(p: MeshPrincipal): string {
    return `${this.trustDomain}/ns/${p.namespace}/sa/${p.serviceAccount}`;
  }
}
