/**
 * The one schema of a platform. `platforms/<p>.ts` is written against its input type
 * (`PlatformInput`), each `overlays/<p>/<env>.yaml` is a partial of the same shape merged
 * over it, and the merged result is parsed once into a `Platform` with every default
 * filled in. Defaults live here, not in the charts.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { durationMs, sizeKi } from '../kernel/quantities';
import { autoscalingIssues, Fallback, MAX_AUTOSCALED_NAME, ScalingRules, Trigger } from '../features/autoscaling/schema';
import { checkPlatformTraffic, checkServiceTraffic } from '../features/traffic/rules';
import { rateLimitIssues } from '../features/rate-limit/rules';

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name that becomes (part of) a Kubernetes object name: an RFC 1123 label. */
export const dnsLabel = z.string().regex(DNS_LABEL, {
  message: 'must be a lowercase RFC 1123 label: a-z, 0-9 and "-", starting with a letter, at most 63 characters',
});

/** `500ms`, `1s`, `2m`, `1h`: the duration syntax Istio, KEDA and Redis settings accept here. */
export const duration = z.string().regex(/^[0-9]+(ms|s|m|h)$/, {
  message: 'must be a duration: a whole number followed by ms, s, m or h (e.g. 500ms, 30s, 5m)',
});

export const cpuQuantity = z.string().regex(/^([0-9]+m|[0-9]+(\.[0-9]+)?)$/, {
  message: 'must be a CPU quantity such as 250m or 1.5',
});

export const byteQuantity = z.string().regex(/^[0-9]+(Ki|Mi|Gi|Ti)$/, {
  message: 'must be a binary size such as 512Mi or 2Gi',
});

const gcpProject = z.string().regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, {
  message: 'must be a GCP project id: 6-30 characters, lowercase letters, digits and "-", starting with a letter',
});

/** Secret Manager secret ids: letters, digits, "-" and "_", up to 255 characters. */
const secretManagerName = z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, {
  message: 'must be a Secret Manager secret id: letters, digits, "-" and "_"',
});

/** A Kubernetes CronJob schedule: five cron fields or a macro such as @hourly. */
export const cronSchedule = z.string().superRefine((expr, ctx) => {
  const macro = expr.startsWith('@');
  if (!macro && expr.trim().split(/\s+/).length !== 5) {
    ctx.addIssue({ code: 'custom', message: 'must be a cron schedule of five fields (minute hour day month weekday) or a macro such as @daily', input: expr });
    return;
  }
  try {
    CronExpressionParser.parse(expr);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `is not a valid cron schedule: ${(e as Error).message}`, input: expr });
  }
});

/** An IANA time zone such as Africa/Johannesburg or Etc/UTC. */
export const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return tz.length > 0;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as Etc/UTC or Europe/Zurich' },
);

// ---------------------------------------------------------------------------------------
// Regions

export const Region = z.strictObject({
  /** The GCP region the cluster runs in. @default - the region's key */
  gcpRegion: z
    .string()
    .regex(/^[a-z]+-[a-z]+[0-9]+$/, { message: 'must be a GCP region such as us-central1' })
    .optional(),
  /** Exactly one region of a platform is primary: it owns writes (the Redis master). */
  role: z.enum(['primary', 'secondary']),
  /** Zones of the region the cluster's nodes run in; pods spread across them. */
  zones: z.array(z.string().regex(/^[a-z]+-[a-z]+[0-9]+-[a-z]$/, { message: 'must be a GCP zone such as us-central1-a' })).min(1),
  /** The cluster name registered in ArgoCD. @default - `<platform>-<env>-<region>` */
  cluster: dnsLabel.optional(),
  /**
   * Per-region differences of services (a partial service, merged over it in this region only),
   * e.g. smaller autoscaling bounds in a low-traffic region.
   */
  services: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /**
   * Regions this region's calls fail over to when outlier detection ejects its own
   * endpoints, in order: every other region once. @default - the primary fails over to its
   * nearest secondary, a secondary to the primary, then the rest by distance
   */
  failover: z.array(dnsLabel).optional(),
  /**
   * Clients the ingress routes to this region: CLDR country codes (`DE`) or country and
   * subdivision codes (`USNY`), as the GCP load balancer reports them. @default []
   */
  geo: z
    .array(z.string().regex(/^[A-Z]{2}([A-Z0-9]{1,4})?$/, { message: 'must be a CLDR country code (DE) or country + subdivision code (USNY), upper case' }))
    .default([]),
});

// ---------------------------------------------------------------------------------------
// Observability (docs/observability.md)

const percent = z.number().min(0).max(100);

/** A Prometheus metric name. */
const metricName = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, {
  message: 'must be a Prometheus metric name: letters, digits, "_" and ":", not starting with a digit',
});

/** Bounds (ms) of Istio's `istio_request_duration_milliseconds` histogram: a latency SLI counts requests under one. */
export const ISTIO_LATENCY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

const latencyBound = duration.refine((d) => ISTIO_LATENCY_BUCKETS_MS.includes(durationMs(d)), {
  message: `must be a bound of Istio's request duration buckets: ${ISTIO_LATENCY_BUCKETS_MS.map((ms) => {
    const [n, unit] = (
      [
        [3600000, 'h'],
        [60000, 'm'],
        [1000, 's'],
      ] as const
    ).find(([size]) => ms % size === 0) ?? [1, 'ms'];
    return `${ms / n}${unit}`;
  }).join(', ')}`,
});

export const ServiceMetrics = z.strictObject({
  /** Name of one of the service's ports, or the number of a port serving only metrics (not exposed by the Service). */
  port: z.custom<string | number>((v) => (typeof v === 'string' && v !== '') || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535), {
    message: "must be the name of one of the service's ports or a port number (1-65535)",
  }),
  /** @default /metrics */
  path: z.string().startsWith('/').default('/metrics'),
  /** @default 30s */
  interval: duration.default('30s'),
});

