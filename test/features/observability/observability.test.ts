import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAll, loadEnvironments, type PlatformInput } from '../../../model';
import { render, type Manifest } from '../../../synth/render';
import { defaultRunbookBase, ISTIO_SCRAPE, REDIS_EXPORTER_PORT } from '../../../features/observability/resolve';
import { ROOT, tempDir } from '../../helpers';
import { REST, samplePlatform } from '../../fixtures/sample';

/** An empty repository root: the sample platform has no overlays. */
const EMPTY_ROOT = tempDir();
afterAll(() => fs.rmSync(EMPTY_ROOT, { recursive: true, force: true }));

type M = Manifest & { spec?: any; data?: Record<string, string> };

const ggen = render(loadAll(ROOT, { platform: 'ggen' })).files;
/** The objects of one cluster folder, e.g. `ggen/prod/us-central1`. */
const cluster = (files: typeof ggen, key: string) => files.filter((f) => f.path.startsWith(`${key}/`)).map((f) => f.manifest as M);
const prod = cluster(ggen, 'ggen/prod/us-central1');
const find = (objs: M[], kind: string, name: string) => {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0];
};
const alertsOf = (objs: M[]) =>
  objs
    .filter((o) => o.kind === 'Rules' || o.kind === 'ClusterRules' || o.kind === 'GlobalRules')
    .flatMap((o) => o.spec.groups.flatMap((g: any) => g.rules))
    .filter((r: any) => r.alert);
const recordsOf = (objs: M[]) =>
  new Set(
    objs
      .filter((o) => o.kind === 'Rules' || o.kind === 'ClusterRules')
      .flatMap((o) => o.spec.groups.flatMap((g: any) => g.rules))
      .filter((r: any) => r.record)
      .map((r: any) => r.record as string),
  );
const dashboards = (objs: M[]) =>
  objs
    .filter((o) => o.kind === 'ConfigMap' && (o.metadata.labels as Record<string, string> | undefined)?.grafana_dashboard === '1')
    .map((o) => JSON.parse(Object.values(o.data!)[0]));

