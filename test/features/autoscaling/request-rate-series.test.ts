/**
 * Issue 17, item 5: the requests-per-second query of every rendered ScaledObject, run by the
 * real PromQL engine (promtool) over series shaped as Managed Prometheus stores them.
 *
 * KEDA asks the project's global query endpoint, which holds every cluster of the project.
 * The series carry what GMP's collector forces on each target (prometheus-engine
 * pkg/operator/apis/monitoring/v1/pod_config.go, `ScrapeConfigs`: `project_id`, `location`
 * and `cluster` replaced with the collector's own values, where `cluster` is the GKE cluster's
 * name, which Meridian does not choose; `namespace` and `job` = the PodMonitoring's namespace
 * and name; `instance` = `<pod>:<port>`; `targetLabels.fromPod` copies pod labels), plus the
 * labels Istio's sidecar writes. Everything here is derived from the committed dist/ (the
 * Deployment's pod labels, the PodMonitoring that selects them), not from the query.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { loadAll } from '../../../model';
import { prometheusScalerReading } from '../../../features/autoscaling/keda-model';
import { ROOT, tempDir } from '../../helpers';
import { findPromtool, runPromtool } from '../../promtool';
import { distClusters, ofKind, type DistCluster } from '../../seeds/dist';

const PROMTOOL = findPromtool();
const maybe = PROMTOOL ? describe : describe.skip;

type Json = Record<string, any>;

const platforms = [...new Set(loadAll(ROOT).map((e) => e.platform.name))].sort();
const clusters = platforms.flatMap((p) => distClusters(p));

interface Trigger {
  key: string;
  cluster: DistCluster;
  so: Json;
  trigger: Json;
}
const triggers: Trigger[] = clusters.flatMap((cluster) =>
  ofKind(cluster, 'ScaledObject').flatMap((so) =>
    (so.spec.triggers as Json[])
      .filter((t) => t.name === 'requests-per-second' || t.name === 'open-streams')
      .map((trigger) => ({ key: `${cluster.platform}/${cluster.env}/${cluster.region} ${so.metadata.name}`, cluster, so, trigger })),
  ),
);

/** The Istio PodMonitoring that scrapes the workload's sidecars in `cluster`, and the workload's pod labels. */
function scrapeOf(cluster: DistCluster, namespace: string, workload: string): { monitoring: Json; podLabels: Record<string, string> } {
  const deployment = ofKind(cluster, 'Deployment').find((d) => d.metadata.name === workload && d.metadata.namespace === namespace);
  if (!deployment) throw new Error(`${cluster.platform}/${cluster.env}/${cluster.region}: no Deployment ${namespace}/${workload}`);
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  // The sidecar injector adds this label to every pod it injects.
  const injected: Record<string, string> = { ...podLabels, 'security.istio.io/tlsMode': 'istio' };
  const monitoring = ofKind(cluster, 'PodMonitoring').find(
    (m) =>
      m.metadata.namespace === namespace &&
      String(m.metadata.annotations?.['meridian.dev/metrics'] ?? '').includes('istio_*') &&
      Object.entries(m.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => injected[k] === v),
  );
  if (!monitoring) throw new Error(`${cluster.platform}/${cluster.env}/${cluster.region}: no PodMonitoring scrapes the sidecars of ${namespace}/${workload}`);
  return { monitoring, podLabels: injected };
}

/** The target labels GMP gives one pod of `workload` in `cluster` (its GKE name `gkeName`). */
function targetLabels(cluster: DistCluster, gkeName: string, namespace: string, workload: string, pod: string): Record<string, string> {
  const { monitoring, podLabels } = scrapeOf(cluster, namespace, workload);
  const fromPod = Object.fromEntries(
    ((monitoring.spec.targetLabels?.fromPod ?? []) as { from: string; to?: string }[])
      .filter((m) => podLabels[m.from] !== undefined)
      .map((m) => [m.to ?? m.from, podLabels[m.from]]),
  );
  const port = monitoring.spec.endpoints[0].port;
  return {
    project_id: cluster.spec.platform.project,
    location: cluster.spec.gcpRegion,
    cluster: gkeName,
    namespace,
    job: monitoring.metadata.name,
    instance: `${pod}:${port}`,
    ...fromPod,
  };
}

const sel = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/** The GKE cluster's name: not the ArgoCD name Meridian gives the cluster. */
const gkeName = (c: DistCluster) => `gke-${c.region}-${c.env}-7f3a`;

/** Per second, for each pod (over the 2m window, as counters growing per minute). */
const PER_POD_RPS = [120, 45];
const OTHER_CLUSTER_RPS = 999;
/** The replica-set hash of this cluster's pods (the other clusters' differ). */
const HERE = '7c9d5';

