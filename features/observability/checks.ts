/**
 * PromQL in rendered objects must parse: the expressions of Managed Prometheus rules, the
 * queries of Grafana dashboard ConfigMaps and of KEDA's Prometheus triggers. The rule and
 * dashboard constructs refuse bad PromQL when they are built; this check runs in every synth
 * and in `meridian validate`, so it also catches YAML edited by hand or produced elsewhere.
 */
import { promqlErrors } from '../../kernel/promql';
import type { FieldProblem } from '../../kernel/problems';

type Obj = Record<string, unknown>;

export function promqlProblems(manifest: Obj): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const check = (path: string, expr: unknown) => {
    if (typeof expr !== 'string') return;
    for (const error of promqlErrors(expr)) problems.push({ path, message: `not valid PromQL: ${error}` });
  };
  const kind = manifest.kind;
  if ((kind === 'Rules' || kind === 'ClusterRules') && String(manifest.apiVersion).startsWith('monitoring.googleapis.com/')) {
    const groups = ((manifest.spec as Obj | undefined)?.groups ?? []) as Obj[];
    groups.forEach((g, i) => ((g.rules ?? []) as Obj[]).forEach((r, j) => check(`spec.groups[${i}].rules[${j}].expr`, r.expr)));
  }
  // ScaledObject queries are parsed with the rest of KEDA's rules (keda.ts).
  const labels = ((manifest.metadata as Obj | undefined)?.labels ?? {}) as Obj;
  if (kind === 'ConfigMap' && labels.grafana_dashboard !== undefined) {
    for (const [key, text] of Object.entries((manifest.data ?? {}) as Obj)) {
      if (!key.endsWith('.json') || typeof text !== 'string') continue;
      let model: Obj;
      try {
        model = JSON.parse(text) as Obj;
      } catch (e) {
        problems.push({ path: `data.${key}`, message: `not valid JSON: ${(e as Error).message}` });
        continue;
      }
      ((model.panels ?? []) as Obj[]).forEach((p, i) =>
        ((p.targets ?? []) as Obj[]).forEach((t, j) => check(`data.${key}: panels[${i}].targets[${j}].expr`, t.expr)),
      );
    }
  }
  return problems;
}
