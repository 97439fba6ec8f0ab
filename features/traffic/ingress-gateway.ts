import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { BackendConfig } from '../../imports/cloud.google.com';
import { Gateway, GatewaySpecServersTlsMinProtocolVersion, GatewaySpecServersTlsMode } from '../../imports/networking.istio.io';
import { formatDuration } from '../../kernel/units';

export interface GatewayHealthCheck {
  /** HTTP path probed on the gateway pods. @default '/healthz/ready' */
  readonly path?: string;
  /** Port of that path. @default 15021 - the Istio gateway's status port */
  readonly port?: number;
  /** Time between probes. @default Duration.seconds(10) */
  readonly interval?: Duration;
  /** Time allowed for one probe; at most `interval`. @default Duration.seconds(5) */
  readonly timeout?: Duration;
  /** Consecutive successes before a pod takes traffic again. @default 2 */
  readonly healthyThreshold?: number;
  /** Consecutive failures before the load balancer stops sending to a pod. @default 3 */
  readonly unhealthyThreshold?: number;
}

export interface IngressGatewayProps {
  /** Name of the Gateway and of the BackendConfig. */
  readonly name: string;
  /** Namespace of the gateway workload: the Gateway, its TLS Secret and the BackendConfig live there. */
  readonly namespace: string;
  /** Labels of the gateway workload's pods. @default { istio: 'ingressgateway' } */
  readonly selector?: Record<string, string>;
  /** Namespaces whose VirtualServices may bind hosts to this gateway. */
  readonly routeNamespaces: string[];
  /** Secret (type kubernetes.io/tls) in `namespace` holding the served certificate. */
  readonly tlsCredential: string;
  /** Cloud Armor security policy of the load balancer's backend service. @default - left as set in GCP */
  readonly securityPolicy?: string;
  /** @default - see GatewayHealthCheck */
  readonly healthCheck?: GatewayHealthCheck;
  /** Headers the load balancer adds to each request, name → value with its `{variables}`. @default {} */
  readonly requestHeaders?: Record<string, string>;
  /** Time the load balancer waits for a response; also the longest a WebSocket stays open. @default Duration.seconds(30) */
  readonly backendTimeout?: Duration;
  /** Time requests may finish on a gateway pod leaving the backend. @default Duration.seconds(60) */
  readonly connectionDraining?: Duration;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * The cluster's end of the GCP global load balancer: an Istio Gateway terminating HTTPS on
 * the ingress gateway workload (installed by the platform team), and the BackendConfig the
 * load balancer's backend service is configured from (Cloud Armor policy, health check of
 * the gateway pods, request headers, timeouts).
 *
 * The load balancer sends no SNI to its backends, so the server matches every SNI and the
 * VirtualServices choose by the Host header; `routeNamespaces` limits who may bind hosts.
 */
export class IngressGateway extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  /** `<namespace>/<name>`, as VirtualServices reference the Gateway. */
  public readonly ref: string;
  public readonly gateway: Gateway;
  public readonly backendConfig: BackendConfig;

  constructor(scope: Construct, id: string, props: IngressGatewayProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`IngressGateway '${id}': ${msg}`);
    };
    this.name = props.name;
    this.namespace = props.namespace;
    this.ref = `${props.namespace}/${props.name}`;
    if (props.routeNamespaces.length === 0) fail('routeNamespaces must name at least one namespace');

    const hc = props.healthCheck ?? {};
    const seconds = (what: string, d: Duration) => {
      const s = d.toSeconds({ integral: false });
      if (!Number.isInteger(s) || s < 1) fail(`${what} (${formatDuration(d)}) must be a whole number of seconds >= 1`);
      return s;
    };
    const interval = seconds('healthCheck.interval', hc.interval ?? Duration.seconds(10));
    const timeout = seconds('healthCheck.timeout', hc.timeout ?? Duration.seconds(5));
    if (timeout > interval) fail(`healthCheck.timeout (${timeout}s) must be <= healthCheck.interval (${interval}s)`);
    const headers = Object.entries(props.requestHeaders ?? {});
    for (const [name] of headers) if (!/^[A-Za-z0-9-]+$/.test(name)) fail(`requestHeaders: "${name}" is not an HTTP header name`);

    const metadata = { name: props.name, namespace: props.namespace, labels: props.labels };
    this.gateway = new Gateway(this, 'Resource', {
      metadata,
      spec: {
        selector: props.selector ?? { istio: 'ingressgateway' },
        servers: [
          {
            name: 'https',
            port: { number: 443, name: 'https', protocol: 'HTTPS' },
            hosts: [...new Set(props.routeNamespaces)].sort().map((ns) => `${ns}/*`),
            tls: {
              mode: GatewaySpecServersTlsMode.SIMPLE,
              credentialName: props.tlsCredential,
              minProtocolVersion: GatewaySpecServersTlsMinProtocolVersion.TLSV1_UNDERSCORE_2,
            },
          },
        ],
      },
    });

    this.backendConfig = new BackendConfig(this, 'Backend', {
      metadata,
      spec: {
        securityPolicy: props.securityPolicy ? { name: props.securityPolicy } : undefined,
        healthCheck: {
          type: 'HTTP',
          requestPath: hc.path ?? '/healthz/ready',
          port: hc.port ?? 15021,
          checkIntervalSec: interval,
          timeoutSec: timeout,
          healthyThreshold: hc.healthyThreshold ?? 2,
          unhealthyThreshold: hc.unhealthyThreshold ?? 3,
        },
        customRequestHeaders: headers.length > 0 ? { headers: headers.map(([k, v]) => `${k}:${v}`) } : undefined,
        timeoutSec: seconds('backendTimeout', props.backendTimeout ?? Duration.seconds(30)),
        connectionDraining: { drainingTimeoutSec: seconds('connectionDraining', props.connectionDraining ?? Duration.seconds(60)) },
      },
    });
  }
}
