/**
 * The one schema of a platform. `platforms/<p>.ts` is written against its input type
 * (`PlatformInput`), each `overlays/<p>/<env>.yaml` is a partial of the same shape merged
 * over it, and the merged result is parsed once into a `Platform` with every default
 * filled in. Defaults live here, not in the charts.
 */
import { z } from 'zod';

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

// ---------------------------------------------------------------------------------------
// Regions

export const Region = z.strictObject({
  /** The GCP region the cluster runs in. @default - the region's key */
  gcpRegion: z.string().regex(/^[a-z]+-[a-z]+[0-9]+$/, { message: 'must be a GCP region such as us-central1' }).optional(),
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
});

// ---------------------------------------------------------------------------------------
// Services

export const Port = z.strictObject({
  /** Port name; Istio picks the protocol from it, so it is prefixed by Meridian (http-, grpc-, tcp-). */
  name: dnsLabel.max(15),
  port: z.number().int().min(1).max(65535),
  /** How the mesh treats the traffic; `websocket` is HTTP with upgrades and no request timeout. */
  protocol: z.enum(['http', 'grpc', 'tcp', 'websocket']).default('http'),
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
  /** Split calls to this service across regions by `routing.weights`. @default false */
  splitByRegion: z.boolean().optional(),
});

export const SecretRef = z.strictObject({
  /** The secret's id in GCP Secret Manager (of the platform's project). */
  secret: secretManagerName,
  /** The secret version. @default latest */
  version: z.string().regex(/^(latest|[0-9]+)$/, { message: 'must be "latest" or a version number' }).default('latest'),
});

export const Image = z.strictObject({
  repository: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)+$/, {
    message: 'must be an image repository such as us-docker.pkg.dev/project/repo/name',
  }),
  tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { message: 'must be a valid image tag' })
    .refine((t) => t !== 'latest', { message: 'must pin a version: "latest" is not allowed' }).optional(),
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, { message: 'must be sha256:<64 hex digits>' }).optional(),
}).refine((i) => i.tag !== undefined || i.digest !== undefined, { message: 'needs a tag or a digest' });

export const Service = z.strictObject({
  /** The namespace the service runs in; one of the platform's namespaces. */
  namespace: dnsLabel,
  image: Image,
  /** Ports it serves; a queue worker has none (no Service, no route). */
  ports: z.array(Port).default([]),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  resources: Resources.default(Resources.parse({})),
  probes: z.strictObject({
    readiness: Probe.optional(),
    liveness: Probe.optional(),
    startup: Probe.optional(),
  }).default({}),
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
  /** Overrides of the platform's traffic policy for calls to this service. */
  traffic: TrafficPolicy.default({}),
}).superRefine((s, ctx) => {
  if (s.replicas !== undefined && s.autoscaling) {
    ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'cannot be set together with autoscaling: remove one', input: s.replicas });
  }
  if (s.autoscaling && s.autoscaling.min > s.autoscaling.max) {
    ctx.addIssue({ code: 'custom', path: ['autoscaling', 'max'], message: `must be >= min (${s.autoscaling.min})`, input: s.autoscaling.max });
  }
  if (s.autoscaling && s.autoscaling.cpuUtilization === undefined && s.autoscaling.requestsPerSecond === undefined) {
    ctx.addIssue({ code: 'custom', path: ['autoscaling'], message: 'needs at least one trigger: cpuUtilization or requestsPerSecond', input: s.autoscaling });
  }
  const names = new Set<string>();
  s.ports.forEach((p, i) => {
    if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: 'is used by another port of this service', input: p.name });
    names.add(p.name);
  });
  for (const [kind, probe] of Object.entries(s.probes)) {
    if (probe?.port !== undefined && !names.has(probe.port)) {
      ctx.addIssue({ code: 'custom', path: ['probes', kind, 'port'], message: `must name one of the service's ports (${[...names].join(', ') || 'none'})`, input: probe.port });
    }
    if (probe && s.ports.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['probes', kind], message: 'needs a port to probe: this service declares none', input: probe });
    }
  }
  for (const name of Object.keys(s.secrets)) {
    if (name in s.env) ctx.addIssue({ code: 'custom', path: ['secrets', name], message: 'is also set in env: a variable comes from one place', input: name });
  }
});

// ---------------------------------------------------------------------------------------
// Redis

export const Redis = z.strictObject({
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
  maxmemoryPolicy: z.enum(['noeviction', 'allkeys-lru', 'allkeys-lfu', 'volatile-lru', 'volatile-lfu', 'volatile-ttl', 'allkeys-random', 'volatile-random']).default('allkeys-lru'),
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
  crossRegionHost: z.string().regex(/^([a-z0-9{}]([-a-z0-9{}]*[a-z0-9{}])?\.)*[a-z0-9{}]([-a-z0-9{}]*[a-z0-9{}])?$/, {
    message: 'must be a hostname; {region} stands for the primary region, e.g. cache-{region}.redis.internal',
  }).optional(),
}).superRefine((r, ctx) => {
  if (r.quorum !== undefined && r.quorum > r.replicas) {
    ctx.addIssue({ code: 'custom', path: ['quorum'], message: `must be <= replicas (${r.replicas})`, input: r.quorum });
  }
  // What RedisSentinel would refuse, said here with the field's path.
  if (r.minReplicasToWrite > r.replicas - 1) {
    ctx.addIssue({ code: 'custom', path: ['minReplicasToWrite'], message: `must be <= replicas - 1 (${r.replicas - 1})`, input: r.minReplicasToWrite });
  }
  if (durationMs(r.minReplicasMaxLag) % 1000 !== 0 || durationMs(r.minReplicasMaxLag) < 1000) {
    ctx.addIssue({ code: 'custom', path: ['minReplicasMaxLag'], message: 'must be whole seconds, at least 1s: redis counts it in seconds', input: r.minReplicasMaxLag });
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
    ctx.addIssue({ code: 'custom', path: ['storage'], message: `must be at least twice memory (${r.memory}): an AOF rewrite holds the old and the new file`, input: r.storage });
  }
});

