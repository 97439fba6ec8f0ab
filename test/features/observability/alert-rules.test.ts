import { Duration } from 'cdk8s';
import { AlertRules, AlertRulesProps, promDuration } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: AlertRulesProps = {
  name: 'api',
  namespace: 'shop',
  runbookBaseUrl: 'https://github.com/example/fleet/blob/main/docs/runbooks',
  ruleLabels: { region: 'us-east1', env: 'prod' },
  groups: [
    {
      name: 'api.records',
      interval: Duration.seconds(30),
      rules: [
        {
          record: 'service:requests:rate5m',
          expr: 'sum by (namespace) (rate(istio_requests_total{destination_workload="api"}[5m]))',
          labels: { service: 'api' },
        },
      ],
    },
    {
      name: 'api.alerts',
      rules: [
        {
          alert: 'ApiDown',
          expr: 'service:requests:rate5m{service="api"} == 0',
          for: Duration.minutes(5),
          severity: 'critical',
          summary: 'api serves nothing',
          description: 'No request reached {{ $labels.service }} for 5 minutes.',
          labels: { service: 'api' },
        },
      ],
    },
  ],
};

function render(props: Partial<AlertRulesProps> = {}) {
  const chart = testChart();
  const rules = new AlertRules(chart, 'rules', { ...base, ...props });
  return { chart, rules };
}

describe('AlertRules', () => {
  test('default output', () => {
    expect(manifests(render().chart)).toMatchSnapshot();
  });

  test('a namespace gives a Rules object of Managed Prometheus', () => {
    const m = only(render().chart, 'Rules');
    expect(m.apiVersion).toBe('monitoring.googleapis.com/v1');
    expect(m.metadata).toEqual({ name: 'api', namespace: 'shop' });
  });

  test('no namespace gives a ClusterRules object', () => {
    const m = only(render({ namespace: undefined }).chart, 'ClusterRules');
    expect(m.metadata).toEqual({ name: 'api' });
  });

  test('alerts get severity, the rule labels, a summary, a description and a runbook_url named after the alert', () => {
    const alert = only(render().chart, 'Rules').spec.groups[1].rules[0];
    expect(alert).toEqual({
      alert: 'ApiDown',
      expr: 'service:requests:rate5m{service="api"} == 0',
      for: '5m',
      labels: { env: 'prod', region: 'us-east1', service: 'api', severity: 'critical' },
      annotations: {
        summary: 'api serves nothing',
        description: 'No request reached {{ $labels.service }} for 5 minutes.',
        runbook_url: 'https://github.com/example/fleet/blob/main/docs/runbooks/ApiDown.md',
      },
    });
  });

  test('recording rules get the rule labels; the group interval is a Prometheus duration', () => {
    const group = only(render().chart, 'Rules').spec.groups[0];
    expect(group.interval).toBe('30s');
    expect(group.rules[0].labels).toEqual({ env: 'prod', region: 'us-east1', service: 'api' });
    expect(only(render().chart, 'Rules').spec.groups[1]).not.toHaveProperty('interval');
  });

  test('alertNames lists each alert once', () => {
    const { rules } = render({
      groups: [{ name: 'g', rules: [0, 1].map((i) => ({ ...base.groups[1].rules[0], severity: i ? ('warning' as const) : ('critical' as const) })) }],
    });
    expect(rules.alertNames).toEqual(['ApiDown']);
  });

  test.each([
    [Duration.millis(500), '500ms'],
    [Duration.seconds(90), '90s'],
    [Duration.minutes(15), '15m'],
    [Duration.minutes(60), '1h'],
    [Duration.days(3), '3d'],
  ])('promDuration(%s) is %s', (d, text) => {
    expect(promDuration(d)).toBe(text);
  });

  test('fails when an expression is not valid PromQL', () => {
    expect(() => render({ groups: [{ name: 'g', rules: [{ record: 'x:y:z', expr: 'sum(rate(x[5m])' }] }] })).toThrow(
      'AlertRules \'rules\': groups[0] (g).rules[0] (x:y:z): expr is not valid PromQL: syntax error at column 16: unexpected end of query (got "sum(rate(x[5m])")',
    );
  });

  test('fails when groups is empty', () => {
    expect(() => render({ groups: [] })).toThrow("AlertRules 'rules': groups is empty: give at least one rule group");
  });

  test('fails when two groups have the same name', () => {
    expect(() => render({ groups: [base.groups[0], { ...base.groups[1], name: 'api.records' }] })).toThrow(
      "AlertRules 'rules': groups[1] (api.records): name is used by another group",
    );
  });

  test('fails when an alert name is not CamelCase', () => {
    expect(() => render({ groups: [{ name: 'g', rules: [{ ...base.groups[1].rules[0], alert: 'api-down' }] }] })).toThrow(
      "AlertRules 'rules': groups[0] (g).rules[0] (api-down): alert must be CamelCase letters and digits, starting with a capital",
    );
  });

  test('fails when a record name is not a metric name', () => {
    expect(() => render({ groups: [{ name: 'g', rules: [{ record: 'service-requests', expr: 'up' }] }] })).toThrow(
      "AlertRules 'rules': groups[0] (g).rules[0] (service-requests): record must be a metric name such as service:requests:rate5m",
    );
  });

  test('fails when labels set severity', () => {
    expect(() => render({ groups: [{ name: 'g', rules: [{ ...base.groups[1].rules[0], labels: { severity: 'page' } }] }] })).toThrow(
      "AlertRules 'rules': groups[0] (g).rules[0] (ApiDown): labels.severity is set by severity",
    );
  });

  test('fails when a label name is invalid', () => {
    expect(() => render({ ruleLabels: { 'meridian.dev/region': 'x' } })).toThrow(
      'AlertRules \'rules\': ruleLabels: "meridian.dev/region" is not a label name (letters, digits and "_", not starting with "__")',
    );
  });

  test('fails when the runbook base is not a URL', () => {
    expect(() => render({ runbookBaseUrl: 'docs/runbooks' })).toThrow("AlertRules 'rules': runbookBaseUrl (docs/runbooks) must be an http(s) URL");
  });
});
