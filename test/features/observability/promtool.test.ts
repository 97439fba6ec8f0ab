/**
 * Proof of the alert rules with the real promtool. The charts are rendered here (every
 * platform, plus a sample platform with latency and availability objectives), the rule
 * groups of every rendered Rules/ClusterRules object are written as Prometheus rule files,
 * and then:
 * - `promtool check rules` must accept every file;
 * - `promtool test rules` runs, for EVERY alert of every cluster, synthetic series that make
 *   it fire (not before its `for`, then at it) and that stay just below its threshold.
 *   The series and the expected values are derived from the spec's thresholds here, not from
 *   the rule text, so a wrong threshold or selector in a rule fails its test.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { loadAll, loadEnvironments, type ClusterPlan, type EnvironmentPlan, type PlatformInput } from '../../../model';
import { render, type Manifest } from '../../../synth/render';
import { GATEWAY_SCRAPE, ISTIO_SCRAPE, KEDA_SCRAPE, kedaHpa, redisBackupJob, redisJob, sentinelJob } from '../../../features/observability/resolve';
import { scopeExpr, scopeLabels, scopeRuleLabels, type EvaluatorLocation, type RuleKind } from '../../../features/observability/gmp-scope';
import { MASTER_SET } from '../../../features/redis/redis-sentinel';
import { ROOT, tempDir } from '../../helpers';
import { longestGapMinutes } from '../../../kernel/cron';
import { findPromtool, inParallel, runPromtoolAsync, type PromtoolResult } from '../../promtool';
import { REST, samplePlatform } from '../../fixtures/sample';

const PROMTOOL = findPromtool();

/** A platform with the objectives of seed 001 (p95 < 500 ms, 99.9 %), to exercise latency SLOs. */
const SAMPLE_PLATFORM: PlatformInput = samplePlatform({
  rest: { ...REST, autoscaling: { min: 1, max: 4, cpuUtilization: 60 }, slo: { availability: 99.9, latency: { p95: '500ms', p99: '1s' } } },
});

