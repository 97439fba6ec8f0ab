/** Traffic: the mesh policy of calls, routes from the ingress, canaries, the ingress itself. */
import { z } from 'zod';
import { dnsLabel, duration, uriPath } from '../../kernel/schema';
import { GatewayRateLimit } from '../rate-limit/schema';
import { Image } from '../workloads/schema';

// Traffic policy fields carry no defaults here: a service's policy is merged field by field
// over the platform's, and what neither sets falls back to MeshRouting's documented defaults.

export const Retries = z.strictObject({
  /** Attempts after the first try. @default 3 */
  attempts: z.number().int().min(0).optional(),
  /** @default 1s */
  perTryTimeout: duration.optional(),
  /** Envoy retry conditions. @default connect-failure,refused-stream,unavailable,503 (what the service cannot have processed) */
  retryOn: z.string().optional(),
  /** Every request of the service is safe to repeat: allows retryOn conditions such as 5xx. @default false */
  idempotent: z.boolean().optional(),
});

/** Circuit-breaker thresholds; what the spec leaves out keeps Istio's default (unlimited). */
export const ConnectionPool = z.strictObject({
  /** @default - Istio's (unlimited) */
  maxConnections: z.number().int().min(1).optional(),
  /** @default - Istio's (unlimited) */
  http1MaxPendingRequests: z.number().int().min(1).optional(),
  /** 0 is unlimited. @default - Istio's (0) */
  maxRequestsPerConnection: z.number().int().min(0).optional(),
});

export const OutlierDetection = z.strictObject({
  /** @default 5 */
  consecutive5xxErrors: z.number().int().min(0).optional(),
  /** @default 30s */
  interval: duration.optional(),
  /** @default 30s */
  baseEjectionTime: duration.optional(),
  /** @default 100 */
  maxEjectionPercent: z.number().int().min(0).max(100).optional(),
});

/** Mesh traffic policy; a service's settings are merged over the platform's. */
export const TrafficPolicy = z.strictObject({
  retries: Retries.optional(),
  /** Whole-request timeout; services with a websocket port get none. */
  timeout: duration.optional(),
  connectionPool: ConnectionPool.optional(),
  outlierDetection: OutlierDetection.optional(),
  /**
   * Route requests entering through the ingress by client geography (`regions.<r>.geo`),
   * the others across regions by `routing.weights`. Calls inside the mesh stay in the
   * caller's region and fail over by locality. @default false
   */
  splitByRegion: z.boolean().optional(),
  /**
   * Locality failover (`regions.<r>.failover`); false turns locality load balancing off for
   * this service: calls spread over the endpoints of every region. @default true
   */
  localityFailover: z.boolean().optional(),
});

/** A route from the platform's ingress gateway to a service. */
export const Expose = z.strictObject({
  /** URI prefixes routed to the service, e.g. `/api/users`; `/` routes everything. */
  paths: z.array(uriPath).min(1),
  /** Hosts (of `ingress.hosts`) the paths are served on. @default - every ingress host */
  hosts: z.array(z.string()).optional(),
  /** Name of the port the gateway sends to. @default - the first port that is not tcp */
  port: z.string().optional(),
});

/** A second version of a service taking a share of its requests; removing it is the rollback. */
export const Canary = z.strictObject({
  /** The canary's release, the pod label `app.kubernetes.io/version`. @default - the image tag */
  version: z
    .string()
    .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, { message: 'must be a label value: letters, digits, "-", "_", ".", at most 63 characters' })
    .optional(),
  /** The canary's image: a tag or digest; the repository defaults to the service's. */
  image: z
    .strictObject({
      repository: Image.shape.repository.optional(),
      tag: Image.shape.tag,
      digest: Image.shape.digest,
    })
    .refine((i) => i.tag !== undefined || i.digest !== undefined, { message: 'needs a tag or a digest' }),
  /** Percent of the service's requests sent to the canary: 0 stops them (rollback), 100 sends all (blue-green). */
  weight: z.number().int().min(0).max(100),
  /** Canary pods per region cluster; KEDA does not scale them. @default - the service's replicas, or its autoscaling minimum */
  replicas: z.number().int().min(1).optional(),
});

export const Routing = z.strictObject({
  /** Share of traffic each region receives, in percent; must name every region and sum to 100. */
  weights: z.record(z.string(), z.number().int().min(0).max(100)).optional(),
  /** The default traffic policy for every service. */
  traffic: TrafficPolicy.default({}),
});

export const GatewayHealthCheck = z.strictObject({
  /** Path the load balancer probes on the gateway pods. @default /healthz/ready */
  path: z.string().startsWith('/').default('/healthz/ready'),
  /** Port of that path: the gateway's status port. @default 15021 */
  port: z.number().int().min(1).max(65535).default(15021),
  /** @default 10s */
  interval: duration.default('10s'),
  /** @default 5s */
  timeout: duration.default('5s'),
  /** Consecutive successes before a gateway pod takes traffic again. @default 2 */
  healthyThreshold: z.number().int().min(1).default(2),
  /** Consecutive failures before the load balancer stops sending to a gateway pod. @default 3 */
  unhealthyThreshold: z.number().int().min(1).default(3),
});

const hostname = z
  .string()
  .regex(/^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { message: 'must be a lowercase DNS name such as api.example.com' });
const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, { message: 'must be an HTTP header name: letters, digits and "-"' });

/** The platform's entry from the GCP global load balancer: an Istio Gateway in every region cluster. */
export const Ingress = z.strictObject({
  /** Hostnames served over HTTPS. */
  hosts: z.array(hostname).min(1),
  /** Secret (type kubernetes.io/tls) in the gateway's namespace with the certificate for the hosts. */
  tlsCredential: dnsLabel,
  /** Cloud Armor security policy of the load balancer's backend. @default - none set by Meridian */
  securityPolicy: dnsLabel.optional(),
  /** The load balancer's health check of the gateway pods. */
  healthCheck: GatewayHealthCheck.default(GatewayHealthCheck.parse({})),
  /** How long the load balancer waits for a response (and keeps a WebSocket open). @default - 30s, or 1h when an exposed service streams */
  backendTimeout: duration.optional(),
  /** Time the load balancer lets requests finish on a gateway pod that is going away. @default 60s */
  connectionDraining: duration.default('60s'),
  /** Request header the load balancer sets to the client's country. @default X-Client-Region */
  clientRegionHeader: headerName.default('X-Client-Region'),
  /** Request header the load balancer sets to the client's country subdivision. @default X-Client-Subdivision */
  clientSubdivisionHeader: headerName.default('X-Client-Subdivision'),
  /** Per-client rate limit at the gateway (docs/traffic.md). @default - none: only the Cloud Armor policy limits */
  rateLimit: GatewayRateLimit.optional(),
});

export type TrafficPolicySpec = z.output<typeof TrafficPolicy>;
export type IngressSpec = z.output<typeof Ingress>;
export type CanarySpec = z.output<typeof Canary>;
export type ExposeSpec = z.output<typeof Expose>;
export type RoutingSpec = z.output<typeof Routing>;
