import { ProblemError } from '../../../kernel/problems';
import * as fs from 'node:fs';
import { formatProblem, loadEnvironments, type PlatformInput } from '../../../model';
import { tempDir } from '../../helpers';
import { REST, samplePlatform } from '../../fixtures/sample';

const base: PlatformInput = samplePlatform({
  rest: REST,
  worker: { namespace: 'api', image: { repository: 'us-docker.pkg.dev/s/a/worker', tag: '1.0.0' } },
});

function merge(a: unknown, b: unknown): unknown {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return b;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) out[k] = merge((a as Record<string, unknown> | undefined)?.[k], v);
  return out;
}

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const load = (patch: unknown = {}) => loadEnvironments({ file: 'platforms/sample.ts', input: merge(base, patch) as PlatformInput }, root);
function problems(patch: unknown): string[] {
  try {
    load(patch);
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error('expected a ProblemError of the spec');
}

describe('monitoring spec', () => {
  test('thresholds default to the seeds’ numbers', () => {
    expect(load()[0].platform.monitoring).toEqual({
      rules: true,
      errorRate: { warning: 0.5, critical: 1, for: '5m', codes: '5..' },
      healthCheckSuccess: { warning: 98, critical: 95, for: '5m' },
      crossRegionLatency: { warning: '300ms', critical: '500ms', for: '10m' },
      cacheHitRate: { warning: 70, critical: 50, for: '15m' },
      pods: { restartsPerHour: 3, cpu: 90, memory: 90, for: '15m' },
      autoscaling: { atMaxFor: '15m' },
      routing: { critical: 'page', warning: 'ticket' },
      global: { healthCheckRegions: 2, cloudSqlUp: true },
      cost: { requestGrowth: 50, for: '30m' },
    });
  });

  test('a threshold given keeps the others’ defaults', () => {
    expect(load({ monitoring: { errorRate: { critical: 2 } } })[0].platform.monitoring.errorRate).toEqual({
      warning: 0.5,
      critical: 2,
      for: '5m',
      codes: '5..',
    });
  });

  test('metrics default to /metrics every 30s; slo objectives are kept', () => {
    const svc = load({ services: { rest: { metrics: { port: 'http' }, slo: { availability: 99.9, latency: { p95: '500ms' } } } } })[0].platform.services.rest;
    expect(svc.metrics).toEqual({ port: 'http', path: '/metrics', interval: '30s' });
    expect(svc.slo).toEqual({ availability: 99.9, latency: { p95: '500ms' } });
  });

  test('a metrics-only port number need not be one of the service’s ports', () => {
    expect(load({ services: { worker: { metrics: { port: 9090 } } } })[0].platform.services.worker.metrics?.port).toBe(9090);
  });

  test('fails when metrics.port names no port of the service', () => {
    expect(problems({ services: { rest: { metrics: { port: 'metrics' } } } })).toEqual([
      'platforms/sample.ts: services.rest.metrics.port: must name one of the service\'s ports (http) or be a port number (got "metrics")',
    ]);
  });

  test('fails when metrics.port is neither a name nor a port number', () => {
    expect(problems({ services: { rest: { metrics: { port: 1.5 } } } })).toEqual([
      "platforms/sample.ts: services.rest.metrics.port: must be the name of one of the service's ports or a port number (1-65535) (got 1.5)",
    ]);
  });

  test('fails when a service without an HTTP port declares an SLO', () => {
    expect(problems({ services: { worker: { slo: { availability: 99.9 } } } })).toEqual([
      'platforms/sample.ts: services.worker.slo: needs an http, grpc or websocket port: its indicators come from Istio\'s request metrics (got {"availability":99.9})',
    ]);
  });

  test('fails when a service with an sse port declares a latency objective (streams cannot be told from requests)', () => {
    expect(problems({ services: { rest: { ports: [{ name: 'events', port: 8080, protocol: 'sse' }], slo: { latency: { p95: '500ms' } } } } })).toEqual([
      'platforms/sample.ts: services.rest.slo.latency: cannot be measured on a service with an sse port (events): Istio records each event stream once, at its close, as a 200 lasting the stream\'s life, which no label tells from a request; serve the streams from their own service, or leave latency out (got {"p95":"500ms"})',
    ]);
    // Availability stays measurable, and a websocket port's streams are told apart by their 101.
    expect(load({ services: { rest: { ports: [{ name: 'events', port: 8080, protocol: 'sse' }], slo: { availability: 99.9 } } } })).toHaveLength(1);
    expect(load({ services: { rest: { ports: [{ name: 'ws', port: 8080, protocol: 'websocket' }], slo: { latency: { p95: '500ms' } } } } })).toHaveLength(1);
  });

  test('fails when an SLO has no objective', () => {
    expect(problems({ services: { rest: { slo: {} } } })).toEqual([
      'platforms/sample.ts: services.rest.slo: needs an objective: availability or latency (got {})',
    ]);
  });

  test('fails when a latency objective is not a bucket bound of Istio’s histogram', () => {
    expect(problems({ services: { rest: { slo: { latency: { p95: '300ms' } } } } })).toEqual([
      'platforms/sample.ts: services.rest.slo.latency.p95: must be a bound of Istio\'s request duration buckets: 1ms, 5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2500ms, 5s, 10s, 30s, 1m, 5m, 10m, 30m, 1h (got "300ms")',
    ]);
  });

  test('fails when availability is not a percentage under 100', () => {
    expect(problems({ services: { rest: { slo: { availability: 100 } } } })[0]).toMatch(/^platforms\/sample\.ts: services\.rest\.slo\.availability: /);
  });

  test('fails when a critical threshold is milder than the warning', () => {
    expect(problems({ monitoring: { errorRate: { warning: 2, critical: 1 } } })).toEqual([
      'platforms/sample.ts: monitoring.errorRate.critical: must be >= warning (2): critical fires at a worse value (got 1)',
    ]);
    expect(problems({ monitoring: { cacheHitRate: { warning: 50, critical: 70 } } })).toEqual([
      'platforms/sample.ts: monitoring.cacheHitRate.critical: must be <= warning (50): critical fires at a worse value (got 70)',
    ]);
    expect(problems({ monitoring: { crossRegionLatency: { warning: '1s', critical: '500ms' } } })).toEqual([
      'platforms/sample.ts: monitoring.crossRegionLatency.critical: must be >= warning (1s): critical fires at a worse value (got "500ms")',
    ]);
    expect(problems({ monitoring: { global: { firestoreReadsPerDay: { warning: 2e6, critical: 1e6 } } } })).toEqual([
      'platforms/sample.ts: monitoring.global.firestoreReadsPerDay.critical: must be >= warning (2000000): critical fires at a worse value (got 1000000)',
    ]);
  });

  test('fails when the replication lag comes from a service that is not scraped', () => {
    expect(problems({ monitoring: { replicationLag: { service: 'worker', metric: 'lag_seconds' } } })).toEqual([
      'platforms/sample.ts: monitoring.replicationLag.service: must name a service that declares metrics (none does) (got "worker")',
    ]);
  });

  test('fails when the error codes are not a status-code pattern', () => {
    expect(problems({ monitoring: { errorRate: { codes: '5"' } } })).toEqual([
      'platforms/sample.ts: monitoring.errorRate.codes: must be a regular expression over HTTP status codes such as 5.. or [45].. (got "5\\"")',
    ]);
  });

  test('fails when a monitoring field is misspelt', () => {
    expect(problems({ monitoring: { errorrate: {} } })).toEqual([
      'platforms/sample.ts: monitoring.errorrate: unknown field (did you mean "errorRate"?) (allowed: rules, runbookBaseUrl, errorRate, healthCheckSuccess, crossRegionLatency, cacheHitRate, replicationLag, pods, autoscaling, routing, global, cost)',
    ]);
  });
});
