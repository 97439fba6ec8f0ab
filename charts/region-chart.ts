import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import type { ClusterPlan } from '../model/plan';
import type { FieldPath } from '../model/merge';
import { formatPath, ProblemError, showValue } from '../model/errors';
import { PropError, propPath } from '../kernel/prop-error';
import type { JobSpec, Platform, ProbeSpec } from '../model/schema';
import { planService, type ServicePlan } from '../model/plan';
import {
  Autoscaler,
  cloudSqlProxyContainer,
  firebaseIssuer,
  GcpSecretStore,
  JwtAuthentication,
  MeshNamespace,
  MeshRouting,
  Microservice,
  MicroserviceProbe,
  parseCpu,
  parseDuration,
  parseSize,
  RedisSentinel,
  ScheduledJob,
  SecretEnv,
  SecretSync,
  IngressGateway,
  MicroserviceProps,
  STABLE_VERSION,
  GatewayRateLimit,
  RemoteService,
} from '../features';
import { addAccessControl, MeshEndpoint, redisEndpoint } from '../features/access/resolve';
import { KUBE_DNS, NetworkPeer } from '../features/access/network-policies';
import { redisClientEnv, RedisClientEnv } from '../features/redis/client-env';
import { autoscalerProps } from '../features/autoscaling/resolve';
import { addSyncWaves, LABEL_ENV, LABEL_PLATFORM, LABEL_REGION } from '../kernel/labels';
import { ANNOTATION_REDIS_MASTER, canaryImage, canaryProps, ingressGatewayProps, serviceRouting } from '../features/traffic/resolve';