function seriesFor(t: Trigger, withRequests: boolean): { series: string; values: string }[] {
  const { cluster, so } = t;
  const ns = so.metadata.namespace as string;
  const workload = so.spec.scaleTargetRef.name as string;
  const istio = {
    reporter: 'destination',
    destination_workload: workload,
    destination_workload_namespace: ns,
    destination_service_name: workload,
    source_workload: 'istio-ingressgateway',
    source_workload_namespace: 'istio-ingress',
    response_code: '200',
  };
  const out: { series: string; values: string }[] = [];
  const streams = t.trigger.name === 'open-streams';
  const add = (c: DistCluster, pod: string, rps: number | undefined) => {
    const target = targetLabels(c, gkeName(c), ns, workload, pod);
    out.push({ series: sel('up', target), values: '1x20' });
    // Another workload's pod in the same namespace, scraped by the same PodMonitoring.
    out.push({ series: sel('up', { ...target, instance: `other-0:15020`, app: 'other' }), values: '1x20' });
    if (rps === undefined) return;
    if (streams) {
      // Envoy's gauge of the WebSockets open on the sidecar's inbound connection manager.
      out.push({
        series: sel('envoy_http_downstream_cx_upgrades_active', { ...target, http_conn_manager_prefix: 'inbound_0.0.0.0_8080' }),
        values: `${rps}x20`,
      });
      return;
    }
    out.push({ series: sel('istio_requests_total', { ...target, ...istio }), values: `0+${rps * 60}x20` });
  };
  PER_POD_RPS.forEach((rps, i) => add(cluster, `${workload}-${HERE}-${i}`, withRequests ? rps : undefined));
  // The same workload in the project's other clusters (other regions) serves other traffic.
  for (const other of clusters) {
    if (other === cluster || other.platform !== cluster.platform || other.spec.platform.project !== cluster.spec.platform.project) continue;
    if (!ofKind(other, 'Deployment').some((d) => d.metadata.name === workload && d.metadata.namespace === ns)) continue;
    add(other, `${workload}-5f8b2-0`, OTHER_CLUSTER_RPS);
  }
  return out;
}

test('every platform that scales on requests per second is covered', () => {
  expect(new Set(triggers.map((t) => t.cluster.platform))).toEqual(new Set(['bytspot', 'ggen', 'virtuoso', 'weather']));
  expect(triggers.filter((t) => t.trigger.name === 'open-streams').map((t) => t.key)).toEqual([
    'bytspot/staging/us-east1 bytspot-api',
    'bytspot/prod/us-east1 bytspot-api',
  ]);
});

maybe('requests-per-second against the series GMP stores (GKE cluster name differs from the ArgoCD name)', () => {
  test.each(triggers.map((t) => [t.key, t] as const))('%s', (_key, t) => {
    const query = t.trigger.metadata.query as string;
    const dir = tempDir('meridian-rps-');
    try {
      const total = PER_POD_RPS.reduce((a, b) => a + b, 0);
      fs.writeFileSync(
        path.join(dir, 'test.yaml'),
        stringify(
          {
            rule_files: [],
            evaluation_interval: '1m',
            tests: [
              {
                // This cluster's pods only; not the other regions' clusters of the project.
                interval: '1m',
                input_series: seriesFor(t, true),
                promql_expr_test: [{ expr: query, eval_time: '10m', exp_samples: [{ labels: '{}', value: total }] }],
              },
              {
                // Pods scraped, no request counted yet: 0, not "missing".
                interval: '1m',
                input_series: seriesFor(t, false),
                promql_expr_test: [{ expr: query, eval_time: '10m', exp_samples: [{ labels: '{}', value: 0 }] }],
              },
              {
                // Nothing scraped from this cluster (the sidecars' PodMonitoring gone): empty.
                interval: '1m',
                input_series: seriesFor(t, true).filter((s) => !s.series.includes(`-${HERE}-`)),
                promql_expr_test: [{ expr: query, eval_time: '10m', exp_samples: [] }],
              },
            ],
          },
          { lineWidth: 0 },
        ),
      );
      const r = runPromtool(PROMTOOL!, ['test', 'rules', 'test.yaml'], dir);
      if (r.code !== 0) throw new Error(`${query}\n${r.output}`);
      expect(r.output).toContain('SUCCESS');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test.each(triggers.filter((t) => t.trigger.name === 'open-streams').map((t) => [t.key, t] as const))(
  '%s: the pods export the gauge the open-streams query reads',
  (_key, t) => {
    // Istio's proxyStatsMatcher.inclusionSuffixes (ProxyConfig): Envoy keeps a stat whose full
    // name ends with a listed suffix; the sidecar's inbound WebSockets are counted on
    // http.inbound_0.0.0.0_<port>.downstream_cx_upgrades_active.
    const deployment = ofKind(t.cluster, 'Deployment').find((d) => d.metadata.name === t.so.spec.scaleTargetRef.name)!;
    const config = JSON.parse(deployment.spec.template.metadata.annotations['proxy.istio.io/config']);
    const stat = `http.inbound_0.0.0.0_${deployment.spec.template.spec.containers[0].ports[0].containerPort}.downstream_cx_upgrades_active`;
    expect((config.proxyStatsMatcher.inclusionSuffixes as string[]).some((suffix) => stat.endsWith(suffix))).toBe(true);
  },
);

test.each(triggers.map((t) => [t.key, t] as const))('%s: a missing metric is an error KEDA reports, not 0', (_key, t) => {
  const ignoreNullValues = (t.trigger.metadata.ignoreNullValues ?? 'true') === 'true';
  expect(prometheusScalerReading([], ignoreNullValues)).toEqual({ error: 'target may be lost, the result is empty' });
});
