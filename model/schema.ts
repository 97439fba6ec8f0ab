/**
 * The one schema of a platform. `platforms/<p>.ts` is written against its input type
 * (`PlatformInput`), each `overlays/<p>/<env>.yaml` is a partial of the same shape merged
 * over it, and the merged result is parsed once into a `Platform` with every default
 * filled in. Defaults live in the schema, not in the charts.
 *
 * Each feature declares its part in `features/<feature>/schema.ts` (shared primitives in
 * `kernel/schema.ts`); this file composes them into a `Service` and a `Platform`, holds the
 * rules that span features, and re-exports the parts so `model` is the one import for them.
 */
import { z } from 'zod';
import { dnsLabel, gcpProject } from '../kernel/schema';
import { isGcpRegion, notGcpRegion, notZoneOf, REGION_SHAPED } from '../kernel/gcp-regions';
import { didYouMean } from '../kernel/did-you-mean';
import { Egress, JwtIssuer, Mesh, Namespace, ServiceAuth } from '../features/access/schema';
import { Autoscaling, autoscalingIssues } from '../features/autoscaling/schema';
import { GitOps, githubRepository, Rollout } from '../features/gitops/schema';
import { Monitoring, monitoringIssues, ServiceMetrics, Slo } from '../features/observability/schema';
import { Previews } from '../features/previews/schema';
import { rateLimitIssues } from '../features/rate-limit/rules';
import { cloudTasksPushIssues } from '../features/autoscaling/rules';
import { Redis, redisClientIssues } from '../features/redis/schema';
import { envSecretIssues, NotSecret } from '../features/secrets/schema';
import { Canary, Expose, Ingress, Routing, TrafficPolicy } from '../features/traffic/schema';
import { checkPlatformTraffic, checkServiceTraffic } from '../features/traffic/rules';
import {
  CloudSql,
  EnvVars,
  Image,
  Job,
  Policy,
  Port,
  probeIssues,
  Probes,
  replicaFloorIssues,
  Resources,
  SecretEnvVars,
  writablePath,
} from '../features/workloads/schema';

export * from '../kernel/schema';
export * from '../features/access/schema';
export * from '../features/autoscaling/schema';
export * from '../features/gitops/schema';
export * from '../features/observability/schema';
export * from '../features/previews/schema';
export * from '../features/rate-limit/schema';
export * from '../features/redis/schema';
export * from '../features/secrets/schema';
export * from '../features/traffic/schema';
export * from '../features/workloads/schema';

// ---------------------------------------------------------------------------------------
// Regions

/**
 * A key of `regions`: a GCP region (`us-east1`), or another name (`eu`) with `gcpRegion`. A
 * region-shaped key must be a GCP region: refused here, as the key, its value is not read, so
 * a misspelt region in an overlay is not asked for the role and zones of a new one.
 */
export const regionKey = dnsLabel.superRefine((name, ctx) => {
  const problem = REGION_SHAPED.test(name) ? notGcpRegion(name) : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem, input: name });
});

export const Region = z.strictObject({
  /** The GCP region the cluster runs in. @default - the region's key */
  gcpRegion: z
    .string()
    .superRefine((name, ctx) => {
      const problem = notGcpRegion(name);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: name });
    })
    .optional(),
  /** Exactly one region of a platform is primary: it owns writes (the Redis master). */
  role: z.enum(['primary', 'secondary']),
  /** Zones of the region the cluster's nodes run in; pods spread across them. */
  zones: z.array(z.string().regex(/^[a-z]+-[a-z]+[0-9]+-[a-z]$/, { message: 'must be a GCP zone such as us-central1-a' })).min(1),
  /**
   * The cluster runs native sidecar containers (init containers with `restartPolicy: Always`;
   * the SidecarContainers feature gate: alpha and off in Kubernetes 1.28, on by default from
   * 1.29). Jobs then keep Istio's proxy as a native sidecar, which stops when the job's
   * container exits; without them a job's pod runs outside the mesh, because a classic proxy
   * would keep it running until its deadline. @default false - the Kubernetes 1.28 target
   */
  nativeSidecars: z.boolean().default(false),
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
  /**
   * Where the cluster's pods send DNS queries, which every NetworkPolicy must let out.
   * `kube-dns`: the kube-dns pods of kube-system (GKE Standard's default). `cloud-dns`: Cloud
   * DNS for GKE (Autopilot's default), answered on the metadata server's address
   * 169.254.169.254. `nodeLocalCache`: NodeLocal DNSCache, which pods query on 169.254.20.10.
   * @default { provider: 'kube-dns', nodeLocalCache: false }
   */
  dns: z
    .strictObject({
      provider: z.enum(['kube-dns', 'cloud-dns']).default('kube-dns'),
      nodeLocalCache: z.boolean().default(false),
    })
    .optional(),
});

