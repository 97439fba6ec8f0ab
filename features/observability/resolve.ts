import { Construct } from 'constructs';
import type { ClusterPlan } from '../../model/plan';
import { AlertRules } from './alert-rules';
import { GrafanaDashboard } from './grafana-dashboard';
import { MetricsScrape } from './metrics-scrape';
import { BACKUP_METRICS_PORT, BACKUP_PORT_NAME, EXPORTER_PORT, SENTINEL_PORT } from '../redis/redis-sentinel';
import { ScrapeAccess } from '../access/scrape-access';
import { parseDuration } from '../../kernel/units';
import { LABEL_REGION } from '../../kernel/labels';
import { autoscalingDashboard, redDashboard, redisDashboard } from './dashboards';
import { AlertRouting } from './alert-routing';
import {
  APP_LABEL,
  clusterRuleGroups,
  cronJobRuleGroups,
  edgeSloRuleGroups,
  GATEWAY_SCRAPE,
  gatewayRuleGroups,
  globalRuleGroups,
  ISTIO_SCRAPE,
  KEDA_SCRAPE,
  REGION_LABEL,
  redisBackupJob,
  redisJob,
  redisRuleGroups,
  sentinelJob,
  serviceRuleGroups,
  workloadRuleGroups,
} from './rules';

export * from './dashboards';
export * from './rules';

/** The redis_exporter sidecar's port in every Redis pod (oliver006/redis_exporter's default). */
export const REDIS_EXPORTER_PORT = { name: 'http-metrics', port: EXPORTER_PORT } as const;
/** Where istio-agent serves the sidecar's metrics merged with Envoy's. */
export const ISTIO_METRICS_PORT = 15020;
/** The PodMonitoring of the east-west gateway in its namespace. */
export const EAST_WEST_SCRAPE = 'istio-eastwestgateway';
/** What istio-agent serves on 15020 `/stats/prometheus`: Istio's standard metrics and Envoy's own. */
export const ISTIO_METRICS = ['istio_*', 'envoy_*'];
/** KEDA's operator metrics port (its controller-runtime metrics server, `--metrics-bind-address=:8080`). */
export const KEDA_METRICS_PORT = 8080;
/** The Rules of the CronJobs of a namespace. */
export const CRONJOB_RULES = 'meridian-cronjobs';
/** The namespace-level Rules (pods, autoscalers) in each namespace. */
export const WORKLOAD_RULES = 'meridian-workloads';

/** Labels that make one notification, and that a critical and a warning of the same alert share. */
const ALERT_IDENTITY = ['alertname', 'platform', 'env', 'region', 'namespace', 'service', 'redis', 'cronjob', 'slo', 'scaledObject'];

/** Whether a cluster's alerts are sent anywhere (then its routing needs credentials from Secret Manager). */
export function alertsLeaveTheCluster(m: ClusterPlan['platform']['monitoring']): boolean {
  return m.rules && (m.routing.critical !== 'none' || m.routing.warning !== 'none');
}

/** A workload the scrape configs select, passed by reference from the chart that made it. */
export interface ScrapedWorkload {
  /** Labels that select its pods. */
  readonly selector: Readonly<Record<string, string>>;
}

/** The workloads of one cluster, by name, as the region chart made them. */
export interface ObservedWorkloads {
  readonly services: ReadonlyMap<string, ScrapedWorkload>;
  readonly redis: ReadonlyMap<string, ScrapedWorkload>;
  /** The ClusterSecretStore the alert routing's credentials are read from; required when alerts leave the cluster (alertsLeaveTheCluster). @default - none */
  readonly secretStore?: string;
}

/**
 * Everything Managed Prometheus and Grafana need for one region cluster, under one
 * `Observability` scope: what to scrape (each service's metrics port, the Redis exporters,
 * the Istio sidecars), the recording and alerting rules, and the dashboards. Built from the
 * cluster's plan and from the workloads the chart made (their pod selectors).
 */
