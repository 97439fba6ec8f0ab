/**
 * Grafana dashboards of a platform environment. They read only the series recorded by
 * rules.ts, which carry `platform`, `env` and `region` labels, so one dashboard shows every
 * region through Managed Prometheus' global query view and its `region` variable picks them.
 */
import type { ClusterPlan, ServicePlan } from '../../model/plan';
import type { DashboardPanel, GrafanaDashboardProps } from './grafana-dashboard';
import { calledAcrossRegions, num, servesRequests } from './rules';

export type Dashboard = Omit<GrafanaDashboardProps, 'namespace'>;

/** A Grafana uid (at most 40 characters), stable for a given name. */
export function dashboardUid(slug: string): string {
  if (slug.length <= 40) return slug;
  let h = 0x811c9dc5;
  for (const ch of slug) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return `${slug.slice(0, 31)}-${h.toString(16).padStart(8, '0')}`;
}

function base(c: ClusterPlan, slug: string, title: string, regions: readonly string[]): Pick<Dashboard, 'uid' | 'title' | 'tags' | 'folder' | 'variables'> {
  const p = c.platform.name;
  return {
    uid: dashboardUid(`${p}-${c.env}-${slug}`),
    title: `${p} ${c.env} · ${title}`,
    tags: ['meridian', p, c.env],
    folder: `${p}-${c.env}`,
    variables: [{ name: 'region', label: 'Region', values: [...regions] }],
  };
}

const scope = (c: ClusterPlan, extra: string) => `platform="${c.platform.name}",env="${c.env}",region=~"$region",${extra}`;

/** Request rate, errors and duration of one service, per region. */
export function redDashboard(name: string, svc: ServicePlan, c: ClusterPlan): Dashboard {
  const regions = svc.regions ?? Object.keys(c.platform.regions);
  const f = scope(c, `service="${name}"`);
  const panels: DashboardPanel[] = [];
  if (servesRequests(svc)) {
    panels.push(
      { title: 'Requests per second', unit: 'reqps', queries: [{ expr: `sum by (region) (service:requests:rate5m{${f}})`, legend: '{{region}}' }] },
      {
        title: `Errors (status ${c.platform.monitoring.errorRate.codes})`,
        unit: 'percent',
        description: `Warning above ${num(c.platform.monitoring.errorRate.warning)} %, critical above ${num(c.platform.monitoring.errorRate.critical)} %.`,
        queries: [{ expr: `100 * max by (region) (service:request_errors:ratio_rate5m{${f}})`, legend: '{{region}}' }],
      },
      {
        title: 'Duration',
        unit: 'ms',
        queries: [50, 95, 99].map((q) => ({ expr: `max by (region) (service:request_duration_milliseconds:p${q}_rate5m{${f}})`, legend: `p${q} {{region}}` })),
      },
    );
    if (calledAcrossRegions(svc, c)) {
      panels.push({
        title: 'Cross-region calls, p95 (from the ingress gateway)',
        unit: 'ms',
        queries: [
          {
            expr: `max by (region, destination_cluster) (service:cross_region_request_duration_milliseconds:p95_rate5m{${f}})`,
            legend: '{{region}} → {{destination_cluster}}',
          },
        ],
      });
    }
  }
  panels.push({
    title: 'Replicas passing health checks',
    unit: 'percent',
    queries: [{ expr: `100 * max by (region) (service:health_check_success:ratio{${f}})`, legend: '{{region}}' }],
  });
  if (svc.slo) {
    const objectives: [string, number][] = [];
    if (svc.slo.availability !== undefined) objectives.push(['availability', svc.slo.availability]);
    for (const [key, bound] of Object.entries(svc.slo.latency ?? {})) if (bound !== undefined) objectives.push([`latency-${key}`, Number(key.slice(1))]);
    panels.push({
      title: 'Error budget burn rate (1h)',
      description: 'How many times faster than sustainable the 30-day error budget is spent: 1 spends it in exactly 30 days; the page fires above 14.4.',
      unit: 'none',
      queries: objectives.map(([slo, target]) => ({
        expr: `max by (region) (slo:sli_error:ratio_rate1h{${f},slo="${slo}"}) / ${num(1 - target / 100)}`,
        legend: `${slo} {{region}}`,
      })),
    });
  }
  if (c.platform.monitoring.replicationLag?.service === name) {
    panels.push({
      title: 'Replication lag',
      unit: 's',
      queries: [{ expr: `max by (region) (service:replication_lag_seconds:max{${f}})`, legend: '{{region}}' }],
    });
  }
  return { ...base(c, `${name}-red`, `${name} · RED`, regions), name: `${name}-red-dashboard`, panels };
}

