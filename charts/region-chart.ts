import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import type { ClusterPlan } from '../model/plan';
import type { FieldPath } from '../model/merge';
import { formatPath, ProblemError, showValue } from '../model/errors';
import { PropError, propPath } from '../kernel/prop-error';
import type { JobSpec, Platform } from '../model/schema';
import { planService, type ServicePlan } from '../model/plan';
import {
  Autoscaler,
  GcpSecretStore,
  JwtAuthentication,
  MeshNamespace,
  MeshRouting,
  Microservice,
  RedisSentinel,
  ScheduledJob,
  SecretEnv,
  SecretSync,
  IngressGateway,
  STABLE_VERSION,
  GatewayRateLimit,
  RemoteService,
} from '../features';
import {
  absentEndpoint,
  addAccessControl,
  dnsPeers,
  jobEndpoint,
  jwtAuthentications,
  MeshEndpoint,
  redisEndpoint,
  serviceEndpoint,
} from '../features/access/resolve';

import { autoscalerProps } from '../features/autoscaling/resolve';
import { addSyncWaves, LABEL_ENV, LABEL_PLATFORM, LABEL_REGION } from '../kernel/labels';
import { ANNOTATION_REDIS_FENCED, ANNOTATION_REDIS_MASTER, canaryImage, canaryProps, ingressGatewayProps, serviceRouting } from '../features/traffic/resolve';
import { addObservability, alertsLeaveTheCluster, ScrapedWorkload } from '../features/observability/resolve';
import { gatewayRateLimitProps } from '../features/rate-limit/resolve';
import { TEMPLATE_NUMBER } from '../features/previews/previews';
import { redisClient, redisPasswordSecretName, redisSentinelProps, redisSources } from '../features/redis/resolve';
import { imageRef, microserviceProps, scheduledJobProps } from '../features/workloads/resolve';

export interface RegionChartProps {
  readonly cluster: ClusterPlan;
}

/**
 * Everything one region cluster of one environment runs: namespaces, the secret store,
 * every service (workload, routing, autoscaling, secrets) and the Redis groups.
 * Environments and regions are data here: what differs comes from the spec.
 */
export class RegionChart extends Chart {
  public readonly cluster: ClusterPlan;
  /** The workloads the access policies are derived from. */
  private readonly endpoints: MeshEndpoint[] = [];
  /** The stable workload of each service and each Redis group, by name, for the constructs that read them. */
  private readonly services = new Map<string, ScrapedWorkload>();
  private readonly redisGroups = new Map<string, ScrapedWorkload>();

  constructor(scope: Construct, id: string, props: RegionChartProps) {
    const c = props.cluster;
    super(scope, id, {
      disableResourceNameHashes: true,
      labels: {
        'app.kubernetes.io/part-of': c.platform.name,
        'app.kubernetes.io/managed-by': 'meridian',
        [LABEL_PLATFORM]: c.platform.name,
        [LABEL_ENV]: c.env,
        [LABEL_REGION]: c.region,
      },
    });
    this.cluster = c;
    const platform = c.platform;

    for (const [name, ns] of Object.entries(platform.namespaces)) {
      new MeshNamespace(this, `Namespace-${name}`, { name, labels: ns.labels });
    }
    const gateway = ingressGatewayProps(c);
    if (gateway) new IngressGateway(this, 'Ingress', gateway);
    const rateLimit = gatewayRateLimitProps(c);
    if (rateLimit) new GatewayRateLimit(this, 'RateLimit', rateLimit);

    const needsSecrets =
      [...Object.values(c.services), ...Object.values(c.jobs)].some((s) => Object.keys(s.secrets).length > 0) ||
      Object.keys(c.redis).length > 0 ||
      alertsLeaveTheCluster(platform.monitoring);
    const store = needsSecrets
      ? new GcpSecretStore(this, 'SecretStore', { name: `${platform.name}-secret-manager`, project: platform.project, ...secretStoreNamespaces(platform) })
          .storeName
      : undefined;

    for (const [name, svc] of Object.entries(c.services)) {
      this.addService(name, svc, store);
    }

    // The load balancer sends a client of any host to the nearest healthy region: an exposed
    // service that runs elsewhere is routed from this gateway to the regions running it, over
    // the mesh (its Service name here, its DestinationRule's failover order).
    for (const [name, svc] of Object.entries(platform.services)) {
      if (c.services[name] || !svc.expose || !platform.ingress || svc.ports.length === 0) continue;
      new RemoteService(this, `${name}-Remote`, { name, namespace: svc.namespace, ports: svc.ports });
      new MeshRouting(this, `${name}-Routing`, serviceRouting(c, name, planService(platform, svc)));
    }

    for (const [name, job] of Object.entries(c.jobs)) {
      this.addJob(name, job, store);
    }

    for (const [name, redis] of Object.entries(c.redis)) {
      const password = new SecretSync(this, `Redis-${name}-Password`, {
        name: redisPasswordSecretName(name),
        namespace: redis.namespace,
        store: store!,
        keys: { password: { remoteKey: redis.passwordSecret } },
      });
      const sentinel = this.fromSpec(
        redisSources(name),
        () => new RedisSentinel(this, `Redis-${name}`, redisSentinelProps(c, name, redis, password.secretName)),
      );
      sentinel.statefulSet.metadata.addAnnotation(ANNOTATION_REDIS_MASTER, redis.masterRegion);
      if (redis.fencedFor !== undefined) sentinel.statefulSet.metadata.addAnnotation(ANNOTATION_REDIS_FENCED, redis.fencedFor);
      this.endpoints.push(redisEndpoint(name, sentinel, { crossRegion: c.multiRegion && redis.role === 'primary', upstreams: redis.upstreams }));
      this.redisGroups.set(name, sentinel);
    }

    // Services of the platform that run in other regions only: callers here reach them through the east-west gateways.
    for (const [name, svc] of Object.entries(platform.services)) {
      if (!c.services[name]) this.endpoints.push(absentEndpoint(name, svc));
    }
    addAccessControl(this, Object.keys(platform.namespaces), this.endpoints, { ...platform.mesh, dns: dnsPeers(c) });
    // Scraping, rules and dashboards read the workloads above: created after them.
    addObservability(this, c, { services: this.services, redis: this.redisGroups, secretStore: store });

    addSyncWaves(this);
  }

