import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { DestinationRule, VirtualService } from '../../imports/networking.istio.io';
import { formatDuration } from '../../kernel/units';
import { re2Error } from '../../kernel/re2';

export interface MeshRetries {
  /** Attempts after the first try. @default 3 */
  readonly attempts?: number;
  /** Timeout of each try; it ends when the response starts, so streams are not cut. @default Duration.seconds(1) */
  readonly perTryTimeout?: Duration;
  /**
   * Envoy retry conditions (Istio adds numeric codes to `retriable_status_codes`).
   * @default 'connect-failure,refused-stream,unavailable,503' - only what the service cannot have processed
   */
  readonly retryOn?: string;
  /**
   * Every request of the service is safe to repeat: allows conditions after which the service may
   * already have acted (`5xx`, `reset`, `gateway-error`...). Istio has no per-method retry condition.
   * @default false
   */
  readonly idempotent?: boolean;
}

/** Envoy circuit-breaker thresholds per proxy; a field left out keeps Istio's default (unlimited). */
export interface MeshConnectionPool {
  /** Most TCP connections to one destination host (a WebSocket holds one for its lifetime). @default - Istio's (2^32-1) */
  readonly maxConnections?: number;
  /** Most requests queued while waiting for a connection. @default - Istio's (2^32-1) */
  readonly http1MaxPendingRequests?: number;
  /** Requests per connection before it is closed; 0 is unlimited. @default - Istio's (0) */
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

/** Where calls from one region go when outlier detection has ejected that region's endpoints. */
export interface MeshFailover {
  /** The callers' region (a locality region: the GCP region). */
  readonly from: string;
  /** The region they fail over to; every other region comes after it. */
  readonly to: string;
}

/** A named set of the destination's pods that routes can send to. */
export interface MeshSubset {
  readonly name: string;
  /** Pod labels selecting the subset. */
  readonly labels: Record<string, string>;
  /**
   * Prefer the subset's endpoints in this locality region, whichever region the caller is
   * in; when outlier detection ejects them, the endpoints of every other region serve.
   * @default - the rule's locality settings: the caller's own region first
   */
  readonly preferRegion?: string;
}

/** Requests a route applies to: all conditions of one match hold. */
export interface MeshMatch {
  /** URI prefix. @default - any URI */
  readonly prefix?: string;
  /** Header name → RE2 regular expression the whole value must match. @default {} */
  readonly headers?: Record<string, string>;
}

/** A weighted share of a route. */
export interface MeshDestination {
  readonly subset: string;
  /** Percent of the route's requests. */
  readonly weight: number;
}

export interface MeshRoute {
  /** Unique among the routes of the VirtualService. */
  readonly name: string;
  /** The route applies when any match holds. @default - every request */
  readonly match?: MeshMatch[];
  /** Weighted subsets; weights sum to 100. @default - the whole destination host */
  readonly split?: MeshDestination[];
}

/** Routes of requests arriving through an Istio Gateway. */
export interface MeshIngressRoutes {
  /** The Gateway, `<namespace>/<name>`. */
  readonly gateway: string;
  /** Hosts (the Host header) routed. */
  readonly hosts: string[];
  /** The destination service's port. */
  readonly port: number;
  /** In order: the first route whose match holds serves a request. */
  readonly routes: MeshRoute[];
}

export interface MeshRoutingProps {
  /** Name of the DestinationRule and the mesh VirtualService; the ingress one is `<name>-ingress`. */
  readonly name: string;
  readonly namespace: string;
  /** The destination host, fully qualified: `<service>.<namespace>.svc.cluster.local`. */
  readonly host: string;
  /** HTTP semantics (retries, timeout, routes); false for plain TCP, which only gets the DestinationRule. @default true */
  readonly http?: boolean;
  /** @default - see MeshRetries */
  readonly retries?: MeshRetries;
  /** Whole-request timeout. @default - none, as streaming connections need */
  readonly timeout?: Duration;
  /** @default - see MeshConnectionPool */
  readonly connectionPool?: MeshConnectionPool;
  /** Always rendered: locality failover only moves away from hosts it ejects. @default - see MeshOutlierDetection */
  readonly outlierDetection?: MeshOutlierDetection;
  /**
   * Locality load balancing: calls prefer their own zone, then region, then fail over.
   * False spreads calls over every endpoint of every region. @default true
   */
  readonly localityLoadBalancing?: boolean;
  /** The next region per caller region; one entry per `from`. @default [] - the rest of the mesh, unordered */
  readonly failover?: MeshFailover[];
  /** @default [] */
  readonly subsets?: MeshSubset[];
  /** Routes of calls inside the mesh, in order. @default - one route `default` to the whole host */
  readonly routes?: MeshRoute[];
  /** Routes of requests through an ingress gateway: a second VirtualService. @default - none */
  readonly ingress?: MeshIngressRoutes;
  /** Labels of the objects. @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * Conditions under which the upstream cannot have processed the request, so any method may be
 * retried: no connection, HTTP/2 REFUSED_STREAM, gRPC UNAVAILABLE, a reset before the request
 * was sent, Envoy's own rate limit, 503 (overload or no healthy upstream). Envoy's
 * router docs (x-envoy-retry-on, x-envoy-retry-grpc-on) describe each.
 */
export const SAFE_RETRY_CONDITIONS: ReadonlySet<string> = new Set([
  'connect-failure',
  'refused-stream',
  'unavailable',
  'reset-before-request',
  'envoy-ratelimited',
  'http3-post-connect-failure',
  '503',
]);
const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,503';
/** The locality label Istio's failoverPriority reads with an explicit value. */
const REGION_LABEL = 'topology.kubernetes.io/region';
const HEADER = /^[A-Za-z0-9-]+$/;

/**
 * Istio routing for calls to one service: a DestinationRule with circuit breaking
 * (connection pool, outlier detection), locality failover and subsets, a VirtualService
 * with retries, timeout and weighted routes for callers inside the mesh, and optionally one
 * for requests entering through an ingress gateway.
 */
export class MeshRouting extends Construct {
  public readonly destinationRule: DestinationRule;
  public readonly virtualService?: VirtualService;
  public readonly ingressVirtualService?: VirtualService;