interface RuleDoc {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface GroupDoc {
  name: string;
  interval?: string;
  rules: RuleDoc[];
}
interface RuleFile {
  name: string;
  kind: RuleKind;
  namespace?: string;
  groups: GroupDoc[];
}
/** A rendered PodMonitoring or ClusterPodMonitoring: the `job` of the series it collects. */
interface Scrape {
  kind: string;
  namespace?: string;
  job: string;
}
interface RenderedCluster {
  key: string;
  cluster: ClusterPlan;
  /** Where GMP's rule evaluator of this cluster runs: the labels it scopes rules to. */
  where: EvaluatorLocation;
  files: RuleFile[];
  scrapes: Scrape[];
}

function renderedRules(envs: readonly EnvironmentPlan[]): RenderedCluster[] {
  const byKey = new Map<string, RenderedCluster>();
  for (const env of envs) {
    // An environment without rules (monitoring.rules: false, a pull request's) has none to test.
    if (!env.platform.monitoring.rules) continue;
    for (const cluster of env.clusters) {
      const key = `${env.platform.name}/${env.env}/${cluster.region}`;
      byKey.set(key, {
        key,
        cluster,
        where: { projectId: env.platform.project, location: cluster.gcpRegion, cluster: cluster.cluster },
        files: [],
        scrapes: [],
      });
    }
  }
  for (const f of render(envs).files) {
    const m = f.manifest as Manifest & { spec: { groups: GroupDoc[] } };
    if (m.apiVersion !== 'monitoring.googleapis.com/v1') continue;
    const key = f.path.split('/').slice(0, 3).join('/');
    if (m.kind === 'PodMonitoring' || m.kind === 'ClusterPodMonitoring') {
      byKey.get(key)?.scrapes.push({ kind: m.kind, namespace: m.metadata.namespace, job: m.metadata.name });
      continue;
    }
    if (m.kind !== 'Rules' && m.kind !== 'ClusterRules' && m.kind !== 'GlobalRules') continue;
    if (!byKey.has(key)) throw new Error(`${f.path}: rules rendered for an environment with monitoring.rules false`);
    byKey.get(key)!.files.push({
      name: `${m.kind.toLowerCase()}-${m.metadata.namespace ?? '_cluster'}-${m.metadata.name}.yaml`,
      kind: m.kind,
      namespace: m.metadata.namespace,
      groups: m.spec.groups,
    });
  }
  return [...byKey.values()];
}

function sampleEnvs(): EnvironmentPlan[] {
  const root = tempDir('meridian-sample-');
  try {
    return loadEnvironments({ file: 'platforms/sample.ts', input: SAMPLE_PLATFORM }, root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Fixtures: for each alert, scenarios of synthetic series and what must fire when.

type Severity = 'warning' | 'critical';
type Series = Record<string, string | ((samples: number) => string)>;
interface Firing {
  severity: Severity;
  labels: Record<string, string>;
}
interface Check {
  at: number;
  firing: Firing[];
}
interface Scenario {
  name: string;
  interval?: number;
  series: Series;
  checks: Check[];
}
/** The rules of one alert name for one subject (same labels but severity). */
interface Subject {
  alert: string;
  /** The rule object's kind: what GMP scopes its selectors to. */
  kind: RuleKind;
  namespace?: string;
  labels: Record<string, string>;
  rules: RuleDoc[];
}
type Fixture = (s: Subject, c: ClusterPlan, g: Gmp) => Scenario[];

/**
 * Where series come from, besides the PodMonitorings rendered: GKE's managed collection of
 * kube-state-metrics (`kube_*`, `namespace` the object's) and of the kubelet's cAdvisor
 * (`container_*`, `namespace` the pod's). docs/observability.md, "What the clusters need".
 */
const GKE_JOBS: Record<string, string> = { 'kube-state-metrics': 'kube-state-metrics:8080', kubelet: 'gke-node-1:10250' };

/**
 * Series as Managed Prometheus stores them for one cluster: every series carries the
 * cluster's `project_id`, `location` and `cluster`, and the `namespace`, `job` and `instance`
 * of the target that produced it (prometheus-engine pod_config.go: a PodMonitoring's series
 * get its namespace and `job` = its name). A series is only written if something in the
 * cluster produces it: a rendered PodMonitoring of that job in that namespace, a rendered
 * ClusterPodMonitoring of that job, or GKE's own collection. Anything else cannot exist.
 */
class Gmp {
  constructor(private readonly rc: RenderedCluster) {}

  sel(name: string, labels: Record<string, string>): string {
    const { job, namespace } = labels;
    if (!job) throw new Error(`fixture: series ${name} has no job: say which target produces it`);
    let instance = GKE_JOBS[job];
    if (!instance) {
      const scrape = this.rc.scrapes.find((x) => x.job === job && (x.kind === 'ClusterPodMonitoring' || x.namespace === namespace));
      if (!scrape) {
        throw new Error(
          `series ${name}{job="${job}"} in namespace ${namespace}: no PodMonitoring "${job}" in ${namespace} (nor a ClusterPodMonitoring "${job}") is rendered in ${this.rc.key}, so Managed Prometheus never stores it`,
        );
      }
      instance = `${labels.pod ?? `${job}-0`}:metrics`;
    }
    const { project_id, location, cluster } = scopeLabels('ClusterRules', this.rc.where);
    return sel(name, { project_id, location, cluster, instance, ...labels });
  }
}

/** The kubelet's cAdvisor endpoint as GKE's managed collection scrapes it. */
const CADVISOR = { job: 'kubelet', metrics_path: '/metrics/cadvisor' };

const sel = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
/** A counter growing by `perStep` each sample. */
const counter = (perStep: number) => (n: number) => `0+${fmt(perStep)}x${n}`;
const gauge = (v: number) => (n: number) => `${fmt(v)}x${n}`;
const fmt = (x: number) => String(Number(x.toPrecision(12)));
const at = (minute: number, firing: Firing[]): Check => ({ at: minute, firing });
const warning = (labels: Record<string, string>): Firing => ({ severity: 'warning', labels });
const critical = (labels: Record<string, string>): Firing => ({ severity: 'critical', labels });

function minutes(d: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`unexpected duration ${d}`);
  return Number(m[1]) * { ms: 1 / 60_000, s: 1 / 60, m: 1, h: 60, d: 1440 }[m[2] as 's'];
}
function forOf(s: Subject, severity: Severity): number {
  const rule = s.rules.find((r) => r.labels?.severity === severity);
  if (!rule) throw new Error(`${s.alert} ${JSON.stringify(s.labels)} has no ${severity} rule`);
  return minutes(rule.for ?? '0s');
}

/**
 * Each level fires exactly when its `for` has elapsed since `t0` (when the condition first
 * holds): not a minute before, and at it; levels with a shorter `for` are firing meanwhile.
 */
function lifecycle(s: Subject, t0: number, firing: Firing[]): Check[] {
  const fors = [...new Set(firing.map((f) => forOf(s, f.severity)))].sort((a, b) => a - b);
  return fors.flatMap((f) => [
    at(
      t0 + f - 1,
      firing.filter((x) => forOf(s, x.severity) < f),
    ),
    at(
      t0 + f,
      firing.filter((x) => forOf(s, x.severity) <= f),
    ),
  ]);
}
function silent(s: Subject, t0: number): Check[] {
  const longest = Math.max(...s.rules.map((r) => minutes(r.for ?? '0s')));
  return [at(t0 + longest + 5, [])];
}

function service(s: Subject, c: ClusterPlan) {
  const name = s.labels.service;
  const svc = c.services[name];
  if (!svc) throw new Error(`no service ${name} in ${c.cluster}`);
  return { name, ns: svc.namespace, svc };
}
const served = (name: string, ns: string) => ({
  namespace: ns,
  job: ISTIO_SCRAPE,
  reporter: 'destination',
  destination_workload_namespace: ns,
  destination_workload: name,
});
const otherCluster = (c: ClusterPlan) => {
  const region = Object.keys(c.platform.regions).find((r) => r !== c.region)!;
  return c.platform.regions[region].cluster ?? `${c.platform.name}-${c.env}-${region}`;
};

/** A ratio of two rates is right as soon as both have two samples: a minute after the start. */
const RATE_T0 = 1;
const REQUESTS_PER_MINUTE = 10_000;

interface Burn {
  g: Gmp;
  name: string;
  ns: string;
  slo: string;
  c: ClusterPlan;
}

function burnRateFixture(errorsSeries: (x: Burn, bad: (minute: number) => number) => Series): Fixture {
  return (s, c, g) => {
    const { name, ns } = service(s, c);
    const slo = s.labels.slo;
    const objective = slo === 'availability' ? c.services[name].slo!.availability! : Number(slo.replace('latency-p', ''));
    const budget = 1 - objective / 100;
    const out = { namespace: ns, objective: fmt(objective) };
    const x = { g, name, ns, slo, c };
    const steady = (burn: number) => errorsSeries(x, () => burn * budget);
    return [
      {
        name: 'burning 15x: the page fires after its for, the ticket after its own',
        series: steady(15),
        checks: lifecycle(s, RATE_T0, [critical(out), warning(out)]),
      },
      { name: 'burning 5.4x, just under the 6x page: only the ticket', series: steady(5.4), checks: [at(RATE_T0 + forOf(s, 'warning') + 5, [warning(out)])] },
      { name: 'burning 0.9x, just under the budget: silent', series: steady(0.9), checks: silent(s, RATE_T0) },
      {
        name: 'a 60-minute burst at 15x: the page resolves once the short windows are clean, the ticket stays',
        series: errorsSeries(x, (minute) => (minute < 60 ? 15 * budget : 0)),
        checks: [at(30, [critical(out), warning(out)]), at(95, [warning(out)])],
      },
    ];
  };
}

/** Series whose value changes per minute: `value(minute)` for minutes 0..n, cumulative when `cumulative`. */
function perMinute(value: (minute: number) => number, cumulative: boolean) {
  return (n: number) => {
    const out: string[] = [];
    let total = 0;
    for (let t = 0; t <= n; t++) {
      if (cumulative && t > 0) total += value(t);
      out.push(fmt(cumulative ? total : value(t)));
    }
    return out.join(' ');
  };
}

/**
 * A Google Cloud metric as Cloud Monitoring serves it to PromQL (cloud.google.com/monitoring/promql/promql-mapping:
 * `monitored_resource` and the resource's labels); only a GlobalRules reads them
 * (cloud.google.com/stackdriver/docs/managed-prometheus/rules-managed).
 */
function cloudSeries(s: Subject, name: string, labels: Record<string, string>): string {
  if (s.kind !== 'GlobalRules') throw new Error(`${s.alert}: ${name} is a Cloud Monitoring metric, which only a GlobalRules can read (it is in a ${s.kind})`);
  return sel(name, labels);
}

/**
 * A series recorded by the Rules of every region cluster, as GMP stores it: each with its own
 * cluster's project_id, location and cluster, the Rules' namespace and the rule's labels. Only
 * a GlobalRules sees more than one region's.
 */
function everyRegion(s: Subject, c: ClusterPlan, record: string, labels: (region: string) => Record<string, string>): Record<string, string> {
  if (s.kind !== 'GlobalRules') throw new Error(`${s.alert}: reads ${record} of every region, which only a GlobalRules sees (it is in a ${s.kind})`);
  const p = c.platform;
  return Object.fromEntries(
    Object.keys(p.regions).map((region) => {
      const where = {
        projectId: p.project,
        location: p.regions[region].gcpRegion ?? region,
        cluster: p.regions[region].cluster ?? `${p.name}-${c.env}-${region}`,
      };
      return [region, sel(record, { ...scopeLabels('ClusterRules', where), platform: p.name, env: c.env, region, ...labels(region) })];
    }),
  );
}

const FIXTURES: Record<string, Fixture> = {
  ServiceErrorRateHigh: (s, c, g) => {
    const { name, ns } = service(s, c);
    const m = c.platform.monitoring.errorRate;
    const code = ['503', '500', '429', '404'].find((x) => new RegExp(`^(?:${m.codes})$`).test(x))!;
    const requests = (errorPercent: number): Series => {
      const errors = (REQUESTS_PER_MINUTE * errorPercent) / 100;
      return {
        [g.sel('istio_requests_total', { ...served(name, ns), response_code: '200' })]: counter(REQUESTS_PER_MINUTE - errors),
        [g.sel('istio_requests_total', { ...served(name, ns), response_code: code })]: counter(errors),
      };
    };
    const out = { namespace: ns };
    return [
      { name: 'between warning and critical', series: requests((m.warning + m.critical) / 2), checks: lifecycle(s, RATE_T0, [warning(out)]) },
      { name: 'above critical', series: requests(m.critical * 1.2), checks: lifecycle(s, RATE_T0, [warning(out), critical(out)]) },
      { name: 'just below warning', series: requests(m.warning * 0.9), checks: silent(s, RATE_T0) },
    ];
  },

  HealthCheckSuccessLow: (s, c, g) => {
    const { name, ns } = service(s, c);
    const m = c.platform.monitoring.healthCheckSuccess;
    const replicas = (availablePercent: number): Series => ({
      [g.sel('kube_deployment_status_replicas', { namespace: ns, job: 'kube-state-metrics', deployment: name })]: gauge(1000),
      [g.sel('kube_deployment_status_replicas_available', { namespace: ns, job: 'kube-state-metrics', deployment: name })]: gauge(10 * availablePercent),
    });
    const out = { namespace: ns };
    return [
      { name: 'between warning and critical', series: replicas((m.warning + m.critical) / 2), checks: lifecycle(s, 0, [warning(out)]) },
      { name: 'below critical', series: replicas(m.critical - 5), checks: lifecycle(s, 0, [warning(out), critical(out)]) },
      { name: 'just above warning', series: replicas(m.warning + 0.5), checks: silent(s, 0) },
    ];
  },

  CrossRegionLatencyHigh: (s, c, g) => {
    const { name, ns } = service(s, c);
    const m = c.platform.monitoring.crossRegionLatency;
    const remote = otherCluster(c);
    // The service's only callers in other regions are the ingress gateways (the load
    // balancer's traffic split by region): their Envoy reports each call as the source, in
    // the gateway's namespace, scraped by the gateway's PodMonitoring.
    const gateway = c.platform.mesh.ingressGateway;
    // Per minute, cumulative bucket counts of 1000 calls; histogram_quantile interpolates
    // linearly inside the bucket holding the 950th call.
    const calls = (to: string, buckets: Record<string, number>): Series =>
      Object.fromEntries(
        Object.entries(buckets).map(([le, n]) => [
          g.sel('istio_request_duration_milliseconds_bucket', {
            namespace: gateway.namespace,
            job: GATEWAY_SCRAPE,
            pod: `${gateway.serviceAccount}-7c9d5-x4k2p`,
            reporter: 'source',
            source_workload: gateway.serviceAccount,
            source_workload_namespace: gateway.namespace,
            destination_workload_namespace: ns,
            destination_workload: name,
            destination_cluster: to,
            le,
          }),
          counter(n),
        ]),
      );
    const p95 = (b: Record<string, number>) => {
      const bounds = Object.keys(b)
        .filter((k) => k !== '+Inf')
        .map(Number)
        .sort((x, y) => x - y);
      let lower = 0;
      let below = 0;
      for (const bound of bounds) {
        if (b[String(bound)] >= 950) return lower + ((bound - lower) * (950 - below)) / (b[String(bound)] - below);
        lower = bound;
        below = b[String(bound)];
      }
      return Infinity;
    };
    const warn = minutes(m.warning) * 60_000;
    const crit = minutes(m.critical) * 60_000;
    const istioBounds = [100, 250, 500, 1000, 2500, 5000];
    /** Buckets whose p95 is `target` ms: all calls up to the bound below it, the rest spread to place the 950th. */
    const bucketsFor = (target: number) => {
      const upper = istioBounds.find((b) => b > target)!;
      const lower = istioBounds[istioBounds.indexOf(upper) - 1];
      // p95 = lower + (upper - lower) * (950 - below) / (1000 - below)
      const f = (target - lower) / (upper - lower);
      const below = Math.round((950 - 1000 * f) / (1 - f));
      const b: Record<string, number> = {};
      for (const bound of istioBounds) b[String(bound)] = bound < upper ? below : 1000;
      b['+Inf'] = 1000;
      return b;
    };
    const between = bucketsFor((warn + crit) / 2);
    const above = bucketsFor(crit * 1.3);
    const under = bucketsFor(warn * 0.95);
    for (const [b, lo, hi] of [
      [between, warn, crit],
      [above, crit, Infinity],
      [under, 0, warn],
    ] as const) {
      const q = p95(b);
      if (!(q > lo && q < hi)) throw new Error(`fixture: p95 ${q} not in (${lo}, ${hi})`);
    }
    const out = { namespace: gateway.namespace, destination_cluster: remote };
    return [
      { name: 'between warning and critical', series: calls(remote, between), checks: lifecycle(s, RATE_T0, [warning(out)]) },
      { name: 'above critical', series: calls(remote, above), checks: lifecycle(s, RATE_T0, [warning(out), critical(out)]) },
      {
        name: 'just below warning, and slow calls inside the region do not count',
        series: { ...calls(remote, under), ...calls(c.cluster, bucketsFor(crit * 1.3)) },
        checks: silent(s, RATE_T0),
      },
    ];
  },

  ReplicationLagHigh: (s, c, g) => {
    const { name, ns } = service(s, c);
    const lag = c.platform.monitoring.replicationLag!;
    const series = (seconds: number): Series => ({
      [g.sel(lag.metric, { namespace: ns, job: name, pod: `${name}-0`, target_region: 'europe-west1' })]: gauge(seconds),
    });
    const [w, cr] = [minutes(lag.warning) * 60, minutes(lag.critical) * 60];
    const out = { namespace: ns };
    return [
      { name: 'between warning and critical', series: series((w + cr) / 2), checks: lifecycle(s, 0, [warning(out)]) },
      { name: 'above critical', series: series(cr + 1), checks: lifecycle(s, 0, [warning(out), critical(out)]) },
      { name: 'just below warning', series: series(w - 0.5), checks: silent(s, 0) },
    ];
  },

  ServiceAvailabilityBudgetBurn: (s, c, g) => {
    const { name, ns, svc } = service(s, c);
    const gateway = c.platform.mesh.ingressGateway;
    // An exposed service's users reach it through the ingress gateway (the spec says which).
    const exposed = svc.expose !== undefined && c.platform.ingress !== undefined;
    /** The gateway's Envoy reports each request it sends (or fails to send) to the service. */
    const atGateway = (code: string, flags: string, workload: string) =>
      g.sel('istio_requests_total', {
        namespace: gateway.namespace,
        job: GATEWAY_SCRAPE,
        pod: `${gateway.serviceAccount}-7c9d5-x4k2p`,
        reporter: 'source',
        source_workload: gateway.serviceAccount,
        source_workload_namespace: gateway.namespace,
        destination_service: `${name}.${ns}.svc.cluster.local`,
        destination_service_name: name,
        destination_service_namespace: ns,
        destination_workload: workload,
        destination_workload_namespace: workload === 'unknown' ? 'unknown' : ns,
        response_code: code,
        response_flags: flags,
      });
    const burns = burnRateFixture(({ g: gmp }, bad) => {
      const good = perMinute((t) => REQUESTS_PER_MINUTE * (1 - bad(t)), true);
      const failed = perMinute((t) => REQUESTS_PER_MINUTE * bad(t), true);
      // Errors the pods answer: seen by the pods and by the gateway alike.
      return {
        [gmp.sel('istio_requests_total', { ...served(name, ns), response_code: '200' })]: good,
        [gmp.sel('istio_requests_total', { ...served(name, ns), response_code: '503' })]: failed,
        ...(exposed ? { [atGateway('200', '-', name)]: good, [atGateway('503', '-', name)]: failed } : {}),
      };
    })(s, c, g);
    if (!exposed) return burns;
    const out = { namespace: ns, objective: fmt(svc.slo!.availability!) };
    return [
      ...burns,
      {
        // No pod is ready (or a policy drops every request before the pod): the gateway
        // answers each request 503 "no healthy upstream" itself, and no pod reports anything.
        name: 'total outage before the pods: the gateway answers 503 UH, no request reaches a pod',
        series: { [atGateway('503', 'UH', 'unknown')]: perMinute(() => REQUESTS_PER_MINUTE, true) },
        checks: lifecycle(s, RATE_T0, [critical(out), warning(out)]),
      },
    ];
  },

  ServiceLatencyBudgetBurn: (s, c, g) => {
    const { name, ns, svc } = service(s, c);
    const bound = 60_000 * minutes((svc.slo!.latency as Record<string, string>)[s.labels.slo.replace('latency-', '')]);
    // Written as Prometheus 3 writes bucket bounds: the rule must match "500.0" as well as "500".
    const histogram = (code: string, fast: (t: number) => number, all: (t: number) => number): Series => ({
      [g.sel('istio_request_duration_milliseconds_bucket', { ...served(name, ns), response_code: code, le: `${bound}.0` })]: perMinute(fast, true),
      [g.sel('istio_request_duration_milliseconds_bucket', { ...served(name, ns), response_code: code, le: '+Inf' })]: perMinute(all, true),
      [g.sel('istio_request_duration_milliseconds_count', { ...served(name, ns), response_code: code })]: perMinute(all, true),
    });
    const burns = burnRateFixture((_x, bad) =>
      histogram(
        '200',
        (t) => REQUESTS_PER_MINUTE * (1 - bad(t)),
        () => REQUESTS_PER_MINUTE,
      ),
    )(s, c, g);
    // A service with a websocket port: each stream is recorded once, at its close, answered
    // 101 and lasting its whole life (hours), far above any latency bound.
    if (!svc.ports.some((p) => p.protocol === 'websocket')) return burns;
    const streamsClosing = histogram(
      '101',
      () => 0,
      () => 50,
    );
    return [
      ...burns,
      { name: 'only WebSocket streams, each recorded at its close after hours: silent', series: streamsClosing, checks: silent(s, RATE_T0) },
      {
        name: 'fast requests and long streams: silent',
        series: {
          ...streamsClosing,
          ...histogram(
            '200',
            () => REQUESTS_PER_MINUTE,
            () => REQUESTS_PER_MINUTE,
          ),
        },
        checks: silent(s, RATE_T0),
      },
    ];
  },

  StreamConnectFailures: (s, c, g) => {
    const { name, ns } = service(s, c);
    const m = c.platform.monitoring.errorRate;
    const UPGRADES_PER_MINUTE = 600;
    // Upgrades answered 101 (recorded as the streams close) and upgrades refused with a 503.
    const upgrades = (failedPercent: number): Series => {
      const failed = (UPGRADES_PER_MINUTE * failedPercent) / 100;
      return {
        [g.sel('istio_requests_total', { ...served(name, ns), response_code: '101' })]: counter(UPGRADES_PER_MINUTE - failed),
        [g.sel('istio_requests_total', { ...served(name, ns), response_code: '503' })]: counter(failed),
        // Plain requests answered 200 on the same port are no stream opens.
        [g.sel('istio_requests_total', { ...served(name, ns), response_code: '200' })]: counter(REQUESTS_PER_MINUTE),
      };
    };
    const out = { namespace: ns };
    return [
      { name: 'between warning and critical', series: upgrades((m.warning + m.critical) / 2), checks: lifecycle(s, RATE_T0, [warning(out)]) },
      { name: 'every upgrade fails', series: upgrades(100), checks: lifecycle(s, RATE_T0, [warning(out), critical(out)]) },
      { name: 'just below warning', series: upgrades(m.warning * 0.9), checks: silent(s, RATE_T0) },
    ];
  },

  RedisDown: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const job = redisJob(s.labels.redis);
    const pods = (redisUp: number[], scrapeUp: number[]): Series =>
      Object.fromEntries(
        redisUp.flatMap((v, i) => [
          [g.sel('redis_up', { namespace: ns, job, pod: `${s.labels.redis}-${i}` }), gauge(v)],
          [g.sel('up', { namespace: ns, job, pod: `${s.labels.redis}-${i}` }), gauge(scrapeUp[i])],
        ]),
      );
    return [
      {
        name: 'redis unreachable from its exporter',
        series: pods([1, 0, 1], [1, 1, 1]),
        checks: lifecycle(s, 0, [critical({ namespace: ns, pod: `${s.labels.redis}-1` })]),
      },
      {
        name: 'exporter not scrapable',
        series: pods([1, 1, 1], [1, 1, 0]),
        checks: lifecycle(s, 0, [critical({ namespace: ns, pod: `${s.labels.redis}-2` })]),
      },
      { name: 'every node up', series: pods([1, 1, 1], [1, 1, 1]), checks: silent(s, 0) },
    ];
  },

  RedisMetricsAbsent: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const job = redisJob(s.labels.redis);
    return [
      {
        name: 'no target for the exporter',
        series: { [g.sel('up', { namespace: ns, job: 'istio-proxies', pod: 'x' })]: gauge(1) },
        checks: lifecycle(s, 0, [warning({ job })]),
      },
      { name: 'the exporter is scraped', series: { [g.sel('up', { namespace: ns, job, pod: `${s.labels.redis}-0` })]: gauge(1) }, checks: silent(s, 0) },
    ];
  },

  RedisBackupStale: (s, c, g) => {
    const redis = c.redis[s.labels.redis];
    const ns = redis.namespace;
    const job = redisBackupJob(s.labels.redis);
    const every = minutes(redis.backup!.interval);
    // Each pod's last confirmed upload (seconds since the epoch, promtool's time 0); the taker is pod 1, the others never took one.
    const lastSuccess = (taker: (n: number) => string): Series =>
      Object.fromEntries(
        [0, 1, 2].map((i) => [
          g.sel('meridian_redis_backup_last_success_timestamp_seconds', { namespace: ns, job, pod: `${s.labels.redis}-${i}` }),
          i === 1 ? taker : gauge(0),
        ]),
      );
    const step = 5;
    return [
      {
        // The first snapshot at time 0, then none: stale once older than the interval plus 30 minutes (strictly, at the next evaluation).
        name: 'no upload since the first one',
        interval: step,
        series: lastSuccess(gauge(0)),
        checks: lifecycle(s, every + 30 + 1, [critical({ namespace: ns })]),
      },
      {
        name: 'an upload every interval',
        interval: step,
        series: lastSuccess((n) =>
          Array.from({ length: n }, (_, k) => Math.floor((k * step) / every) * every * 60)
            .map(String)
            .join(' '),
        ),
        checks: [at(every + 31 + 15, []), at(2 * every + 31 + 15, [])],
      },
      {
        name: 'no backup container is scraped',
        series: { [g.sel('up', { namespace: ns, job: 'istio-proxies', pod: 'x' })]: gauge(1) },
        checks: lifecycle(s, 0, [critical({ job })]),
      },
    ];
  },

  RedisNoMaster: (s, c, g) =>
    redisRoles(
      s,
      c,
      g,
      [
        ['slave', 'slave', 'slave'],
        ['master', 'slave', 'slave'],
      ],
      'critical',
    ),
  RedisMultipleMasters: (s, c, g) =>
    redisRoles(
      s,
      c,
      g,
      [
        ['master', 'master', 'slave'],
        ['master', 'slave', 'slave'],
      ],
      'critical',
    ),

  RedisSecondaryHasMaster: (s, c, g) =>
    redisRoles(
      s,
      c,
      g,
      [
        ['slave', 'master', 'slave'],
        ['slave', 'slave', 'slave'],
      ],
      'critical',
    ),

  RedisUpstreamLinkDown: (s, c, g) => {
    const redis = c.redis[s.labels.redis];
    const link = (up: number): Series => ({
      [g.sel('redis_master_link_up', {
        namespace: redis.namespace,
        job: redisJob(s.labels.redis),
        pod: `${s.labels.redis}-0`,
        master_host: redis.upstreams![1],
        master_port: '6379',
      })]: gauge(up),
    });
    return [
      {
        name: "the first pod's link to the primary region is down",
        series: link(0),
        checks: lifecycle(s, 0, [critical({ namespace: redis.namespace, pod: `${s.labels.redis}-0`, master_host: redis.upstreams![1] })]),
      },
      { name: 'the link is up', series: link(1), checks: silent(s, 0) },
    ];
  },

  RedisUpstreamSilent: (s, c, g) => {
    const redis = c.redis[s.labels.redis];
    const lastIo = (seconds: number): Series => ({
      [g.sel('redis_master_last_io_seconds_ago', {
        namespace: redis.namespace,
        job: redisJob(s.labels.redis),
        pod: `${s.labels.redis}-0`,
        master_host: redis.upstreams![1],
        master_port: '6379',
      })]: gauge(seconds),
    });
    return [
      {
        name: 'nothing received for 45 s',
        series: lastIo(45),
        checks: lifecycle(s, 0, [warning({ namespace: redis.namespace, pod: `${s.labels.redis}-0`, master_host: redis.upstreams![1] })]),
      },
      // The master's ping every 10 s keeps it under 11 s on an idle link.
      { name: 'pinged 9 s ago', series: lastIo(9), checks: silent(s, 0) },
    ];
  },

  RedisReplicaEmpty: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const job = redisJob(s.labels.redis);
    const pod = (i: number) => `${s.labels.redis}-${i}`;
    const group = (keys: (number | undefined)[]): Series =>
      Object.fromEntries(
        keys.flatMap((k, i) => [
          [
            g.sel('redis_instance_info', {
              namespace: ns,
              job,
              pod: pod(i),
              role: i === 0 && c.role === 'primary' ? 'master' : 'slave',
              redis_version: '7.4.2',
            }),
            gauge(1),
          ],
          // redis_exporter reports no redis_db_keys for a database without keys.
          ...(k === undefined ? [] : [[g.sel('redis_db_keys', { namespace: ns, job, pod: pod(i), db: 'db0' }), gauge(k)] as [string, (n: number) => string]]),
        ]),
      );
    return [
      { name: 'one replica holds nothing', series: group([1000, 1000, undefined]), checks: lifecycle(s, 0, [warning({ namespace: ns, pod: pod(2) })]) },
      { name: 'every node holds the keys', series: group([1000, 1000, 1000]), checks: silent(s, 0) },
      { name: 'a new, empty group', series: group([undefined, undefined, undefined]), checks: silent(s, 0) },
    ];
  },

