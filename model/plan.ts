/**
 * The plan: what each region cluster of an environment runs, decided once.
 *
 * `load.ts` parses and merges the spec; this file answers, once per (platform, environment,
 * region), the questions every later stage used to answer for itself: which region is
 * primary, what role this region plays, whether a service is autoscaled, what traffic policy
 * it ends up with, which Redis groups hold the master here and where the others replicate
 * from, and whether the environment is a pull-request template. The charts, the GitOps chart,
 * the observability catalogue, `promote` and the architecture diagram read these fields
 * instead of re-deriving them.
 */
import { mergeTraffic } from '../features/traffic/rules';
import { previewTemplateNamespace } from '../features/previews/schema';
import type { RolloutPlan } from '../features/gitops/rollout';
import type { JobSpec, Platform, RedisSpec, ServiceSpec, TrafficPolicySpec } from './schema';
import type { FieldPath } from './merge';

export type RegionRole = 'primary' | 'secondary';

/** A service as one region cluster runs it: the spec with the region's differences merged in, and what follows from it. */
export type ServicePlan = ServiceSpec & {
  /** KEDA owns its replica count (it has `autoscaling`): no `replicas` rendered, ArgoCD ignores them. */
  readonly autoscaled: boolean;
  /** The platform's traffic policy with the service's merged over it, section by section. */
  readonly trafficPolicy: TrafficPolicySpec;
  /** Its ingress traffic is split across the regions by weight, so other regions' gateways call it. */
  readonly crossRegion: boolean;
};

/** A Redis group as one region cluster runs it. */
export type RedisPlan = RedisSpec & {
  /** `primary`: this region's group holds the master; `secondary`: it replicates `upstream`. */
  readonly role: RegionRole;
  /** The region whose group holds the master. */
  readonly masterRegion: string;
  /**
   * For a secondary, the hosts of the primary region's pods, by ordinal (one Service per pod):
   * its first pod replicates from one of them that is a replica, never the master.
   */
  readonly upstreams?: readonly string[];
  /** Snapshots to Cloud Storage: set in the primary region only (a secondary's data is the primary's). */
  readonly backup?: RedisSpec['backup'];
  /** In the primary region during a promotion (`promotion.to`): the region the master moves to; the masters here refuse writes. */
  readonly fencedFor?: string;
};

/** What one region cluster of one environment runs. */
export interface ClusterPlan {
  readonly platform: Platform;
  readonly env: string;
  /** The region's key in the spec. */
  readonly region: string;
  readonly gcpRegion: string;
  readonly role: RegionRole;
  /** The environment's primary region (its key in the spec). */
  readonly primaryRegion: string;
  /** The environment runs in more than one region. */
  readonly multiRegion: boolean;
  readonly zones: readonly string[];
  /** The cluster runs native sidecar containers (`regions.<r>.nativeSidecars`): jobs keep Istio's proxy as one, the Cloud SQL Auth Proxy runs as one. */
  readonly nativeSidecars: boolean;
  /** The cluster's name in ArgoCD. */
  readonly cluster: string;
  /** Set when the environment is the platform's preview environment: rendered once as a pull-request template. */
  readonly preview?: PreviewPlan;
  /** The services that run in this region, with the region's differences merged in. */
  readonly services: Readonly<Record<string, ServicePlan>>;
  readonly redis: Readonly<Record<string, RedisPlan>>;
  /**
   * Where a field of the platform, as this cluster sees it, was written: the region's own
   * value (`regions.<region>.services.<name>...`) when it sets one, else the field itself,
   * with the file (platform or overlay) that set it. Absent for plans not built from files.
   */
  readonly locate?: (path: FieldPath) => SpecLocation;
  /** Scheduled jobs that run in this region (by default only in the primary). */
  readonly jobs: Readonly<Record<string, JobSpec>>;
}

/** A field of the spec as written: the file and the path in it. */
export interface SpecLocation {
  readonly file: string;
  readonly path: FieldPath;
}

/** The preview environment (docs/previews.md): the namespace its template renders into. */
export interface PreviewPlan {
  readonly templateNamespace: string;
}

/** One environment of a platform: the merged spec and its region clusters, primary first. */
export interface EnvironmentPlan {
  readonly platform: Platform;
  readonly env: string;
  /** The environment's primary region (its key in the spec). */
  readonly primaryRegion: string;
  readonly preview?: PreviewPlan;
  /** Where its revision comes from and the order its regions sync in. */
  readonly rollout: RolloutPlan;
  readonly clusters: readonly ClusterPlan[];
  /** The files this environment was read from (platform, then overlay if any). */
  readonly files: readonly string[];
}

/** The spec's regions with the primary first, then in the order they are written. */
export function orderedRegions(platform: Platform): string[] {
  return Object.keys(platform.regions).sort((a, b) => Number(platform.regions[b].role === 'primary') - Number(platform.regions[a].role === 'primary'));
}

/** The primary region (the schema requires exactly one). */
export function primaryRegionOf(platform: Platform): string {
  return orderedRegions(platform)[0];
}

/** The preview plan of `env`, if it is the platform's preview environment. */
export function previewPlan(platform: Platform, env: string): PreviewPlan | undefined {
  const templateNamespace = previewTemplateNamespace(platform, env);
  return templateNamespace === undefined ? undefined : { templateNamespace };
}

/** The hosts, one per pod by ordinal, secondary regions replicate a Redis group of the primary region from. */
export function redisCrossRegionHosts(name: string, redis: RedisSpec, primaryRegion: string): string[] {
  const pattern = (redis.crossRegionHost ?? `${name}-{region}-{ordinal}.${redis.namespace}.svc.cluster.local`).replace(/\{region\}/g, primaryRegion);
  return Array.from({ length: redis.replicas }, (_, i) => pattern.replace(/\{ordinal\}/g, String(i)));
}

/** A service as `platform` runs it in a region: the decisions every stage reads. */
export function planService(platform: Platform, svc: ServiceSpec): ServicePlan {
  const trafficPolicy = mergeTraffic(platform.routing.traffic, svc.traffic);
  return {
    ...svc,
    autoscaled: svc.autoscaling !== undefined,
    trafficPolicy,
    crossRegion: svc.ports.length > 0 && Boolean(trafficPolicy.splitByRegion && platform.routing.weights),
  };
}

/** The Redis groups as region `region` runs them. */
export function planRedis(platform: Platform, region: string): Record<string, RedisPlan> {
  const masterRegion = primaryRegionOf(platform);
  const role: RegionRole = platform.regions[region].role;
  return Object.fromEntries(
    Object.entries(platform.redis).map(([name, redis]) => [
      name,
      {
        ...redis,
        role,
        masterRegion,
        upstreams: role === 'secondary' ? redisCrossRegionHosts(name, redis, masterRegion) : undefined,
        fencedFor: role === 'primary' ? platform.promotion?.to : undefined,
        // The primary region's group is the one backed up: a secondary holds a copy of it.
        backup: role === 'primary' ? redis.backup : undefined,
      },
    ]),
  );
}
