/**
 * The rule catalogue: recording rules and alerts derived from a cluster's spec. Every alert
 * here has a runbook `docs/runbooks/<alert>.md` and a promtool unit test
 * (test/features/observability/promtool.test.ts); docs/observability.md maps them to the seeds' rows.
 *
 * Sources of the series (all in the cluster, scoped by Managed Prometheus to the namespace of
 * the `Rules` object, or to the cluster for `ClusterRules`):
 * - Istio sidecars (`istio_*`), scraped by the `istio-proxies` PodMonitoring of each namespace;
 * - redis_exporter (`redis_*`), scraped by the `<group>-redis` and `<group>-sentinel` PodMonitorings;
 * - kube-state-metrics (`kube_*`, GKE's managed package) and cAdvisor (`container_*`, the
 *   kubelet scraping of Managed Prometheus);
 * - the services' own metrics, scraped by their PodMonitoring (`job` = service name).
 */
import { Duration } from 'cdk8s';
import type { ClusterPlan, RedisPlan, ServicePlan } from '../../model/plan';
import type { JobSpec, ServiceSpec } from '../../model/schema';
import { AlertingRule, promDuration, RecordingRule, RuleGroup } from './alert-rules';
import { longestGapMinutes } from '../../kernel/cron';
import { MASTER_SET } from '../redis/redis-sentinel';
import { mayEvict } from '../redis/schema';
import { parseDuration } from '../../kernel/units';

/** The `job` label of a Redis group's redis and sentinel series (the PodMonitorings' names). */
export const redisJob = (group: string): string => `${group}-redis`;
export const sentinelJob = (group: string): string => `${group}-sentinel`;
/** The scrape job of a backed-up group's `backup` containers. */
export const redisBackupJob = (group: string): string => `${group}-redis-backup`;
/** How much older than its interval the last successful backup may be before RedisBackupStale fires: retries, a slow upload, a failover moving the snapshot taker. */
export const BACKUP_STALE_MARGIN = Duration.minutes(30);
/** The PodMonitoring of the Istio sidecars in each namespace (its `job` label). */
export const ISTIO_SCRAPE = 'istio-proxies';
/**
 * The series label Meridian's scrapes copy from the pod's `meridian.dev/region` label
 * (PodMonitoring `targetLabels.fromPod`). GMP's own `cluster` label holds the GKE cluster's
 * name, which Meridian does not choose (prometheus-engine pod_config.go forces it from the
 * collector), so a query across the project tells clusters apart by this one.
 */
export const REGION_LABEL = 'region';

/**
 * Matchers for the sidecar series of one namespace of one region's cluster, on labels
 * Meridian itself attaches: the PodMonitoring's name (`job`) and namespace, and the pod's region.
 */
export function sidecarSeries(namespace: string, region: string): string {
  return `job="${ISTIO_SCRAPE}",namespace="${namespace}",${REGION_LABEL}="${region}"`;
}

/** The series label the sidecars' scrape copies from the pod's `app` label (the service's name). */
export const APP_LABEL = 'app';
/**
 * Envoy's count of the upgraded (WebSocket) connections open on an HTTP connection manager
 * (`http.<prefix>.downstream_cx_upgrades_active`, Envoy's HTTP connection manager statistics).
 * Istio exports it only from pods whose ProxyConfig includes it (`proxyStatsMatcher`).
 */
export const OPEN_STREAMS_STAT = 'downstream_cx_upgrades_active';
export const OPEN_STREAMS_METRIC = `envoy_http_${OPEN_STREAMS_STAT}`;

/**
 * The WebSocket connections open on a workload's pods in one region's cluster, over the
 * project's global endpoint (see sidecarSeries); 0 when the pods are scraped but hold none,
 * nothing when nothing is scraped.
 */
export function openStreamsQuery(region: string, workload: string, namespace: string): string {
  const scrape = sidecarSeries(namespace, region);
  return `sum(${OPEN_STREAMS_METRIC}{${scrape},${APP_LABEL}="${workload}"}) or 0 * sum(up{${scrape},${APP_LABEL}="${workload}"})`;
}

/** The ClusterPodMonitoring of KEDA's operator (its `job` label). */
export const KEDA_SCRAPE = 'keda-operator';
/** The PodMonitoring of the ingress gateway in its namespace (its `job` label). */
export const GATEWAY_SCRAPE = 'istio-ingressgateway';
/** KEDA names the HPA it creates for a ScaledObject `keda-hpa-<name>`. */
export const kedaHpa = (service: string): string => `keda-hpa-${service}`;

/** Windows of the multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5). */
export const SLO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;
const BURN_RATE_ALERTS = [
  {
    severity: 'critical' as const,
    for: Duration.minutes(2),
    pairs: [
      { long: '1h', short: '5m', factor: 14.4 },
      { long: '6h', short: '30m', factor: 6 },
    ],
  },
  {
    severity: 'warning' as const,
    for: Duration.minutes(15),
    pairs: [
      { long: '1d', short: '2h', factor: 3 },
      { long: '3d', short: '6h', factor: 1 },
    ],
  },
];
/** The SLO window the burn-rate factors are computed for. */
const SLO_DAYS = 30;

/** A number as PromQL reads it, without floating-point noise (0.0144, not 0.014400000000000001). */
export function num(x: number): string {
  return String(Number(x.toPrecision(12)));
}

const seconds = (d: string) => parseDuration(d).toSeconds();
const millis = (d: string) => parseDuration(d).toMilliseconds();

/** Istio's server-side view of the requests a service receives. */
function served(svc: string, ns: string, extra = ''): string {
  return `reporter="destination",destination_workload_namespace="${ns}",destination_workload="${svc}"${extra}`;
}

function ratio(numerator: string, denominator: string): string {
  return `${numerator}\n/\n${denominator}`;
}

/** Whether a service serves WebSockets: long-lived streams opened by an HTTP upgrade (answered 101). */
export function streams(svc: ServiceSpec): boolean {
  return svc.ports.some((p) => p.protocol === 'websocket');
}