/** Service level objectives over a rolling 30 days (the window the burn-rate factors assume). */
export const Slo = z
  .strictObject({
    /** Percent of requests answered without a 5xx, e.g. 99.9. */
    availability: z.number().gt(0).lt(100).optional(),
    /** Latency objectives: `p95: 500ms` is "95 % of requests are served in under 500 ms". */
    latency: z
      .strictObject({
        p90: latencyBound.optional(),
        p95: latencyBound.optional(),
        p99: latencyBound.optional(),
      })
      .optional(),
  })
  .refine((s) => s.availability !== undefined || Object.values(s.latency ?? {}).some((v) => v !== undefined), {
    message: 'needs an objective: availability or latency',
  });

/** A warning and a critical threshold, and how long the condition must hold before firing. */
const percentLevels = (warning: number, critical: number, holdFor: string) =>
  z.strictObject({
    warning: percent.default(warning),
    critical: percent.default(critical),
    for: duration.default(holdFor),
  });
const durationLevels = (warning: string, critical: string, holdFor: string) =>
  z.strictObject({
    warning: duration.default(warning),
    critical: duration.default(critical),
    for: duration.default(holdFor),
  });

/** Alert thresholds; defaults are the seeds' numbers (004 §7.1, 001 performance targets, 003 §5). */
export const Monitoring = z.strictObject({
  /**
   * Render the recording and alerting rules and the Grafana dashboards (which read the
   * recordings); false leaves only the scraping, for environments nobody is paged for
   * (a pull request's). @default true
   */
  rules: z.boolean().default(true),
  /** Where runbooks are read. @default - `<gitops.repoURL>/blob/<targetRevision>/docs/runbooks` */
  runbookBaseUrl: z.string().url().optional(),
  /** Percent of requests answered with `codes`. @default warning 0.5, critical 1, for 5m */
  errorRate: percentLevels(0.5, 1, '5m')
    .extend({
      /** Response codes counted as errors (a regular expression). @default 5.. */
      codes: z
        .string()
        .regex(/^[0-9x.|[\]()*+?-]+$/, { message: 'must be a regular expression over HTTP status codes such as 5.. or [45]..' })
        .default('5..'),
    })
    .prefault({}),
  /** Percent of a workload's replicas passing their readiness check. @default warning 98, critical 95, for 5m */
  healthCheckSuccess: percentLevels(98, 95, '5m').prefault({}),
  /** p95 of calls to a service in another region. @default warning 300ms, critical 500ms, for 10m */
  crossRegionLatency: durationLevels('300ms', '500ms', '10m').prefault({}),
  /** Percent of Redis lookups that hit. @default warning 70, critical 50, for 15m */
  cacheHitRate: percentLevels(70, 50, '15m').prefault({}),
  /** Data replication lag, a gauge in seconds exported by one of the services. @default - no alert */
  replicationLag: durationLevels('10s', '30s', '2m')
    .extend({
      /** The service exporting it; it must declare `metrics`. */
      service: dnsLabel,
      metric: metricName,
    })
    .optional(),
  pods: z
    .strictObject({
      /** Container restarts within an hour. @default 3 */
      restartsPerHour: z.number().int().min(1).default(3),
      /** CPU used, percent of the limit (or of the request when there is no limit). @default 90 */
      cpu: percent.default(90),
      /** Memory working set, percent of the limit. @default 90 */
      memory: percent.default(90),
      /** @default 15m */
      for: duration.default('15m'),
    })
    .prefault({}),
  autoscaling: z
    .strictObject({
      /** Time at the autoscaler's maximum before alerting. @default 15m */
      atMaxFor: duration.default('15m'),
    })
    .prefault({}),
  /**
   * Where alerts go (GMP's managed Alertmanager, configured per cluster): `page` the on-call
   * engineer (PagerDuty), make a `ticket` (the team queue's webhook), or `none`. Set per
   * environment in the overlays: pages are for production. @default critical page, warning ticket
   */
  routing: z
    .strictObject({
      critical: z.enum(['page', 'ticket', 'none']).default('page'),
      warning: z.enum(['page', 'ticket', 'none']).default('ticket'),
      /** Secret Manager secret with the PagerDuty Events API v2 routing key. @default <platform>-alerts-pagerduty */
      pagerSecret: secretManagerName.optional(),
      /** Secret Manager secret with the ticket queue's webhook URL. @default <platform>-alerts-webhook */
      ticketSecret: secretManagerName.optional(),
    })
    .prefault({}),
  cost: z
    .strictObject({
      /** Growth of the CPU requested in the cluster over one day, in percent, that counts as a cost spike. @default 50 */
      requestGrowth: z.number().positive().default(50),
      /** @default 30m */
      for: duration.default('30m'),
    })
    .prefault({}),
});

// ---------------------------------------------------------------------------------------
// Services

export const Port = z.strictObject({
  /** Port name; Istio picks the protocol from it, so it is prefixed by Meridian (http-, grpc-, tcp-). */
  name: dnsLabel.max(15),
  port: z.number().int().min(1).max(65535),
  /** How the mesh treats the traffic; `websocket` and `sse` are streaming HTTP: no request timeout. */
  protocol: z.enum(['http', 'grpc', 'tcp', 'websocket', 'sse']).default('http'),
});

export const Probe = z.strictObject({
  /** HTTP path to GET; omit for a TCP check on the port. */
  path: z.string().startsWith('/').optional(),
  /** Name of one of the service's ports. @default - the first port */
  port: z.string().optional(),
  /** How often to probe. @default 10s */
  period: duration.default('10s'),
  /** Consecutive failures before the probe fails. @default 3 */
  failureThreshold: z.number().int().min(1).default(3),
  /** Time allowed for one probe. @default 1s */
  timeout: duration.default('1s'),
});

export const Resources = z.strictObject({
  /** CPU requested; the scheduler's and the CPU trigger's reference. @default 100m */
  cpu: cpuQuantity.default('100m'),
  /** Memory requested. @default 128Mi */
  memory: byteQuantity.default('128Mi'),
  /** Memory limit; the container is OOM-killed above it. @default - twice the request */
  memoryLimit: byteQuantity.optional(),
  /** CPU limit. @default - none: throttling hurts latency more than it protects neighbours */
  cpuLimit: cpuQuantity.optional(),
  /** Scratch disk requested (and limited to twice that). @default 64Mi */
  ephemeralStorage: byteQuantity.default('64Mi'),
});

