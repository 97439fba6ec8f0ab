import { promqlErrors } from '../../kernel/promql';

describe('promqlErrors', () => {
  test.each([
    'sum(rate(istio_requests_total{reporter="destination",destination_workload="api"}[2m]))',
    'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5',
    'redis_connected_slaves < 1 and on(pod) redis_instance_info{role="master"}',
  ])('accepts %s', (q) => {
    expect(promqlErrors(q)).toEqual([]);
  });

  test('fails when a parenthesis is missing', () => {
    expect(promqlErrors('sum(rate(x[2m])')).toEqual(['syntax error at column 16: unexpected end of query']);
  });

  test('fails when two expressions are juxtaposed', () => {
    expect(promqlErrors('foo bar')).toEqual(['syntax error at column 5 near "bar"']);
  });

  test('fails when empty', () => {
    expect(promqlErrors('  ')).toEqual(['is empty']);
  });
});