/** Whether a service serves HTTP (or gRPC) requests Istio can count. */
export function servesRequests(svc: ServiceSpec): boolean {
  return svc.ports.some((p) => p.protocol !== 'tcp');
}

export function serviceRuleGroups(name: string, svc: ServicePlan, c: ClusterPlan): RuleGroup[] {
  const m = c.platform.monitoring;
  const ns = svc.namespace;
  const labels = { service: name };
  const groups: RuleGroup[] = [];
  const records: RecordingRule[] = [];
  const alerts: AlertingRule[] = [];
  const where = `${name} in ${c.region}`;

  if (servesRequests(svc)) {
    const total = (w: string) => `sum by (namespace) (rate(istio_requests_total{${served(name, ns)}}[${w}]))`;
    records.push(
      { record: 'service:requests:rate5m', expr: total('5m'), labels },
      {
        record: 'service:request_errors:ratio_rate5m',
        expr: ratio(`sum by (namespace) (rate(istio_requests_total{${served(name, ns, `,response_code=~"${m.errorRate.codes}"`)}}[5m]))`, total('5m')),
        labels,
      },
      ...[50, 95, 99].map((q) => ({
        record: `service:request_duration_milliseconds:p${q}_rate5m`,
        expr: `histogram_quantile(0.${q}, sum by (namespace, le) (rate(istio_request_duration_milliseconds_bucket{${served(name, ns)}}[5m])))`,
        labels,
      })),
    );
    for (const level of ['warning', 'critical'] as const) {
      alerts.push({
        alert: 'ServiceErrorRateHigh',
        expr: `100 * service:request_errors:ratio_rate5m{service="${name}"} > ${num(m.errorRate[level])}`,
        for: parseDuration(m.errorRate.for),
        severity: level,
        labels,
        summary: `${where}: more than ${num(m.errorRate[level])} % of requests fail`,
        description: `More than ${num(m.errorRate[level])} % of the requests ${name} received in ${c.region} over 5 minutes were answered with a status matching ${m.errorRate.codes}, for ${m.errorRate.for}.`,
      });
    }
  }

  if (streams(svc)) {
    // Upgrades the service accepts (101) against those that fail (5xx): Istio records an
    // accepted WebSocket at its close, a failed upgrade at once. Plain requests on the same
    // port answered 5xx count as failures too: no label tells them from upgrades.
    const opens = (extra: string) => `sum by (namespace) (rate(istio_requests_total{${served(name, ns, extra)}}[5m]))`;
    records.push({
      record: 'service:stream_connect_failures:ratio_rate5m',
      expr: ratio(opens(',response_code=~"5.."'), `(\n${opens(',response_code=~"101|5.."')}\n)`),
      labels,
    });
    for (const level of ['warning', 'critical'] as const) {
      alerts.push({
        alert: 'StreamConnectFailures',
        expr: `100 * service:stream_connect_failures:ratio_rate5m{service="${name}"} > ${num(m.errorRate[level])}`,
        for: parseDuration(m.errorRate.for),
        severity: level,
        labels,
        summary: `${where}: more than ${num(m.errorRate[level])} % of stream connections fail`,
        description: `Of the WebSocket upgrades ${name} answered in ${c.region} over 5 minutes, more than ${num(m.errorRate[level])} % failed with a 5xx instead of 101 Switching Protocols, for ${m.errorRate.for}: clients cannot open their streams.`,
      });
    }
  }

  // The replicas passing their readiness probe: Kubernetes' own health checks.
  records.push({
    record: 'service:health_check_success:ratio',
    expr: ratio(
      `sum by (namespace) (kube_deployment_status_replicas_available{deployment="${name}"})`,
      `sum by (namespace) (kube_deployment_status_replicas{deployment="${name}"})`,
    ),
    labels,
  });
  for (const level of ['warning', 'critical'] as const) {
    alerts.push({
      alert: 'HealthCheckSuccessLow',
      expr: `100 * service:health_check_success:ratio{service="${name}"} < ${num(m.healthCheckSuccess[level])}`,
      for: parseDuration(m.healthCheckSuccess.for),
      severity: level,
      labels,
      summary: `${where}: fewer than ${num(m.healthCheckSuccess[level])} % of replicas pass their health checks`,
      description: `Fewer than ${num(m.healthCheckSuccess[level])} % of the replicas of ${name} in ${c.region} have been available (readiness probe passing) for ${m.healthCheckSuccess.for}.`,
    });
  }

  const lag = m.replicationLag;
  if (lag && lag.service === name) {
    records.push({ record: 'service:replication_lag_seconds:max', expr: `max by (namespace) (${lag.metric}{job="${name}"})`, labels });
    for (const level of ['warning', 'critical'] as const) {
      alerts.push({
        alert: 'ReplicationLagHigh',
        expr: `service:replication_lag_seconds:max{service="${name}"} > ${seconds(lag[level])}`,
        for: parseDuration(lag.for),
        severity: level,
        labels,
        summary: `${where}: data replication lags more than ${lag[level]}`,
        description: `${lag.metric} reported by ${name} in ${c.region} has been above ${lag[level]} for ${lag.for}: reads in the other regions are that stale.`,
      });
    }
  }

  if (svc.autoscaled) {
    const hpa = `namespace="${ns}",horizontalpodautoscaler="${kedaHpa(name)}"`;
    records.push(
      { record: 'service:replicas:current', expr: `max by (namespace) (kube_horizontalpodautoscaler_status_current_replicas{${hpa}})`, labels },
      { record: 'service:replicas:desired', expr: `max by (namespace) (kube_horizontalpodautoscaler_status_desired_replicas{${hpa}})`, labels },
      { record: 'service:replicas:max', expr: `max by (namespace) (kube_horizontalpodautoscaler_spec_max_replicas{${hpa}})`, labels },
      {
        record: 'service:cpu_usage:ratio_requests',
        expr: ratio(
          `sum by (namespace) (rate(container_cpu_usage_seconds_total{namespace="${ns}",container="${name}"}[5m]))`,
          `sum by (namespace) (kube_pod_container_resource_requests{namespace="${ns}",container="${name}",resource="cpu"})`,
        ),
        labels,
      },
    );
  }

  groups.push({ name: `${name}.records`, interval: Duration.seconds(30), rules: records });
  groups.push({ name: `${name}.alerts`, interval: Duration.seconds(30), rules: alerts });
  const objectives = svc.slo ? serviceObjectives(name, svc, c) : [];
  if (objectives.length > 0) groups.push(sloGroup(name, c, objectives, {}, `${name}.slo`));
  return groups;
}