export const Autoscaling = z.strictObject({
  min: z.number().int().min(0),
  max: z.number().int().min(1),
  /** Scale out when average CPU utilisation of the requests passes this percentage. */
  cpuUtilization: z.number().int().min(1).max(100).optional(),
  /** Scale out when requests per second per replica (from Istio's metrics) pass this. */
  requestsPerSecond: z.number().positive().optional(),
  /** How often KEDA polls its triggers. @default 30s */
  pollingInterval: duration.default('30s'),
  /** Wait after the last active trigger before scaling to zero. @default 5m */
  cooldown: duration.default('5m'),
  /** HPA behavior when adding replicas. @default - the HPA's: no stabilization */
  scaleUp: ScalingRules.optional(),
  /** HPA behavior when removing replicas. @default - the HPA's: 5m stabilization */
  scaleDown: ScalingRules.optional(),
  /** Replicas held while every trigger's source fails (AverageValue external triggers only). @default - none */
  fallback: Fallback.optional(),
  /** Event triggers (cpu, memory, prometheus, cron, pubsub, cloud-tasks), after the shorthands above. @default [] */
  triggers: z.array(Trigger).default([]),
});

// Traffic policy fields carry no defaults here: a service's policy is merged field by field
// over the platform's, and what neither sets falls back to MeshRouting's documented defaults.

export const Retries = z.strictObject({
  /** Attempts after the first try. @default 3 */
  attempts: z.number().int().min(0).optional(),
  /** @default 1s */
  perTryTimeout: duration.optional(),
  /** Envoy retry conditions. @default connect-failure,refused-stream,unavailable,cancelled,5xx */
  retryOn: z.string().optional(),
});

export const ConnectionPool = z.strictObject({
  /** @default 100 */
  maxConnections: z.number().int().min(1).optional(),
  /** @default 100 */
  http1MaxPendingRequests: z.number().int().min(1).optional(),
  /** 0 is unlimited. @default 0 */
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

export const SecretRef = z.strictObject({
  /** The secret's id in GCP Secret Manager (of the platform's project). */
  secret: secretManagerName,
  /** The secret version. @default latest */
  version: z
    .string()
    .regex(/^(latest|[0-9]+)$/, { message: 'must be "latest" or a version number' })
    .default('latest'),
});

export const Image = z
  .strictObject({
    repository: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)+$/, {
      message: 'must be an image repository such as us-docker.pkg.dev/project/repo/name',
    }),
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { message: 'must be a valid image tag' })
      .refine((t) => t !== 'latest', { message: 'must pin a version: "latest" is not allowed' })
      .optional(),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, { message: 'must be sha256:<64 hex digits>' })
      .optional(),
  })
  .refine((i) => i.tag !== undefined || i.digest !== undefined, { message: 'needs a tag or a digest' });

/** A route from the platform's ingress gateway to a service. */
export const Expose = z.strictObject({
  /** URI prefixes routed to the service, e.g. `/api/users`; `/` routes everything. */
  paths: z.array(z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, { message: 'must be a URI path starting with "/"' })).min(1),
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
/** A destination outside the cluster a service calls (a managed service such as Cloud SQL or a Google API). */
export const Egress = z
  .strictObject({
    /** A DNS name (firestore.googleapis.com): a ServiceEntry declares it to the mesh, the NetworkPolicy opens the port beyond the private ranges. */
    host: z
      .string()
      .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/, { message: 'must be a DNS name such as sqladmin.googleapis.com' })
      .optional(),
    /** An address range (a Cloud SQL private IP: 10.20.0.3/32): the NetworkPolicy opens the port to it only. */
    cidr: z
      .string()
      .regex(/^([0-9]{1,3}\.){3}[0-9]{1,3}\/([0-9]|[12][0-9]|3[0-2])$/, { message: 'must be an IPv4 CIDR such as 10.20.0.3/32' })
      .optional(),
    port: z.number().int().min(1).max(65535),
    /** How the mesh treats the connection: tls when the client speaks TLS itself (Google APIs). @default tls */
    protocol: z.enum(['tls', 'tcp', 'http']).default('tls'),
  })
  .refine((e) => (e.host === undefined) !== (e.cidr === undefined), { message: 'needs exactly one of host or cidr' });