  constructor(scope: Construct, id: string, props: MeshRoutingProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`MeshRouting '${id}': ${msg}`);
    };
    const http = props.http ?? true;
    const locality = props.localityLoadBalancing ?? true;
    const failover = props.failover ?? [];
    const subsets = props.subsets ?? [];
    const pool = props.connectionPool ?? {};
    const outlier = props.outlierDetection ?? {};

    if (!locality && failover.length > 0) fail(`failover (${failover.map((f) => `${f.from}->${f.to}`).join(', ')}) needs localityLoadBalancing`);
    const froms = new Set<string>();
    for (const f of failover) {
      if (f.from === f.to) fail(`failover from ${f.from} must go to another region`);
      // Istio uses the first entry of a region and ignores the others.
      if (froms.has(f.from)) fail(`failover lists ${f.from} twice: Istio takes one target region per caller region`);
      froms.add(f.from);
    }
    const names = new Set<string>();
    for (const s of subsets) {
      if (names.has(s.name)) fail(`subset ${s.name} is declared twice`);
      names.add(s.name);
      if (s.preferRegion !== undefined && !locality) fail(`subset ${s.name} prefers region ${s.preferRegion}, which needs localityLoadBalancing`);
    }
    const consecutive5xxErrors = outlier.consecutive5xxErrors ?? 5;
    const maxEjectionPercent = outlier.maxEjectionPercent ?? 100;
    if (locality && (consecutive5xxErrors < 1 || maxEjectionPercent < 1)) {
      fail(
        `outlierDetection (consecutive5xxErrors ${consecutive5xxErrors}, maxEjectionPercent ${maxEjectionPercent}) must eject hosts while locality failover is on: Istio fails over only away from ejected hosts`,
      );
    }
    if (!http && (props.routes || props.ingress)) fail('routes need http: a TCP destination only gets a DestinationRule');

