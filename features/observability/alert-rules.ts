import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { ClusterRules, GlobalRules, Rules } from '../../imports/monitoring.googleapis.com';
import { promqlErrors } from '../../kernel/promql';

/** `critical` pages the on-call engineer; `warning` goes to the team's channel or ticket queue. */
export type Severity = 'critical' | 'warning' | 'info';

export interface RecordingRule {
  /** Name of the recorded series, `level:metric:operations` (e.g. `service:requests:rate5m`). */
  readonly record: string;
  /** PromQL; parsed when the construct is created. */
  readonly expr: string;
  /** Labels set on the recorded series. @default {} */
  readonly labels?: Record<string, string>;
}

export interface AlertingRule {
  /** CamelCase alert name; its runbook is `<runbookBaseUrl>/<alert>.md`. */
  readonly alert: string;
  /** PromQL; parsed when the construct is created. */
  readonly expr: string;
  /** How long `expr` must hold before the alert fires. */
  readonly for: Duration;
  readonly severity: Severity;
  /** One line, the notification's title; may use `{{ $labels.<name> }}`. */
  readonly summary: string;
  /** What is wrong and what it threatens; may use `{{ $labels.<name> }}`. */
  readonly description: string;
  /** Labels set on the alert besides `severity`. @default {} */
  readonly labels?: Record<string, string>;
}

export type Rule = RecordingRule | AlertingRule;

export interface RuleGroup {
  /** Unique within the object. */
  readonly name: string;
  /** Evaluation interval. @default - the rule evaluator's (1m on Managed Prometheus) */
  readonly interval?: Duration;
  readonly rules: Rule[];
}

export interface AlertRulesProps {
  /** Name of the Rules (or ClusterRules) object. */
  readonly name: string;
  /**
   * Namespace whose metrics the rules see: a `Rules`, which Managed Prometheus scopes to
   * this namespace of this cluster. @default - the whole cluster: a `ClusterRules`
   */
  readonly namespace?: string;
  /**
   * A `GlobalRules`, which Managed Prometheus scopes to nothing: its rules see every cluster and
   * project of the metrics scope, and may read Cloud Monitoring metrics. Not with `namespace`.
   * @default false
   */
  readonly global?: boolean;
  readonly groups: RuleGroup[];
  /** Base URL of the runbooks; every alert gets `runbook_url: <base>/<alert>.md`. */
  readonly runbookBaseUrl: string;
  /** Labels set on every recorded series and alert (e.g. platform, env, region). @default {} */
  readonly ruleLabels?: Record<string, string>;
  /** Labels of the object itself. @default {} */
  readonly labels?: Record<string, string>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ALERT_NAME = /^[A-Z][A-Za-z0-9]*$/;

export function isAlertingRule(rule: Rule): rule is AlertingRule {
  return (rule as AlertingRule).alert !== undefined;
}

/**
 * Prometheus recording and alerting rules for GKE Managed Service for Prometheus: a `Rules`
 * object when a namespace is given, a `GlobalRules` when `global`, else a `ClusterRules`. The groups are written in the
 * upstream rule-file format, so the same groups pass `promtool check rules` unchanged.
 * Every expression is parsed with the Prometheus grammar when the construct is created.
 */
export class AlertRules extends Construct {
  public readonly name: string;
  public readonly namespace?: string;
  /** The alert names, in order, each once. */
  public readonly alertNames: string[];

  constructor(scope: Construct, id: string, props: AlertRulesProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`AlertRules '${id}': ${msg}`);
    };
    this.name = props.name;
    this.namespace = props.namespace;
    if (props.global && props.namespace) fail(`global and namespace (${props.namespace}) exclude each other: a GlobalRules is cluster-scoped`);
    if (props.groups.length === 0) fail('groups is empty: give at least one rule group');
    if (!/^https?:\/\/\S+$/.test(props.runbookBaseUrl)) fail(`runbookBaseUrl (${props.runbookBaseUrl}) must be an http(s) URL`);
    const ruleLabels = props.ruleLabels ?? {};
    checkLabels(ruleLabels, 'ruleLabels', fail);

    const groupNames = new Set<string>();
    const alerts: string[] = [];
    const groups = props.groups.map((group, g) => {
      const where = `groups[${g}] (${group.name})`;
      if (group.name.trim() === '') fail(`groups[${g}].name is empty`);
      if (groupNames.has(group.name)) fail(`${where}: name is used by another group`);
      groupNames.add(group.name);
      if (group.rules.length === 0) fail(`${where}: rules is empty`);
      const rules = group.rules.map((rule, r) => {
        const at = `${where}.rules[${r}] (${isAlertingRule(rule) ? rule.alert : rule.record})`;
        const errors = promqlErrors(rule.expr);
        if (errors.length > 0) fail(`${at}: expr is not valid PromQL: ${errors.join('; ')} (got ${JSON.stringify(rule.expr)})`);
        checkLabels(rule.labels ?? {}, `${at}: labels`, fail);
        if (!isAlertingRule(rule)) {
          if (!METRIC_NAME.test(rule.record)) fail(`${at}: record must be a metric name such as service:requests:rate5m`);
          return { record: rule.record, expr: rule.expr, labels: sorted({ ...ruleLabels, ...rule.labels }) };
        }
        if (!ALERT_NAME.test(rule.alert)) fail(`${at}: alert must be CamelCase letters and digits, starting with a capital`);
        if (rule.summary.trim() === '' || rule.description.trim() === '') fail(`${at}: summary and description are required`);
        if (rule.labels?.severity !== undefined) fail(`${at}: labels.severity is set by severity`);
        if (!alerts.includes(rule.alert)) alerts.push(rule.alert);
        return {
          alert: rule.alert,
          expr: rule.expr,
          for: promDuration(rule.for),
          labels: sorted({ ...ruleLabels, ...rule.labels, severity: rule.severity }),
          annotations: {
            summary: rule.summary,
            description: rule.description,
            runbook_url: `${props.runbookBaseUrl.replace(/\/$/, '')}/${rule.alert}.md`,
          },
        };
      });
      return { name: group.name, interval: group.interval ? promDuration(group.interval) : undefined, rules };
    });
    this.alertNames = alerts;

    const metadata = { name: props.name, namespace: props.namespace, labels: props.labels };
    if (props.namespace) new Rules(this, 'Resource', { metadata, spec: { groups } });
    else if (props.global) new GlobalRules(this, 'Resource', { metadata, spec: { groups } });
    else new ClusterRules(this, 'Resource', { metadata, spec: { groups } });
  }
}

/** A Duration in Prometheus' syntax, in its largest whole unit: `30s`, `15m`, `1h`, `3d`. */
export function promDuration(d: Duration): string {
  const ms = d.toMilliseconds();
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function checkLabels(labels: Record<string, string>, where: string, fail: (msg: string) => never): void {
  for (const key of Object.keys(labels)) {
    if (!LABEL_NAME.test(key) || key.startsWith('__')) fail(`${where}: "${key}" is not a label name (letters, digits and "_", not starting with "__")`);
  }
}

function sorted(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