interface Objective {
  /** `availability`, `latency-p95` */
  readonly slo: string;
  /** Percent of good requests, e.g. 99.9 */
  readonly target: number;
  readonly alert: string;
  /** Ratio of bad requests over a window. */
  readonly errors: (window: string) => string;
  readonly what: string;
}

/**
 * Whether a service's availability is measured at the ingress gateway: it is exposed through
 * the platform's ingress, so its users' requests pass the gateway, which also answers the ones
 * that never reach a pod (no healthy upstream, connect failures, timeouts).
 */
export function availabilityAtEdge(svc: ServicePlan, c: ClusterPlan): boolean {
  return svc.expose !== undefined && c.platform.ingress !== undefined && servesRequests(svc);
}

/**
 * The ingress gateway's view of the requests it sends to a service: its Envoy reports them as
 * the source (`reporter="source"`), in its own namespace, scraped by the gateway's
 * PodMonitoring. The service is named by `destination_service_*`, which Istio's stats filter
 * takes from the upstream cluster's metadata (istio/proxy istio_stats.cc), so a request the
 * gateway answers itself because no pod is ready (503, response flag UH), or cannot connect
 * (UF, URX), still names the service; `destination_workload` is then "unknown".
 */
function atGateway(svc: string, ns: string, c: ClusterPlan, extra = ''): string {
  const gateway = c.platform.mesh.ingressGateway;
  return `job="${GATEWAY_SCRAPE}",namespace="${gateway.namespace}",reporter="source",source_workload_namespace="${gateway.namespace}",destination_service_namespace="${ns}",destination_service_name="${svc}"${extra}`;
}

function availabilityObjective(name: string, svc: ServiceSpec, c: ClusterPlan, edge: boolean): Objective {
  const ns = svc.namespace;
  const target = svc.slo!.availability!;
  const requests = (extra: string, w: string) =>
    edge
      ? `sum(rate(istio_requests_total{${atGateway(name, ns, c, extra)}}[${w}]))`
      : `sum by (namespace) (rate(istio_requests_total{${served(name, ns, extra)}}[${w}]))`;
  return {
    slo: 'availability',
    target,
    alert: 'ServiceAvailabilityBudgetBurn',
    errors: (w) => ratio(requests(',response_code=~"5.."', w), requests('', w)),
    what: edge
      ? `${num(target)} % of the requests the ingress gateway sends to ${name} answered without a 5xx (by the pods or by the gateway itself)`
      : `${num(target)} % of requests answered without a 5xx`,
  };
}

/**
 * The availability objectives measured at the ingress gateway, for a `ClusterRules`: a
 * namespaced `Rules` only sees series of its own namespace (gmp-scope.ts), and the gateway's
 * series are stored in the gateway's. The records and alerts carry the service's namespace
 * as a rule label, so they route like the service's other alerts.
 */
export function edgeSloRuleGroups(c: ClusterPlan): RuleGroup[] {
  return Object.entries(c.services)
    .filter(([, svc]) => svc.slo?.availability !== undefined && availabilityAtEdge(svc, c))
    .map(([name, svc]) => sloGroup(name, c, [availabilityObjective(name, svc, c, true)], { namespace: svc.namespace }, `${name}.edge-slo`));
}

/** The objectives measured at the service's own pods (availability only when it is not exposed). */
function serviceObjectives(name: string, svc: ServicePlan, c: ClusterPlan): Objective[] {
  const ns = svc.namespace;
  const objectives: Objective[] = [];
  if (svc.slo!.availability !== undefined && !availabilityAtEdge(svc, c)) objectives.push(availabilityObjective(name, svc, c, false));
  for (const [key, bound] of Object.entries(svc.slo!.latency ?? {})) {
    if (bound === undefined) continue;
    const ms = millis(bound);
    // Prometheus 3 writes bucket bounds as floats ("500.0"); Istio's sidecars as integers.
    const le = `le=~"${ms}(\\\\.0)?"`;
    // A WebSocket is recorded once, at its close, answered 101 and lasting the connection's
    // life: not a request whose latency means anything. StreamConnectFailures watches them.
    const requests = streams(svc) ? ',response_code!="101"' : '';
    objectives.push({
      slo: `latency-${key}`,
      target: Number(key.slice(1)),
      alert: 'ServiceLatencyBudgetBurn',
      errors: (w) =>
        `1 - (\n${ratio(
          `sum by (namespace) (rate(istio_request_duration_milliseconds_bucket{${served(name, ns, `,${le}${requests}`)}}[${w}]))`,
          `sum by (namespace) (rate(istio_request_duration_milliseconds_count{${served(name, ns, requests)}}[${w}]))`,
        )}\n)`,
      what: `${key.slice(1)} % of requests served in under ${bound}${requests ? ' (WebSocket streams, answered 101, excluded)' : ''}`,
    });
  }

  return objectives;
}

