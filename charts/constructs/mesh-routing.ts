import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { DestinationRule, VirtualService } from '../../imports/networking.istio.io';
import { formatDuration } from './units';

export interface MeshRetries {
  /** Attempts after the first try. @default 3 */
  readonly attempts?: number;
  /** Timeout of each try. @default Duration.seconds(1) */
  readonly perTryTimeout?: Duration;
  /** Envoy retry conditions. @default 'connect-failure,refused-stream,unavailable,cancelled,5xx' */
  readonly retryOn?: string;
}

export interface MeshConnectionPool {
  /** Most TCP connections to one destination host. @default 100 */
  readonly maxConnections?: number;
  /** Most requests queued while waiting for a connection. @default 100 */
  readonly http1MaxPendingRequests?: number;
  /** Requests per connection before it is closed; 0 is unlimited. @default 0 */
  readonly maxRequestsPerConnection?: number;
}

export interface MeshOutlierDetection {
  /** Consecutive 5xx answers that eject a host. @default 5 */
  readonly consecutive5xxErrors?: number;
  /** Time between ejection sweeps. @default Duration.seconds(30) */
  readonly interval?: Duration;
  /** Minimum ejection time. @default Duration.seconds(30) */
  readonly baseEjectionTime?: Duration;
  /** Largest share of hosts that may be ejected, in percent. @default 100 */
  readonly maxEjectionPercent?: number;
}

/** A weighted destination: the pods carrying `labels` get `weight` percent of the traffic. */
export interface MeshSubset {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly weight: number;
}

export interface MeshRoutingProps {
  /** Name of the VirtualService and DestinationRule. */
  readonly name: string;
  readonly namespace: string;
  /** The destination host, fully qualified: `<service>.<namespace>.svc.cluster.local`. */
  readonly host: string;
  /** HTTP semantics (retries, timeout); false for plain TCP, which only gets the DestinationRule. @default true */
  readonly http?: boolean;
  /** @default - see MeshRetries */
  readonly retries?: MeshRetries;
  /** Whole-request timeout. @default - none, as streaming connections need */
  readonly timeout?: Duration;
  /** @default - see MeshConnectionPool */
  readonly connectionPool?: MeshConnectionPool;
  /** @default - see MeshOutlierDetection */
  readonly outlierDetection?: MeshOutlierDetection;
  /** Weighted split across subsets; weights must sum to 100. @default - one destination, no subsets */
  readonly subsets?: MeshSubset[];
  /** Labels of both objects. @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * Istio routing for calls to one service: a DestinationRule with circuit breaking
 * (connection pool, outlier detection) and optional subsets, and a VirtualService with
 * retries, timeout and the weighted split across those subsets.
 */
export class MeshRouting extends Construct {
  public readonly destinationRule: DestinationRule;
  public readonly virtualService?: VirtualService;

  constructor(scope: Construct, id: string, props: MeshRoutingProps) {
    super(scope, id);
    const subsets = props.subsets ?? [];
    const total = subsets.reduce((sum, s) => sum + s.weight, 0);
    if (subsets.length > 0 && total !== 100) {
      throw new Error(`MeshRouting '${id}': subset weights must sum to 100, got ${total} (${subsets.map((s) => `${s.name}=${s.weight}`).join(', ')})`);
    }
    const pool = props.connectionPool ?? {};
    const outlier = props.outlierDetection ?? {};
    const http = props.http ?? true;
    const metadata = { name: props.name, namespace: props.namespace, labels: props.labels };

    this.destinationRule = new DestinationRule(this, 'Resource', {
      metadata,
      spec: {
        host: props.host,
        trafficPolicy: {
          connectionPool: {
            tcp: { maxConnections: pool.maxConnections ?? 100 },
            http: http ? {
              http1MaxPendingRequests: pool.http1MaxPendingRequests ?? 100,
              maxRequestsPerConnection: pool.maxRequestsPerConnection ?? 0,
            } : undefined,
          },
          outlierDetection: {
            consecutive5XxErrors: outlier.consecutive5xxErrors ?? 5,
            interval: formatDuration(outlier.interval ?? Duration.seconds(30)),
            baseEjectionTime: formatDuration(outlier.baseEjectionTime ?? Duration.seconds(30)),
            maxEjectionPercent: outlier.maxEjectionPercent ?? 100,
          },
        },
        subsets: subsets.length > 0 ? subsets.map((s) => ({ name: s.name, labels: s.labels })) : undefined,
      },
    });

    if (!http) return;
    const retries = props.retries ?? {};
    const destinations = subsets.length > 0
      ? subsets.map((s) => ({ destination: { host: props.host, subset: s.name }, weight: s.weight }))
      : [{ destination: { host: props.host } }];
    this.virtualService = new VirtualService(this, 'Routes', {
      metadata,
      spec: {
        hosts: [props.host],
        http: [{
          name: 'default',
          route: destinations,
          timeout: props.timeout ? formatDuration(props.timeout) : undefined,
          retries: {
            attempts: retries.attempts ?? 3,
            perTryTimeout: formatDuration(retries.perTryTimeout ?? Duration.seconds(1)),
            retryOn: retries.retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled,5xx',
          },
        }],
      },
    });
  }
}