// ---------------------------------------------------------------------------------------
// Services

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
    writablePaths: z.array(writablePath).default([]),
    resources: Resources.default(Resources.parse({})),
    probes: Probes.default({}),
    /** Plain configuration; never a secret value (a secret-looking value is refused: see notSecret). */
    env: EnvVars.default({}),
    /** Variables of `env` that look like secrets but are not. @default [] */
    notSecret: NotSecret,
    /** Environment variables whose values come from GCP Secret Manager through External Secrets. */
    secrets: SecretEnvVars.default({}),
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
    cloudSql: CloudSql.optional(),
    /** Overrides of the platform's traffic policy for calls to this service. */
    traffic: TrafficPolicy.default({}),
    /** End-user tokens required on every request, except on `publicPaths`. */
    auth: ServiceAuth.optional(),
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
      if (name in s.env)
        ctx.addIssue({ code: 'custom', path: ['secrets', name], message: 'is also set in env: a variable comes from one place', input: s.env[name] });
    }
    envSecretIssues(s).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));
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
    const sse = s.ports.find((p) => p.protocol === 'sse');
    if (s.slo?.latency && sse) {
      ctx.addIssue({
        code: 'custom',
        path: ['slo', 'latency'],
        message: `cannot be measured on a service with an sse port (${sse.name}): Istio records each event stream once, at its close, as a 200 lasting the stream's life, which no label tells from a request; serve the streams from their own service, or leave latency out`,
        input: s.slo.latency,
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
// Platform

export const Platform = z
  .strictObject({
    name: dnsLabel,
    description: z.string().optional(),
    project: gcpProject,
    /** The environments; each may have an overlay `overlays/<platform>/<env>.yaml`. */
    environments: z.array(dnsLabel).min(1),
    regions: z.record(regionKey, Region).refine((r) => Object.keys(r).length > 0, { message: 'needs at least one region' }),
    namespaces: z.record(dnsLabel, Namespace),
    services: z.record(dnsLabel, Service).default({}),
    redis: z.record(dnsLabel, Redis).default({}),
    jobs: z.record(dnsLabel, Job).default({}),
    routing: Routing.default({ traffic: {} }),
    /** Issuers of end-user tokens services may require (`services.<s>.auth.jwt`). */
    jwtIssuers: z.record(dnsLabel, JwtIssuer).default({}),
    /** HTTPS entry through the GCP global load balancer. @default - no ingress */
    ingress: Ingress.optional(),
    gitops: GitOps,
    /** How a change reaches this environment and its regions (docs/rollout.md). @default - promoted from the environment before it, regions in waves */
    rollout: Rollout.prefault({}),
    mesh: Mesh.default(Mesh.parse({})),
    policy: Policy.default({ minReplicas: 1 }),
    /** An environment per pull request, from one environment as template. @default - none */
    previews: Previews.optional(),
    /** Scraping, alert thresholds and runbooks (docs/observability.md). @default - the seeds' thresholds */
    monitoring: Monitoring.prefault({}),
    /**
     * A promotion under way (docs/redis.md, "Runbook: promote a region"): `meridian promote`
     * step 1 wrote it. The primary region's Redis masters are fenced (they refuse every write)
     * until step 2 moves the master to `to` and removes this field. @default - none
     */
    promotion: z.strictObject({ to: dnsLabel }).optional(),
  })
  .superRefine((p, ctx) => {
    for (const [name, job] of Object.entries(p.jobs)) {
      envSecretIssues(job).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue, path: ['jobs', name, ...issue.path] }));
    }
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
    if (p.promotion !== undefined) {
      const others = regions.filter((r) => p.regions[r].role !== 'primary');
      if (!others.includes(p.promotion.to))
        ctx.addIssue({
          code: 'custom',
          path: ['promotion', 'to'],
          message: `must be a secondary region, the one the master moves to (allowed: ${others.join(', ') || 'none'})`,
          input: p.promotion.to,
        });
    }
    for (const [name, region] of Object.entries(p.regions)) {
      if (!region.gcpRegion && !isGcpRegion(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['regions', name, 'gcpRegion'],
          message: `is required: the key ${name} is not a GCP region name, so the region it runs in must be given`,
          input: undefined,
        });
        continue;
      }
      const gcp = region.gcpRegion ?? name;
      if (!isGcpRegion(gcp)) continue; // reported at gcpRegion
      region.zones.forEach((zone, i) => {
        const problem = notZoneOf(zone, gcp);
        if (problem) ctx.addIssue({ code: 'custom', path: ['regions', name, 'zones', i], message: problem, input: zone });
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
      redisClientIssues(svc, p.redis).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue, path: ['services', name, ...issue.path] }));
      replicaFloorIssues(svc, p.policy.minReplicas).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue, path: ['services', name, ...issue.path] }));
      svc.regions?.forEach((r, i) => {
        if (!regions.includes(r))
          ctx.addIssue({
            code: 'custom',
            path: ['services', name, 'regions', i],
            message: `must be one of the platform's regions${didYouMean(r, regions)} (${regions.join(', ')})`,
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
            message: `must be one of the platform's regions${didYouMean(r, regions)} (${regions.join(', ')})`,
            input: r,
          });
      });
      const outsideMesh = (job.regions ?? [regions.find((r) => p.regions[r].role === 'primary')!]).filter((r) => p.regions[r] && !p.regions[r].nativeSidecars);
      if (job.dependsOn.length > 0 && outsideMesh.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['jobs', name, 'dependsOn'],
          message: `needs the mesh, but the job runs in ${outsideMesh.join(', ')} without native sidecars (regions.<region>.nativeSidecars): there its pod runs outside the mesh, because a classic Istio proxy would keep it running until its deadline, and mesh services admit only mTLS callers; call Google APIs through egress, or run the job where the cluster has native sidecars`,
          input: job.dependsOn,
        });
      }
      job.dependsOn.forEach((dep, i) => {
        if (!targets.includes(dep))
          ctx.addIssue({
            code: 'custom',
            path: ['jobs', name, 'dependsOn', i],
            message: `must name a service or a redis group (allowed: ${targets.join(', ')})`,
            input: dep,
          });
      });
      redisClientIssues(job, p.redis).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue, path: ['jobs', name, ...issue.path] }));
    }
    const weights = p.routing.weights;
    if (weights) {
      const keys = Object.keys(weights);
      for (const k of keys) {
        if (!regions.includes(k))
          ctx.addIssue({
            code: 'custom',
            path: ['routing', 'weights', k],
            message: `must be one of the platform's regions${didYouMean(k, regions)} (${regions.join(', ')})`,
            input: k,
          });
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
    cloudTasksPushIssues(p, ctx);
    monitoringIssues(p, ctx);
    rateLimitIssues(p, ctx);
  });

/** What a platform file is written as: defaults may be left out. */
export type PlatformInput = z.input<typeof Platform>;
/** A parsed platform (one environment's view, overlay merged), defaults filled in. */
export type Platform = z.output<typeof Platform>;
export type ServiceSpec = z.output<typeof Service>;
export type RegionSpec = z.output<typeof Region>;
