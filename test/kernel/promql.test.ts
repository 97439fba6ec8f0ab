import { promqlErrors, vectorSelectors } from '../../kernel/promql';

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

describe('vectorSelectors', () => {
  const query = 'sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))';

  // Selectors are kept per query: asking again (as every scope's check does) gives the same, and a
  // caller changing the list it got does not change what the next caller gets.
  test('reads each selector, the same when asked again', () => {
    const first = vectorSelectors(query);
    expect(first.map((s) => [s.metric, s.matchers, s.text, s.hasMatchers, s.hasBraces])).toEqual([
      [
        'http_requests_total',
        [
          { name: 'job', op: '=', value: 'api' },
          { name: 'code', op: '=~', value: '5..' },
        ],
        'http_requests_total{job="api",code=~"5.."}',
        true,
        true,
      ],
      ['http_requests_total', [], 'http_requests_total', false, false],
    ]);
    first.pop();
    expect(vectorSelectors(query)).toHaveLength(2);
    expect(vectorSelectors(query)).toEqual(vectorSelectors(query));
  });

  test('fails on invalid PromQL every time it is asked', () => {
    expect(() => vectorSelectors('sum(rate(x[2m])')).toThrow('not valid PromQL: syntax error at column 16: unexpected end of query');
    expect(() => vectorSelectors('sum(rate(x[2m])')).toThrow('not valid PromQL');
  });
});
