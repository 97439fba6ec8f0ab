import { GrafanaDashboard, GrafanaDashboardProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: GrafanaDashboardProps = {
  name: 'api-red-dashboard',
  namespace: 'shop',
  uid: 'shop-prod-api-red',
  title: 'shop prod · api · RED',
  folder: 'shop-prod',
  variables: [{ name: 'region', label: 'Region', values: ['us-east1', 'europe-west1'] }],
  panels: [
    {
      title: 'Requests per second',
      unit: 'reqps',
      queries: [{ expr: 'sum by (region) (service:requests:rate5m{service="api",region=~"$region"})', legend: '{{region}}' }],
    },
    { title: 'Errors', unit: 'percent', queries: [{ expr: '100 * max by (region) (service:request_errors:ratio_rate5m{service="api",region=~"$region"})' }] },
    {
      title: 'Duration',
      unit: 'ms',
      width: 24,
      queries: [{ expr: 'max by (region) (service:request_duration_milliseconds:p95_rate5m{region=~"${region}"})' }],
    },
  ],
};

function render(props: Partial<GrafanaDashboardProps> = {}) {
  const chart = testChart();
  const dashboard = new GrafanaDashboard(chart, 'dashboard', { ...base, ...props });
  return { chart, dashboard };
}

const model = (props: Partial<GrafanaDashboardProps> = {}) => JSON.parse(only(render(props).chart, 'ConfigMap').data['shop-prod-api-red.json']);

describe('GrafanaDashboard', () => {
  test('default output', () => {
    expect(manifests(render().chart)).toMatchSnapshot();
  });

  test('a ConfigMap labelled for the Grafana sidecar, with the folder annotation and one JSON file', () => {
    const cm = only(render().chart, 'ConfigMap');
    expect(cm.metadata).toEqual({
      name: 'api-red-dashboard',
      namespace: 'shop',
      labels: { grafana_dashboard: '1' },
      annotations: { grafana_folder: 'shop-prod' },
    });
    expect(Object.keys(cm.data)).toEqual(['shop-prod-api-red.json']);
  });

  test('the data source is a variable; each variable offers All and its values', () => {
    const m = model();
    expect(m.templating.list[0]).toMatchObject({ type: 'datasource', name: 'datasource', query: 'prometheus' });
    expect(m.templating.list[1]).toMatchObject({ type: 'custom', name: 'region', query: 'us-east1,europe-west1', multi: true, includeAll: true });
    expect(m.templating.list[1].options.map((o: { text: string }) => o.text)).toEqual(['All', 'us-east1', 'europe-west1']);
    for (const p of m.panels) expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  test('panels fill rows of 24 columns', () => {
    expect(model().panels.map((p: { gridPos: unknown }) => p.gridPos)).toEqual([
      { h: 8, w: 12, x: 0, y: 0 },
      { h: 8, w: 12, x: 12, y: 0 },
      { h: 8, w: 24, x: 0, y: 8 },
    ]);
  });

  test('queries keep their PromQL and legend; refIds are A, B, ...', () => {
    const p = model({ panels: [{ title: 't', queries: [{ expr: 'up' }, { expr: 'vector(1)', legend: 'x' }] }] }).panels[0];
    expect(p.targets.map((t: { refId: string; expr: string; legendFormat: string }) => [t.refId, t.expr, t.legendFormat])).toEqual([
      ['A', 'up', '__auto'],
      ['B', 'vector(1)', 'x'],
    ]);
    expect(p.fieldConfig.defaults.unit).toBe('short');
  });

  test('the JSON is stable: no timestamps or ids that change between renders', () => {
    expect(only(render().chart, 'ConfigMap').data).toEqual(only(render().chart, 'ConfigMap').data);
  });

  test('fails when a query is not valid PromQL', () => {
    expect(() => render({ panels: [{ title: 'Bad', queries: [{ expr: 'rate(x[$__rate_interval])' }] }] })).toThrow(
      /^GrafanaDashboard 'dashboard': panels\[0\] \(Bad\)\.queries\[0\]: expr is not valid PromQL: syntax error at column/,
    );
  });

  test('fails when a query uses a variable the dashboard does not define', () => {
    expect(() => render({ panels: [{ title: 'Zone', queries: [{ expr: 'up{zone=~"$zone"}' }] }] })).toThrow(
      "GrafanaDashboard 'dashboard': panels[0] (Zone).queries[0]: uses $zone, which is not a variable of the dashboard (datasource, region)",
    );
  });

  test('fails when the uid is longer than Grafana allows', () => {
    expect(() => render({ uid: 'x'.repeat(41) })).toThrow(`GrafanaDashboard 'dashboard': uid ("${'x'.repeat(41)}") must be 1-40 letters, digits, "-" or "_"`);
  });

  test('fails when there is no panel', () => {
    expect(() => render({ panels: [] })).toThrow("GrafanaDashboard 'dashboard': panels is empty");
  });

  test('fails when a panel is wider than a row', () => {
    expect(() => render({ panels: [{ title: 'Wide', width: 30, queries: [{ expr: 'up' }] }] })).toThrow(
      "GrafanaDashboard 'dashboard': panels[0] (Wide): width (30) must be 1-24",
    );
  });
});