export const Service = z
  .strictObject({
    /** The namespace the service runs in; one of the platform's namespaces. */
    namespace: dnsLabel,
    image: Image,
    /** Ports it serves; a queue worker has none (no Service, no route). */
    ports: z.array(Port).default([]),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    /**
     * Directories the container writes besides /tmp: the root filesystem is read-only, each
     * gets an emptyDir (counted in `resources.ephemeralStorage`). @default []
     */
    writablePaths: z
      .array(
        z
          .string()
          .regex(/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/, { message: 'must be an absolute directory path such as /var/cache/app' })
          .refine((p) => p !== '/tmp', { message: '/tmp is always writable: leave it out' }),
      )
      .default([]),
    resources: Resources.default(Resources.parse({})),
    probes: z
      .strictObject({
        readiness: Probe.optional(),
        liveness: Probe.optional(),
        startup: Probe.optional(),
      })
      .default({}),
    /** Plain configuration; never a secret value. */
    env: z.record(z.string().regex(ENV_VAR, { message: 'must be an environment variable name' }), z.string()).default({}),
    /** Environment variables whose values come from GCP Secret Manager through External Secrets. */
    secrets: z.record(z.string().regex(ENV_VAR, { message: 'must be an environment variable name' }), SecretRef).default({}),
    /** A fixed number of replicas; exclusive with `autoscaling`. @default 2 when not autoscaled */
    replicas: z.number().int().min(0).optional(),
    autoscaling: Autoscaling.optional(),
    /** Other services (by name) and Redis groups (`redis:<name>`) it calls. */
    dependsOn: z.array(z.string()).default([]),
    /** The Google service account bound by Workload Identity. @default - `<service>@<project>.iam.gserviceaccount.com` */
    gcpServiceAccount: z.string().email().optional(),
    /** Regions it runs in. @default - all the platform's regions */
    regions: z.array(z.string()).optional(),
    /** A Cloud SQL instance reached through the Cloud SQL Auth Proxy sidecar on 127.0.0.1:<port>. */
    cloudSql: z
      .strictObject({
        /** Instance connection name `project:region:instance`. */
        instance: z
          .string()
          .regex(/^[a-z][-a-z0-9]*:[a-z]+-[a-z]+[0-9]+:[a-z][-a-z0-9]*$/, { message: 'must be an instance connection name project:region:instance' }),
        /** Local port of the proxy. @default 5432 */
        port: z.number().int().min(1024).max(65535).default(5432),
      })
      .optional(),
    /** Overrides of the platform's traffic policy for calls to this service. */
    traffic: TrafficPolicy.default({}),
    /** End-user tokens required on every request, except on `publicPaths`. */
    auth: z
      .strictObject({
        /** One of the platform's `jwtIssuers`. */
        jwt: z.string(),
        /** Paths served without a token. @default [] */
        publicPaths: z.array(z.string().startsWith('/')).default([]),
      })
      .optional(),
    /** Routes from the platform's ingress gateway to this service. @default - not exposed */
    expose: Expose.optional(),
    /** A canary version taking a share of the requests. @default - none */
    canary: Canary.optional(),
    /** Destinations outside the cluster it calls; everything else outside is denied. @default [] */
    egress: z.array(Egress).default([]),
    /** Where Managed Prometheus scrapes the service's own metrics. @default - not scraped (Istio's metrics still are) */
    metrics: ServiceMetrics.optional(),
    /** Objectives; each one renders its SLIs and multi-window burn-rate alerts. @default - none */
    slo: Slo.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.replicas !== undefined && s.autoscaling) {
      ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'cannot be set together with autoscaling: remove one', input: s.replicas });
    }
    if (s.autoscaling && s.autoscaling.min > s.autoscaling.max) {
      ctx.addIssue({ code: 'custom', path: ['autoscaling', 'max'], message: `must be >= min (${s.autoscaling.min})`, input: s.autoscaling.max });
    }
    for (const issue of autoscalingIssues(s)) ctx.addIssue({ code: 'custom', ...issue });
    const names = new Set<string>();
    s.ports.forEach((p, i) => {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: 'is used by another port of this service', input: p.name });
      names.add(p.name);
    });
    for (const [kind, probe] of Object.entries(s.probes)) {
      if (probe?.port !== undefined && !names.has(probe.port)) {
        ctx.addIssue({
          code: 'custom',
          path: ['probes', kind, 'port'],
          message: `must name one of the service's ports (${[...names].join(', ') || 'none'})`,
          input: probe.port,
        });
      }
      if (probe && s.ports.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['probes', kind], message: 'needs a port to probe: this service declares none', input: probe });
      }
    }
    for (const name of Object.keys(s.secrets)) {
      if (name in s.env) ctx.addIssue({ code: 'custom', path: ['secrets', name], message: 'is also set in env: a variable comes from one place', input: name });
    }
    checkServiceTraffic(s, ctx);
    probeIssues(s).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));
    if (s.expose && s.ports.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['expose'],
        message: 'needs a port: the ingress gateway has nothing to call on a service without ports',
        input: s.expose,
      });
    }
    if (typeof s.metrics?.port === 'string' && !names.has(s.metrics.port)) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'port'],
        message: `must name one of the service's ports (${[...names].join(', ') || 'none'}) or be a port number`,
        input: s.metrics.port,
      });
    }
    if (s.slo && !s.ports.some((p) => p.protocol !== 'tcp')) {
      ctx.addIssue({
        code: 'custom',
        path: ['slo'],
        message: "needs an http, grpc or websocket port: its indicators come from Istio's request metrics",
        input: s.slo,
      });
    }
  });

// ---------------------------------------------------------------------------------------
// Scheduled jobs

export const Job = z.strictObject({
  namespace: dnsLabel,
  image: Image,
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  /** When it runs, in `timeZone`. */
  schedule: cronSchedule,
  /** @default Etc/UTC */
  timeZone: timeZone.default('Etc/UTC'),
  /** What to do when the previous run is still going. @default Forbid */
  concurrencyPolicy: z.enum(['Forbid', 'Replace', 'Allow']).default('Forbid'),
  /** A run is stopped after this long. @default 30m */
  deadline: duration.default('30m'),
  /** A run that could not start within this long is skipped. @default 5m */
  startingDeadline: duration.default('5m'),
  /** Retries of a failed run. @default 2 */
  backoffLimit: z.number().int().min(0).default(2),
  resources: Resources.default(Resources.parse({})),
  env: z.record(z.string().regex(ENV_VAR, { message: 'must be an environment variable name' }), z.string()).default({}),
  secrets: z.record(z.string().regex(ENV_VAR, { message: 'must be an environment variable name' }), SecretRef).default({}),
  /** @default - `<job>@<project>.iam.gserviceaccount.com` */
  gcpServiceAccount: z.string().email().optional(),
  /** Regions it runs in. @default - the primary region only: a job runs once per environment */
  regions: z.array(z.string()).optional(),
  /** Other services and Redis groups it calls. */
  dependsOn: z.array(z.string()).default([]),
});

/**
 * A serving container needs readiness, liveness and startup probes, readiness and liveness
 * not the same check (kube-score): liveness and startup default to a TCP check of the
 * readiness port, so readiness must be given, and an HTTP check or another port than that.
 */