/** Milliseconds of a `duration` string. */
function durationMs(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  return m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'] : NaN;
}

/** Kibibytes of a `byteQuantity` string. */
function sizeKi(text: string): number {
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti)$/.exec(text);
  return m ? Number(m[1]) * { Ki: 1, Mi: 1024, Gi: 1024 ** 2, Ti: 1024 ** 3 }[m[2] as 'Ki' | 'Mi' | 'Gi' | 'Ti'] : NaN;
}

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
});

export const Namespace = z.strictObject({
  /** Extra labels for the namespace. */
  labels: z.record(z.string(), z.string()).default({}),
});

export const Platform = z.strictObject({
  name: dnsLabel,
  description: z.string().optional(),
  project: gcpProject,
  /** The environments; each may have an overlay `overlays/<platform>/<env>.yaml`. */
  environments: z.array(dnsLabel).min(1),
  regions: z.record(dnsLabel, Region).refine((r) => Object.keys(r).length > 0, { message: 'needs at least one region' }),
  namespaces: z.record(dnsLabel, Namespace),
  services: z.record(dnsLabel, Service).default({}),
  redis: z.record(dnsLabel, Redis).default({}),
  routing: Routing.default({ traffic: {} }),
  gitops: GitOps,
}).superRefine((p, ctx) => {
  const regions = Object.keys(p.regions);
  const primaries = regions.filter((r) => p.regions[r].role === 'primary');
  if (primaries.length !== 1) {
    ctx.addIssue({ code: 'custom', path: ['regions'], message: `needs exactly one region with role primary, found ${primaries.length} (${primaries.join(', ') || 'none'})`, input: primaries });
  }
  for (const [name, region] of Object.entries(p.regions)) {
    const gcp = region.gcpRegion ?? name;
    region.zones.forEach((zone, i) => {
      if (!zone.startsWith(`${gcp}-`)) ctx.addIssue({ code: 'custom', path: ['regions', name, 'zones', i], message: `must be a zone of ${gcp}`, input: zone });
    });
    for (const svc of Object.keys(region.services)) {
      if (!(svc in p.services)) ctx.addIssue({ code: 'custom', path: ['regions', name, 'services', svc], message: `is not a service of the platform (allowed: ${Object.keys(p.services).join(', ')})`, input: svc });
    }
  }
  const namespaces = Object.keys(p.namespaces);
  const workloads: [string, 'services' | 'redis', string][] = [
    ...Object.entries(p.services).map(([n, s]) => [n, 'services', s.namespace] as [string, 'services', string]),
    ...Object.entries(p.redis).map(([n, r]) => [n, 'redis', r.namespace] as [string, 'redis', string]),
  ];
  for (const [name, section, ns] of workloads) {
    if (!namespaces.includes(ns)) ctx.addIssue({ code: 'custom', path: [section, name, 'namespace'], message: `must be one of the platform's namespaces (${namespaces.join(', ')})`, input: ns });
  }
  const targets = [...Object.keys(p.services), ...Object.keys(p.redis).map((r) => `redis:${r}`)];
  for (const [name, svc] of Object.entries(p.services)) {
    svc.dependsOn.forEach((dep, i) => {
      if (!targets.includes(dep) || dep === name) {
        ctx.addIssue({ code: 'custom', path: ['services', name, 'dependsOn', i], message: `must name another service or a redis group (allowed: ${targets.filter((t) => t !== name).join(', ')})`, input: dep });
      }
    });
    svc.regions?.forEach((r, i) => {
      if (!regions.includes(r)) ctx.addIssue({ code: 'custom', path: ['services', name, 'regions', i], message: `must be one of the platform's regions (${regions.join(', ')})`, input: r });
    });
  }
  const weights = p.routing.weights;
  if (weights) {
    const keys = Object.keys(weights);
    for (const k of keys) {
      if (!regions.includes(k)) ctx.addIssue({ code: 'custom', path: ['routing', 'weights', k], message: `must be one of the platform's regions (${regions.join(', ')})`, input: k });
    }
    for (const r of regions) {
      if (!(r in weights)) ctx.addIssue({ code: 'custom', path: ['routing', 'weights'], message: `must give a weight to every region: ${r} is missing`, input: weights });
    }
    const sum = Object.values(weights).reduce((a, b) => a + b, 0);
    if (sum !== 100) ctx.addIssue({ code: 'custom', path: ['routing', 'weights'], message: `must sum to 100, got ${sum}`, input: weights });
  }
});

/** What a platform file is written as: defaults may be left out. */
export type PlatformInput = z.input<typeof Platform>;
/** A parsed platform (one environment's view, overlay merged), defaults filled in. */
export type Platform = z.output<typeof Platform>;
export type ServiceSpec = z.output<typeof Service>;
export type RedisSpec = z.output<typeof Redis>;
export type RegionSpec = z.output<typeof Region>;
export type TrafficPolicySpec = z.output<typeof TrafficPolicy>;
export type PortSpec = z.output<typeof Port>;
export type ProbeSpec = z.output<typeof Probe>;