  RedisSentinelsDisagree: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const addr = (i: number) => `${s.labels.redis}-${i}.${s.labels.redis}-headless.${ns}.svc.cluster.local:6379`;
    const sentinels = (masters: number[]): Series =>
      Object.fromEntries(
        masters.map((m, i) => [
          g.sel('redis_sentinel_master_status', {
            namespace: ns,
            job: sentinelJob(s.labels.redis),
            pod: `${s.labels.redis}-${i}`,
            master_name: MASTER_SET,
            master_address: addr(m),
            master_status: 'ok',
          }),
          gauge(1),
        ]),
      );
    return [
      { name: 'one sentinel names another master', series: sentinels([0, 0, 1]), checks: lifecycle(s, 0, [critical({ namespace: ns })]) },
      { name: 'all agree', series: sentinels([0, 0, 0]), checks: silent(s, 0) },
    ];
  },

  RedisFailoverOccurred: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const addr = (i: number) => `${s.labels.redis}-${i}.${s.labels.redis}-headless.${ns}.svc.cluster.local:6379`;
    const status = (i: number, master: number) =>
      g.sel('redis_sentinel_master_status', {
        namespace: ns,
        job: sentinelJob(s.labels.redis),
        pod: `${s.labels.redis}-${i}`,
        master_name: MASTER_SET,
        master_address: addr(master),
        master_status: 'ok',
      });
    const failover: Series = {};
    const steady: Series = {};
    for (const i of [0, 1, 2]) {
      // Every sentinel names master 0 until minute 9, then master 1 ("_xN" is N missing samples).
      failover[status(i, 0)] = (n) => `1x9 _x${n - 9}`;
      failover[status(i, 1)] = (n) => `_x10 1x${n - 10}`;
      steady[status(i, 0)] = gauge(1);
    }
    const out = { namespace: ns };
    return [
      {
        name: 'the master changed at minute 10; resolves once the old one leaves the 10m window',
        series: failover,
        checks: [...lifecycle(s, 10, [warning(out)]), at(21, [])],
      },
      { name: 'the same master throughout', series: steady, checks: silent(s, 0) },
    ];
  },

  RedisReplicationLag: (s, c, g) => {
    const redis = c.redis[s.labels.redis];
    const maxLag = minutes(redis.minReplicasMaxLag) * 60;
    const lag = (seconds: number): Series => ({
      [g.sel('redis_connected_slave_lag_seconds', {
        namespace: redis.namespace,
        job: redisJob(s.labels.redis),
        pod: `${s.labels.redis}-0`,
        slave_ip: '10.8.0.12',
        slave_port: '6379',
        slave_state: 'online',
      })]: gauge(seconds),
    });
    return [
      {
        name: 'a replica lags more than min-replicas-max-lag',
        series: lag(maxLag + 1),
        checks: lifecycle(s, 0, [warning({ namespace: redis.namespace, pod: `${s.labels.redis}-0`, slave_ip: '10.8.0.12' })]),
      },
      { name: 'just under min-replicas-max-lag', series: lag(maxLag - 0.5), checks: silent(s, 0) },
    ];
  },

  RedisWritesRejected: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const pod = `${s.labels.redis}-0`;
    const oom = (perStep: number): Series => ({
      [g.sel('redis_errors_total', { namespace: ns, job: redisJob(s.labels.redis), pod, err: 'OOM' })]: counter(perStep),
    });
    return [
      { name: 'writes refused with -OOM', series: oom(1), checks: lifecycle(s, RATE_T0, [critical({ namespace: ns, pod })]) },
      { name: 'no write refused', series: oom(0), checks: silent(s, RATE_T0) },
    ];
  },

  RedisKeysEvicted: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const pod = `${s.labels.redis}-0`;
    const evicted = (perStep: number): Series => ({
      [g.sel('redis_evicted_keys_total', { namespace: ns, job: redisJob(s.labels.redis), pod })]: counter(perStep),
    });
    return [
      { name: 'keys evicted', series: evicted(2), checks: lifecycle(s, RATE_T0, [critical({ namespace: ns, pod })]) },
      { name: 'nothing evicted', series: evicted(0), checks: silent(s, RATE_T0) },
    ];
  },

  RedisMemoryNearFull: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const pod = `${s.labels.redis}-0`;
    const used = (ratio: number): Series => ({
      [g.sel('redis_memory_used_bytes', { namespace: ns, job: redisJob(s.labels.redis), pod })]: gauge(ratio * 300e6),
      [g.sel('redis_memory_max_bytes', { namespace: ns, job: redisJob(s.labels.redis), pod })]: gauge(300e6),
    });
    return [
      { name: '95 % of maxmemory', series: used(0.95), checks: lifecycle(s, 0, [warning({ namespace: ns, pod })]) },
      { name: '85 % of maxmemory', series: used(0.85), checks: silent(s, 0) },
    ];
  },

  RedisCacheHitRateLow: (s, c, g) => {
    const ns = c.redis[s.labels.redis].namespace;
    const m = c.platform.monitoring.cacheHitRate;
    const lookups = (hitPercent: number): Series => ({
      [g.sel('redis_keyspace_hits_total', { namespace: ns, job: redisJob(s.labels.redis), pod: `${s.labels.redis}-0` })]: counter(10 * hitPercent),
      [g.sel('redis_keyspace_misses_total', { namespace: ns, job: redisJob(s.labels.redis), pod: `${s.labels.redis}-0` })]: counter(10 * (100 - hitPercent)),
    });
    const out = { namespace: ns };
    return [
      { name: 'between warning and critical', series: lookups((m.warning + m.critical) / 2), checks: lifecycle(s, RATE_T0, [warning(out)]) },
      { name: 'below critical', series: lookups(m.critical - 10), checks: lifecycle(s, RATE_T0, [warning(out), critical(out)]) },
      { name: 'just above warning', series: lookups(m.warning + 1), checks: silent(s, RATE_T0) },
    ];
  },

  PodRestartingOften: (s, c, g) => {
    const ns = s.namespace!;
    const limit = c.platform.monitoring.pods.restartsPerHour;
    const labels = { namespace: ns, pod: 'web-7d9f-x2k', container: 'web' };
    // Quiet for an hour, then one restart a minute: over the limit at minute 60 + limit + 1.
    const restarts = (count: number) => (n: number) => `0x60 1+1x${count - 1} ${count}x${n - 60 - count}`;
    return [
      {
        name: `${limit + 1} restarts within the hour`,
        series: { [g.sel('kube_pod_container_status_restarts_total', { ...labels, job: 'kube-state-metrics' })]: restarts(limit + 1) },
        checks: lifecycle(s, 60 + limit + 1, [warning(labels)]),
      },
      {
        name: `${limit} restarts within the hour`,
        series: { [g.sel('kube_pod_container_status_restarts_total', { ...labels, job: 'kube-state-metrics' })]: restarts(limit) },
        checks: silent(s, 60 + limit + 1),
      },
    ];
  },

  ContainerMemoryNearLimit: (s, c, g) => {
    const ns = s.namespace!;
    const limit = c.platform.monitoring.pods.memory;
    const labels = { namespace: ns, pod: 'web-7d9f-x2k', container: 'web' };
    const usage = (percent: number, sandbox = 0): Series => ({
      [g.sel('container_memory_working_set_bytes', { ...labels, ...CADVISOR })]: gauge(10_000_000 * percent),
      [g.sel('kube_pod_container_resource_limits', { ...labels, job: 'kube-state-metrics', resource: 'memory', unit: 'byte' })]: gauge(1_000_000_000),
      ...(sandbox ? { [g.sel('container_memory_working_set_bytes', { ...labels, ...CADVISOR, container: 'POD' })]: gauge(10_000_000 * sandbox) } : {}),
    });
    return [
      { name: 'above the threshold', series: usage(limit + 5), checks: lifecycle(s, 0, [warning(labels)]) },
      { name: 'just below it (the pause container does not count)', series: usage(limit - 1, 200), checks: silent(s, 0) },
    ];
  },

  ContainerCpuHigh: (s, c, g) => {
    const ns = s.namespace!;
    const limit = c.platform.monitoring.pods.cpu;
    const web = { namespace: ns, pod: 'web-7d9f-x2k', container: 'web' };
    const job = { namespace: ns, pod: 'job-5c4b-p9q', container: 'job' };
    // rate() over 5m divides by the whole window: the usage reads true once the window is full.
    const t0 = 5;
    /** CPU seconds per minute for a share of `cores`. */
    const cpu = (labels: Record<string, string>, cores: number, percent: number) => ({
      [g.sel('container_cpu_usage_seconds_total', { ...labels, ...CADVISOR })]: counter((60 * cores * percent) / 100),
    });
    const quota = (labels: Record<string, string>, resource: 'requests' | 'limits', cores: number) => ({
      [g.sel(`kube_pod_container_resource_${resource}`, { ...labels, job: 'kube-state-metrics', resource: 'cpu', unit: 'core' })]: gauge(cores),
    });
    return [
      {
        name: 'above the threshold of the request (no limit)',
        series: { ...cpu(web, 0.5, limit + 5), ...quota(web, 'requests', 0.5) },
        checks: lifecycle(s, t0, [warning(web)]),
      },
      {
        name: 'just below it; a container with a limit is measured against the limit, not its request',
        series: { ...cpu(web, 0.5, limit - 2), ...quota(web, 'requests', 0.5), ...cpu(job, 2, 60), ...quota(job, 'requests', 1), ...quota(job, 'limits', 2) },
        checks: silent(s, t0),
      },
    ];
  },

  AutoscalerAtMaxReplicas: (s, _c, g) => {
    const ns = s.namespace!;
    const hpa = kedaHpa('web');
    const replicas = (current: number): Series => ({
      [g.sel('kube_horizontalpodautoscaler_status_current_replicas', { namespace: ns, job: 'kube-state-metrics', horizontalpodautoscaler: hpa })]:
        gauge(current),
      [g.sel('kube_horizontalpodautoscaler_spec_max_replicas', { namespace: ns, job: 'kube-state-metrics', horizontalpodautoscaler: hpa })]: gauge(20),
    });
    return [
      { name: 'at its maximum', series: replicas(20), checks: lifecycle(s, 0, [warning({ namespace: ns, horizontalpodautoscaler: hpa, service: 'web' })]) },
      { name: 'one below its maximum', series: replicas(19), checks: silent(s, 0) },
    ];
  },

  // kube-state-metrics' Job and CronJob collectors. promtool's clock starts at 0: timestamps
  // are seconds since the start of the test.
  CronJobFailed: (s, c, g) => {
    const name = s.labels.cronjob;
    const ns = c.jobs[name].namespace;
    const ksm = { namespace: ns, job: 'kube-state-metrics' };
    const run = (jobName: string, startedAt: number, failedFrom?: number): Series => ({
      [g.sel('kube_job_status_start_time', { ...ksm, job_name: jobName })]: gauge(startedAt),
      [g.sel('kube_job_failed', { ...ksm, job_name: jobName, condition: 'true' })]: (n) =>
        failedFrom === undefined ? `0x${n}` : `0x${failedFrom - 1} 1x${n - failedFrom + 1}`,
    });
    const created = { [g.sel('kube_cronjob_created', { ...ksm, cronjob: name })]: gauge(0) };
    const lastSuccess = (at: (minute: number) => number) => ({
      [g.sel('kube_cronjob_status_last_successful_time', { ...ksm, cronjob: name })]: perMinute(at, false),
    });
    const out = { namespace: ns };
    return [
      {
        name: 'the run started at minute 10 failed at minute 12, after a success at minute 1',
        series: { ...created, ...lastSuccess(() => 60), ...run(`${name}-29000010`, 600, 12) },
        checks: lifecycle(s, 12, [warning(out)]),
      },
      { name: 'a run that never succeeded failed', series: { ...created, ...run(`${name}-29000010`, 600, 12) }, checks: lifecycle(s, 12, [warning(out)]) },
      {
        name: 'an older run failed, the latest succeeded',
        series: { ...created, ...lastSuccess((t) => (t >= 20 ? 1200 : 60)), ...run(`${name}-29000010`, 600, 12) },
        checks: [at(25, [])],
      },
      { name: 'every run succeeds', series: { ...created, ...lastSuccess((t) => 60 * t), ...run(`${name}-29000010`, 600) }, checks: silent(s, 12) },
    ];
  },

  CronJobNotSucceeding: (s, c, g) => {
    const name = s.labels.cronjob;
    const job = c.jobs[name];
    const ns = job.namespace;
    const ksm = { namespace: ns, job: 'kube-state-metrics' };
    // Derived from the spec, not from the rule: twice the longest interval plus both deadlines.
    const interval = longestGapMinutes(job.schedule, job.timeZone);
    const staleMinutes = 2 * interval + minutes(job.deadline) + minutes(job.startingDeadline);
    const t0 = Math.floor(staleMinutes) + 1;
    const created = { [g.sel('kube_cronjob_created', { ...ksm, cronjob: name })]: gauge(0) };
    const lastSuccess = (at: (minute: number) => number) => ({
      [g.sel('kube_cronjob_status_last_successful_time', { ...ksm, cronjob: name })]: perMinute(at, false),
    });
    const out = { namespace: ns };
    return [
      { name: 'the last success was at minute 0', series: { ...created, ...lastSuccess(() => 0) }, checks: lifecycle(s, t0, [warning(out)]) },
      { name: 'it never succeeded since it was created', series: created, checks: lifecycle(s, t0, [warning(out)]) },
      {
        name: 'it succeeds once per interval',
        series: { ...created, ...lastSuccess((t) => 60 * interval * Math.floor(t / interval)) },
        checks: silent(s, t0),
      },
    ];
  },

  // KEDA's operator, scraped by the cluster's ClusterPodMonitoring: its series keep the
  // ScaledObject's namespace as their own `namespace` label.
  AutoscalerErrors: (s, _c, g) => {
    const ns = s.namespace!;
    const errors = (perMinute: number, from: number): Series => ({
      [g.sel('keda_scaled_object_errors_total', { namespace: ns, job: KEDA_SCRAPE, pod: 'keda-operator-6d5c8-q2x7v', scaledObject: 'web' })]: (n) =>
        `0x${from} 0+${perMinute}x${n - from}`,
    });
    const out = { namespace: ns, scaledObject: 'web' };
    return [
      // Zero at minutes 0-11, then two more errors a minute: increase() is above 0 from minute 12.
      { name: 'errors every minute from minute 12', series: errors(2, 10), checks: lifecycle(s, 12, [warning(out)]) },
      { name: 'no errors', series: errors(0, 10), checks: silent(s, 12) },
    ];
  },

  AutoscalerPaused: (s, _c, g) => {
    const ns = s.namespace!;
    const paused = (v: number): Series => ({
      [g.sel('keda_scaled_object_paused', { namespace: ns, job: KEDA_SCRAPE, pod: 'keda-operator-6d5c8-q2x7v', scaledObject: 'web' })]: gauge(v),
    });
    return [
      { name: 'paused', series: paused(1), checks: lifecycle(s, 0, [warning({ namespace: ns, scaledObject: 'web' })]) },
      { name: 'scaling', series: paused(0), checks: silent(s, 0) },
    ];
  },

  HealthCheckFailingInRegions: (s, c) => {
    const p = c.platform;
    const m = p.monitoring;
    const regions = Object.keys(p.regions);
    // A service that runs in every region.
    const name = Object.keys(p.services).find((n) => !p.services[n].regions)!;
    const ns = p.services[name].namespace;
    const series = (failing: number): Series => {
      const byRegion = everyRegion(s, c, 'service:health_check_success:ratio', () => ({ namespace: ns, service: name }));
      return Object.fromEntries(regions.map((r, i) => [byRegion[r], gauge(i < failing ? (m.healthCheckSuccess.critical - 10) / 100 : 1)]));
    };
    const n = m.global.healthCheckRegions;
    const out = { service: name };
    return [
      { name: `${n} regions below critical`, series: series(n), checks: lifecycle(s, 0, [critical(out)]) },
      { name: `${n - 1} region(s) below critical`, series: series(n - 1), checks: silent(s, 0) },
    ];
  },

  FirestoreReadsHigh: (s, c) => {
    const p = c.platform;
    const reads = p.monitoring.global.firestoreReadsPerDay!;
    const STEP = 5;
    const perDay = (total: number): Series => ({
      [cloudSeries(s, 'firestore_googleapis_com:document_read_count', {
        monitored_resource: 'firestore_instance',
        project_id: p.project,
        database_id: '(default)',
        location: 'nam5',
      })]: counter((total * STEP) / 1440),
      // Another project in the same metrics scope: never counted.
      [cloudSeries(s, 'firestore_googleapis_com:document_read_count', {
        monitored_resource: 'firestore_instance',
        project_id: `${p.project}-other`,
        database_id: '(default)',
        location: 'nam5',
      })]: counter((10 * reads.critical * STEP) / 1440),
    });
    const day = 1440 + 30;
    return [
      { name: 'a day above critical', interval: STEP, series: perDay(reads.critical * 1.2), checks: [at(day, [warning({}), critical({})])] },
      { name: 'a day between warning and critical', interval: STEP, series: perDay((reads.warning + reads.critical) / 2), checks: [at(day, [warning({})])] },
      { name: 'a day just below warning (another project reads ten times more)', interval: STEP, series: perDay(reads.warning * 0.9), checks: [at(day, [])] },
    ];
  },

  CloudSqlDown: (s) => {
    const instance = s.labels.database;
    const [project, region, name] = instance.split(':');
    const databaseId = `${project}:${name}`;
    const up = (v: number): Series => ({
      [cloudSeries(s, 'cloudsql_googleapis_com:database_up', {
        monitored_resource: 'cloudsql_database',
        project_id: project,
        database_id: databaseId,
        region,
      })]: gauge(v),
    });
    return [
      { name: 'the instance reports down', series: up(0), checks: lifecycle(s, 0, [critical({ database_id: databaseId })]) },
      { name: 'the instance reports up', series: up(1), checks: silent(s, 0) },
    ];
  },

  RequestedCapacitySpike: (s, c, g) => {
    const growth = c.platform.monitoring.cost.requestGrowth;
    const STEP = 5;
    // Two pods of 5 cores for 25 hours, then more: at minute 1505 the day-old value is 10.
    const requests = (after: number): Series =>
      Object.fromEntries(
        ['a', 'b'].map((p) => [
          g.sel('kube_pod_container_resource_requests', {
            namespace: 'marketplace',
            job: 'kube-state-metrics',
            pod: `web-${p}`,
            container: 'web',
            resource: 'cpu',
            unit: 'core',
          }),
          (n: number) => `5x300 ${fmt(after / 2)}x${n - 301}`,
        ]),
      );
    const t0 = 301 * STEP;
    const f = forOf(s, 'warning');
    return [
      {
        name: 'requests grew more than the threshold in a day',
        interval: STEP,
        series: requests(10 * (1 + (growth + 10) / 100)),
        checks: [at(t0 + f - STEP, []), at(t0 + f, [warning({})])],
      },
      { name: 'just below the threshold', interval: STEP, series: requests(10 * (1 + (growth - 5) / 100)), checks: [at(t0 + f + 30, [])] },
    ];
  },
};