function probeIssues(s: {
  ports: { name: string }[];
  probes: { readiness?: { path?: string; port?: string }; liveness?: { path?: string; port?: string } };
}): { path: (string | number)[]; message: string; input: unknown }[] {
  if (s.ports.length === 0) return [];
  const readiness = s.probes.readiness;
  if (!readiness) {
    return [
      {
        path: ['probes', 'readiness'],
        message: 'is required for a service with ports: give the HTTP path that answers when it can take traffic (leave path out for a TCP check)',
        input: undefined,
      },
    ];
  }
  const port = readiness.port ?? s.ports[0].name;
  const liveness = s.probes.liveness ?? { port };
  // A TCP-only server (a connection pooler) has no other check to offer: the rule is for HTTP.
  if (readiness.path !== undefined && (liveness.port ?? s.ports[0].name) === port && liveness.path === readiness.path) {
    const what = readiness.path ? `GET ${readiness.path} on port ${port}` : `a TCP check of port ${port}`;
    return [
      {
        path: ['probes', 'liveness'],
        message: `must differ from readiness (${what}${s.probes.liveness ? '' : ', the default'}): an overloaded pod would be restarted instead of taken out of rotation; give readiness an HTTP path, or liveness another path or port`,
        input: s.probes.liveness,
      },
    ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------
// Redis

export const Redis = z
  .strictObject({
    namespace: dnsLabel,
    /** Redis pods (each with a sentinel) in each region. @default 3 */
    replicas: z.number().int().min(3).default(3),
    /** Sentinels that must agree the master is down. @default - a majority of replicas */
    quorum: z.number().int().min(1).optional(),
    /** Unresponsive time after which a sentinel considers the master down. @default 5s */
    downAfter: duration.default('5s'),
    /** Failover timeout. @default 60s */
    failoverTimeout: duration.default('60s'),
    /** Replicas resyncing with a new master at once. @default 1 */
    parallelSyncs: z.number().int().min(1).default(1),
    /** A master refuses writes with fewer connected replicas than this. @default 1 */
    minReplicasToWrite: z.number().int().min(0).default(1),
    /** ... whose replication lag is at most this. @default 10s */
    minReplicasMaxLag: duration.default('10s'),
    /** Memory limit of the redis container; maxmemory is set to 60 % of it (buffers and the AOF rewrite's fork need the rest). @default 1Gi */
    memory: byteQuantity.default('1Gi'),
    maxmemoryPolicy: z
      .enum(['noeviction', 'allkeys-lru', 'allkeys-lfu', 'volatile-lru', 'volatile-lfu', 'volatile-ttl', 'allkeys-random', 'volatile-random'])
      .default('allkeys-lru'),
    /** Persistent volume per pod. @default 10Gi */
    storage: byteQuantity.default('10Gi'),
    storageClass: z.string().default('premium-rwo'),
    /** Secret Manager id of the Redis password. */
    passwordSecret: secretManagerName,
    image: Image.default({ repository: 'docker.io/library/redis', tag: '7.4.2-alpine' }),
    /**
     * The host a secondary region's replicas reach the primary region's group at (port 6379);
     * `{region}` stands for the primary region's key, so a promotion moves it.
     * @default - `<name>-{region}.<namespace>.svc.clusterset.local`: the Service each region exports (GKE multi-cluster Services)
     */
    crossRegionHost: z
      .string()
      .regex(/^([a-z0-9{}]([-a-z0-9{}]*[a-z0-9{}])?\.)*[a-z0-9{}]([-a-z0-9{}]*[a-z0-9{}])?$/, {
        message: 'must be a hostname; {region} stands for the primary region, e.g. cache-{region}.redis.internal',
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    if (r.quorum !== undefined && r.quorum > r.replicas) {
      ctx.addIssue({ code: 'custom', path: ['quorum'], message: `must be <= replicas (${r.replicas})`, input: r.quorum });
    }
    // What RedisSentinel would refuse, said here with the field's path.
    if (r.minReplicasToWrite > r.replicas - 1) {
      ctx.addIssue({ code: 'custom', path: ['minReplicasToWrite'], message: `must be <= replicas - 1 (${r.replicas - 1})`, input: r.minReplicasToWrite });
    }
    if (durationMs(r.minReplicasMaxLag) % 1000 !== 0 || durationMs(r.minReplicasMaxLag) < 1000) {
      ctx.addIssue({
        code: 'custom',
        path: ['minReplicasMaxLag'],
        message: 'must be whole seconds, at least 1s: redis counts it in seconds',
        input: r.minReplicasMaxLag,
      });
    }
    if (durationMs(r.downAfter) < 100) {
      ctx.addIssue({ code: 'custom', path: ['downAfter'], message: 'must be at least 100ms', input: r.downAfter });
    }
    if (durationMs(r.failoverTimeout) <= durationMs(r.downAfter)) {
      ctx.addIssue({ code: 'custom', path: ['failoverTimeout'], message: `must be longer than downAfter (${r.downAfter})`, input: r.failoverTimeout });
    }
    if (sizeKi(r.memory) < 128 * 1024) {
      ctx.addIssue({ code: 'custom', path: ['memory'], message: 'must be at least 128Mi', input: r.memory });
    }
    if (sizeKi(r.storage) < 2 * sizeKi(r.memory)) {
      ctx.addIssue({
        code: 'custom',
        path: ['storage'],
        message: `must be at least twice memory (${r.memory}): an AOF rewrite holds the old and the new file`,
        input: r.storage,
      });
    }
  });

// ---------------------------------------------------------------------------------------
// Platform

export const Routing = z.strictObject({
  /** Share of traffic each region receives, in percent; must name every region and sum to 100. */
  weights: z.record(z.string(), z.number().int().min(0).max(100)).optional(),
  /** The default traffic policy for every service. */
  traffic: TrafficPolicy.default({}),
});

export const GitOps = z.strictObject({
  /** The repository ArgoCD reads `dist/` from. */
  repoURL: z.string().url(),
  targetRevision: z.string().default('main'),
  /** The folder of the rendered manifests in that repository. @default dist */
  path: z.string().default('dist'),
  /** Where the ArgoCD objects live. @default argocd */
  namespace: dnsLabel.default('argocd'),
  /** Sync on every commit (with prune and self-heal); false leaves syncing to an operator. @default true */
  automated: z.boolean().default(true),
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

const uriPrefix = z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, { message: 'must be a URI path starting with "/"' });
/** Rate-limit refills: Envoy refills buckets on a timer, here in whole seconds. */
const refillInterval = duration.refine((d) => durationMs(d) >= 1000 && durationMs(d) % 1000 === 0, {
  message: 'must be whole seconds, at least 1s (e.g. 1s, 10s, 1m)',
});
const bucket = {
  /** Tokens added to each client's bucket every `interval`: the sustained rate (20 every 1s is 1200 a minute). */
  requests: z.number().int().min(1).max(1_000_000),
  /** Refill period. @default 1s */
  interval: refillInterval.default('1s'),
  /** Most tokens a client's bucket holds: what it may send at once after being idle. @default - requests */
  burst: z.number().int().min(1).max(1_000_000).optional(),
};

/** A limit of its own on some paths or hosts (docs/traffic.md, "Per-client rate limits at the gateway"). */
export const GatewayRateLimitOverride = z.strictObject({
  ...bucket,
  /** Hosts (of `ingress.hosts`) it applies on. @default - the hosts of `ingress.rateLimit` */
  hosts: z.array(z.string()).min(1).optional(),
  /** URI prefixes it applies to; on a host, the longest matching prefix picks the limit. @default ['/'] */
  paths: z.array(uriPrefix).min(1).default(['/']),
});

/**
 * Per-client rate limit at the ingress gateway (Envoy local rate limit): a token bucket per
 * client address in each gateway pod, on top of the load balancer's Cloud Armor policy.
 */
export const GatewayRateLimit = z.strictObject({
  ...bucket,
  /** Hosts (of `ingress.hosts`) limited. @default - every ingress host */
  hosts: z.array(z.string()).min(1).optional(),
  /** URI prefixes limited; other paths pass. @default ['/'] */
  paths: z.array(uriPrefix).min(1).default(['/']),
  /** Other limits by name, for some hosts or paths; a request counts against one limit: the longest prefix on its host, an override before this one. @default {} */
  overrides: z.record(dnsLabel, GatewayRateLimitOverride).default({}),
  /** URI prefixes never limited, besides the health-check paths (always exempt). @default [] */
  exemptPaths: z.array(uriPrefix).default([]),
  /** How the gateway tells clients apart. */
  client: z
    .strictObject({
      /**
       * Proxies in front of the gateway appending to X-Forwarded-For: the client is the address this
       * far from the right. The GCP global external Application Load Balancer appends
       * `<client>,<load balancer>`: 2. Fewer keys clients on the load balancer, more lets them
       * choose their own address. Set on the gateway's listeners (xff_num_trusted_hops). @default 2
       */
      trustedHops: z.number().int().min(1).max(10).default(2),
      /** IPv4 clients are keyed by their address masked to this length. @default 32 */
      ipv4PrefixLength: z.number().int().min(8).max(32).default(32),
      /** IPv6 clients are keyed by their address masked to this length: one subscriber holds a /64. @default 64 */
      ipv6PrefixLength: z.number().int().min(16).max(128).default(64),
    })
    .prefault({}),
  /** Clients each gateway pod keeps a bucket for, per host and limit; the least recently seen is forgotten. @default 10000 */
  maxClients: z.number().int().min(100).max(1_000_000).default(10_000),
  /** false is a dry run: the stats count what would be limited, nothing is rejected. @default true */
  enforce: z.boolean().default(true),
  /** X-RateLimit-Limit, -Remaining and -Reset on every response. @default true */
  headers: z.boolean().default(true),
});

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

/** Where the Istio gateways run; their identities and pods are what the access policies admit. */
export const Gateway = z.strictObject({
  namespace: dnsLabel,
  /** Its Kubernetes ServiceAccount: the mTLS principal AuthorizationPolicies admit. */
  serviceAccount: dnsLabel,
  /** Labels of its pods: what NetworkPolicies admit. */
  labels: z.record(z.string(), z.string()),
});

export const Mesh = z.strictObject({
  /** The mesh's trust domain, the first part of every mTLS principal. @default cluster.local */
  trustDomain: z.string().default('cluster.local'),
  /** The ingress gateway exposed services are reached from. */
  ingressGateway: Gateway.default({ namespace: 'istio-ingress', serviceAccount: 'istio-ingressgateway', labels: { istio: 'ingressgateway' } }),
  /** The east-west gateway calls split across regions arrive through (Istio multi-network). */
  eastWestGateway: Gateway.default({ namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway', labels: { istio: 'eastwestgateway' } }),
});

/**
 * An environment per pull request (docs/previews.md): one environment of the platform is
 * rendered as a template whose namespace ArgoCD's pull-request generator relocates to
 * `<namespace>-pr-<number>` for every open pull request carrying `github.labels`, synced from
 * the pull request's head commit and deleted with everything in it when the pull request closes.
 */
export const Previews = z.strictObject({
  /** The environment rendered as the template: one region, one namespace. */
  environment: dnsLabel,
  /** Pull requests of the GitOps repository (`gitops.repoURL`, on GitHub): the rendered `dist/` at their head is what runs. */
  github: z.strictObject({
    /** Only pull requests with all these labels get an environment (who may label is who may deploy). @default - `preview-<platform>` */
    labels: z.array(z.string().min(1)).min(1).optional(),
    /** Secret in the ArgoCD namespace whose key `token` holds a GitHub token that reads pull requests. */
    tokenSecret: dnsLabel,
  }),
  /** How often ArgoCD lists the pull requests. @default 3m */
  requeueAfter: duration.default('3m'),
  /** DNS zone a pull request's hosts are served under: `<first label of the host>-<namespace>-pr-<number>.<domain>`. */
  domain: z.string().regex(/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { message: 'must be a lowercase DNS name such as preview.example.com' }),
  /** Secret (type kubernetes.io/tls) in the gateway's namespace with a certificate for `*.<domain>`. */
  tlsCredential: dnsLabel,
});

/** Rules an environment holds its services to; set per environment in the overlays. */
export const Policy = z.strictObject({
  /** Fewest replicas a service may run (fixed, or the autoscaler's minimum). @default 1 */
  minReplicas: z.number().int().min(1).default(1),
});

export const Namespace = z.strictObject({
  /** Extra labels for the namespace. */
  labels: z.record(z.string(), z.string()).default({}),
});

export const Platform = z
  .strictObject({
    name: dnsLabel,
    description: z.string().optional(),
    project: gcpProject,
    /** The environments; each may have an overlay `overlays/<platform>/<env>.yaml`. */
    environments: z.array(dnsLabel).min(1),
    regions: z.record(dnsLabel, Region).refine((r) => Object.keys(r).length > 0, { message: 'needs at least one region' }),
    namespaces: z.record(dnsLabel, Namespace),
    services: z.record(dnsLabel, Service).default({}),
    redis: z.record(dnsLabel, Redis).default({}),
    jobs: z.record(dnsLabel, Job).default({}),
    routing: Routing.default({ traffic: {} }),
    /** Issuers of end-user tokens services may require (`services.<s>.auth.jwt`). */
    jwtIssuers: z
      .record(
        dnsLabel,
        z.strictObject({
          /** `firebase`: Firebase Authentication of the platform's project; `oidc`: the fields below. */
          type: z.enum(['firebase', 'oidc']),
          issuer: z.string().url().optional(),
          audiences: z.array(z.string()).optional(),
          jwksUri: z.string().url().optional(),
        }),
      )
      .default({}),
    /** HTTPS entry through the GCP global load balancer. @default - no ingress */
    ingress: Ingress.optional(),
    gitops: GitOps,
    mesh: Mesh.default(Mesh.parse({})),
    policy: Policy.default({ minReplicas: 1 }),
    /** An environment per pull request, from one environment as template. @default - none */
    previews: Previews.optional(),
    /** Scraping, alert thresholds and runbooks (docs/observability.md). @default - the seeds' thresholds */
    monitoring: Monitoring.prefault({}),
  })
  .superRefine((p, ctx) => {
    const regions = Object.keys(p.regions);
    const primaries = regions.filter((r) => p.regions[r].role === 'primary');
    if (primaries.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['regions'],
        message: `needs exactly one region with role primary, found ${primaries.length} (${primaries.join(', ') || 'none'})`,
        input: primaries,
      });
    }
    for (const [name, region] of Object.entries(p.regions)) {
      const gcp = region.gcpRegion ?? name;
      region.zones.forEach((zone, i) => {
        if (!zone.startsWith(`${gcp}-`))
          ctx.addIssue({ code: 'custom', path: ['regions', name, 'zones', i], message: `must be a zone of ${gcp}`, input: zone });
      });
      for (const svc of Object.keys(region.services)) {
        if (!(svc in p.services))
          ctx.addIssue({
            code: 'custom',
            path: ['regions', name, 'services', svc],
            message: `is not a service of the platform (allowed: ${Object.keys(p.services).join(', ')})`,
            input: svc,
          });
      }
    }
    const namespaces = Object.keys(p.namespaces);
    const workloads: [string, 'services' | 'redis' | 'jobs', string][] = [
      ...Object.entries(p.services).map(([n, s]) => [n, 'services', s.namespace] as [string, 'services', string]),
      ...Object.entries(p.redis).map(([n, r]) => [n, 'redis', r.namespace] as [string, 'redis', string]),
      ...Object.entries(p.jobs).map(([n, j]) => [n, 'jobs', j.namespace] as [string, 'jobs', string]),
    ];
    for (const [name, section, ns] of workloads) {
      if (!namespaces.includes(ns))
        ctx.addIssue({
          code: 'custom',
          path: [section, name, 'namespace'],
          message: `must be one of the platform's namespaces (${namespaces.join(', ')})`,
          input: ns,
        });
    }
    for (const [name, svc] of Object.entries(p.services)) {
      if (svc.autoscaling && name.length > MAX_AUTOSCALED_NAME) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name],
          message: `is ${name.length} characters: an autoscaled service's name is at most ${MAX_AUTOSCALED_NAME}, because KEDA names its HPA keda-hpa-<name> (a 63-character label)`,
          input: name,
        });
      }
    }
    const targets = [...Object.keys(p.services), ...Object.keys(p.redis).map((r) => `redis:${r}`)];
    for (const [name, svc] of Object.entries(p.services)) {
      svc.dependsOn.forEach((dep, i) => {
        if (!targets.includes(dep) || dep === name) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', name, 'dependsOn', i],
            message: `must name another service or a redis group (allowed: ${targets.filter((t) => t !== name).join(', ')})`,
            input: dep,
          });
        }
      });
      replicaFloorIssues(svc, p.policy.minReplicas).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue, path: ['services', name, ...issue.path] }));
      svc.regions?.forEach((r, i) => {
        if (!regions.includes(r))
          ctx.addIssue({
            code: 'custom',
            path: ['services', name, 'regions', i],
            message: `must be one of the platform's regions (${regions.join(', ')})`,
            input: r,
          });
      });
    }
    for (const [name, issuer] of Object.entries(p.jwtIssuers)) {
      if (issuer.type === 'oidc' && (!issuer.issuer || !issuer.jwksUri || !issuer.audiences?.length)) {
        ctx.addIssue({ code: 'custom', path: ['jwtIssuers', name], message: 'an oidc issuer needs issuer, jwksUri and a non-empty audiences', input: issuer });
      }
    }
    for (const [name, svc] of Object.entries(p.services)) {
      if (svc.auth && !(svc.auth.jwt in p.jwtIssuers)) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'auth', 'jwt'],
          message: `must be one of the platform's jwtIssuers (${Object.keys(p.jwtIssuers).join(', ') || 'none declared'})`,
          input: svc.auth.jwt,
        });
      }
    }
    for (const [name, job] of Object.entries(p.jobs)) {
      if (name in p.services)
        ctx.addIssue({
          code: 'custom',
          path: ['jobs', name],
          message: 'has the name of a service: names become Kubernetes objects and must differ',
          input: name,
        });
      job.regions?.forEach((r, i) => {
        if (!regions.includes(r))
          ctx.addIssue({
            code: 'custom',
            path: ['jobs', name, 'regions', i],
            message: `must be one of the platform's regions (${regions.join(', ')})`,
            input: r,
          });
      });
      job.dependsOn.forEach((dep, i) => {
        if (!targets.includes(dep))
          ctx.addIssue({
            code: 'custom',
            path: ['jobs', name, 'dependsOn', i],
            message: `must name a service or a redis group (allowed: ${targets.join(', ')})`,
            input: dep,
          });
      });
    }
    const weights = p.routing.weights;
    if (weights) {
      const keys = Object.keys(weights);
      for (const k of keys) {
        if (!regions.includes(k))
          ctx.addIssue({ code: 'custom', path: ['routing', 'weights', k], message: `must be one of the platform's regions (${regions.join(', ')})`, input: k });
      }
      for (const r of regions) {
        if (!(r in weights))
          ctx.addIssue({ code: 'custom', path: ['routing', 'weights'], message: `must give a weight to every region: ${r} is missing`, input: weights });
      }
      const sum = Object.values(weights).reduce((a, b) => a + b, 0);
      if (sum !== 100) ctx.addIssue({ code: 'custom', path: ['routing', 'weights'], message: `must sum to 100 (they sum to ${sum})`, input: weights });
    }
    if (p.previews && !p.environments.includes(p.previews.environment)) {
      ctx.addIssue({
        code: 'custom',
        path: ['previews', 'environment'],
        message: `must be one of the platform's environments (${p.environments.join(', ')})`,
        input: p.previews.environment,
      });
    }
    if (p.previews && !githubRepository(p.gitops.repoURL)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gitops', 'repoURL'],
        message: 'must be a GitHub repository (https://github.com/<owner>/<repo>) for previews: ArgoCD lists its pull requests',
        input: p.gitops.repoURL,
      });
    }
    checkPlatformTraffic(p, ctx);
    monitoringIssues(p, ctx);
    rateLimitIssues(p, ctx);
  });

