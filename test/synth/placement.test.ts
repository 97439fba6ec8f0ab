/**
 * Two environments (or platforms) that render the same object into one cluster would have two
 * ArgoCD Applications own it, each undoing the other's sync: render refuses it.
 */
import { ProblemError, formatProblem } from '../../kernel/problems';
import { loadAll } from '../../model';
import { render } from '../../synth';
import { fixtureRepo, shopPlatform } from '../model/fixtures';

function problemsOf(root: string): string[] {
  try {
    render(loadAll(root));
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'output') return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

describe('one cluster, one owner per object', () => {
  test('environments on their own clusters render', () => {
    expect(problemsOf(fixtureRepo(shopPlatform()))).toEqual([]);
  });

  test('fails when two environments render the same objects into one cluster, once per pair', () => {
    const problems = problemsOf(fixtureRepo(shopPlatform(), { prod: 'regions: { us-east1: { cluster: shop-staging-us-east1 } }\n' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^shop\/prod: renders \d+ object\(s\) that shop\/staging also renders into cluster shop-staging-us-east1 \(Namespace shop, Gateway istio-ingress\/shop-gateway, BackendConfig istio-ingress\/shop-gateway, and \d+ more\): two ArgoCD Applications would own them and undo each other's syncs; give one of them its own cluster \(regions.<region>.cluster\) or other names$/,
    );
  });
});