export function addObservability(scope: Construct, c: ClusterPlan, workloads: ObservedWorkloads): Construct {
  const group = new Construct(scope, 'Observability');
  const platform = c.platform;
  const m = platform.monitoring;
  const runbookBaseUrl = m.runbookBaseUrl ?? defaultRunbookBase(platform.gitops.repoURL, platform.gitops.targetRevision);
  const ruleLabels = { platform: platform.name, env: c.env, region: c.region };
  const podLabels = { [LABEL_REGION]: REGION_LABEL };
  // The sidecars' series also say which workload's pod they come from (Envoy's own have no such label).
  const sidecarLabels = { ...podLabels, app: APP_LABEL };
  const workload = (name: string) => workloads.services.get(name) ?? fail(`no workload for service "${name}": the chart passes every service it made`);
  const sentinel = (name: string) => workloads.redis.get(name) ?? fail(`no workload for Redis group "${name}": the chart passes every group it made`);

  const namespaces = [...new Set([...Object.values(c.services), ...Object.values(c.redis)].map((w) => w.namespace))].sort();
  for (const ns of namespaces) {
    new MetricsScrape(group, `Istio-${ns}`, {
      name: ISTIO_SCRAPE,
      namespace: ns,
      // The sidecar injector labels every pod it injects.
      selector: { 'security.istio.io/tlsMode': 'istio' },
      endpoints: [{ port: ISTIO_METRICS_PORT, path: '/stats/prometheus' }],
      podLabels: sidecarLabels,
      metrics: ISTIO_METRICS,
    });
    if (!m.rules) continue;
    new AlertRules(group, `Workloads-${ns}`, { name: WORKLOAD_RULES, namespace: ns, groups: workloadRuleGroups(ns, c), runbookBaseUrl, ruleLabels });
    const scaling = autoscalingDashboard(ns, c);
    if (scaling) new GrafanaDashboard(group, `Autoscaling-${ns}-Dashboard`, { ...scaling, namespace: ns });
  }

  for (const [name, svc] of Object.entries(c.services)) {
    if (svc.metrics) {
      const selector = workload(name).selector;
      new MetricsScrape(group, `${name}-Metrics`, {
        name,
        namespace: svc.namespace,
        selector,
        endpoints: [{ port: svc.metrics.port, path: svc.metrics.path, interval: parseDuration(svc.metrics.interval) }],
        podLabels,
      });
      const port = typeof svc.metrics.port === 'number' ? svc.metrics.port : svc.ports.find((p) => p.name === svc.metrics!.port)!.port;
      new ScrapeAccess(group, `${name}-ScrapeAccess`, { name, namespace: svc.namespace, selector, port, paths: [svc.metrics.path] });
    }
    if (!m.rules) continue;
    new AlertRules(group, `${name}-Rules`, { name, namespace: svc.namespace, groups: serviceRuleGroups(name, svc, c), runbookBaseUrl, ruleLabels });
    new GrafanaDashboard(group, `${name}-Dashboard`, { ...redDashboard(name, svc, c), namespace: svc.namespace });
  }

  for (const [name, redis] of Object.entries(c.redis)) {
    const selector = sentinel(name).selector;
    new MetricsScrape(group, `Redis-${name}-Metrics`, {
      name: redisJob(name),
      namespace: redis.namespace,
      selector,
      endpoints: [{ port: REDIS_EXPORTER_PORT.name, path: '/metrics' }],
      metrics: ['redis_*'],
    });
    // The same exporter reads the pod's sentinel through its multi-target endpoint.
    new MetricsScrape(group, `Redis-${name}-SentinelMetrics`, {
      name: sentinelJob(name),
      namespace: redis.namespace,
      selector,
      endpoints: [{ port: REDIS_EXPORTER_PORT.name, path: '/scrape', params: { target: [`redis://localhost:${SENTINEL_PORT}`] } }],
      metrics: ['redis_*'],
    });
    if (redis.backup) {
      // The backup container's own metrics: when it last uploaded a snapshot Cloud Storage confirmed.
      new MetricsScrape(group, `Redis-${name}-BackupMetrics`, {
        name: redisBackupJob(name),
        namespace: redis.namespace,
        selector,
        endpoints: [{ port: BACKUP_PORT_NAME, path: '/metrics' }],
        metrics: ['meridian_redis_backup_*'],
      });
    }
    new ScrapeAccess(group, `Redis-${name}-ScrapeAccess`, {
      name: redisJob(name),
      namespace: redis.namespace,
      selector,
      port: REDIS_EXPORTER_PORT.port,
      paths: ['/metrics', '/scrape'],
      also: redis.backup ? [{ port: BACKUP_METRICS_PORT, paths: ['/metrics'] }] : [],
    });
    if (!m.rules) continue;
    new AlertRules(group, `Redis-${name}-Rules`, {
      name: redisJob(name),
      namespace: redis.namespace,
      groups: redisRuleGroups(name, redis, c),
      runbookBaseUrl,
      ruleLabels,
    });
    new GrafanaDashboard(group, `Redis-${name}-Dashboard`, { ...redisDashboard(name, c), namespace: redis.namespace });
  }

  if (!m.rules) return group;
  if (alertsLeaveTheCluster(m) && !workloads.secretStore)
    fail('secretStore is required: the alerts of this cluster are routed with credentials from Secret Manager');
  new AlertRouting(group, 'Routing', {
    critical: m.routing.critical,
    warning: m.routing.warning,
    pagerSecret: m.routing.pagerSecret ?? `${platform.name}-alerts-pagerduty`,
    ticketSecret: m.routing.ticketSecret ?? `${platform.name}-alerts-webhook`,
    store: workloads.secretStore ?? '',
    match: { platform: platform.name, env: c.env },
    groupBy: ALERT_IDENTITY,
    inhibitEqual: ALERT_IDENTITY,
  });
  const jobNamespaces = [...new Set(Object.values(c.jobs).map((j) => j.namespace))].sort();
  for (const ns of jobNamespaces) {
    const groups = Object.entries(c.jobs)
      .filter(([, j]) => j.namespace === ns)
      .flatMap(([name, job]) => cronJobRuleGroups(name, job, c));
    new AlertRules(group, `CronJobs-${ns}`, { name: CRONJOB_RULES, namespace: ns, groups, runbookBaseUrl, ruleLabels });
  }
  new AlertRules(group, 'Cluster', { name: `${platform.name}-capacity`, groups: clusterRuleGroups(c), runbookBaseUrl, ruleLabels });
  const global = globalRuleGroups(c);
  if (global.length > 0) {
    // Evaluated once per environment, in the primary region's cluster: the same rule in every
    // region would notify once per region (each cluster's evaluator sends its own alerts).
    new AlertRules(group, 'Global-Rules', {
      name: `${platform.name}-${c.env}-global`,
      global: true,
      groups: global,
      runbookBaseUrl,
      ruleLabels: { platform: platform.name, env: c.env },
    });
  }

  // The gateways' own Envoy (installed by the platform team): what reaches the cluster from
  // the load balancer and from the other regions, and the calls the ingress gateway makes.
  const mesh = platform.mesh;
  if (platform.ingress) {
    new MetricsScrape(group, 'IngressGateway-Metrics', {
      name: GATEWAY_SCRAPE,
      namespace: mesh.ingressGateway.namespace,
      selector: mesh.ingressGateway.labels,
      endpoints: [{ port: ISTIO_METRICS_PORT, path: '/stats/prometheus' }],
      metrics: ISTIO_METRICS,
    });
  }
  if (c.multiRegion) {
    new MetricsScrape(group, 'EastWestGateway-Metrics', {
      name: EAST_WEST_SCRAPE,
      namespace: mesh.eastWestGateway.namespace,
      selector: mesh.eastWestGateway.labels,
      endpoints: [{ port: ISTIO_METRICS_PORT, path: '/stats/prometheus' }],
      metrics: ISTIO_METRICS,
    });
  }
  const gatewayGroups = gatewayRuleGroups(c);
  if (gatewayGroups.length > 0) {
    new AlertRules(group, 'IngressGateway-Rules', {
      name: `${platform.name}-gateway`,
      namespace: mesh.ingressGateway.namespace,
      groups: gatewayGroups,
      runbookBaseUrl,
      ruleLabels,
    });
  }
  // Availability of the exposed services as their users see it: the gateway's series, in its
  // namespace, read by a ClusterRules (a service namespace's Rules cannot see them).
  const edge = edgeSloRuleGroups(c);
  if (edge.length > 0 && platform.ingress) {
    new AlertRules(group, 'Edge-Slo-Rules', { name: `${platform.name}-edge-slo`, groups: edge, runbookBaseUrl, ruleLabels });
  }
  if (Object.values(c.services).some((s) => s.autoscaled)) {
    // KEDA's operator runs in its own namespace and reports on every ScaledObject: one
    // scrape of the cluster, whose series keep the ScaledObject's namespace.
    new MetricsScrape(group, 'Keda-Metrics', {
      name: KEDA_SCRAPE,
      selector: { app: 'keda-operator' },
      endpoints: [{ port: KEDA_METRICS_PORT, path: '/metrics' }],
      metrics: ['keda_*'],
    });
  }
  return group;
}

/** `https://github.com/org/repo.git` at `main` → `https://github.com/org/repo/blob/main/docs/runbooks`. */
export function defaultRunbookBase(repoURL: string, revision: string): string {
  return `${repoURL.replace(/\.git$/, '').replace(/\/$/, '')}/blob/${revision}/docs/runbooks`;
}

function fail(msg: string): never {
  throw new Error(`Observability: ${msg}`);
}
