/**
 * How Managed Prometheus scopes a rule object before its rule evaluator runs it, following
 * GoogleCloudPlatform/prometheus-engine v0.17 `pkg/operator/apis/monitoring/v1/rules_config.go`
 * (`Rules.RuleGroupsConfig`, `ClusterRules.RuleGroupsConfig`, `GlobalRules.RuleGroupsConfig`,
 * `scope`, `setSelector`, `setLabel`):
 *
 * - a `Rules` object is scoped to `project_id`, `location`, `cluster` and its own `namespace`;
 *   a `ClusterRules` to `project_id`, `location` and `cluster`; a `GlobalRules` to nothing;
 * - every vector selector of every rule gets an equality matcher per scope label (a label
 *   with an empty value adds none); a selector that already has a matcher on that label
 *   which is not `=` the same value is refused ("conflicting label matcher"), and the
 *   operator rejects the whole object;
 * - every rule's output (recorded series or alert) gets the scope labels as rule labels, and
 *   a rule that already sets one of them is refused.
 *
 * Used by the promtool tests (which evaluate each rule as GMP would) and by the blind-rule
 * check at synth (which asks what each scoped selector can match).
 */
import { vectorSelectors } from '../../kernel/promql';

export type RuleKind = 'Rules' | 'ClusterRules' | 'GlobalRules';

/** Where the rule evaluator runs: the cluster's project, location and name (export.KeyProjectID, KeyLocation, KeyCluster). */
export interface EvaluatorLocation {
  readonly projectId: string;
  readonly location: string;
  readonly cluster: string;
}

/** The labels GMP adds, as matchers and as rule labels, for a rule object of `kind`. */
export function scopeLabels(kind: RuleKind, where: EvaluatorLocation, namespace?: string): Record<string, string> {
  switch (kind) {
    case 'GlobalRules':
      return {};
    case 'ClusterRules':
      return { project_id: where.projectId, location: where.location, cluster: where.cluster };
    case 'Rules':
      if (!namespace) throw new Error('a Rules object has a namespace');
      return { project_id: where.projectId, location: where.location, cluster: where.cluster, namespace };
  }
}

export class ScopeError extends Error {}

/** The expression with GMP's isolation matchers added to every vector selector (its meaning, not its spelling). */
export function scopeExpr(expr: string, labels: Readonly<Record<string, string>>): string {
  const inserts: { at: number; text: string }[] = [];
  for (const s of vectorSelectors(expr)) {
    const added: string[] = [];
    for (const [name, value] of Object.entries(labels)) {
      for (const m of s.matchers) {
        if (m.name === name && (m.op !== '=' || m.value !== value)) {
          throw new ScopeError(`conflicting label matcher ${m.name}${m.op}${JSON.stringify(m.value)} in ${s.text}: the scope sets ${name}="${value}"`);
        }
      }
      if (value !== '') added.push(`${name}=${JSON.stringify(value)}`);
    }
    if (added.length === 0) continue;
    const list = added.join(',');
    inserts.push({ at: s.insertAt, text: s.hasBraces ? `${s.hasMatchers ? ',' : ''}${list}` : `{${list}}` });
  }
  let out = expr;
  for (const i of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, i.at) + i.text + out.slice(i.at);
  return out;
}

/** A rule's labels with the scope's added; a rule setting a scope label itself is refused, as GMP refuses it. */
export function scopeRuleLabels(labels: Readonly<Record<string, string>> | undefined, scope: Readonly<Record<string, string>>): Record<string, string> {
  const out = { ...labels };
  for (const [name, value] of Object.entries(scope)) {
    if (out[name] !== undefined) throw new ScopeError(`label "${name}" already set on rule with value "${out[name]}": the scope sets it`);
    if (value !== '') out[name] = value;
  }
  return out;
}
