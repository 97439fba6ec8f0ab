/** Observability (docs/observability.md): scraping, objectives, alert thresholds. */
import { z } from 'zod';
import { durationMs } from '../../kernel/quantities';
import { dnsLabel, duration } from '../../kernel/schema';
import { secretManagerName } from '../secrets/schema';

const percent = z.number().min(0).max(100);

/** A Prometheus metric name. */
const metricName = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, {
  message: 'must be a Prometheus metric name: letters, digits, "_" and ":", not starting with a digit',
});

/** Bounds (ms) of Istio's `istio_request_duration_milliseconds` histogram: a latency SLI counts requests under one. */
export const ISTIO_LATENCY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

const latencyBound = duration.refine((d) => ISTIO_LATENCY_BUCKETS_MS.includes(durationMs(d)), {
  message: `must be a bound of Istio's request duration buckets: ${ISTIO_LATENCY_BUCKETS_MS.map((ms) => {
    const [n, unit] = (
      [
        [3600000, 'h'],
        [60000, 'm'],
        [1000, 's'],
      ] as const
    ).find(([size]) => ms % size === 0) ?? [1, 'ms'];
    return `${ms / n}${unit}`;
  }).join(', ')}`,
});

export const ServiceMetrics = z.strictObject({
  /** Name of one of the service's ports, or the number of a port serving only metrics (not exposed by the Service). */
  port: z.custom<string | number>((v) => (typeof v === 'string' && v !== '') || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535), {
    message: "must be the name of one of the service's ports or a port number (1-65535)",
  }),
  /** @default /metrics */
  path: z.string().startsWith('/').default('/metrics'),
  /** @default 30s */
  interval: duration.default('30s'),
});

/** Service level objectives over a rolling 30 days (the window the burn-rate factors assume). */
export const Slo = z
  .strictObject({
    /** Percent of requests answered without a 5xx, e.g. 99.9. */
    availability: z.number().gt(0).lt(100).optional(),
    /** Latency objectives: `p95: 500ms` is "95 % of requests are served in under 500 ms". */
    latency: z
      .strictObject({
        p90: latencyBound.optional(),
        p95: latencyBound.optional(),
        p99: latencyBound.optional(),
      })
      .optional(),
  })
  .refine((s) => s.availability !== undefined || Object.values(s.latency ?? {}).some((v) => v !== undefined), {
    message: 'needs an objective: availability or latency',
  });

/** A warning and a critical threshold, and how long the condition must hold before firing. */
const percentLevels = (warning: number, critical: number, holdFor: string) =>
  z.strictObject({
    warning: percent.default(warning),
    critical: percent.default(critical),
    for: duration.default(holdFor),
  });
const durationLevels = (warning: string, critical: string, holdFor: string) =>
  z.strictObject({
    warning: duration.default(warning),
    critical: duration.default(critical),
    for: duration.default(holdFor),
  });