function sloGroup(name: string, c: ClusterPlan, objectives: Objective[], extra: Record<string, string>, group: string): RuleGroup {
  const rules: (RecordingRule | AlertingRule)[] = [];
  for (const o of objectives) {
    const labels = { ...extra, service: name, slo: o.slo, objective: num(o.target) };
    for (const w of SLO_WINDOWS) rules.push({ record: `slo:sli_error:ratio_rate${w}`, expr: o.errors(w), labels });
    const budget = 1 - o.target / 100;
    const sel = `{service="${name}",slo="${o.slo}"}`;
    for (const burn of BURN_RATE_ALERTS) {
      const expr = burn.pairs
        .map(
          (p) =>
            `(\n  slo:sli_error:ratio_rate${p.long}${sel} > ${num(p.factor * budget)}\nand\n  slo:sli_error:ratio_rate${p.short}${sel} > ${num(p.factor * budget)}\n)`,
        )
        .join('\nor\n');
      const pace = burn.pairs.map((p) => `${p.factor}× over ${p.long} (and ${p.short})`).join(' or ');
      const gone = burn.pairs.map((p) => `${num(SLO_DAYS / p.factor)} days`).join(' / ');
      rules.push({
        alert: o.alert,
        expr,
        for: burn.for,
        severity: burn.severity,
        labels: { ...extra, service: name, slo: o.slo },
        summary: `${name} in ${c.region} is burning its ${o.slo} error budget ${burn.severity === 'critical' ? 'fast' : 'steadily'}`,
        description: `Objective: ${o.what} over ${SLO_DAYS} days. Errors in ${c.region} are consuming the budget at ${pace} the sustainable rate: at that pace it is gone in ${gone}.`,
      });
    }
  }
  return { name: group, interval: Duration.minutes(1), rules };
}

/**
 * A group's rules for its region's role: the primary region's group has one master and
 * sentinels that fail over; a secondary region's nodes are all replicas by design, so what
 * matters there is the stream from the primary region (the link, its silence) and that no
 * node ever becomes a master (docs/redis.md, "Health signals per role").
 */