    const outlierDetection = {
      consecutive5XxErrors: consecutive5xxErrors,
      interval: formatDuration(outlier.interval ?? Duration.seconds(30)),
      baseEjectionTime: formatDuration(outlier.baseEjectionTime ?? Duration.seconds(30)),
      maxEjectionPercent,
    };
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: props.labels });

    this.destinationRule = new DestinationRule(this, 'Resource', {
      metadata: metadata(props.name),
      spec: {
        host: props.host,
        trafficPolicy: {
          // Only what the spec sets: Istio's own defaults are unlimited.
          connectionPool:
            pool.maxConnections !== undefined || (http && (pool.http1MaxPendingRequests !== undefined || pool.maxRequestsPerConnection !== undefined))
              ? {
                  tcp: pool.maxConnections !== undefined ? { maxConnections: pool.maxConnections } : undefined,
                  http:
                    http && (pool.http1MaxPendingRequests !== undefined || pool.maxRequestsPerConnection !== undefined)
                      ? { http1MaxPendingRequests: pool.http1MaxPendingRequests, maxRequestsPerConnection: pool.maxRequestsPerConnection }
                      : undefined,
                }
              : undefined,
          outlierDetection,
          loadBalancer: {
            localityLbSetting: locality
              ? { enabled: true, failover: failover.length > 0 ? failover.map((f) => ({ from: f.from, to: f.to })) : undefined }
              : { enabled: false },
          },
        },
        subsets:
          subsets.length > 0
            ? subsets.map((s) => ({
                name: s.name,
                labels: s.labels,
                // A subset's load balancer replaces the rule's: failoverPriority here, never next to failover.
                trafficPolicy:
                  s.preferRegion !== undefined
                    ? {
                        loadBalancer: { localityLbSetting: { enabled: true, failoverPriority: [`${REGION_LABEL}=${s.preferRegion}`] } },
                        outlierDetection,
                      }
                    : undefined,
              }))
            : undefined,
      },
    });

    if (!http) return;
    const retries = props.retries ?? {};
    const unsafe = (retries.retryOn ?? DEFAULT_RETRY_ON)
      .split(',')
      .map((c) => c.trim())
      .filter((c) => !SAFE_RETRY_CONDITIONS.has(c));
    if (unsafe.length > 0 && !retries.idempotent && (retries.attempts ?? 3) > 0)
      fail(
        `retries.retryOn (${retries.retryOn}) retries on ${unsafe.join(', ')}, after which the service may already have acted (a POST run twice): keep to ${[...SAFE_RETRY_CONDITIONS].join(', ')}, or set retries.idempotent when every request is safe to repeat`,
      );
    const checkRoutes = (routes: MeshRoute[], where: string) => {
      const seen = new Set<string>();
      for (const r of routes) {
        if (seen.has(r.name)) fail(`${where} route ${r.name} is declared twice`);
        seen.add(r.name);
        for (const m of r.match ?? []) {
          for (const h of Object.keys(m.headers ?? {}))
            if (!HEADER.test(h)) fail(`${where} route ${r.name}: header name "${h}" is not a valid HTTP header name`);
          for (const [h, re] of Object.entries(m.headers ?? {})) {
            const error = re2Error(re);
            if (error !== undefined) fail(`${where} route ${r.name}: header ${h} regex ${JSON.stringify(re)} is not valid RE2 (Envoy's engine): ${error}`);
          }
        }
        if (r.split === undefined) continue;
        const total = r.split.reduce((sum, d) => sum + d.weight, 0);
        const shown = r.split.map((d) => `${d.subset}=${d.weight}`).join(', ');
        if (r.split.length === 0 || total !== 100) fail(`${where} route ${r.name}: weights must sum to 100, got ${total} (${shown})`);
        for (const d of r.split) {
          if (!names.has(d.subset))
            fail(`${where} route ${r.name} sends to subset ${d.subset}, which is not declared (subsets: ${[...names].join(', ') || 'none'})`);
          if (!Number.isInteger(d.weight) || d.weight < 0) fail(`${where} route ${r.name}: weight of ${d.subset} (${d.weight}) must be a whole number >= 0`);
        }
      }
    };
    const toHttp = (routes: MeshRoute[], port?: number) =>
      routes.map((r) => ({
        name: r.name,
        match: r.match?.map((m) => ({
          uri: m.prefix !== undefined ? { prefix: m.prefix } : undefined,
          // Istio matches header names in lower case only.
          headers: m.headers ? Object.fromEntries(Object.entries(m.headers).map(([h, re]) => [h.toLowerCase(), { regex: re }])) : undefined,
        })),
        route: (r.split ?? [undefined]).map((d) => ({
          destination: { host: props.host, subset: d?.subset, port: port !== undefined ? { number: port } : undefined },
          weight: d?.weight,
        })),
        timeout: props.timeout ? formatDuration(props.timeout) : undefined,
        retries: {
          attempts: retries.attempts ?? 3,
          perTryTimeout: formatDuration(retries.perTryTimeout ?? Duration.seconds(1)),
          retryOn: retries.retryOn ?? DEFAULT_RETRY_ON,
        },
      }));

    const routes = props.routes ?? [{ name: 'default' }];
    checkRoutes(routes, 'mesh');
    this.virtualService = new VirtualService(this, 'Routes', {
      metadata: metadata(props.name),
      spec: { hosts: [props.host], http: toHttp(routes) },
    });

    if (props.ingress) {
      checkRoutes(props.ingress.routes, 'ingress');
      if (props.ingress.hosts.length === 0) fail('ingress hosts must not be empty');
      this.ingressVirtualService = new VirtualService(this, 'IngressRoutes', {
        metadata: metadata(`${props.name}-ingress`),
        spec: { hosts: props.ingress.hosts, gateways: [props.ingress.gateway], http: toHttp(props.ingress.routes, props.ingress.port) },
      });
    }
  }
}
