import { formatProblem, validateObjects } from '../../../checks';
import { promqlProblems } from '../../../features/observability/checks';

const rules = (expr: string) => ({
  apiVersion: 'monitoring.googleapis.com/v1',
  kind: 'Rules',
  metadata: { name: 'api', namespace: 'shop' },
  spec: {
    groups: [
      {
        name: 'g',
        rules: [
          { record: 'a:b:c', expr: 'up' },
          { alert: 'X', expr, labels: { severity: 'warning' } },
        ],
      },
    ],
  },
});
const dashboard = (expr: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'd', namespace: 'shop', labels: { grafana_dashboard: '1' } },
  data: { 'd.json': JSON.stringify({ panels: [{ targets: [{ expr: 'up' }, { expr }] }] }) },
});
const scaledObject = (query: string) => ({
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: { name: 'api', namespace: 'shop' },
  spec: {
    scaleTargetRef: { name: 'api' },
    triggers: [
      { type: 'cpu', metadata: { value: '70' } },
      { type: 'prometheus', metadata: { query, threshold: '1' } },
    ],
  },
});

describe('promqlProblems', () => {
  test('valid expressions pass', () => {
    expect(promqlProblems(rules('sum(rate(x[5m])) > 1'))).toEqual([]);
    expect(promqlProblems(dashboard('sum by (region) (a:b:c{region=~"$region"})'))).toEqual([]);
    expect(promqlProblems(scaledObject('sum(rate(istio_requests_total[2m]))'))).toEqual([]);
  });

  test('fails when a rule expression does not parse', () => {
    expect(promqlProblems(rules('sum(rate(x[5m])'))).toEqual([
      { path: 'spec.groups[0].rules[1].expr', message: 'not valid PromQL: syntax error at column 16: unexpected end of query' },
    ]);
  });

  test('fails when a dashboard query does not parse', () => {
    expect(promqlProblems(dashboard('rate(x[5m]'))).toEqual([
      { path: 'data.d.json: panels[0].targets[1].expr', message: 'not valid PromQL: syntax error at column 11: unexpected end of query' },
    ]);
  });

  test('fails when a dashboard is not JSON', () => {
    const cm = { ...dashboard('up'), data: { 'd.json': '{' } };
    expect(promqlProblems(cm)[0].path).toBe('data.d.json');
    expect(promqlProblems(cm)[0].message).toMatch(/^not valid JSON: /);
  });

  test('leaves KEDA trigger queries to the KEDA checks, which report them once', () => {
    expect(promqlProblems(scaledObject('foo bar'))).toEqual([]);
    const problems = validateObjects([{ file: 'dist/x/scaledobject-api.yaml', manifest: scaledObject('foo bar') }]).map(formatProblem);
    expect(problems.filter((p) => p.includes('metadata.query'))).toEqual([
      expect.stringMatching(
        /^dist\/x\/scaledobject-api\.yaml: ScaledObject [^:]+: spec\.triggers\[1\]\.metadata\.query: .*syntax error at column 5 near "bar"/,
      ),
    ]);
  });

  test('other objects are not looked at', () => {
    expect(promqlProblems({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { 'a.json': '{' } })).toEqual([]);
  });

  test('problems are reported by validate with the file and the object', () => {
    const problems = validateObjects([{ file: 'dist/x/rules-api.yaml', manifest: rules('sum(') }]).map(formatProblem);
    expect(problems).toContain(
      'dist/x/rules-api.yaml: Rules shop/api: spec.groups[0].rules[1].expr: not valid PromQL: syntax error at column 5: unexpected end of query',
    );
  });
});
