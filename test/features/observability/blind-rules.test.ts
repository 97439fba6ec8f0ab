/**
 * The blind-rule and double-ingestion checks (features/observability/checks.ts), on a
 * cluster folder as it was rendered before issue 16 (test/fixtures/gmp-today: ggen prod
 * us-central1, the objects of the marketplace namespace these rules and scrapes involve), and on
 * small hand-made clusters.
 */
import * as path from 'node:path';
import { formatProblem, readObjects, validateObjects } from '../../../checks';
import { blindRuleProblems, doubleIngestionProblems } from '../../../features/observability/checks';
import { Cluster, KObject } from '../../../checks/objects';
import { ROOT } from '../../helpers';

const TODAY = path.join(ROOT, 'test/fixtures/gmp-today');

describe('on the cluster as rendered before issue 16', () => {
  const problems = validateObjects(readObjects(TODAY)).map(formatProblem);

  test("fails on CrossRegionLatencyHigh's recording: the gateway is the only caller, in another namespace", () => {
    const blind = problems.filter((p) => p.includes('can match no series'));
    expect(blind).toEqual([
      expect.stringContaining(
        'rules-api.yaml: Rules marketplace/api: spec.groups[0].rules[5].expr: service:cross_region_request_duration_milliseconds:p95_rate5m: selector istio_request_duration_milliseconds_bucket{reporter="source",destination_workload_namespace="marketplace",destination_workload="api",destination_cluster!="ggen-prod-us-central1"} can match no series in namespace marketplace of its cluster (Managed Prometheus adds namespace="marketplace" to every selector of a Rules): PodMonitoring marketplace/istio-proxies: no workload of marketplace may call marketplace/api',
      ),
    ]);
    expect(blind[0]).toContain('Fix: move the rule to a Rules in the namespace whose targets produce the series, or to a ClusterRules');
  });

  test('fails on the Redis pods annotated for Istio metrics merging', () => {
    expect(problems.filter((p) => p.includes('ingested twice'))).toEqual([
      expect.stringContaining(
        'statefulset-cache.yaml: StatefulSet marketplace/cache: spec.template.metadata.annotations: prometheus.io/scrape is "true": Istio merges these metrics into the sidecar\'s, which PodMonitoring istio-proxies scrapes, while PodMonitoring cache-redis scrapes them too',
      ),
    ]);
  });

  test('every other rule of the api sees its series', () => {
    expect(problems.filter((p) => p.includes('rules-api.yaml') && !p.includes('rules[5]') && p.includes('can match no series'))).toEqual([]);
  });
});

const obj = (kind: string, name: string, namespace: string | undefined, rest: Record<string, unknown> = {}): { file: string; obj: KObject } => ({
  file: `c/${namespace ?? '_cluster'}/${kind.toLowerCase()}-${name}.yaml`,
  obj: { apiVersion: 'v1', kind, metadata: { name, namespace }, ...rest } as KObject,
});
const rules = (kind: 'Rules' | 'ClusterRules' | 'GlobalRules', namespace: string | undefined, exprs: string[]) =>
  obj(kind, 'r', namespace, { spec: { groups: [{ name: 'g', rules: exprs.map((expr, i) => ({ record: `x:y:r${i}`, expr })) }] } });
const scrape = (namespace: string, name: string, endpoint: Record<string, unknown>, metrics?: string) =>
  obj('PodMonitoring', name, namespace, {
    metadata: { name, namespace, annotations: metrics ? { 'meridian.dev/metrics': metrics } : undefined },
    spec: { selector: { matchLabels: { app: name } }, endpoints: [endpoint] },
  });