export function redisRuleGroups(name: string, redis: RedisPlan, c: ClusterPlan): RuleGroup[] {
  const m = c.platform.monitoring;
  const job = `job="${redisJob(name)}"`;
  const sentinels = `job="${sentinelJob(name)}",master_name="${MASTER_SET}"`;
  const labels = { redis: name };
  const where = `Redis ${name} in ${c.region}`;
  const hits = `sum by (namespace) (rate(redis_keyspace_hits_total{${job}}[5m]))`;
  const misses = `sum by (namespace) (rate(redis_keyspace_misses_total{${job}}[5m]))`;
  const records: RecordingRule[] = [
    { record: 'redis:hit_ratio:rate5m', expr: `${hits}\n/\n(${hits} + ${misses})`, labels },
    { record: 'redis:masters:count', expr: `count by (namespace) (redis_instance_info{${job},role="master"})`, labels },
    { record: 'redis:commands:rate5m', expr: `sum by (namespace) (rate(redis_commands_processed_total{${job}}[5m]))`, labels },
    { record: 'redis:connected_clients:sum', expr: `sum by (namespace) (redis_connected_clients{${job}})`, labels },
    { record: 'redis:memory_used:ratio', expr: `max by (namespace, pod) (redis_memory_used_bytes{${job}} / redis_memory_max_bytes{${job}} > 0)`, labels },
    { record: 'redis:evicted_keys:rate5m', expr: `sum by (namespace) (rate(redis_evicted_keys_total{${job}}[5m]))`, labels },
    { record: 'redis:replication_lag_seconds:max', expr: `max by (namespace) (redis_connected_slave_lag_seconds{${job}})`, labels },
  ];
  const maxLag = seconds(redis.minReplicasMaxLag);
  const common: AlertingRule[] = [
    {
      alert: 'RedisDown',
      expr: `max by (namespace, pod) (redis_up{${job}}) == 0\nor\nmax by (namespace, pod) (up{${job}}) == 0`,
      for: Duration.minutes(2),
      severity: 'critical',
      labels,
      summary: `${where}: {{ $labels.pod }} is unreachable`,
      description: `The exporter of {{ $labels.pod }} cannot reach redis, or cannot be scraped, for 2 minutes: the group runs with one node fewer and may have lost its master.`,
    },
    {
      alert: 'RedisMetricsAbsent',
      expr: `absent(up{${job}})`,
      for: Duration.minutes(10),
      severity: 'warning',
      labels,
      summary: `${where}: no metrics are collected`,
      description: `Managed Prometheus has found no target for ${redisJob(name)} for 10 minutes: the redis_exporter sidecar (port http-metrics) is missing, or no pod runs. Every other Redis alert is blind meanwhile.`,
    },
  ];
  const primary: AlertingRule[] = [
    {
      alert: 'RedisNoMaster',
      expr: `count by (namespace) (redis_instance_info{${job}})\nunless\ncount by (namespace) (redis_instance_info{${job},role="master"})`,
      for: Duration.minutes(1),
      severity: 'critical',
      labels,
      summary: `${where} has no master`,
      description: `Every reachable node of ${name} in ${c.region} is a replica, for 1 minute: writes fail until the sentinels promote one.`,
    },
    {
      alert: 'RedisMultipleMasters',
      expr: `count by (namespace) (redis_instance_info{${job},role="master"}) > 1`,
      for: Duration.minutes(1),
      severity: 'critical',
      labels,
      summary: `${where} has more than one master`,
      description: `More than one node of ${name} in ${c.region} has been a master for 1 minute (split brain): writes to the wrong one are lost when they reconcile.`,
    },
    {
      alert: 'RedisSentinelsDisagree',
      expr: `count by (namespace) (count by (namespace, master_address) (redis_sentinel_master_status{${sentinels}})) > 1`,
      for: Duration.minutes(2),
      severity: 'critical',
      labels,
      summary: `${where}: the sentinels name different masters`,
      description: `The sentinels of ${name} in ${c.region} have reported different master addresses for 2 minutes: clients asking different sentinels write to different nodes.`,
    },
    {
      alert: 'RedisFailoverOccurred',
      expr: `count by (namespace) (count by (namespace, master_address) (max_over_time(redis_sentinel_master_status{${sentinels}}[10m]))) > 1`,
      for: Duration.minutes(1),
      severity: 'warning',
      labels,
      summary: `${where}: the sentinels failed over to a new master`,
      description: `The sentinels of ${name} in ${c.region} reported more than one master address in the last 10 minutes: a failover happened. Find out why the old master went away.`,
    },
  ];
  const secondary: AlertingRule[] = [
    {
      alert: 'RedisUpstreamLinkDown',
      expr: `max by (namespace, pod, master_host) (redis_master_link_up{${job}}) == 0`,
      for: Duration.minutes(1),
      severity: 'critical',
      labels,
      summary: `${where}: {{ $labels.pod }} has lost its link to {{ $labels.master_host }}`,
      description: `The replica {{ $labels.pod }} of ${name} in ${c.region} (a secondary region) has not been connected to {{ $labels.master_host }} for 1 minute: it serves reads that grow staler every second, and the region's copy is what a promotion would start from.`,
    },
    {
      alert: 'RedisUpstreamSilent',
      // The master pings its replicas every 10 s (repl-ping-replica-period): 30 s of silence on
      // a link that reports up is a stalled stream.
      expr: `max by (namespace, pod, master_host) (redis_master_last_io_seconds_ago{${job}}) > 30`,
      for: Duration.minutes(1),
      severity: 'warning',
      labels,
      summary: `${where}: {{ $labels.pod }} has received nothing from {{ $labels.master_host }} for over 30 s`,
      description: `The replica {{ $labels.pod }} of ${name} in ${c.region} reports its link up but has received nothing (not even the master's 10-second ping) for more than 30 s, for 1 minute: the cross-region stream is stalled and reads are stale.`,
    },
    {
      alert: 'RedisSecondaryHasMaster',
      expr: `count by (namespace) (redis_instance_info{${job},role="master"}) > 0`,
      for: Duration.minutes(1),
      severity: 'critical',
      labels,
      summary: `${where}: a node of a secondary region is a master`,
      description: `A node of ${name} in ${c.region}, a secondary region, has reported the master role for 1 minute: it no longer replicates the primary region and accepts writes no other region sees (a manual REPLICAOF NO ONE, or a promotion half rolled out).`,
    },
  ];
  const both: AlertingRule[] = [
    {
      alert: 'RedisReplicaEmpty',
      // redis_exporter reports redis_db_keys only for a database holding keys.
      expr: `(
  count by (namespace, pod) (redis_instance_info{${job},role="slave"})
  unless on (namespace, pod)
  count by (namespace, pod) (redis_db_keys{${job}} > 0)
)
and on (namespace)
count by (namespace) (redis_db_keys{${job}} > 0)`,
      for: Duration.minutes(10),
      severity: 'warning',
      labels,
      summary: `${where}: replica {{ $labels.pod }} holds no data`,
      description: `The replica {{ $labels.pod }} of ${name} in ${c.region} has held no key for 10 minutes while another node of the group holds keys: its full sync keeps failing (output buffer limit, disk, password), and it is no copy to fail over or promote to.`,
    },
    {
      alert: 'RedisReplicationLag',
      expr: `max by (namespace, pod, slave_ip) (redis_connected_slave_lag_seconds{${job}}) > ${maxLag}`,
      for: Duration.minutes(2),
      severity: 'warning',
      labels,
      summary: `${where}: replica {{ $labels.slave_ip }} lags more than ${redis.minReplicasMaxLag}`,
      description: `The replica {{ $labels.slave_ip }} of master {{ $labels.pod }} has not acknowledged replication for more than ${redis.minReplicasMaxLag} (min-replicas-max-lag) for 2 minutes: it no longer counts toward min-replicas-to-write, and a failover to it would lose writes.`,
    },
    ...(!redis.holds.includes('cache') ? [] : (['warning', 'critical'] as const)).map((level): AlertingRule => ({
      alert: 'RedisCacheHitRateLow',
      expr: `100 * redis:hit_ratio:rate5m{redis="${name}"} < ${num(m.cacheHitRate[level])}`,
      for: parseDuration(m.cacheHitRate.for),
      severity: level,
      labels,
      summary: `${where}: cache hit rate below ${num(m.cacheHitRate[level])} %`,
      description: `Fewer than ${num(m.cacheHitRate[level])} % of the lookups in ${name} in ${c.region} have hit for ${m.cacheHitRate.for}: the load falls through to the database.`,
    })),
  ];
  // A group holding state (sessions, locks, rate limits) runs noeviction: a full group refuses
  // writes (-OOM) rather than drop a key, and no key may ever be evicted.
  const held = redis.holds.filter((h) => h !== 'cache').join(', ');
  const state: AlertingRule[] = mayEvict(redis)
    ? []
    : [
        {
          alert: 'RedisWritesRejected',
          expr: `sum by (namespace, pod) (increase(redis_errors_total{${job},err="OOM"}[5m])) > 0`,
          for: Duration.minutes(1),
          severity: 'critical',
          labels,
          summary: `${where}: writes refused, memory is full`,
          description: `{{ $labels.pod }} answered writes with -OOM in the last 5 minutes: ${name} holds ${held} under noeviction and has reached maxmemory, so new ${held} cannot be stored. Raise redis.${name}.memory.`,
        },
        {
          alert: 'RedisKeysEvicted',
          expr: `sum by (namespace, pod) (increase(redis_evicted_keys_total{${job}}[5m])) > 0`,
          for: Duration.minutes(1),
          severity: 'critical',
          labels,
          summary: `${where}: keys that must not be evicted were evicted`,
          description: `{{ $labels.pod }} evicted keys in the last 5 minutes, but ${name} holds ${held} and is rendered with noeviction: its running maxmemory-policy is not the rendered one (CONFIG SET?), and ${held} were lost.`,
        },
        {
          alert: 'RedisMemoryNearFull',
          expr: `redis:memory_used:ratio{redis="${name}"} > 0.9`,
          for: Duration.minutes(10),
          severity: 'warning',
          labels,
          summary: `${where}: {{ $labels.pod }} uses more than 90 % of maxmemory`,
          description: `{{ $labels.pod }} has used more than 90 % of its maxmemory for 10 minutes: ${name} holds ${held} under noeviction, so at 100 % it refuses writes (RedisWritesRejected). Raise redis.${name}.memory, or look for keys without a TTL.`,
        },
      ];
  const backup: AlertingRule[] = redis.backup
    ? [
        {
          alert: 'RedisBackupStale',
          // Each pod reports the group's last success as it knows it (its own upload, or the one
          // recorded in the group's data); the newest of them counts, so a pod that is not scraped
          // (the taker lost) does not make it stale. 0 means none yet.
          expr: `time() - max by (namespace) (meridian_redis_backup_last_success_timestamp_seconds{job="${redisBackupJob(name)}"}) > ${seconds(redis.backup.interval) + BACKUP_STALE_MARGIN.toSeconds()}\nor\nabsent(meridian_redis_backup_last_success_timestamp_seconds{job="${redisBackupJob(name)}"})`,
          for: Duration.minutes(15),
          severity: 'critical',
          labels,
          summary: `${where}: no successful backup for over ${redis.backup.interval} + 30m`,
          description: `No snapshot of ${name} in ${c.region} has reached gs://${redis.backup.bucket} intact for longer than its interval (${redis.backup.interval}) plus 30 minutes, or no backup container is scraped: a restore (docs/redis.md, "Runbook: restore") would start from an older snapshot. Read the backup container's log of the snapshot taker (kubectl logs <pod> -c backup).`,
        },
      ]
    : [];
  const alerts = [...common, ...(redis.role === 'primary' ? primary : secondary), ...both, ...state, ...backup];
  return [
    { name: `${name}.redis-records`, interval: Duration.seconds(30), rules: records },
    { name: `${name}.redis-alerts`, interval: Duration.seconds(30), rules: alerts },
  ];
}