  /**
   * Builds a construct whose props were resolved from the spec: a prop it refuses (PropError)
   * is reported at the spec field that set it (`sources`: prop → field), in the file that set it.
   */
  private fromSpec<T>(sources: Readonly<Record<string, FieldPath>>, build: () => T): T {
    try {
      return build();
    } catch (e) {
      const locate = this.cluster.locate;
      if (!(e instanceof PropError) || !locate) throw e;
      const prop = propPath(e.prop);
      // The longest prop prefix with a known source; what follows it is inside that field.
      for (let n = prop.length; n > 0; n--) {
        const source = sources[formatPath(prop.slice(0, n))];
        if (!source) continue;
        const { file, path } = locate([...source, ...prop.slice(n)]);
        // The text the spec wrote (a query, a schedule), when the construct's message does not show it.
        const written = specText(this.cluster, [...source, ...prop.slice(n)]);
        const value = e.value ?? (written !== undefined && !e.allowed.includes(written) ? written : undefined);
        const message = value === undefined ? e.allowed : `${e.allowed} (got ${showValue(value)})`;
        throw new ProblemError('spec', [{ file, path: formatPath(path), message: `${message} (${e.construct} '${e.id}': ${e.prop})` }]);
      }
      throw e;
    }
  }

  /** An ExternalSecret `<name>-secrets` for a workload's secrets; returns its env mapping. */
  private syncSecrets(
    name: string,
    namespace: string,
    secrets: Record<string, { secret: string; version: string }>,
    store: string | undefined,
  ): Record<string, SecretEnv> {
    const keys = Object.keys(secrets);
    if (keys.length === 0) return {};
    const secretName = `${name}-secrets`;
    new SecretSync(this, `${name}-Secrets`, {
      name: secretName,
      namespace,
      store: store!,
      keys: Object.fromEntries(keys.map((k) => [k, { remoteKey: secrets[k].secret, version: secrets[k].version }])),
    });
    return Object.fromEntries(keys.map((k) => [k, { secretName, key: k }]));
  }

  private addJob(name: string, job: JobSpec, store: string | undefined): void {
    const redis = redisClient(this.cluster, job.namespace, job.dependsOn);
    const secretEnv = { ...this.syncSecrets(name, job.namespace, job.secrets, store), ...redis.secretEnv };
    const cronJob = new ScheduledJob(this, name, scheduledJobProps(this.cluster, name, job, { env: redis.env, secretEnv }));
    this.endpoints.push(jobEndpoint(name, job, cronJob));
  }

  private addService(name: string, svc: ServicePlan, store: string | undefined): void {
    const c = this.cluster;
    const redis = redisClient(c, svc.namespace, svc.dependsOn);
    const secretEnv = { ...this.syncSecrets(name, svc.namespace, svc.secrets, store), ...redis.secretEnv };
    const workloadProps = microserviceProps(c, name, svc, { env: redis.env, secretEnv });
    const workload = new Microservice(this, name, { ...workloadProps, version: STABLE_VERSION });
    this.services.set(name, workload);
    if (svc.canary) new Microservice(this, `${name}-Canary`, canaryProps(workloadProps, svc, imageRef(canaryImage(svc))));
    this.endpoints.push(serviceEndpoint(c, name, svc, { selector: workload.selector, serviceAccount: workload.serviceAccountName }));
    for (const jwt of jwtAuthentications(c, name, svc, workload.selector)) new JwtAuthentication(this, `${name}-Jwt`, jwt);

    if (svc.ports.length > 0) {
      new MeshRouting(this, `${name}-Routing`, serviceRouting(c, name, svc));
    }

    if (svc.autoscaling) {
      const { props, sources } = autoscalerProps(c, name, svc, workload);
      this.fromSpec(sources, () => new Autoscaler(this, `${name}-Autoscaler`, props));
    }
  }
}

/** A string field of the spec as this cluster sees it (its services with the region's changes). */
function specText(c: ClusterPlan, path: FieldPath): string | undefined {
  let o: unknown = path[0] === 'services' ? c.services : c.platform;
  for (const k of path[0] === 'services' ? path.slice(1) : path) {
    if (o === null || typeof o !== 'object') return undefined;
    o = (o as Record<string | number, unknown>)[k];
  }
  return typeof o === 'string' ? o : undefined;
}

/**
 * The namespaces a cluster's secret store admits: the platform's; in a preview cluster, whose
 * template namespace is never deployed, every pull request's `<namespace>-pr-<number>` instead.
 */
function secretStoreNamespaces(platform: Platform): { namespaces: string[]; namespacePatterns: string[] } {
  const suffix = `-pr-${TEMPLATE_NUMBER}`;
  const names = Object.keys(platform.namespaces);
  return {
    namespaces: names.filter((n) => !n.endsWith(suffix)),
    namespacePatterns: names.filter((n) => n.endsWith(suffix)).map((n) => `^${n.slice(0, -suffix.length).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-pr-[0-9]+$`),
  };
}