describe('blindRuleProblems', () => {
  test('a Cloud Monitoring metric is read by a GlobalRules only: in a ClusterRules or a Rules it is blind, with the fix', () => {
    const up = 'min(cloudsql_googleapis_com:database_up{monitored_resource="cloudsql_database"}) < 1';
    const cluster = new Cluster('c', [rules('GlobalRules', undefined, [up]), rules('ClusterRules', undefined, [up]), rules('Rules', 'a', [up])]);
    expect(blindRuleProblems(cluster).map(formatProblem)).toEqual([
      'c/a/rules-r.yaml: Rules a/r: spec.groups[0].rules[0].expr: x:y:r0: selector cloudsql_googleapis_com:database_up{monitored_resource="cloudsql_database"} can match no series in namespace a of its cluster (Managed Prometheus adds namespace="a" to every selector of a Rules): cloudsql_googleapis_com:database_up is a Cloud Monitoring metric, which only a GlobalRules can read. Fix: move the rule to a GlobalRules (monitoring.global in the spec)',
      'c/_cluster/clusterrules-r.yaml: ClusterRules r: spec.groups[0].rules[0].expr: x:y:r0: selector cloudsql_googleapis_com:database_up{monitored_resource="cloudsql_database"} can match no series in its cluster (a ClusterRules): cloudsql_googleapis_com:database_up is a Cloud Monitoring metric, which only a GlobalRules can read. Fix: move the rule to a GlobalRules (monitoring.global in the spec)',
    ]);
  });

  test('a GlobalRules reading a series nothing records or scrapes is blind too', () => {
    const cluster = new Cluster('c', [rules('GlobalRules', undefined, ['count(service:nothing:ratio < 0.9) >= 2'])]);
    expect(blindRuleProblems(cluster).map(formatProblem)).toEqual([
      expect.stringContaining(
        'GlobalRules r: spec.groups[0].rules[0].expr: x:y:r0: selector service:nothing:ratio can match no series in any cluster (a GlobalRules',
      ),
    ]);
  });

  test('a Rules sees the series of its own namespace only', () => {
    const cluster = new Cluster('c', [
      scrape('a', 'exporter', { port: 9121 }, 'redis_*'),
      rules('Rules', 'a', ['redis_up']),
      rules('Rules', 'b', ['redis_up']),
    ]);
    const problems = blindRuleProblems(cluster);
    expect(problems.map((p) => `${p.object?.namespace}: ${p.message}`)).toEqual([
      'b: x:y:r0: selector redis_up can match no series in namespace b of its cluster (Managed Prometheus adds namespace="b" to every selector of a Rules): PodMonitoring a/exporter stores it with namespace="a". Fix: move the rule to a Rules in the namespace whose targets produce the series, or to a ClusterRules, or select series this namespace produces (e.g. the other reporter)',
    ]);
  });

  test('a ClusterRules sees every namespace; GKE collection exists everywhere; a job label must be a scrape of that name', () => {
    const cluster = new Cluster('c', [
      scrape('a', 'exporter', { port: 9121 }, 'redis_*'),
      rules('ClusterRules', undefined, ['redis_up', 'kube_pod_info', 'container_cpu_usage_seconds_total', 'redis_up{job="other"}', 'nothing_exports_this']),
    ]);
    expect(blindRuleProblems(cluster).map((p) => p.message)).toEqual([
      'x:y:r3: selector redis_up{job="other"} can match no series in its cluster (a ClusterRules): PodMonitoring a/exporter sets job="exporter". Fix: select a metric something of this cluster produces',
      'x:y:r4: selector nothing_exports_this can match no series in its cluster (a ClusterRules): nothing in the cluster produces nothing_exports_this. Fix: select a metric something of this cluster produces',
    ]);
  });

  test('a recorded series is seen in the scope of its recording rule, with its labels', () => {
    const recorded = obj('Rules', 'rec', 'a', {
      spec: { groups: [{ name: 'g', rules: [{ record: 'service:requests:rate5m', expr: 'vector(1)', labels: { service: 'api' } }] }] },
    });
    const cluster = new Cluster('c', [recorded, rules('Rules', 'a', ['service:requests:rate5m{service="api"}', 'service:requests:rate5m{service="web"}'])]);
    expect(blindRuleProblems(cluster).map((p) => p.path)).toEqual(['spec.groups[0].rules[1].expr']);
  });
});

describe('doubleIngestionProblems', () => {
  const pod = (annotations: Record<string, string>) =>
    obj('Deployment', 'cache', 'a', { spec: { template: { metadata: { labels: { app: 'exporter' }, annotations }, spec: { containers: [] } } } });
  const scrapes = [scrape('a', 'istio-proxies', { port: 15020, path: '/stats/prometheus' }), scrape('a', 'exporter', { port: 9121 })];
  test('fails when the annotated pod is scraped by its own PodMonitoring and through the sidecars', () => {
    expect(doubleIngestionProblems(new Cluster('c', [...scrapes, pod({ 'prometheus.io/scrape': 'true' })])).map((p) => p.path)).toEqual([
      'spec.template.metadata.annotations',
    ]);
  });
  test('merging turned off, or no annotation: once', () => {
    expect(
      doubleIngestionProblems(new Cluster('c', [...scrapes, pod({ 'prometheus.io/scrape': 'true', 'prometheus.istio.io/merge-metrics': 'false' })])),
    ).toEqual([]);
    expect(doubleIngestionProblems(new Cluster('c', [...scrapes, pod({})]))).toEqual([]);
  });
});
