import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';

export interface MeshNamespaceProps {
  readonly name: string;
  /** Inject the Istio sidecar into the namespace's pods. @default true */
  readonly istioInjection?: boolean;
  /** Pod Security Standard enforced by the API server. @default 'restricted' */
  readonly podSecurity?: 'restricted' | 'baseline' | 'privileged';
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * A namespace in the mesh. `restricted` pod security holds with Istio only when the Istio
 * CNI plugin sets up traffic redirection (no NET_ADMIN init container in the pods).
 */
export class MeshNamespace extends Construct {
  public readonly name: string;

  constructor(scope: Construct, id: string, props: MeshNamespaceProps) {
    super(scope, id);
    this.name = props.name;
    const pss = props.podSecurity ?? 'restricted';
    new kplus.Namespace(this, 'Resource', {
      metadata: {
        name: props.name,
        labels: {
          ...props.labels,
          'istio-injection': (props.istioInjection ?? true) ? 'enabled' : 'disabled',
          'pod-security.kubernetes.io/enforce': pss,
          'pod-security.kubernetes.io/warn': pss,
        },
      },
    });
  }
}