import { GOOGLE_OIDC, pushAudience, pushServiceAccount, taskPush } from '../features/autoscaling/rules';
import { addObservability, alertsLeaveTheCluster, ScrapedWorkload } from '../features/observability/resolve';
import { gatewayRateLimitProps } from '../features/rate-limit/resolve';
import { TEMPLATE_NUMBER } from '../features/previews/previews';

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
        () =>
          new RedisSentinel(this, `Redis-${name}`, {
            name,
            namespace: redis.namespace,
            image: imageRef(redis.image),
            replicas: redis.replicas,
            quorum: redis.quorum,
            downAfter: parseDuration(redis.downAfter),
            failoverTimeout: parseDuration(redis.failoverTimeout),
            parallelSyncs: redis.parallelSyncs,
            minReplicasToWrite: redis.minReplicasToWrite,
            minReplicasMaxLag: parseDuration(redis.minReplicasMaxLag),
            memory: parseSize(redis.memory),
            maxmemoryPolicy: redis.maxmemoryPolicy,
            storage: parseSize(redis.storage),
            storageClass: redis.storageClass,
            passwordSecret: password.secretName,
            zones: [...c.zones],
            region: c.region,
            role: c.role,
            upstream: redis.upstream,
            crossRegionService: c.multiRegion,
          }),
      );
      sentinel.statefulSet.metadata.addAnnotation(ANNOTATION_REDIS_MASTER, redis.masterRegion);
      this.endpoints.push(redisEndpoint(name, sentinel, { crossRegion: c.multiRegion && redis.role === 'primary', upstream: redis.upstream }));
      this.redisGroups.set(name, sentinel);
    }

    // Services of the platform that run in other regions only: callers here reach them through the east-west gateways.
    for (const [name, svc] of Object.entries(platform.services)) {
      if (c.services[name]) continue;
      this.endpoints.push({
        ref: name,
        name,
        namespace: svc.namespace,
        selector: {},
        serviceAccount: name,
        ports: [],
        hosts: [serviceHost(name, svc.namespace)],
        dependsOn: svc.dependsOn,
        absent: true,
      });
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

  /** The Redis client contract of a workload (features/redis/client-env.ts) for this region's role. */
  private redisClient(namespace: string, dependsOn: readonly string[]): RedisClientEnv {
    const c = this.cluster;
    const names = dependsOn.filter((d) => d.startsWith('redis:')).map((d) => d.slice('redis:'.length));
    const groups = names.map((g) => ({ name: g, namespace: c.redis[g].namespace, passwordSecret: redisPasswordSecretName(g) }));
    // One role per region: every group of a region is primary or secondary with it (model/plan.ts).
    const role = names.length > 0 ? c.redis[names[0]].role : c.role;
    return redisClientEnv(groups, { namespace, region: c.region, role });
  }

  private addJob(name: string, job: JobSpec, store: string | undefined): void {
    const redis = this.redisClient(job.namespace, job.dependsOn);
    const secretEnv = { ...this.syncSecrets(name, job.namespace, job.secrets, store), ...redis.secretEnv };
    const cronJob = new ScheduledJob(this, name, {
      name,
      namespace: job.namespace,
      image: imageRef(job.image),
      schedule: job.schedule,
      timeZone: job.timeZone,
      concurrencyPolicy: job.concurrencyPolicy,
      deadline: parseDuration(job.deadline),
      startingDeadline: parseDuration(job.startingDeadline),
      backoffLimit: job.backoffLimit,
      command: job.command,
      args: job.args,
      cpu: job.resources.cpu,
      memory: parseSize(job.resources.memory),
      ephemeralStorage: parseSize(job.resources.ephemeralStorage),
      env: { ...job.env, ...redis.env },
      notSecretEnv: job.notSecret,
      secretEnv,
      gcpServiceAccount: job.gcpServiceAccount ?? `${name}@${this.cluster.platform.project}.iam.gserviceaccount.com`,
      mesh: this.cluster.nativeSidecars ? 'native-sidecar' : 'outside',
    });
    this.endpoints.push({
      ref: name,
      name,
      namespace: job.namespace,
      selector: cronJob.selector,
      serviceAccount: cronJob.serviceAccount,
      ports: [],
      dependsOn: job.dependsOn,
      egress: job.egress,
      workloadIdentity: true,
    });
  }

  private addService(name: string, svc: ServicePlan, store: string | undefined): void {
    const c = this.cluster;
    const platform = c.platform;
    const portNumber = (portName: string | undefined) => (svc.ports.find((p) => p.name === portName) ?? svc.ports[0]).port;
    const probe = (p: ProbeSpec | undefined): MicroserviceProbe | undefined =>
      p && {
        path: p.path,
        grpc: p.grpc,
        port: portNumber(p.port),
        period: parseDuration(p.period),
        failureThreshold: p.failureThreshold,
        timeout: parseDuration(p.timeout),
      };

    const redis = this.redisClient(svc.namespace, svc.dependsOn);
    const secretEnv = { ...this.syncSecrets(name, svc.namespace, svc.secrets, store), ...redis.secretEnv };

    const scaling = svc.autoscaling;
    const workloadProps: MicroserviceProps = {
      name,
      namespace: svc.namespace,
      image: imageRef(svc.image),
      ports: svc.ports,
      command: svc.command,
      args: svc.args,
      resources: {
        cpu: parseCpu(svc.resources.cpu),
        cpuLimit: svc.resources.cpuLimit ? parseCpu(svc.resources.cpuLimit) : undefined,
        memory: parseSize(svc.resources.memory),
        memoryLimit: svc.resources.memoryLimit ? parseSize(svc.resources.memoryLimit) : undefined,
        ephemeralStorage: parseSize(svc.resources.ephemeralStorage),
      },
      readiness: probe(svc.probes.readiness),
      liveness: probe(svc.probes.liveness),
      startup: probe(svc.probes.startup),
      env: { ...svc.env, ...redis.env },
      notSecretEnv: svc.notSecret,
      secretEnv,
      replicas: svc.replicas,
      gcpServiceAccount: svc.gcpServiceAccount ?? `${name}@${platform.project}.iam.gserviceaccount.com`,
      zones: [...c.zones],
      podLabels: { [LABEL_REGION]: c.region },
      sidecars: svc.cloudSql ? [cloudSqlProxyContainer({ ...svc.cloudSql, native: this.cluster.nativeSidecars })] : [],
      writablePaths: svc.writablePaths,
    };
    const workload = new Microservice(this, name, { ...workloadProps, version: STABLE_VERSION });
    this.services.set(name, workload);
    if (svc.canary) new Microservice(this, `${name}-Canary`, canaryProps(workloadProps, svc, imageRef(canaryImage(svc))));
    this.endpoints.push({
      ref: name,
      name,
      namespace: svc.namespace,
      selector: workload.selector,
      serviceAccount: workload.serviceAccountName,
      ports: svc.ports.map((p) => p.port),
      dependsOn: svc.dependsOn,
      exposed: svc.expose !== undefined,
      egress: svc.egress,
      workloadIdentity: true,
      hosts: svc.ports.length > 0 ? [serviceHost(name, svc.namespace)] : [],
      // Every DestinationRule fails over to the other regions (and a split service is called
      // from their gateways): those calls arrive through this region's east-west gateway.
      crossRegion: svc.ports.length > 0 && c.multiRegion && (svc.crossRegion || (svc.trafficPolicy.localityFailover ?? true)),
      privatePaths: metricsOnServedPort(svc),
    });

    if (svc.auth) {
      const issuer = platform.jwtIssuers[svc.auth.jwt];
      new JwtAuthentication(this, `${name}-Jwt`, {
        name,
        namespace: svc.namespace,
        selector: workload.selector,
        issuer:
          issuer.type === 'firebase' ? firebaseIssuer(platform.project) : { issuer: issuer.issuer!, audiences: issuer.audiences!, jwksUri: issuer.jwksUri! },
        publicPaths: svc.auth.publicPaths,
      });
    }
    const pushed = taskPush(svc);
    if (pushed && platform.ingress) {
      // Only the queue's own service account: Google signs tokens for any account that asks.
      new JwtAuthentication(this, `${name}-Jwt`, {
        name,
        namespace: svc.namespace,
        selector: workload.selector,
        issuer: { ...GOOGLE_OIDC, audiences: [pushAudience(pushed.push, svc, platform.ingress.hosts)] },
        requiredClaims: { email: [pushServiceAccount(pushed, platform.project)] },
      });
    }

    if (svc.ports.length > 0) {
      new MeshRouting(this, `${name}-Routing`, serviceRouting(c, name, svc));
    }

    if (scaling) {
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

/** The spec field each prop of a Redis group's RedisSentinel comes from. */
function redisSources(name: string): Record<string, FieldPath> {
  const at = ['redis', name];
  return {
    name: at,
    replicas: [...at, 'replicas'],
    quorum: [...at, 'quorum'],
    parallelSyncs: [...at, 'parallelSyncs'],
    minReplicasToWrite: [...at, 'minReplicasToWrite'],
    minReplicasMaxLag: [...at, 'minReplicasMaxLag'],
    downAfter: [...at, 'downAfter'],
    failoverTimeout: [...at, 'failoverTimeout'],
    memory: [...at, 'memory'],
    storage: [...at, 'storage'],
  };
}

const serviceHost = (name: string, namespace: string) => `${name}.${namespace}.svc.cluster.local`;

/** The metrics path of a service that serves it on one of its routed ports. */
function metricsOnServedPort(svc: ServicePlan): { port: number; paths: string[] }[] {
  const m = svc.metrics;
  if (!m) return [];
  const port = typeof m.port === 'number' ? svc.ports.find((p) => p.port === m.port) : svc.ports.find((p) => p.name === m.port);
  return port ? [{ port: port.port, paths: [m.path] }] : [];
}

/** Where the cluster's pods send DNS queries (`regions.<r>.dns`). */
function dnsPeers(c: ClusterPlan): NetworkPeer[] | undefined {
  const dns = c.platform.regions[c.region].dns;
  if (!dns) return undefined;
  const peers: NetworkPeer[] = dns.provider === 'cloud-dns' ? [{ cidr: '169.254.169.254/32' }] : [KUBE_DNS];
  if (dns.nodeLocalCache) peers.push({ cidr: '169.254.20.10/32' });
  return peers;
}

/** The Secret a Redis group's password is synced to (key `password`): its pods and its clients read it. */
export function redisPasswordSecretName(group: string): string {
  return `${group}-redis-password`;
}

/** `repository:tag@digest`, or the parts given. */
export function imageRef(image: { repository: string; tag?: string; digest?: string }): string {
  return `${image.repository}${image.tag ? `:${image.tag}` : ''}${image.digest ? `@${image.digest}` : ''}`;
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