/**
 * Whether the ingress gateways of other regions call the service: its ingress traffic is
 * split across the regions by weight, so each region's gateway sends a share of it to the
 * others (through their east-west gateways). Those calls are what CrossRegionLatencyHigh
 * measures; a service nobody calls across regions has no such series.
 */
export function calledAcrossRegions(svc: ServicePlan, c: ClusterPlan): boolean {
  return c.multiRegion && svc.crossRegion && svc.expose !== undefined && c.platform.ingress !== undefined && servesRequests(svc);
}

/**
 * Rules over the ingress gateway's own series, in the gateway's namespace (where Managed
 * Prometheus stores them, scraped by the gateway's PodMonitoring): the latency of the calls
 * it makes to a service's pods in another region's cluster. The gateway is the caller
 * (`reporter="source"`), so the time includes the network between the regions.
 */
export function gatewayRuleGroups(c: ClusterPlan): RuleGroup[] {
  const m = c.platform.monitoring;
  const gateway = c.platform.mesh.ingressGateway;
  const groups: RuleGroup[] = [];
  for (const [name, svc] of Object.entries(c.services)) {
    if (!calledAcrossRegions(svc, c)) continue;
    const labels = { service: name };
    const calls = `reporter="source",source_workload_namespace="${gateway.namespace}",destination_workload_namespace="${svc.namespace}",destination_workload="${name}",destination_cluster!="${c.cluster}"`;
    groups.push({
      name: `${name}.cross-region-records`,
      interval: Duration.seconds(30),
      rules: [
        {
          record: 'service:cross_region_request_duration_milliseconds:p95_rate5m',
          expr: `histogram_quantile(0.95, sum by (namespace, destination_cluster, le) (rate(istio_request_duration_milliseconds_bucket{${calls}}[5m])))`,
          labels,
        },
      ],
    });
    groups.push({
      name: `${name}.cross-region-alerts`,
      interval: Duration.seconds(30),
      rules: (['warning', 'critical'] as const).map((level) => ({
        alert: 'CrossRegionLatencyHigh',
        expr: `service:cross_region_request_duration_milliseconds:p95_rate5m{service="${name}"} > ${millis(m.crossRegionLatency[level])}`,
        for: parseDuration(m.crossRegionLatency.for),
        severity: level,
        labels,
        summary: `${name} in ${c.region}: p95 of calls to ${name} in {{ $labels.destination_cluster }} above ${m.crossRegionLatency[level]}`,
        description: `The 95th percentile of the calls the ingress gateway of ${c.region} sends to ${name} in cluster {{ $labels.destination_cluster }} has been above ${m.crossRegionLatency[level]} for ${m.crossRegionLatency.for}.`,
      })),
    });
  }
  return groups;
}

/**
 * A CronJob's runs, from kube-state-metrics (the Job and CronJob collectors): the last run
 * failed, or the last success is older than two of its longest intervals plus a run's
 * deadline (one missed or failed run is tolerated; two are not). A CronJob names its Jobs
 * `<cronjob>-<scheduled time in minutes>`.
 */