/** Alert thresholds; defaults are the seeds' numbers (004 §7.1, 001 performance targets, 003 §5). */
export const Monitoring = z.strictObject({
  /**
   * Render the recording and alerting rules and the Grafana dashboards (which read the
   * recordings); false leaves only the scraping, for environments nobody is paged for
   * (a pull request's). @default true
   */
  rules: z.boolean().default(true),
  /** Where runbooks are read. @default - `<gitops.repoURL>/blob/<targetRevision>/docs/runbooks` */
  runbookBaseUrl: z.string().url().optional(),
  /** Percent of requests answered with `codes`. @default warning 0.5, critical 1, for 5m */
  errorRate: percentLevels(0.5, 1, '5m')
    .extend({
      /** Response codes counted as errors (a regular expression). @default 5.. */
      codes: z
        .string()
        .regex(/^[0-9x.|[\]()*+?-]+$/, { message: 'must be a regular expression over HTTP status codes such as 5.. or [45]..' })
        .default('5..'),
    })
    .prefault({}),
  /** Percent of a workload's replicas passing their readiness check. @default warning 98, critical 95, for 5m */
  healthCheckSuccess: percentLevels(98, 95, '5m').prefault({}),
  /** p95 of calls to a service in another region. @default warning 300ms, critical 500ms, for 10m */
  crossRegionLatency: durationLevels('300ms', '500ms', '10m').prefault({}),
  /** Percent of Redis lookups that hit. @default warning 70, critical 50, for 15m */
  cacheHitRate: percentLevels(70, 50, '15m').prefault({}),
  /** Data replication lag, a gauge in seconds exported by one of the services. @default - no alert */
  replicationLag: durationLevels('10s', '30s', '2m')
    .extend({
      /** The service exporting it; it must declare `metrics`. */
      service: dnsLabel,
      metric: metricName,
    })
    .optional(),
  pods: z
    .strictObject({
      /** Container restarts within an hour. @default 3 */
      restartsPerHour: z.number().int().min(1).default(3),
      /** CPU used, percent of the limit (or of the request when there is no limit). @default 90 */
      cpu: percent.default(90),
      /** Memory working set, percent of the limit. @default 90 */
      memory: percent.default(90),
      /** @default 15m */
      for: duration.default('15m'),
    })
    .prefault({}),
  autoscaling: z
    .strictObject({
      /** Time at the autoscaler's maximum before alerting. @default 15m */
      atMaxFor: duration.default('15m'),
    })
    .prefault({}),
  /**
   * Where alerts go (GMP's managed Alertmanager, configured per cluster): `page` the on-call
   * engineer (PagerDuty), make a `ticket` (the team queue's webhook), or `none`. Set per
   * environment in the overlays: pages are for production. @default critical page, warning ticket
   */
  routing: z
    .strictObject({
      critical: z.enum(['page', 'ticket', 'none']).default('page'),
      warning: z.enum(['page', 'ticket', 'none']).default('ticket'),
      /** Secret Manager secret with the PagerDuty Events API v2 routing key. @default <platform>-alerts-pagerduty */
      pagerSecret: secretManagerName.optional(),
      /** Secret Manager secret with the ticket queue's webhook URL. @default <platform>-alerts-webhook */
      ticketSecret: secretManagerName.optional(),
    })
    .prefault({}),
  /**
   * Alerts over what no one cluster sees, in one `GlobalRules` (rendered in the primary region's
   * cluster; GMP adds no scope to it): Google Cloud metrics, and the regions together.
   */
  global: z
    .strictObject({
      /**
       * Page when the health checks of one service fail (below `healthCheckSuccess.critical`) in
       * this many regions at once (seed 004: 2+ regions). @default 2 (multi-region platforms only)
       */
      healthCheckRegions: z.number().int().min(2).default(2),
      /** Firestore document reads per day in the environment's project (Cloud Monitoring's firestore.googleapis.com/document/read_count). @default - no alert */
      firestoreReadsPerDay: z.strictObject({ warning: z.number().positive(), critical: z.number().positive() }).optional(),
      /** Page when a Cloud SQL instance a service connects to (`cloudSql.instance`) is down (cloudsql.googleapis.com/database/up). @default true */
      cloudSqlUp: z.boolean().default(true),
    })
    .prefault({}),
  cost: z
    .strictObject({
      /** Growth of the CPU requested in the cluster over one day, in percent, that counts as a cost spike. @default 50 */
      requestGrowth: z.number().positive().default(50),
      /** @default 30m */
      for: duration.default('30m'),
    })
    .prefault({}),
});

/** Thresholds must point the way their alert does; the replication lag names a scraped service. */
export function monitoringIssues(
  p: { monitoring: MonitoringSpec; services: Record<string, { metrics?: ServiceMetricsSpec }> },
  ctx: Pick<z.RefinementCtx, 'addIssue'>,
): void {
  const m = p.monitoring;
  const order = (section: string, worse: 'higher' | 'lower', levels: { warning: number | string; critical: number | string }) => {
    const value = (v: number | string) => (typeof v === 'number' ? v : durationMs(v));
    const [w, c] = [value(levels.warning), value(levels.critical)];
    if (worse === 'higher' ? c < w : c > w) {
      ctx.addIssue({
        code: 'custom',
        path: ['monitoring', ...section.split('.'), 'critical'],
        message: `must be ${worse === 'higher' ? '>=' : '<='} warning (${levels.warning}): critical fires at a worse value`,
        input: levels.critical,
      });
    }
  };
  order('errorRate', 'higher', m.errorRate);
  order('healthCheckSuccess', 'lower', m.healthCheckSuccess);
  order('crossRegionLatency', 'higher', m.crossRegionLatency);
  order('cacheHitRate', 'lower', m.cacheHitRate);
  if (m.global.firestoreReadsPerDay) order('global.firestoreReadsPerDay', 'higher', m.global.firestoreReadsPerDay);
  if (m.replicationLag) {
    order('replicationLag', 'higher', m.replicationLag);
    if (!p.services[m.replicationLag.service]?.metrics) {
      const scraped = Object.keys(p.services).filter((k) => p.services[k].metrics);
      ctx.addIssue({
        code: 'custom',
        path: ['monitoring', 'replicationLag', 'service'],
        message: `must name a service that declares metrics (${scraped.join(', ') || 'none does'})`,
        input: m.replicationLag.service,
      });
    }
  }
}

export type MonitoringSpec = z.output<typeof Monitoring>;
export type SloSpec = z.output<typeof Slo>;
export type ServiceMetricsSpec = z.output<typeof ServiceMetrics>;
