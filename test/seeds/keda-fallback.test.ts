/**
 * Issue 22, item 6: Weather's stream workers fall back to their fixed replicas when the
 * Pub/Sub backlog metric is missing. promtool (the real PromQL engine) shows what the rendered
 * query returns when the subscription's series is absent: an empty vector, not 0; the KEDA
 * model (features/autoscaling/keda-model.ts, after prometheus_scaler.go and fallback.go) shows
 * what the ScaledObject then does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { prometheusScalerReading, replicasOverPolls, ScalerReading } from '../../features/autoscaling/keda-model';
import { findPromtool, runPromtool } from '../promtool';
import { tempDir } from '../helpers';
import { distClusters, named } from './dist';

const clusters = distClusters('weather');

describe('KEDA model: upstream cases', () => {
  // prometheus_scaler.go executePromQuery, and the cases of prometheus_scaler_test.go.
  test('an empty result is 0 by default (ignoreNullValues true) and an error when ignoreNullValues is false', () => {
    expect(prometheusScalerReading([], true)).toEqual({ value: 0 });
    expect(prometheusScalerReading([], false)).toEqual({ error: 'target may be lost, the result is empty' });
    expect(prometheusScalerReading([{ metric: {}, value: [] }], true)).toEqual({ value: 0 });
    expect(prometheusScalerReading([{ metric: {}, value: [] }], false)).toEqual({ error: 'target may be lost, the value list is empty' });
  });

  test('one sample is its value, several are an error, ±Inf follows ignoreNullValues', () => {
    expect(prometheusScalerReading([{ metric: {}, value: [1, '12'] }], false)).toEqual({ value: 12 });
    expect(
      'error' in
        prometheusScalerReading(
          [
            { metric: { a: '1' }, value: [1, '1'] },
            { metric: { a: '2' }, value: [1, '2'] },
          ],
          true,
        ),
    ).toBe(true);
    expect(prometheusScalerReading([{ metric: {}, value: [1, '+Inf'] }], true)).toEqual({ value: 0 });
    expect('error' in prometheusScalerReading([{ metric: {}, value: [1, '+Inf'] }], false)).toBe(true);
  });

  test('fallback engages once the failures exceed failureThreshold (fallback.go), a success resets the count', () => {
    const so = {
      minReplicaCount: 1,
      maxReplicaCount: 20,
      fallback: { failureThreshold: 3, replicas: 4 },
      threshold: 1000,
      metricType: 'AverageValue' as const,
    };
    const err: ScalerReading = { error: 'x' };
    expect(replicasOverPolls(so, [{ value: 7000 }, err, err, err, err, err], 1)).toEqual([7, 7, 7, 7, 4, 4]);
    expect(replicasOverPolls(so, [err, err, err, { value: 0 }, err, err, err], 9)).toEqual([9, 9, 9, 1, 1, 1, 1]);
    expect(replicasOverPolls({ ...so, metricType: 'Value' }, [err, err, err, err, err], 6)).toEqual([6, 6, 6, 6, 6]);
  });
});

const promtool = findPromtool();
const maybe = promtool ? describe : describe.skip;

maybe.each(clusters.map((c) => [`${c.env}/${c.region}`, c] as const))('weather %s: stream-worker when the backlog metric is missing', (_, c) => {
  const so = named(c, 'ScaledObject', 'stream-worker');
  const trigger = so.spec.triggers.find((t: { name: string }) => t.name === 'pubsub-backlog');
  const query: string = trigger.metadata.query;
  const project = c.spec.platform.project;

  test('promtool: the rendered query returns an empty vector without the series, the backlog with it', () => {
    const dir = tempDir('meridian-keda-');
    try {
      const series = (sub: string, values: string) => ({
        series: `pubsub_googleapis_com:subscription_num_undelivered_messages{project_id="${project}",subscription_id="${sub}"}`,
        values,
      });
      fs.writeFileSync(
        path.join(dir, 'test.yaml'),
        stringify({
          rule_files: [],
          evaluation_interval: '1m',
          tests: [
            // Another subscription reports; the enrich subscription's series is gone.
            { interval: '1m', input_series: [series('other', '5x10')], promql_expr_test: [{ expr: query, eval_time: '5m', exp_samples: [] }] },
            {
              interval: '1m',
              input_series: [series('other', '5x10'), series('weather-events-enrich', '8000x10')],
              promql_expr_test: [{ expr: query, eval_time: '5m', exp_samples: [{ labels: '{}', value: 8000 }] }],
            },
          ],
        }),
      );
      const r = runPromtool(promtool!, ['test', 'rules', 'test.yaml'], dir);
      expect(r.output).toContain('SUCCESS');
      expect(r.code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('KEDA: the empty result is an error, so after failureThreshold polls the fallback replicas run', () => {
    const ignoreNullValues = (trigger.metadata.ignoreNullValues ?? 'true') === 'true';
    const reading = prometheusScalerReading([], ignoreNullValues);
    const view = {
      minReplicaCount: so.spec.minReplicaCount,
      maxReplicaCount: so.spec.maxReplicaCount,
      fallback: so.spec.fallback,
      threshold: Number(trigger.metadata.threshold),
      metricType: trigger.metricType,
    };
    const polls = so.spec.fallback.failureThreshold + 1;
    // From a busy moment (the maximum), the metric disappears.
    const after = replicasOverPolls(view, Array(polls).fill(reading), so.spec.maxReplicaCount);
    expect(after[after.length - 1]).toBe(so.spec.fallback.replicas);
  });
});