function redisRoles(s: Subject, c: ClusterPlan, g: Gmp, [firing, quiet]: string[][], severity: Severity): Scenario[] {
  const ns = c.redis[s.labels.redis].namespace;
  const nodes = (roles: string[]): Series =>
    Object.fromEntries(
      roles.map((role, i) => [
        g.sel('redis_instance_info', { namespace: ns, job: redisJob(s.labels.redis), pod: `${s.labels.redis}-${i}`, role, redis_version: '7.4.2' }),
        gauge(1),
      ]),
    );
  return [
    { name: `roles ${firing.join(', ')}`, series: nodes(firing), checks: lifecycle(s, 0, [{ severity, labels: { namespace: ns } }]) },
    { name: `roles ${quiet.join(', ')}`, series: nodes(quiet), checks: silent(s, 0) },
  ];
}

// ---------------------------------------------------------------------------------------
// Writing promtool's unit-test files

function subjects(files: RuleFile[]): Subject[] {
  const out = new Map<string, Subject>();
  for (const file of files) {
    for (const group of file.groups) {
      for (const rule of group.rules) {
        if (!rule.alert) continue;
        const { severity: _severity, ...labels } = rule.labels ?? {};
        const key = `${rule.alert}\u0000${file.namespace ?? ''}\u0000${JSON.stringify(labels)}`;
        if (!out.has(key)) out.set(key, { alert: rule.alert, kind: file.kind, namespace: file.namespace, labels, rules: [] });
        out.get(key)!.rules.push(rule);
      }
    }
  }
  return [...out.values()];
}