describe('observability of a region cluster (ggen prod us-central1)', () => {
  test('each service declaring metrics is scraped on its port and path, selecting its own pods', () => {
    const api = find(prod, 'PodMonitoring', 'api');
    expect(api.spec).toEqual({
      selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } },
      endpoints: [{ port: 'http', path: '/metrics', interval: '30s' }],
      targetLabels: { fromPod: [{ from: 'meridian.dev/region', to: 'region' }] },
    });
    expect(find(prod, 'PodMonitoring', 'replication-worker').spec.endpoints).toEqual([{ port: 9090, path: '/metrics', interval: '30s' }]);
    const pods = find(prod, 'Deployment', 'api').spec.template.metadata.labels;
    expect(pods).toMatchObject(api.spec.selector.matchLabels);
  });

  test('the Istio sidecars of every namespace are scraped on 15020 /stats/prometheus', () => {
    expect(find(prod, 'PodMonitoring', ISTIO_SCRAPE)).toMatchObject({
      metadata: { namespace: 'marketplace' },
      spec: { selector: { matchLabels: { 'security.istio.io/tlsMode': 'istio' } }, endpoints: [{ port: 15020, path: '/stats/prometheus', interval: '30s' }] },
    });
  });

  test('Redis is scraped through the exporter sidecar port, redis and sentinel as two jobs, selecting the Redis pods', () => {
    const redis = find(prod, 'PodMonitoring', 'cache-redis');
    const sentinel = find(prod, 'PodMonitoring', 'cache-sentinel');
    expect(redis.spec.endpoints).toEqual([{ port: REDIS_EXPORTER_PORT.name, path: '/metrics', interval: '30s' }]);
    expect(sentinel.spec.endpoints).toEqual([
      { port: REDIS_EXPORTER_PORT.name, path: '/scrape', interval: '30s', params: { target: ['redis://localhost:26379'] } },
    ]);
    const pods = find(prod, 'StatefulSet', 'cache').spec.template.metadata.labels;
    expect(pods).toMatchObject(redis.spec.selector.matchLabels);
    expect(sentinel.spec.selector).toEqual(redis.spec.selector);
  });

  test('rules: one Rules per service, per Redis group and per namespace, and a ClusterRules', () => {
    const rules = prod
      .filter((o) => o.kind === 'Rules' || o.kind === 'ClusterRules')
      .map((o) => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`)
      .sort();
    expect(rules).toEqual([
      'ClusterRules -/ggen-capacity',
      // The exposed api's availability, over the ingress gateway's series: a ClusterRules.
      'ClusterRules -/ggen-edge-slo',
      // CrossRegionLatencyHigh: over the ingress gateway's series, where GMP stores them.
      'Rules istio-ingress/ggen-gateway',
      'Rules marketplace/api',
      'Rules marketplace/cache-redis',
      'Rules marketplace/meridian-workloads',
      'Rules marketplace/replication-worker',
    ]);
  });

  test('the alerts of the seed rows are all there', () => {
    expect([...new Set(alertsOf(prod).map((r: any) => r.alert))].sort()).toEqual([
      'AutoscalerAtMaxReplicas',
      'AutoscalerErrors',
      'AutoscalerPaused',
      'ContainerCpuHigh',
      'ContainerMemoryNearLimit',
      'CrossRegionLatencyHigh',
      'FirestoreReadsHigh',
      'HealthCheckFailingInRegions',
      'HealthCheckSuccessLow',
      'PodRestartingOften',
      'RedisBackupStale',
      'RedisCacheHitRateLow',
      'RedisDown',
      'RedisFailoverOccurred',
      'RedisMetricsAbsent',
      'RedisMultipleMasters',
      'RedisNoMaster',
      'RedisReplicaEmpty',
      'RedisReplicationLag',
      'RedisSentinelsDisagree',
      'ReplicationLagHigh',
      'RequestedCapacitySpike',
      'ServiceAvailabilityBudgetBurn',
      'ServiceErrorRateHigh',
    ]);
  });

  test('thresholds come from the spec: seed 004 §7.1 numbers, 4xx and 5xx counted as errors for ggen', () => {
    const exprs = alertsOf(prod).map((r: any) => `${r.alert} ${r.labels.severity}: ${r.expr}`);
    expect(exprs).toContain('ReplicationLagHigh warning: service:replication_lag_seconds:max{service="replication-worker"} > 10');
    expect(exprs).toContain('ReplicationLagHigh critical: service:replication_lag_seconds:max{service="replication-worker"} > 30');
    expect(exprs).toContain('ServiceErrorRateHigh critical: 100 * service:request_errors:ratio_rate5m{service="api"} > 1');
    expect(exprs).toContain('RedisCacheHitRateLow critical: 100 * redis:hit_ratio:rate5m{redis="cache"} < 50');
    const errors = find(prod, 'Rules', 'api').spec.groups[0].rules.find((r: any) => r.record === 'service:request_errors:ratio_rate5m');
    expect(errors.expr).toContain('response_code=~"[45].."');
  });

  test('the page and ticket burn-rate alerts use the SRE workbook windows and factors', () => {
    const burn = alertsOf(prod).filter((r: any) => r.alert === 'ServiceAvailabilityBudgetBurn');
    expect(burn.map((r: any) => [r.labels.severity, r.for])).toEqual([
      ['critical', '2m'],
      ['warning', '15m'],
    ]);
    expect(burn[0].expr).toMatch(/slo:sli_error:ratio_rate1h\{[^}]*\} > 0\.0144\nand\n {2}slo:sli_error:ratio_rate5m\{[^}]*\} > 0\.0144/);
    expect(burn[0].expr).toMatch(/ratio_rate6h\{[^}]*\} > 0\.006\nand\n {2}slo:sli_error:ratio_rate30m\{[^}]*\} > 0\.006/);
    expect(burn[1].expr).toMatch(/ratio_rate1d\{[^}]*\} > 0\.003\nand\n {2}slo:sli_error:ratio_rate2h\{[^}]*\} > 0\.003/);
    expect(burn[1].expr).toMatch(/ratio_rate3d\{[^}]*\} > 0\.001\nand\n {2}slo:sli_error:ratio_rate6h\{[^}]*\} > 0\.001/);
  });

  const GLOBAL_ALERTS = ['HealthCheckFailingInRegions', 'FirestoreReadsHigh', 'CloudSqlDown'];

  test('every alert has a severity, summary, description, the platform/env/region labels and a runbook in docs/runbooks', () => {
    const base = defaultRunbookBase('https://github.com/meridian-platform/fleet.git', 'main');
    for (const r of alertsOf(prod)) {
      expect(['critical', 'warning']).toContain(r.labels.severity);
      // The environment's GlobalRules speak for every region: no region label.
      expect(r.labels).toMatchObject(
        GLOBAL_ALERTS.includes(r.alert) ? { platform: 'ggen', env: 'prod' } : { platform: 'ggen', env: 'prod', region: 'us-central1' },
      );
      expect(r.annotations.summary).toBeTruthy();
      expect(r.annotations.description).toBeTruthy();
      expect(r.annotations.runbook_url).toBe(`${base}/${r.alert}.md`);
    }
  });

  test('every alert of every cluster, and of a platform with latency objectives, has a runbook with the three sections', () => {
    const sample = render(loadEnvironments({ file: 'platforms/sample.ts', input: SAMPLE }, EMPTY_ROOT)).files.map((f) => f.manifest as M);
    const names = new Set([...alertsOf(ggen.map((f) => f.manifest as M)), ...alertsOf(sample)].map((r: any) => r.alert as string));
    expect(names).toContain('ServiceLatencyBudgetBurn');
    for (const name of names) {
      const file = path.join(ROOT, 'docs', 'runbooks', `${name}.md`);
      expect(fs.existsSync(file) ? file : `missing ${file}`).toBe(file);
      const text = fs.readFileSync(file, 'utf8');
      for (const section of ['## What it means', '## What to check', '## How to fix']) expect(`${name}: ${text.includes(section)}`).toBe(`${name}: true`);
    }
  });

  test('dashboards: RED per service, Redis, autoscaling; each a ConfigMap for the Grafana sidecar with a region variable', () => {
    const ds = dashboards(prod);
    expect(ds.map((d) => d.uid).sort()).toEqual([
      'ggen-prod-api-red',
      'ggen-prod-cache-redis',
      'ggen-prod-marketplace-autoscaling',
      'ggen-prod-replication-worker-red',
    ]);
    for (const d of ds) {
      expect(d.templating.list.find((v: any) => v.name === 'region').options.map((o: any) => o.value)).toEqual([
        '$__all',
        'us-central1',
        'us-east1',
        'europe-west1',
      ]);
    }
    const red = ds.find((d) => d.uid === 'ggen-prod-api-red');
    expect(red.panels.map((p: any) => p.title)).toEqual([
      'Requests per second',
      'Errors (status [45]..)',
      'Duration',
      'Cross-region calls, p95 (from the ingress gateway)',
      'Replicas passing health checks',
      'Error budget burn rate (1h)',
    ]);
  });

  test('dashboards read only series the rules record, filtered to the platform and environment', () => {
    const recorded = recordsOf(prod);
    for (const d of dashboards(prod)) {
      for (const p of d.panels) {
        for (const t of p.targets) {
          const names = [...t.expr.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]+)\{([^}]*)\}/g)];
          if (!t.expr.startsWith('vector(')) expect(names.length).toBeGreaterThan(0);
          for (const [, name, matchers] of names) {
            expect(`${d.uid}: ${name} ${recorded.has(name)}`).toBe(`${d.uid}: ${name} true`);
            expect(matchers).toContain('platform="ggen",env="prod",region=~"$region"');
          }
        }
      }
    }
  });

  test('the dashboards are the same in every region cluster of an environment', () => {
    const data = (key: string) =>
      cluster(ggen, key)
        .filter((o) => (o.metadata.labels as Record<string, string> | undefined)?.grafana_dashboard === '1')
        .map((o) => o.data);
    expect(data('ggen/prod/us-east1')).toEqual(data('ggen/prod/us-central1'));
  });

  test('monitoring objects sync after the workloads', () => {
    for (const o of prod.filter((x) => ['PodMonitoring', 'Rules', 'ClusterRules'].includes(x.kind))) {
      expect(o.metadata.annotations).toMatchObject({ 'argocd.argoproj.io/sync-wave': '1' });
    }
  });

  test('the AppProject allows the monitoring kinds', () => {
    const project = cluster(ggen, 'ggen/prod/argocd').find((o) => o.kind === 'AppProject')!;
    expect(project.spec.namespaceResourceWhitelist).toEqual(
      expect.arrayContaining([
        { group: 'monitoring.googleapis.com', kind: 'PodMonitoring' },
        { group: 'monitoring.googleapis.com', kind: 'Rules' },
      ]),
    );
    expect(project.spec.clusterResourceWhitelist).toEqual(expect.arrayContaining([{ group: 'monitoring.googleapis.com', kind: 'ClusterRules' }]));
  });
});

const SAMPLE: PlatformInput = samplePlatform({ rest: { ...REST, replicas: 2, slo: { latency: { p95: '500ms' } } } });

describe('the environment-wide GlobalRules', () => {
  const globals = ggen.filter((f) => (f.manifest as M).kind === 'GlobalRules');

  test('one per environment, in the primary region only (each cluster evaluates and notifies on its own)', () => {
    expect(globals.map((f) => f.path).sort()).toEqual([
      'ggen/dev/us-central1/_cluster/globalrules-ggen-dev-global.yaml',
      'ggen/prod/us-central1/_cluster/globalrules-ggen-prod-global.yaml',
      'ggen/staging/us-central1/_cluster/globalrules-ggen-staging-global.yaml',
    ]);
  });

  test('every selector names the platform and environment, or the project: a GlobalRules sees every cluster and project', () => {
    const prodRules: any[] = (globals.find((f) => f.path.startsWith('ggen/prod/'))!.manifest as M).spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
    expect(prodRules.map((r) => `${r.alert} ${r.labels.severity}`)).toEqual([
      'HealthCheckFailingInRegions critical',
      'FirestoreReadsHigh warning',
      'FirestoreReadsHigh critical',
    ]);
    expect(prodRules[0].expr).toBe('count by (service) (100 * service:health_check_success:ratio{platform="ggen",env="prod"} < 95) >= 2');
    expect(prodRules[2].expr).toBe(
      'sum(increase(firestore_googleapis_com:document_read_count{monitored_resource="firestore_instance",project_id="ggen-marketplace-prod"}[1d])) > 2000000',
    );
  });
});

describe('observability follows the spec', () => {
  const objs = render(loadEnvironments({ file: 'platforms/sample.ts', input: SAMPLE }, EMPTY_ROOT)).files.map((f) => f.manifest as M);

  test('a single-region platform without Redis, autoscaling or metrics ports: only the sidecars are scraped', () => {
    expect(objs.filter((o) => o.kind === 'PodMonitoring').map((o) => o.metadata.name)).toEqual([ISTIO_SCRAPE]);
    const alerts = new Set(alertsOf(objs).map((r: any) => r.alert));
    for (const absent of ['CrossRegionLatencyHigh', 'AutoscalerAtMaxReplicas', 'RedisDown', 'ReplicationLagHigh', 'ServiceAvailabilityBudgetBurn'])
      expect(alerts).not.toContain(absent);
    expect(alerts).toContain('ServiceLatencyBudgetBurn');
    expect(dashboards(objs).map((d) => d.uid)).toEqual(['sample-prod-rest-red']);
  });

  test('a latency objective counts the requests above its Istio bucket, whichever way the bound is written', () => {
    const sli = objs.find((o) => o.kind === 'Rules' && o.metadata.name === 'rest')!.spec.groups[2].rules[0];
    expect(sli.record).toBe('slo:sli_error:ratio_rate5m');
    expect(sli.labels).toMatchObject({ service: 'rest', slo: 'latency-p95', objective: '95' });
    expect(sli.expr).toContain('le=~"500(\\\\.0)?"');
  });

  test('runbooks point at the gitops repository unless monitoring.runbookBaseUrl says otherwise', () => {
    expect(alertsOf(objs)[0].annotations.runbook_url).toMatch(/^https:\/\/github\.com\/example\/fleet\/blob\/main\/docs\/runbooks\/[A-Za-z]+\.md$/);
    const other = render(
      loadEnvironments(
        { file: 'platforms/sample.ts', input: { ...SAMPLE, monitoring: { runbookBaseUrl: 'https://runbooks.example.com/sample/' } } },
        EMPTY_ROOT,
      ),
    ).files.map((f) => f.manifest as M);
    expect(alertsOf(other)[0].annotations.runbook_url).toMatch(/^https:\/\/runbooks\.example\.com\/sample\/[A-Za-z]+\.md$/);
  });
});
