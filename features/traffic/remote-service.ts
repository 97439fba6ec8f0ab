import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { microserviceSelector, MicroservicePort, servicePorts } from '../workloads/microservice';

export interface RemoteServiceProps {
  /** The service's name, the same as in the regions that run it. */
  readonly name: string;
  readonly namespace: string;
  /** Its ports, as the regions that run it declare them. */
  readonly ports: readonly MicroservicePort[];
  /** Labels of the Service object. @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * The Service of a microservice that runs only in other region clusters, rendered where it
 * does not run so that this cluster's proxies (its ingress gateway first) have a name to route
 * to: the Service selects the pods a Microservice of that name would have, and none run here.
 *
 * Istio's multi-primary control planes each watch every cluster's Services and endpoints and
 * merge those of the same name and namespace into one host (istio/istio#29969: "istiod can
 * watch service/endpoints from the other clusters"); its endpoints here are the other
 * regions' pods, reached through their east-west gateways. Kubernetes DNS answers only for
 * the local cluster's Services (Google's Cloud Service Mesh DNS proxy guide), which is why the
 * name is declared here too, as the Kiali multicluster tutorial declares its stub Services.
 */
export class RemoteService extends Construct {
  /** `<name>.<namespace>.svc.cluster.local` */
  public readonly host: string;
  public readonly service: k8s.KubeService;

  constructor(scope: Construct, id: string, props: RemoteServiceProps) {
    super(scope, id);
    if (props.ports.length === 0) throw new Error(`RemoteService '${id}': ports is empty: a service without ports is never routed to`);
    const selector = microserviceSelector(props.name);
    this.host = `${props.name}.${props.namespace}.svc.cluster.local`;
    this.service = new k8s.KubeService(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels, ...selector } },
      spec: { type: 'ClusterIP', selector, ports: servicePorts(props.ports) },
    });
  }
}