function renderTemplate(text: string, labels: Record<string, string>): string {
  return text.replace(/\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_m, name: string) => labels[name] ?? '');
}

function unitTestFile(s: Subject, scenarios: Scenario[], ruleFiles: string[], groupOrder: string[]): unknown {
  return {
    rule_files: ruleFiles,
    evaluation_interval: `${Math.min(...scenarios.map((sc) => sc.interval ?? 1))}m`,
    group_eval_order: groupOrder,
    tests: scenarios.map((sc) => {
      const interval = sc.interval ?? 1;
      const last = Math.max(...sc.checks.map((c) => c.at));
      const samples = Math.ceil(last / interval) + 5;
      return {
        name: `${s.alert} ${JSON.stringify(s.labels)}: ${sc.name}`,
        interval: `${interval}m`,
        input_series: Object.entries(sc.series).map(([series, values]) => ({ series, values: typeof values === 'function' ? values(samples) : values })),
        alert_rule_test: sc.checks.map((check) => ({
          eval_time: `${check.at}m`,
          alertname: s.alert,
          exp_alerts: check.firing.map((f) => {
            const rule = s.rules.find((r) => r.labels?.severity === f.severity);
            if (!rule) throw new Error(`${s.alert}: no ${f.severity} rule`);
            const labels = { ...rule.labels, ...f.labels };
            const annotations = Object.fromEntries(
              Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, renderTemplate(v, { ...labels, alertname: s.alert })]),
            );
            return { exp_labels: labels, exp_annotations: annotations };
          }),
        })),
      };
    }),
  };
}

