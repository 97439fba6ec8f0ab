/**
 * The model of Managed Prometheus' rule scoping (features/observability/gmp-scope.ts) on the
 * cases of prometheus-engine's own tests (pkg/operator/apis/monitoring/v1/rules_config_test.go:
 * TestScope, TestGenerateRules, TestGenerateClusterRules, TestGenerateGlobalRules).
 */
import { scopeExpr, scopeLabels, scopeRuleLabels, ScopeError } from '../../../features/observability/gmp-scope';

const where = { projectId: '123', location: 'us-central1', cluster: 'test-cluster' };

describe('scopeExpr (TestScope)', () => {
  const lset = { l1: 'v1', l2: 'v2' };
  test('an expression without selectors is unchanged', () => {
    expect(scopeExpr('vector(1)', lset)).toBe('vector(1)');
  });
  test('a selector inside a range and an aggregation gets every matcher', () => {
    expect(scopeExpr('sum by(foo, bar) (rate(my_metric[5m]))', lset)).toBe('sum by(foo, bar) (rate(my_metric{l1="v1",l2="v2"}[5m]))');
  });
  test('each selector of a binary expression, after its own matchers', () => {
    expect(scopeExpr('my_metric1 / my_metric2{a="b"} > 0', lset)).toBe('my_metric1{l1="v1",l2="v2"} / my_metric2{a="b",l1="v1",l2="v2"} > 0');
  });
  test('empty braces, offsets, subqueries and absent()', () => {
    expect(scopeExpr('absent(up{}) or max_over_time(x[10m:1m]) - y offset 1d', lset)).toBe(
      'absent(up{l1="v1",l2="v2"}) or max_over_time(x{l1="v1",l2="v2"}[10m:1m]) - y{l1="v1",l2="v2"} offset 1d',
    );
  });
  test('a matcher equal to the scope is kept (setSelector only refuses a different one)', () => {
    expect(scopeExpr('up{l1="v1"}', lset)).toBe('up{l1="v1",l1="v1",l2="v2"}');
  });
  test('fails when a selector matches a scope label otherwise', () => {
    expect(() => scopeExpr('up{l1="other"}', lset)).toThrow(new ScopeError('conflicting label matcher l1="other" in up{l1="other"}: the scope sets l1="v1"'));
    expect(() => scopeExpr('up{l2=~"v.*"}', lset)).toThrow(ScopeError);
  });
  test('an empty scope value adds no matcher', () => {
    expect(scopeExpr('up', { l1: '' })).toBe('up');
  });
});

describe('scope per kind (TestGenerateRules, TestGenerateClusterRules, TestGenerateGlobalRules)', () => {
  test('Rules: project, location, cluster and its namespace', () => {
    const labels = scopeLabels('Rules', where, 'test-namespace');
    expect(scopeExpr('test_expr', labels)).toBe('test_expr{project_id="123",location="us-central1",cluster="test-cluster",namespace="test-namespace"}');
    expect(scopeRuleLabels(undefined, labels)).toEqual({ cluster: 'test-cluster', location: 'us-central1', namespace: 'test-namespace', project_id: '123' });
  });
  test('ClusterRules: no namespace', () => {
    expect(scopeExpr('test_expr', scopeLabels('ClusterRules', where))).toBe('test_expr{project_id="123",location="us-central1",cluster="test-cluster"}');
  });
  test('GlobalRules: nothing', () => {
    expect(scopeExpr('test_expr', scopeLabels('GlobalRules', where))).toBe('test_expr');
    expect(scopeRuleLabels({ project_id: 'other' }, scopeLabels('GlobalRules', where))).toEqual({ project_id: 'other' });
  });
  test('fails when a rule sets a scope label ("project label", "namespace label")', () => {
    expect(() => scopeRuleLabels({ project_id: 'other' }, scopeLabels('Rules', where, 'ns'))).toThrow(
      'label "project_id" already set on rule with value "other": the scope sets it',
    );
    expect(() => scopeRuleLabels({ namespace: 'other' }, scopeLabels('Rules', where, 'ns'))).toThrow(ScopeError);
    // A ClusterRules may set namespace: it is not one of its scope labels.
    expect(scopeRuleLabels({ namespace: 'other' }, scopeLabels('ClusterRules', where)).namespace).toBe('other');
  });
});