export function cronJobRuleGroups(name: string, job: JobSpec, c: ClusterPlan): RuleGroup[] {
  const ns = job.namespace;
  const runs = `namespace="${ns}",job_name=~"${name}-[0-9]+"`;
  const cron = `namespace="${ns}",cronjob="${name}"`;
  const labels = { cronjob: name };
  const where = `CronJob ${name} in ${c.region}`;
  const intervalMinutes = longestGapMinutes(job.schedule, job.timeZone);
  const staleSeconds = Math.round(2 * intervalMinutes * 60 + seconds(job.deadline) + seconds(job.startingDeadline));
  const stale = promDuration(Duration.seconds(staleSeconds));
  return [
    {
      name: `${name}.cronjob-alerts`,
      interval: Duration.minutes(1),
      rules: [
        {
          alert: 'CronJobFailed',
          // The start of the latest failed run, against the last success (or 0 when there was none).
          expr: `max by (namespace) (\n  kube_job_status_start_time{${runs}}\n  * on (namespace, job_name) group_left ()\n  (kube_job_failed{${runs},condition="true"} == 1)\n)\n> on (namespace)\n(\n  max by (namespace) (kube_cronjob_status_last_successful_time{${cron}})\n  or\n  0 * max by (namespace) (kube_cronjob_created{${cron}})\n)`,
          for: Duration.minutes(1),
          severity: 'warning',
          labels,
          summary: `${where}: its last run failed`,
          description: `The latest Job of CronJob ${name} (namespace ${ns}, ${c.region}) failed after ${job.backoffLimit} retries or its ${job.deadline} deadline, and no run has succeeded since: its work (${job.schedule}, ${job.timeZone}) is not done.`,
        },
        {
          alert: 'CronJobNotSucceeding',
          expr: `time() - max by (namespace) (kube_cronjob_status_last_successful_time{${cron}}) > ${staleSeconds}\nor\n(\n  time() - max by (namespace) (kube_cronjob_created{${cron}}) > ${staleSeconds}\n  unless on (namespace)\n  kube_cronjob_status_last_successful_time{${cron}}\n)`,
          for: Duration.minutes(5),
          severity: 'warning',
          labels,
          summary: `${where}: no successful run for ${stale}`,
          description: `CronJob ${name} (namespace ${ns}, ${c.region}) runs ${job.schedule} (${job.timeZone}) and has not completed a run for ${stale}, twice its longest interval plus a run's deadline: its runs fail, are not started (suspended, missed startingDeadlineSeconds) or never end.`,
        },
      ],
    },
  ];
}

/** Pods and autoscalers of one namespace (kube-state-metrics and cAdvisor). */
export function workloadRuleGroups(namespace: string, c: ClusterPlan): RuleGroup[] {
  const p = c.platform.monitoring.pods;
  const containers = 'container!="",container!="POD"';
  const alerts: AlertingRule[] = [
    {
      alert: 'PodRestartingOften',
      expr: `sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total[1h])) > ${p.restartsPerHour}`,
      for: Duration.minutes(5),
      severity: 'warning',
      summary: `{{ $labels.pod }} in ${c.region}: {{ $labels.container }} restarted more than ${p.restartsPerHour} times in an hour`,
      description: `The container {{ $labels.container }} of {{ $labels.pod }} (namespace ${namespace}, ${c.region}) restarted more than ${p.restartsPerHour} times within the last hour.`,
    },
    {
      alert: 'ContainerMemoryNearLimit',
      expr:
        ratio(
          `100 * max by (namespace, pod, container) (container_memory_working_set_bytes{${containers}})`,
          `max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="memory"})`,
        ) + ` > ${num(p.memory)}`,
      for: parseDuration(p.for),
      severity: 'warning',
      summary: `{{ $labels.pod }} in ${c.region}: {{ $labels.container }} uses more than ${num(p.memory)} % of its memory limit`,
      description: `The working set of {{ $labels.container }} in {{ $labels.pod }} has been above ${num(p.memory)} % of its memory limit for ${p.for}: it is OOM-killed at 100 %.`,
    },
    {
      alert: 'ContainerCpuHigh',
      expr:
        ratio(
          `100 * sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{${containers}}[5m]))`,
          `(\n  max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="cpu"})\nor\n  max by (namespace, pod, container) (kube_pod_container_resource_requests{resource="cpu"})\n)`,
        ) + ` > ${num(p.cpu)}`,
      for: parseDuration(p.for),
      severity: 'warning',
      summary: `{{ $labels.pod }} in ${c.region}: {{ $labels.container }} uses more than ${num(p.cpu)} % of its CPU`,
      description: `{{ $labels.container }} in {{ $labels.pod }} has used more than ${num(p.cpu)} % of its CPU limit (of its request when it has no limit) for ${p.for}: it is throttled or starves its neighbours.`,
    },
  ];
  if (Object.values(c.services).some((s) => s.namespace === namespace && s.autoscaled)) {
    const hpas = 'horizontalpodautoscaler=~"keda-hpa-.+"';
    alerts.push({
      alert: 'AutoscalerAtMaxReplicas',
      expr: `label_replace(\n  max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{${hpas}})\n  >= max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{${hpas}}),\n  "service", "$1", "horizontalpodautoscaler", "keda-hpa-(.+)"\n)`,
      for: parseDuration(c.platform.monitoring.autoscaling.atMaxFor),
      severity: 'warning',
      summary: `{{ $labels.service }} in ${c.region} has run at its maximum replicas for ${c.platform.monitoring.autoscaling.atMaxFor}`,
      description: `KEDA's autoscaler of {{ $labels.service }} (HPA {{ $labels.horizontalpodautoscaler }}) has been at maxReplicas for ${c.platform.monitoring.autoscaling.atMaxFor}: demand above that is not served. Raise autoscaling.max or find the cause of the load.`,
    });
    // KEDA's operator reports on the ScaledObjects of every namespace, with their namespace
    // as its own `namespace` label (kedacore/keda pkg/metricscollector/prommetrics.go).
    alerts.push(
      {
        alert: 'AutoscalerErrors',
        expr: `sum by (namespace, scaledObject) (increase(keda_scaled_object_errors_total{job="${KEDA_SCRAPE}"}[10m])) > 0`,
        for: Duration.minutes(10),
        severity: 'warning',
        summary: `{{ $labels.scaledObject }} in ${c.region}: KEDA fails to read its triggers`,
        description: `KEDA's operator has counted errors for the ScaledObject {{ $labels.scaledObject }} (namespace ${namespace}, ${c.region}) in every 10-minute window for 10 minutes: a trigger's source (Prometheus, Pub/Sub, ...) cannot be read, and the replica count is frozen or at its fallback.`,
      },
      {
        alert: 'AutoscalerPaused',
        expr: `max by (namespace, scaledObject) (keda_scaled_object_paused{job="${KEDA_SCRAPE}"}) == 1`,
        for: Duration.hours(1),
        severity: 'warning',
        summary: `{{ $labels.scaledObject }} in ${c.region}: autoscaling has been paused for an hour`,
        description: `The ScaledObject {{ $labels.scaledObject }} (namespace ${namespace}, ${c.region}) carries autoscaling.keda.sh/paused: its replicas stay where they are whatever the load. Remove the annotation once the reason is gone.`,
      },
    );
  }
  return [{ name: `${namespace}.workloads`, interval: Duration.seconds(30), rules: alerts }];
}

