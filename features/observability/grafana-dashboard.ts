import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { promqlErrors } from '../../kernel/promql';
import { promDuration } from './alert-rules';

export interface DashboardQuery {
  /** PromQL; may use the dashboard's variables as `$name` inside label matchers. */
  readonly expr: string;
  /** Legend, e.g. `{{region}}`. @default - Grafana's (the series labels) */
  readonly legend?: string;
}

export interface DashboardPanel {
  readonly title: string;
  /** Shown in the panel's info tooltip. @default - none */
  readonly description?: string;
  /** Grafana unit id: `reqps`, `percentunit`, `ms`, `s`, `bytes`, `short`... @default 'short' */
  readonly unit?: string;
  readonly queries: DashboardQuery[];
  /** @default 'timeseries' */
  readonly type?: 'timeseries' | 'stat';
  /** Width in grid columns, of 24 per row. @default 12 */
  readonly width?: number;
}

export interface DashboardVariable {
  /** Referenced as `$<name>` in queries. */
  readonly name: string;
  /** @default - the name */
  readonly label?: string;
  /** The values offered; an "All" option selects every one. */
  readonly values: string[];
}

export interface GrafanaDashboardProps {
  /** Name of the ConfigMap. */
  readonly name: string;
  readonly namespace: string;
  /** Grafana's stable id of the dashboard (links point at it): at most 40 letters, digits, "-" and "_". */
  readonly uid: string;
  readonly title: string;
  /** @default [] */
  readonly tags?: string[];
  /**
   * Folder in Grafana, as the `grafana_folder` annotation (the sidecar's `folderAnnotation`).
   * @default - the sidecar's folder
   */
  readonly folder?: string;
  /** @default [] */
  readonly variables?: DashboardVariable[];
  readonly panels: DashboardPanel[];
  /** Time range shown on open. @default Duration.hours(6) */
  readonly timeRange?: Duration;
  /** Labels of the ConfigMap besides the sidecar's. @default {} */
  readonly labels?: Record<string, string>;
}

/** The label the Grafana dashboard sidecar (grafana/helm-charts, kiwigrid/k8s-sidecar) watches by default. */
export const GRAFANA_DASHBOARD_LABEL = 'grafana_dashboard';
export const GRAFANA_FOLDER_ANNOTATION = 'grafana_folder';
const MAX_CONFIGMAP_BYTES = 1024 * 1024;
const PANEL_HEIGHT = 8;

/**
 * A Grafana dashboard delivered as a ConfigMap the Grafana sidecar loads. Queries go to a
 * Prometheus data source picked with the `datasource` variable (e.g. the Managed Prometheus
 * frontend); every query is parsed with the Prometheus grammar and may only use the
 * dashboard's own variables.
 */
export class GrafanaDashboard extends Construct {
  public readonly uid: string;
  /** The dashboard model, as Grafana stores it. */
  public readonly model: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: GrafanaDashboardProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`GrafanaDashboard '${id}': ${msg}`);
    };
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(props.uid)) fail(`uid ("${props.uid}") must be 1-40 letters, digits, "-" or "_"`);
    if (props.panels.length === 0) fail('panels is empty');
    const variables = props.variables ?? [];
    const known = new Set(['datasource', ...variables.map((v) => v.name)]);
    for (const v of variables) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v.name)) fail(`variable "${v.name}" must be letters, digits and "_"`);
      if (v.values.length === 0) fail(`variable "${v.name}" has no values`);
    }
    this.uid = props.uid;

    const datasource = { type: 'prometheus', uid: '${datasource}' };
    let x = 0;
    let y = 0;
    const panels = props.panels.map((panel, i) => {
      const width = panel.width ?? 12;
      if (!Number.isInteger(width) || width < 1 || width > 24) fail(`panels[${i}] (${panel.title}): width (${width}) must be 1-24`);
      if (panel.queries.length === 0) fail(`panels[${i}] (${panel.title}): queries is empty`);
      panel.queries.forEach((q, j) => {
        const errors = promqlErrors(q.expr);
        if (errors.length > 0)
          fail(`panels[${i}] (${panel.title}).queries[${j}]: expr is not valid PromQL: ${errors.join('; ')} (got ${JSON.stringify(q.expr)})`);
        for (const [, name] of q.expr.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
          if (!known.has(name))
            fail(`panels[${i}] (${panel.title}).queries[${j}]: uses $${name}, which is not a variable of the dashboard (${[...known].join(', ')})`);
        }
      });
      if (x + width > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      const gridPos = { h: PANEL_HEIGHT, w: width, x, y };
      x += width;
      return {
        id: i + 1,
        type: panel.type ?? 'timeseries',
        title: panel.title,
        description: panel.description,
        datasource,
        gridPos,
        fieldConfig: { defaults: { unit: panel.unit ?? 'short' }, overrides: [] },
        options:
          panel.type === 'stat'
            ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' }
            : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
        targets: panel.queries.map((q, j) => ({
          refId: String.fromCharCode(65 + j),
          datasource,
          expr: q.expr,
          legendFormat: q.legend ?? '__auto',
          range: true,
        })),
      };
    });

    this.model = {
      uid: props.uid,
      title: props.title,
      tags: props.tags ?? [],
      timezone: 'utc',
      editable: false,
      graphTooltip: 1,
      schemaVersion: 39,
      version: 1,
      refresh: '1m',
      time: { from: `now-${promDuration(props.timeRange ?? Duration.hours(6))}`, to: 'now' },
      templating: {
        list: [
          { type: 'datasource', name: 'datasource', label: 'Data source', query: 'prometheus', hide: 0, current: {} },
          ...variables.map((v) => ({
            type: 'custom',
            name: v.name,
            label: v.label ?? v.name,
            query: v.values.join(','),
            multi: true,
            includeAll: true,
            hide: 0,
            current: { selected: true, text: ['All'], value: ['$__all'] },
            options: [{ selected: true, text: 'All', value: '$__all' }, ...v.values.map((value) => ({ selected: false, text: value, value }))],
          })),
        ],
      },
      panels,
    };

    const json = `${JSON.stringify(this.model, null, 2)}\n`;
    if (Buffer.byteLength(json) > MAX_CONFIGMAP_BYTES)
      fail(`the dashboard is ${Buffer.byteLength(json)} bytes: a ConfigMap holds at most ${MAX_CONFIGMAP_BYTES}`);
    new kplus.k8s.KubeConfigMap(this, 'Resource', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: { ...props.labels, [GRAFANA_DASHBOARD_LABEL]: '1' },
        annotations: props.folder ? { [GRAFANA_FOLDER_ANNOTATION]: props.folder } : undefined,
      },
      data: { [`${props.uid}.json`]: json },
    });
  }
}
