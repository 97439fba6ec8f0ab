/**
 * PromQL in rendered objects must parse: the expressions of Managed Prometheus rules, the
 * queries of Grafana dashboard ConfigMaps and of KEDA's Prometheus triggers. The rule and
 * dashboard constructs refuse bad PromQL when they are built; this check runs in every synth
 * and in `meridian validate`, so it also catches YAML edited by hand or produced elsewhere.
 */
import { promqlErrors, vectorSelectors, type VectorSelector } from '../../kernel/promql';
import type { FieldProblem } from '../../kernel/problems';
import { Cluster, Json, Located, Problem, problem, matchesLabels } from '../../checks/objects';
import { authorize, type IstioPolicy } from '../../checks/flows/istio-authorization';
import { ANNOTATION_METRICS } from './metrics-scrape';

type Obj = Record<string, unknown>;

export function promqlProblems(manifest: Obj): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const check = (path: string, expr: unknown) => {
    if (typeof expr !== 'string') return;
    for (const error of promqlErrors(expr)) problems.push({ path, message: `not valid PromQL: ${error}` });
  };
  const kind = manifest.kind;
  if ((kind === 'Rules' || kind === 'ClusterRules') && String(manifest.apiVersion).startsWith('monitoring.googleapis.com/')) {
    const groups = ((manifest.spec as Obj | undefined)?.groups ?? []) as Obj[];
    groups.forEach((g, i) => ((g.rules ?? []) as Obj[]).forEach((r, j) => check(`spec.groups[${i}].rules[${j}].expr`, r.expr)));
  }
  // ScaledObject queries are parsed with the rest of KEDA's rules (keda.ts).
  const labels = ((manifest.metadata as Obj | undefined)?.labels ?? {}) as Obj;
  if (kind === 'ConfigMap' && labels.grafana_dashboard !== undefined) {
    for (const [key, text] of Object.entries((manifest.data ?? {}) as Obj)) {
      if (!key.endsWith('.json') || typeof text !== 'string') continue;
      let model: Obj;
      try {
        model = JSON.parse(text) as Obj;
      } catch (e) {
        problems.push({ path: `data.${key}`, message: `not valid JSON: ${(e as Error).message}` });
        continue;
      }
      ((model.panels ?? []) as Obj[]).forEach((p, i) =>
        ((p.targets ?? []) as Obj[]).forEach((t, j) => check(`data.${key}: panels[${i}].targets[${j}].expr`, t.expr)),
      );
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
/*
 * Checks on the rendered monitoring of one cluster that no schema can see:
 *
 * - blind rules: every metric a rule selects must be produced by something of the cluster in
 *   the scope Managed Prometheus evaluates the rule in (gmp-scope.ts): a rendered
 *   PodMonitoring or ClusterPodMonitoring, GKE's own collection, or a recording rule of the
 *   same scope. A selector that can only match series of another namespace or cluster is an
 *   alert that never fires and a panel that stays empty;
 * - double ingestion: a pod annotated `prometheus.io/scrape` in a meshed namespace whose
 *   sidecars are scraped has its metrics merged into the sidecar's by Istio (on by default)
 *   while its own PodMonitoring scrapes them too: every series is stored twice.
 */

/**
 * Series GKE collects itself when the cluster runs Managed Prometheus' managed collection
 * (docs/observability.md, "What the clusters need"): kube-state-metrics (GKE's managed
 * package; `namespace` is the object's) and the kubelet's cAdvisor (`namespace` is the pod's).
 * Both exist in every namespace of the cluster.
 */
const GKE_COLLECTION: readonly { source: string; metrics: readonly string[] }[] = [
  { source: "GKE's kube-state-metrics package", metrics: ['kube_*'] },
  { source: "GKE's kubelet/cAdvisor scraping", metrics: ['container_*'] },
];

/** Every scrape job also yields these, whatever the target serves (Prometheus' scrape loop). */
const SCRAPE_SERIES = ['up', 'scrape_*'];

interface Producer {
  readonly source: string;
  /** Metric names or `prefix_*` families; undefined: not declared, any metric. */
  readonly metrics?: readonly string[];
  /** The namespace of its series; undefined: several (the object's, or the exporter's own label). */
  readonly namespace?: string;
  /** Fixed labels of its series (job, and a recording rule's labels). */
  readonly labels: Readonly<Record<string, string>>;
  /** An Istio proxy scrape: its `istio_*` series follow Istio's labels (see istioSeriesExist). */
  readonly istio: boolean;
}

/**
 * Families only their own exporter serves: a scrape that declares no metrics may serve any
 * metric but these (an application does not export `istio_*` or `kube_*` series).
 */
const OWNED_FAMILIES = ['istio_', 'envoy_', 'kube_', 'container_', 'keda_'];

function metricMatches(patterns: readonly string[] | undefined, metric: string): boolean {
  if (!patterns) return !OWNED_FAMILIES.some((f) => metric.startsWith(f));
  return patterns.some((p) => (p.endsWith('*') ? metric.startsWith(p.slice(0, -1)) : p === metric));
}

/** istio-agent's endpoint on every Istio proxy: Envoy's and Istio's metrics merged. */
function isIstioScrape(o: Located): boolean {
  return ((o.obj.spec?.endpoints ?? []) as Json[]).some((e) => String(e.port) === '15020' && e.path === '/stats/prometheus');
}

function producers(cluster: Cluster): Producer[] {
  const out: Producer[] = [];
  for (const kind of ['PodMonitoring', 'ClusterPodMonitoring']) {
    for (const o of cluster.of(kind)) {
      const declared = o.obj.metadata.annotations?.[ANNOTATION_METRICS];
      const istio = isIstioScrape(o);
      const metrics =
        declared !== undefined ? [...declared.split(',').filter(Boolean), ...SCRAPE_SERIES] : istio ? ['istio_*', 'envoy_*', ...SCRAPE_SERIES] : undefined;
      out.push({
        source: `${kind} ${o.obj.metadata.namespace ? `${o.obj.metadata.namespace}/` : ''}${o.obj.metadata.name}`,
        metrics,
        namespace: kind === 'PodMonitoring' ? (o.obj.metadata.namespace ?? 'default') : undefined,
        labels: { job: o.obj.metadata.name },
        istio,
      });
    }
  }
  for (const g of GKE_COLLECTION) out.push({ source: g.source, metrics: g.metrics, labels: {}, istio: false });
  for (const kind of ['Rules', 'ClusterRules']) {
    for (const o of cluster.of(kind)) {
      for (const group of (o.obj.spec?.groups ?? []) as Json[]) {
        for (const rule of (group.rules ?? []) as Json[]) {
          if (typeof rule.record !== 'string') continue;
          out.push({
            source: `the recording rule of ${kind} ${o.obj.metadata.namespace ? `${o.obj.metadata.namespace}/` : ''}${o.obj.metadata.name}`,
            metrics: [rule.record],
            namespace: kind === 'Rules' ? (o.obj.metadata.namespace ?? 'default') : undefined,
            labels: rule.labels ?? {},
            istio: false,
          });
        }
      }
    }
  }
  return out;
}

const equal = (s: VectorSelector, name: string) => s.matchers.find((m) => m.name === name && m.op === '=')?.value;

/**
 * Whether an Istio proxy scrape in `namespace` produces series matching the selector's
 * Istio labels (istio.io/latest/docs/reference/config/metrics/): a proxy reports the requests
 * its workload receives as `reporter="destination"`, with `destination_workload_namespace` its
 * own namespace, and the requests its workload makes as `reporter="source"`, with
 * `source_workload_namespace` its own namespace and the destination it called. So
 * source-reported series naming a destination exist in a namespace only if a workload of it may
 * call that destination: an identity of the namespace that the destination's
 * AuthorizationPolicies admit (checks/flows/istio-authorization.ts).
 */
function istioSeriesExist(cluster: Cluster, s: VectorSelector, namespace: string): string | undefined {
  const reporter = equal(s, 'reporter');
  const dstNs = equal(s, 'destination_workload_namespace');
  const dst = equal(s, 'destination_workload');
  const srcNs = equal(s, 'source_workload_namespace');
  if (reporter === 'destination') {
    if (dstNs !== undefined && dstNs !== namespace) return `its sidecars report the requests they receive with destination_workload_namespace="${namespace}"`;
    return undefined;
  }
  if (reporter !== 'source') return undefined;
  if (srcNs !== undefined && srcNs !== namespace) return `its proxies report the calls they make with source_workload_namespace="${namespace}"`;
  if (dst === undefined || dstNs === undefined) return undefined;
  const target = cluster.pods(dstNs).find((p) => p.owner.obj.metadata.name === dst);
  if (!target) return undefined;
  const policies: IstioPolicy[] = cluster.of('AuthorizationPolicy').map((o) => ({ ref: `${o.obj.metadata.namespace}/${o.obj.metadata.name}`, obj: o.obj }));
  const principals = new Set<string>();
  for (const p of policies) {
    for (const r of (p.obj.spec?.rules ?? []) as Json[]) {
      for (const f of (r?.from ?? []) as Json[]) for (const pr of (f?.source?.principals ?? []) as string[]) principals.add(pr);
    }
  }
  for (const sa of cluster.of('ServiceAccount', namespace)) principals.add(`cluster.local/ns/${namespace}/sa/${sa.obj.metadata.name}`);
  const ports = ((target.spec.containers ?? []) as Json[]).flatMap((c) => ((c.ports ?? []) as Json[]).map((p) => Number(p.containerPort)));
  const callers = [...principals].filter((pr) => pr.includes(`/ns/${namespace}/sa/`));
  // A call as a legitimate caller makes it: its identity, on a port of the destination, with
  // or without an end user's validated token (services requiring one are still called).
  const admitted = callers.some((principal) =>
    ports.some((port) =>
      [undefined, 'https://issuer.example/user'].some(
        (requestPrincipal) =>
          authorize(
            policies,
            { namespace: dstNs, labels: target.labels },
            { principal, sourceIp: '10.0.0.1', port, http: { method: 'GET', path: '/', requestPrincipal } },
          ).allowed,
      ),
    ),
  );
  return admitted
    ? undefined
    : `no workload of ${namespace} may call ${dstNs}/${dst} (its AuthorizationPolicies admit no identity of ${namespace}), so no proxy there reports calls to it`;
}

/** Why no producer of the cluster can give the selector a series in the scope; undefined when one can. */
function blindReason(
  cluster: Cluster,
  producing: (metric: string) => readonly Producer[],
  s: VectorSelector,
  namespace: string | undefined,
): string | undefined {
  const metric = s.metric;
  if (metric === undefined) return undefined;
  const named = producing(metric);
  if (named.length === 0) return `nothing in the cluster produces ${metric}`;
  const reasons: string[] = [];
  for (const p of named) {
    if (namespace !== undefined && p.namespace !== undefined && p.namespace !== namespace) {
      reasons.push(`${p.source} stores it with namespace="${p.namespace}"`);
      continue;
    }
    const clash = Object.entries(p.labels).find(([k, v]) => {
      const want = equal(s, k);
      return want !== undefined && want !== v;
    });
    if (clash) {
      reasons.push(`${p.source} sets ${clash[0]}="${clash[1]}"`);
      continue;
    }
    if (p.istio && metric.startsWith('istio_')) {
      const why = istioSeriesExist(cluster, s, p.namespace ?? namespace ?? '');
      if (why) {
        reasons.push(`${p.source}: ${why}`);
        continue;
      }
    }
    return undefined;
  }
  return reasons.join('; ');
}

/**
 * A Google Cloud metric as Cloud Monitoring names it for PromQL (`<domain>:<path>`, the domain's
 * dots made `_`: `cloudsql_googleapis_com:database_up`, cloud.google.com/monitoring/promql/promql-mapping).
 * Only a GlobalRules can read one (cloud.google.com/stackdriver/docs/managed-prometheus/rules-managed):
 * the scope GMP adds to a Rules or ClusterRules (cluster, namespace) is not among its labels.
 */
const CLOUD_METRIC = /^[a-z0-9_]+_(googleapis_com|kubernetes_io):[A-Za-z0-9_]+$|^kubernetes_io:[A-Za-z0-9_]+$/;

/** Rules whose selectors can match no series of their scope. */
export function blindRuleProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  let all: Producer[] | undefined;
  // What produces a metric, once per metric: a fleet's clusters repeat the same metrics in
  // every service's rules, and the producers grow with the services.
  const byMetric = new Map<string, readonly Producer[]>();
  const producing = (metric: string): readonly Producer[] => {
    let named = byMetric.get(metric);
    if (!named) byMetric.set(metric, (named = (all ??= producers(cluster)).filter((p) => metricMatches(p.metrics, metric))));
    return named;
  };
  for (const kind of ['Rules', 'ClusterRules', 'GlobalRules']) {
    for (const o of cluster.of(kind)) {
      const namespace = kind === 'Rules' ? (o.obj.metadata.namespace ?? 'default') : undefined;
      ((o.obj.spec?.groups ?? []) as Json[]).forEach((group, i) =>
        ((group.rules ?? []) as Json[]).forEach((rule, j) => {
          if (typeof rule.expr !== 'string') return;
          let selectors: VectorSelector[];
          try {
            selectors = vectorSelectors(rule.expr);
          } catch {
            return; // reported by promqlProblems
          }
          for (const s of selectors) {
            const cloud = s.metric !== undefined && CLOUD_METRIC.test(s.metric);
            if (cloud && kind === 'GlobalRules') continue;
            const why = cloud ? `${s.metric} is a Cloud Monitoring metric, which only a GlobalRules can read` : blindReason(cluster, producing, s, namespace);
            if (why === undefined) continue;
            problems.push(blind(o, `spec.groups[${i}].rules[${j}].expr`, rule.alert ?? rule.record, s.text, kind, namespace, why));
          }
        }),
      );
    }
  }
  return problems;
}

function blind(o: Located, path: string, rule: string, selector: string, kind: string, namespace: string | undefined, why: string): Problem {
  const scope =
    kind === 'GlobalRules'
      ? 'any cluster (a GlobalRules; the recordings and scrapes of this cluster stand for every region of the environment)'
      : namespace === undefined
        ? 'its cluster (a ClusterRules)'
        : `namespace ${namespace} of its cluster (Managed Prometheus adds namespace="${namespace}" to every selector of a Rules)`;
  const fix = why.endsWith('which only a GlobalRules can read')
    ? 'move the rule to a GlobalRules (monitoring.global in the spec)'
    : namespace === undefined
      ? 'select a metric something of this cluster produces'
      : 'move the rule to a Rules in the namespace whose targets produce the series, or to a ClusterRules, or select series this namespace produces (e.g. the other reporter)';
  return problem(o, path, `${rule}: selector ${selector} can match no series in ${scope}: ${why}. Fix: ${fix}`);
}

/**
 * Istio's metrics merging (istio.io/latest/docs/ops/integrations/prometheus/, "Option 1:
 * Metrics merging", on by default): the sidecar injector points `prometheus.io/*` annotations
 * at the sidecar, whose 15020 endpoint then also serves the application's metrics. A pod
 * scraped by its own PodMonitoring and annotated so, in a namespace whose sidecars are
 * scraped, is ingested twice. Opt out with `prometheus.istio.io/merge-metrics: "false"`, or
 * drop the annotations.
 */
export function doubleIngestionProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  const scrapes = cluster.of('PodMonitoring');
  for (const pod of cluster.pods()) {
    const a = pod.annotations;
    if (a['prometheus.io/scrape'] !== 'true' || a['prometheus.istio.io/merge-metrics'] === 'false') continue;
    const sidecars = scrapes.find((m) => m.obj.metadata.namespace === pod.namespace && endpointPorts(m).includes('15020'));
    const own = scrapes.find(
      (m) =>
        m.obj.metadata.namespace === pod.namespace && !endpointPorts(m).includes('15020') && matchesLabels(m.obj.spec?.selector?.matchLabels ?? {}, pod.labels),
    );
    if (!sidecars || !own) continue;
    problems.push(
      problem(
        pod.owner,
        `${pod.specPath.replace(/\.spec$/, '')}.metadata.annotations`,
        `prometheus.io/scrape is "true": Istio merges these metrics into the sidecar's, which PodMonitoring ${sidecars.obj.metadata.name} scrapes, while PodMonitoring ${own.obj.metadata.name} scrapes them too: every series is ingested twice. Drop the prometheus.io annotations or set prometheus.istio.io/merge-metrics: "false"`,
      ),
    );
  }
  return problems;
}

function endpointPorts(m: Located): string[] {
  return ((m.obj.spec?.endpoints ?? []) as Json[]).map((e) => String(e.port));
}