/** Cluster-wide: the CPU requested by every pod, which GKE bills (Autopilot) or provisions nodes for. */
export function clusterRuleGroups(c: ClusterPlan): RuleGroup[] {
  const cost = c.platform.monitoring.cost;
  const requested = 'sum(kube_pod_container_resource_requests{resource="cpu"})';
  return [
    {
      name: `${c.platform.name}.cost`,
      interval: Duration.minutes(1),
      rules: [
        { record: 'cluster:cpu_requested_cores:sum', expr: requested },
        {
          alert: 'RequestedCapacitySpike',
          expr: `100 * (${requested} / ${requested.replace('}', '} offset 1d')} - 1) > ${num(cost.requestGrowth)}`,
          for: parseDuration(cost.for),
          severity: 'warning',
          summary: `${c.cluster}: CPU requested grew more than ${num(cost.requestGrowth)} % in a day`,
          description: `The CPU requested by the pods of ${c.cluster} is more than ${num(cost.requestGrowth)} % above what it was 24 hours earlier, for ${cost.for}: the compute bill grows with it.`,
        },
      ],
    },
  ];
}

/** Cloud Monitoring's PromQL name of a Google Cloud metric: the first `/` becomes `:`, other specials `_` (cloud.google.com/monitoring/promql/promql-mapping). */
export function cloudMetric(type: string): string {
  const slash = type.indexOf('/');
  return `${type.slice(0, slash).replace(/[^A-Za-z0-9_]/g, '_')}:${type.slice(slash + 1).replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The `database_id` Cloud SQL's metrics carry: `<project>:<instance>` of a connection name `<project>:<region>:<instance>`. */
export function cloudSqlDatabaseId(connectionName: string): string {
  const [project, , instance] = connectionName.split(':');
  return `${project}:${instance}`;
}

/**
 * The rules of the environment as a whole, for one `GlobalRules` in the primary region's
 * cluster: Managed Prometheus adds no scope to a GlobalRules, and only a GlobalRules may read
 * Cloud Monitoring metrics (cloud.google.com/stackdriver/docs/managed-prometheus/rules-managed).
 * Every selector names the platform and environment (recorded series) or the project and
 * resource (Cloud Monitoring), since the rule sees every cluster and project of the metrics scope.
 * [] in the other regions, and when nothing applies.
 */
export function globalRuleGroups(c: ClusterPlan): RuleGroup[] {
  const p = c.platform;
  const m = p.monitoring;
  if (!m.rules || c.region !== c.primaryRegion) return [];
  const rules: AlertingRule[] = [];
  const scope = `platform="${p.name}",env="${c.env}"`;
  const where = `${p.name} ${c.env}`;
  const regions = Object.keys(p.regions).length;
  if (c.multiRegion && m.global.healthCheckRegions <= regions) {
    const n = m.global.healthCheckRegions;
    rules.push({
      alert: 'HealthCheckFailingInRegions',
      expr: `count by (service) (100 * service:health_check_success:ratio{${scope}} < ${num(m.healthCheckSuccess.critical)}) >= ${n}`,
      for: parseDuration(m.healthCheckSuccess.for),
      severity: 'critical',
      summary: `${where}: {{ $labels.service }} fails its health checks in ${n} or more regions`,
      description: `Fewer than ${num(m.healthCheckSuccess.critical)} % of the replicas of {{ $labels.service }} have passed their health checks in ${n} or more regions at once for ${m.healthCheckSuccess.for}: failover has few healthy regions left to go to.`,
    });
  }
  const reads = m.global.firestoreReadsPerDay;
  if (reads) {
    const read = `sum(increase(${cloudMetric('firestore.googleapis.com/document/read_count')}{monitored_resource="firestore_instance",project_id="${p.project}"}[1d]))`;
    for (const level of ['warning', 'critical'] as const) {
      rules.push({
        alert: 'FirestoreReadsHigh',
        expr: `${read} > ${num(reads[level])}`,
        for: Duration.minutes(15),
        severity: level,
        summary: `${where}: more than ${num(reads[level])} Firestore reads in a day`,
        description: `Firestore in project ${p.project} served more than ${num(reads[level])} document reads over the last 24 hours: the bill grows with reads, and a loop or a lost cache shows here first.`,
      });
    }
  }
  if (m.global.cloudSqlUp) {
    const instances = [...new Set(Object.values(p.services).flatMap((s) => (s.cloudSql ? [s.cloudSql.instance] : [])))].sort();
    for (const instance of instances) {
      rules.push({
        alert: 'CloudSqlDown',
        expr: `min by (database_id) (${cloudMetric('cloudsql.googleapis.com/database/up')}{monitored_resource="cloudsql_database",database_id="${cloudSqlDatabaseId(instance)}"}) < 1`,
        for: Duration.minutes(5),
        severity: 'critical',
        labels: { database: instance },
        summary: `${where}: Cloud SQL instance ${instance} is down`,
        description: `Cloud SQL reports ${instance} down for 5 minutes: every service connecting through the Cloud SQL Auth Proxy to it fails its queries.`,
      });
    }
  }
  return rules.length === 0 ? [] : [{ name: `${p.name}.global`, interval: Duration.minutes(1), rules }];
}