/** Recording-only groups first, so an alert at time t reads what was recorded at t. */
function groupOrder(groups: GroupDoc[]): string[] {
  return [...groups.filter((g) => g.rules.every((r) => r.record)), ...groups.filter((g) => g.rules.some((r) => r.alert))].map((g) => g.name);
}

/** The groups an alert needs: its own, and those recording a series it (transitively) reads. */
function groupsFor(s: Subject, all: GroupDoc[]): GroupDoc[] {
  const needed = new Set(all.filter((g) => g.rules.some((r) => s.rules.includes(r))));
  for (let grew = true; grew;) {
    grew = false;
    const exprs = [...needed].flatMap((g) => g.rules.map((r) => r.expr)).join('\n');
    for (const g of all) {
      if (!needed.has(g) && g.rules.some((r) => r.record && new RegExp(`(^|[^a-zA-Z0-9_:])${r.record}([^a-zA-Z0-9_:]|$)`).test(exprs))) {
        needed.add(g);
        grew = true;
      }
    }
  }
  return all.filter((g) => needed.has(g));
}

interface Prepared {
  dir: string;
  ruleFiles: string[];
  tests: { alert: string; file: string; subject: Subject; error?: string }[];
  /** Rules GMP's operator refuses to scope (a conflicting matcher or label): the whole object is rejected. */
  scopeErrors: string[];
}

