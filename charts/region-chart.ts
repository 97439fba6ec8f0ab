import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import type { ClusterSpec } from '../spec/load';
import type { ProbeSpec, RedisSpec, ServiceSpec, TrafficPolicySpec } from '../spec/schema';
import {
  Autoscaler, GcpSecretStore, MeshNamespace, MeshRouting, Microservice, MicroserviceProbe,
  parseCpu, parseDuration, parseSize, PrometheusTrigger, RedisSentinel, SecretSync,
} from './constructs';
import { addSyncWaves, LABEL_ENV, LABEL_PLATFORM, LABEL_REGION } from './labels';

export interface RegionChartProps {
  readonly cluster: ClusterSpec;
}

/**
 * Everything one region cluster of one environment runs: namespaces, the secret store,
 * every service (workload, routing, autoscaling, secrets) and the Redis groups.
 * Environments and regions are data here: what differs comes from the spec.
 */
export class RegionChart extends Chart {
  public readonly cluster: ClusterSpec;

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

    const needsSecrets = Object.values(c.services).some((s) => Object.keys(s.secrets).length > 0) || Object.keys(c.redis).length > 0;
    const store = needsSecrets
      ? new GcpSecretStore(this, 'SecretStore', { name: `${platform.name}-secret-manager`, project: platform.project }).storeName
      : undefined;

    for (const [name, svc] of Object.entries(c.services)) {
      this.addService(name, svc, store);
    }

    const primaryRegion = Object.keys(platform.regions).find((r) => platform.regions[r].role === 'primary');
    const multiRegion = Object.keys(platform.regions).length > 1;
    for (const [name, redis] of Object.entries(c.redis)) {
      const password = new SecretSync(this, `Redis-${name}-Password`, {
        name: `${name}-redis-password`,
        namespace: redis.namespace,
        store: store!,
        keys: { password: { remoteKey: redis.passwordSecret } },
      });
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
        upstream: c.role === 'secondary' ? redisCrossRegionHost(name, redis, primaryRegion!) : undefined,
        exportToFleet: multiRegion,
      });
    }

    addSyncWaves(this);
  }

  private addService(name: string, svc: ServiceSpec, store: string | undefined): void {
    const c = this.cluster;
    const platform = c.platform;
    const portNumber = (portName: string | undefined) => (svc.ports.find((p) => p.name === portName) ?? svc.ports[0]).port;
    const probe = (p: ProbeSpec | undefined): MicroserviceProbe | undefined => p && {
      path: p.path,
      port: portNumber(p.port),
      period: parseDuration(p.period),
      failureThreshold: p.failureThreshold,
      timeout: parseDuration(p.timeout),
    };

    const secretKeys = Object.keys(svc.secrets);
    const secretName = `${name}-secrets`;
    if (secretKeys.length > 0) {
      new SecretSync(this, `${name}-Secrets`, {
        name: secretName,
        namespace: svc.namespace,
        store: store!,
        keys: Object.fromEntries(secretKeys.map((k) => [k, { remoteKey: svc.secrets[k].secret, version: svc.secrets[k].version }])),
      });
    }

    const scaling = svc.autoscaling;
    const workload = new Microservice(this, name, {
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
      env: svc.env,
      secretEnv: Object.fromEntries(secretKeys.map((k) => [k, { secretName, key: k }])),
      replicas: svc.replicas,
      autoscaled: scaling !== undefined,
      minReplicas: scaling?.min,
      gcpServiceAccount: svc.gcpServiceAccount ?? `${name}@${platform.project}.iam.gserviceaccount.com`,
      zones: [...c.zones],
      podLabels: { [LABEL_REGION]: c.region },
    });

    if (svc.ports.length > 0) {
      const traffic = mergeTraffic(platform.routing.traffic, svc.traffic);
      const streaming = svc.ports.some((p) => p.protocol === 'websocket');
      const weights = platform.routing.weights;
      new MeshRouting(this, `${name}-Routing`, {
        name,
        namespace: svc.namespace,
        host: `${name}.${svc.namespace}.svc.cluster.local`,
        http: svc.ports.some((p) => p.protocol !== 'tcp'),
        retries: traffic.retries && {
          attempts: traffic.retries.attempts,
          perTryTimeout: traffic.retries.perTryTimeout ? parseDuration(traffic.retries.perTryTimeout) : undefined,
          retryOn: traffic.retries.retryOn,
        },
        timeout: traffic.timeout && !streaming ? parseDuration(traffic.timeout) : undefined,
        connectionPool: traffic.connectionPool,
        outlierDetection: traffic.outlierDetection && {
          consecutive5xxErrors: traffic.outlierDetection.consecutive5xxErrors,
          interval: traffic.outlierDetection.interval ? parseDuration(traffic.outlierDetection.interval) : undefined,
          baseEjectionTime: traffic.outlierDetection.baseEjectionTime ? parseDuration(traffic.outlierDetection.baseEjectionTime) : undefined,
          maxEjectionPercent: traffic.outlierDetection.maxEjectionPercent,
        },
        subsets: traffic.splitByRegion && weights
          ? Object.entries(weights).map(([region, weight]) => ({ name: region, labels: { [LABEL_REGION]: region }, weight }))
          : undefined,
      });
    }

    if (scaling) {
      const prometheus: PrometheusTrigger[] = [];
      if (scaling.requestsPerSecond !== undefined) {
        prometheus.push({
          name: 'requests-per-second',
          // Istio's server-side request count for this workload in this cluster only:
          // Managed Prometheus is global, so the cluster label keeps regions apart.
          query: `sum(rate(istio_requests_total{cluster="${c.cluster}",reporter="destination",destination_workload_namespace="${svc.namespace}",destination_workload="${name}"}[2m]))`,
          target: scaling.requestsPerSecond,
        });
      }
      new Autoscaler(this, `${name}-Autoscaler`, {
        name,
        namespace: svc.namespace,
        target: workload.name,
        minReplicas: scaling.min,
        maxReplicas: scaling.max,
        cpuUtilization: scaling.cpuUtilization,
        prometheus,
        project: platform.project,
        pollingInterval: parseDuration(scaling.pollingInterval),
        cooldown: parseDuration(scaling.cooldown),
      });
    }
  }
}

/** The host secondary regions replicate a Redis group of the primary region from. */
export function redisCrossRegionHost(name: string, redis: RedisSpec, primaryRegion: string): string {
  return (redis.crossRegionHost ?? `${name}-{region}.${redis.namespace}.svc.clusterset.local`).replace(/\{region\}/g, primaryRegion);
}

/** `repository:tag@digest`, or the parts given. */
export function imageRef(image: { repository: string; tag?: string; digest?: string }): string {
  return `${image.repository}${image.tag ? `:${image.tag}` : ''}${image.digest ? `@${image.digest}` : ''}`;
}

/** A service's traffic policy over the platform's, section by section, field by field. */
export function mergeTraffic(platform: TrafficPolicySpec, service: TrafficPolicySpec): TrafficPolicySpec {
  return {
    retries: platform.retries || service.retries ? { ...platform.retries, ...service.retries } : undefined,
    timeout: service.timeout ?? platform.timeout,
    connectionPool: platform.connectionPool || service.connectionPool ? { ...platform.connectionPool, ...service.connectionPool } : undefined,
    outlierDetection: platform.outlierDetection || service.outlierDetection ? { ...platform.outlierDetection, ...service.outlierDetection } : undefined,
    splitByRegion: service.splitByRegion ?? platform.splitByRegion,
  };
}