/** One Redis Sentinel group, per region. */
export function redisDashboard(name: string, c: ClusterPlan): Dashboard {
  const f = scope(c, `redis="${name}"`);
  const panels: DashboardPanel[] = [
    { title: 'Cache hit rate', unit: 'percent', queries: [{ expr: `100 * max by (region) (redis:hit_ratio:rate5m{${f}})`, legend: '{{region}}' }] },
    {
      title: 'Masters',
      unit: 'short',
      description: 'Exactly 1 per region; 0 or 2 pages.',
      queries: [{ expr: `max by (region) (redis:masters:count{${f}})`, legend: '{{region}}' }],
    },
    { title: 'Commands per second', unit: 'ops', queries: [{ expr: `sum by (region) (redis:commands:rate5m{${f}})`, legend: '{{region}}' }] },
    {
      title: 'Memory used (of maxmemory)',
      unit: 'percentunit',
      queries: [{ expr: `max by (region, pod) (redis:memory_used:ratio{${f}})`, legend: '{{region}} {{pod}}' }],
    },
    { title: 'Connected clients', unit: 'short', queries: [{ expr: `sum by (region) (redis:connected_clients:sum{${f}})`, legend: '{{region}}' }] },
    { title: 'Evictions per second', unit: 'ops', queries: [{ expr: `sum by (region) (redis:evicted_keys:rate5m{${f}})`, legend: '{{region}}' }] },
    {
      title: 'Replication lag (max)',
      unit: 's',
      width: 24,
      queries: [{ expr: `max by (region) (redis:replication_lag_seconds:max{${f}})`, legend: '{{region}}' }],
    },
  ];
  return { ...base(c, `${name}-redis`, `Redis ${name}`, Object.keys(c.platform.regions)), name: `${name}-redis-dashboard`, panels };
}

/** The KEDA-scaled services of one namespace: replicas against their bounds and the CPU trigger. */
export function autoscalingDashboard(namespace: string, c: ClusterPlan): Dashboard | undefined {
  const scaled = Object.entries(c.services).filter(([, s]) => s.namespace === namespace && s.autoscaled);
  if (scaled.length === 0) return undefined;
  const panels: DashboardPanel[] = [];
  for (const [name, svc] of scaled) {
    const f = scope(c, `service="${name}"`);
    panels.push({
      title: `${name}: replicas`,
      unit: 'short',
      queries: [
        { expr: `max by (region) (service:replicas:current{${f}})`, legend: 'current {{region}}' },
        { expr: `max by (region) (service:replicas:desired{${f}})`, legend: 'desired {{region}}' },
        { expr: `max by (region) (service:replicas:max{${f}})`, legend: 'max {{region}}' },
      ],
    });
    const cpu = svc.autoscaling!.cpuUtilization;
    panels.push({
      title: `${name}: CPU used, of requests`,
      unit: 'percent',
      description: cpu !== undefined ? `KEDA scales out above ${cpu} %.` : undefined,
      queries: [
        { expr: `100 * max by (region) (service:cpu_usage:ratio_requests{${f}})`, legend: '{{region}}' },
        ...(cpu !== undefined ? [{ expr: `vector(${cpu})`, legend: 'target' }] : []),
      ],
    });
    const rps = svc.autoscaling!.requestsPerSecond;
    if (rps !== undefined && servesRequests(svc)) {
      panels.push({
        title: `${name}: requests per second per replica`,
        unit: 'reqps',
        width: 24,
        queries: [
          { expr: `sum by (region) (service:requests:rate5m{${f}}) / max by (region) (service:replicas:current{${f}})`, legend: '{{region}}' },
          { expr: `vector(${num(rps)})`, legend: 'target' },
        ],
      });
    }
  }
  const slug = `${namespace}-autoscaling`;
  return { ...base(c, slug, `${namespace} · autoscaling`, Object.keys(c.platform.regions)), name: 'autoscaling-dashboard', panels };
}