function prepare(rc: RenderedCluster, root: string): Prepared {
  const dir = path.join(root, rc.key.replace(/\//g, '_'));
  fs.mkdirSync(dir, { recursive: true });
  // Each object as rendered, and as GMP's operator hands it to the rule evaluator (scoped),
  // for `check rules`; one file per scoped group for the unit tests, which load only the
  // groups the alert under test needs (fast, and isolated).
  const scopeErrors: string[] = [];
  const scoped = rc.files.map((f) => {
    const labels = scopeLabels(f.kind, rc.where, f.namespace);
    const groups = f.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => {
        try {
          return { ...r, expr: scopeExpr(r.expr, labels), labels: scopeRuleLabels(r.labels, labels) };
        } catch (e) {
          scopeErrors.push(`${f.kind} ${f.namespace ?? ''}/${f.name}: ${r.alert ?? r.record}: ${(e as Error).message}`);
          return r;
        }
      }),
    }));
    return { ...f, name: `scoped-${f.name}`, groups };
  });
  const ruleFiles = [...rc.files, ...scoped].map((f) => {
    fs.writeFileSync(path.join(dir, f.name), stringify({ groups: f.groups }));
    return f.name;
  });
  const all = scoped.flatMap((f) => f.groups);
  const groupFile = new Map(all.map((g, i) => [g, `group-${String(i).padStart(2, '0')}.yaml`]));
  for (const [g, file] of groupFile) fs.writeFileSync(path.join(dir, file), stringify({ groups: [g] }));
  const gmp = new Gmp(rc);
  const tests = subjects(scoped).map((subject, i) => {
    const fixture = FIXTURES[subject.alert];
    if (!fixture) throw new Error(`no promtool unit test for alert ${subject.alert}: add a fixture to test/features/observability/promtool.test.ts`);
    const file = `test-${String(i).padStart(2, '0')}-${subject.alert}.yaml`;
    const groups = groupsFor(subject, all);
    let scenarios: Scenario[];
    try {
      scenarios = fixture(subject, rc.cluster, gmp);
    } catch (e) {
      // Series that cannot exist in the cluster: the alert cannot be tested as it runs.
      return { alert: subject.alert, file, subject, error: (e as Error).message };
    }
    const doc = unitTestFile(
      subject,
      scenarios,
      groups.map((g) => groupFile.get(g)!),
      groupOrder(groups),
    );
    fs.writeFileSync(path.join(dir, file), stringify(doc, { lineWidth: 0 }));
    return { alert: subject.alert, file, subject, error: undefined };
  });
  return { dir, ruleFiles, tests, scopeErrors };
}