/** Owner and name of a GitHub repository URL, if it is one. */
export function githubRepository(url: string): { owner: string; repo: string } | undefined {
  const m = /^https:\/\/github\.com\/([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+?)(\.git)?\/?$/.exec(url);
  return m ? { owner: m[1], repo: m[2] } : undefined;
}

/** A service's fewest replicas against the environment's `policy.minReplicas`. */
export function replicaFloorIssues(
  svc: { replicas?: number; ports?: unknown[]; autoscaling?: { min: number } },
  minReplicas: number,
): { path: string[]; message: string; input: number }[] {
  // A queue worker scaled to zero serves no requests: an empty queue needs no pod, and KEDA
  // starts one on the first message. The floor protects what serves traffic.
  if (svc.autoscaling?.min === 0 && (svc.ports ?? []).length === 0) return [];
  const why = `must be >= policy.minReplicas (${minReplicas}) in this environment: one pod down would take the service down`;
  if (svc.autoscaling && svc.autoscaling.min < minReplicas) return [{ path: ['autoscaling', 'min'], message: why, input: svc.autoscaling.min }];
  if (!svc.autoscaling && (svc.replicas ?? 2) < minReplicas) return [{ path: ['replicas'], message: why, input: svc.replicas ?? 2 }];
  return [];
}

/** Thresholds must point the way their alert does; the replication lag names a scraped service. */
function monitoringIssues(p: z.output<typeof Platform>, ctx: z.RefinementCtx): void {
  const m = p.monitoring;
  const order = (section: string, worse: 'higher' | 'lower', levels: { warning: number | string; critical: number | string }) => {
    const value = (v: number | string) => (typeof v === 'number' ? v : durationMs(v));
    const [w, c] = [value(levels.warning), value(levels.critical)];
    if (worse === 'higher' ? c < w : c > w) {
      ctx.addIssue({
        code: 'custom',
        path: ['monitoring', section, 'critical'],
        message: `must be ${worse === 'higher' ? '>=' : '<='} warning (${levels.warning}): critical fires at a worse value`,
        input: levels.critical,
      });
    }
  };
  order('errorRate', 'higher', m.errorRate);
  order('healthCheckSuccess', 'lower', m.healthCheckSuccess);
  order('crossRegionLatency', 'higher', m.crossRegionLatency);
  order('cacheHitRate', 'lower', m.cacheHitRate);
  if (m.replicationLag) {
    order('replicationLag', 'higher', m.replicationLag);
    if (!p.services[m.replicationLag.service]?.metrics) {
      const scraped = Object.keys(p.services).filter((k) => p.services[k].metrics);
      ctx.addIssue({
        code: 'custom',
        path: ['monitoring', 'replicationLag', 'service'],
        message: `must name a service that declares metrics (${scraped.join(', ') || 'none does'})`,
        input: m.replicationLag.service,
      });
    }
  }
}

/** What a platform file is written as: defaults may be left out. */
export type PlatformInput = z.input<typeof Platform>;
/** A parsed platform (one environment's view, overlay merged), defaults filled in. */
export type Platform = z.output<typeof Platform>;
export type ServiceSpec = z.output<typeof Service>;
export type RedisSpec = z.output<typeof Redis>;
export type RegionSpec = z.output<typeof Region>;
export type TrafficPolicySpec = z.output<typeof TrafficPolicy>;
export type PortSpec = z.output<typeof Port>;
export type JobSpec = z.output<typeof Job>;
export type ProbeSpec = z.output<typeof Probe>;
export type IngressSpec = z.output<typeof Ingress>;
export type GatewayRateLimitSpec = z.output<typeof GatewayRateLimit>;
export type CanarySpec = z.output<typeof Canary>;
export type EgressSpec = z.output<typeof Egress>;
export type MonitoringSpec = z.output<typeof Monitoring>;
export type SloSpec = z.output<typeof Slo>;
export type ServiceMetricsSpec = z.output<typeof ServiceMetrics>;