/** promtool's verdict per test file: "Unit Testing:  <file>" then "  SUCCESS" or "  FAILED:" and details. */
function verdicts(output: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = output.split(/^Unit Testing: +/m).slice(1);
  for (const part of parts) {
    const [file, ...rest] = part.split('\n');
    out.set(file.trim(), rest.join('\n'));
  }
  return out;
}

/** An alert's labels without those every alert of the cluster carries (scope, platform, env, region). */
function shown(labels: Record<string, string>): Record<string, string> {
  const { project_id: _p, location: _l, cluster: _c, platform: _pl, env: _e, region: _r, ...rest } = labels;
  return rest;
}

// ---------------------------------------------------------------------------------------

const clusters = [...renderedRules(loadAll(ROOT)), ...renderedRules(sampleEnvs())];
const d = PROMTOOL ? describe : describe.skip;

test('promtool is installed, or the run is local', () => {
  if (process.env.CI === 'true') expect(PROMTOOL).toBeDefined();
});

test('every cluster renders rules, and every alert has a fixture', () => {
  expect(clusters.length).toBeGreaterThan(1);
  for (const rc of clusters) {
    expect(rc.files.length).toBeGreaterThan(0);
    for (const s of subjects(rc.files)) expect(Object.keys(FIXTURES)).toContain(s.alert);
  }
});

d('promtool', () => {
  const root = tempDir('meridian-promtool-');
  const prepared = clusters.map((rc) => [rc, prepare(rc, root)] as const);
  // Every cluster's `check rules` and `test rules`, one promtool per core at a time (each runs
  // its files one after the other): the tests below read their reports.
  const checked = new Map<string, PromtoolResult>();
  const tested = new Map<string, PromtoolResult>();
  beforeAll(async () => {
    const jobs = prepared.flatMap(([rc, p]) => [
      async () => checked.set(rc.key, await runPromtoolAsync(PROMTOOL!, ['check', 'rules', ...p.ruleFiles], p.dir)),
      async () => tested.set(rc.key, await runPromtoolAsync(PROMTOOL!, ['test', 'rules', ...p.tests.filter((t) => !t.error).map((t) => t.file)], p.dir)),
    ]);
    await inParallel(jobs, os.availableParallelism());
  }, 600_000);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(prepared.map(([rc, p]) => [rc.key, p] as const))('check rules, as rendered and as GMP scopes them: %s', (key, p) => {
    expect(p.scopeErrors).toEqual([]);
    const r = checked.get(key)!;
    if (r.code !== 0) throw new Error(r.output);
    for (const f of p.ruleFiles) expect(r.output).toContain(`Checking ${f}\n  SUCCESS`);
  });

  describe.each(prepared.map(([rc, p]) => [rc.key, p] as const))('test rules: %s', (key, p) => {
    let results: Map<string, string>;
    let output = '';
    beforeAll(() => {
      const r = tested.get(key)!;
      output = r.output;
      results = verdicts(r.output);
      if (r.code === null) throw new Error(r.output);
    });

    test.each(p.tests.map((t) => [`${t.alert} ${JSON.stringify(shown(t.subject.labels))}`, t.file, t.error] as const))('%s', (_name, file, error) => {
      if (error) throw new Error(error);
      const verdict = results.get(file);
      if (verdict === undefined) throw new Error(`promtool did not report ${file}:\n${output}`);
      if (!verdict.includes('SUCCESS')) throw new Error(`${file}:\n${verdict}\n(files in ${p.dir})`);
    });
  });
});
