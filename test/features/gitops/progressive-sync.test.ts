import { RolloutStep, simulateRollout, stepsOf } from '../../../features/gitops/progressive-sync';

const inStep = (key: string, ...values: string[]) => ({ key, operator: 'In', values });
const notIn = (key: string, ...values: string[]) => ({ key, operator: 'NotIn', values });
const app = (name: string, labels: Record<string, string>) => ({ name, labels });

/**
 * Cases ported as data from argoproj/argo-cd applicationset/controllers/applicationset_controller_test.go
 * (TestBuildAppDependencyList, TestBuildAppSyncMap), against the model of the controller.
 */
describe('the progressive sync model on upstream cases', () => {
  test.each<[string, RolloutStep[], ReturnType<typeof app>[], string[][]]>([
    [
      'one In selector per step; an empty step stays empty',
      [{ matchExpressions: [inStep('env', 'dev')] }, { matchExpressions: [inStep('env', 'qa')] }, { matchExpressions: [inStep('env', 'prod')] }],
      [app('app-qa', { env: 'qa' }), app('app-prod', { env: 'prod' })],
      [[], ['app-qa'], ['app-prod']],
    ],
    [
      "multiple 'In' selectors in the same matchExpression only select Applications that match all selectors",
      [{ matchExpressions: [inStep('region', 'us-east-2'), inStep('env', 'qa')] }],
      [app('app-qa1', { env: 'qa' }), app('app-qa2', { env: 'qa', region: 'us-east-2' })],
      [['app-qa2']],
    ],
    [
      "multiple values in the same 'In' matchExpression can match on any value",
      [{ matchExpressions: [inStep('env', 'qa', 'prod')] }],
      [app('app-dev', { env: 'dev' }), app('app-qa', { env: 'qa' }), app('app-prod', { env: 'prod', region: 'us-east-2' })],
      [['app-qa', 'app-prod']],
    ],
    ["selects 1 application with 1 'NotIn' selector", [{ matchExpressions: [notIn('env', 'qa')] }], [app('app-dev', { env: 'dev' })], [['app-dev']]],
    [
      "multiple values in the same 'NotIn' matchExpression exclude a match from any value",
      [{ matchExpressions: [notIn('env', 'qa', 'prod')] }],
      [app('app-dev', { env: 'dev' }), app('app-qa', { env: 'qa' }), app('app-prod', { env: 'prod', region: 'us-east-2' })],
      [['app-dev']],
    ],
    [
      "in a mix of 'In' and 'NotIn' selectors, 'NotIn' takes precedence",
      [{ matchExpressions: [inStep('env', 'qa', 'prod'), notIn('region', 'us-west-2')] }],
      [app('app-dev', { env: 'dev' }), app('app-qa1', { env: 'qa', region: 'us-west-2' }), app('app-qa2', { env: 'qa', region: 'us-east-2' })],
      [['app-qa2']],
    ],
  ])('%s', (_name, steps, apps, expected) => {
    expect(stepsOf(apps, steps).members).toEqual(expected);
  });

  test('an unknown operator selects nothing', () => {
    expect(stepsOf([app('a', { env: 'qa' })], [{ matchExpressions: [{ key: 'env', operator: 'Exists', values: [] }] }]).members).toEqual([[]]);
  });

  test('healthy steps and the first unhealthy step sync; later ones wait (TestBuildAppSyncMap)', () => {
    const steps: RolloutStep[] = [{ matchExpressions: [inStep('wave', '1')] }, { matchExpressions: [inStep('wave', '2')] }];
    const apps = [app('app1', { wave: '1' }), app('app2', { wave: '2' })];
    // Both healthy: the change reaches both, wave by wave.
    expect(simulateRollout(apps, steps, () => 'Healthy').rounds).toEqual([['app1'], ['app2']]);
    // The first wave degrades: the second never syncs.
    expect(simulateRollout(apps, steps, (a) => (a === 'app1' ? 'Degraded' : 'Healthy'))).toMatchObject({ updated: ['app1'], held: ['app2'] });
  });

  test('maxUpdate limits how many Applications of a step sync at once; a non-zero percent is at least one', () => {
    const apps = [app('a', { wave: '1' }), app('b', { wave: '1' }), app('c', { wave: '1' })];
    expect(simulateRollout(apps, [{ matchExpressions: [inStep('wave', '1')], maxUpdate: 1 }], () => 'Healthy').rounds).toEqual([['a'], ['b'], ['c']]);
    expect(simulateRollout(apps, [{ matchExpressions: [inStep('wave', '1')], maxUpdate: '10%' }], () => 'Healthy').rounds).toEqual([['a'], ['b'], ['c']]);
    expect(simulateRollout(apps, [{ matchExpressions: [inStep('wave', '1')] }], () => 'Healthy').rounds).toEqual([['a', 'b', 'c']]);
    // A degraded member of a maxUpdate-limited step holds the rest of the step.
    expect(simulateRollout(apps, [{ matchExpressions: [inStep('wave', '1')], maxUpdate: 1 }], (a) => (a === 'a' ? 'Degraded' : 'Healthy')).held).toEqual([
      'b',
      'c',
    ]);
  });

  test('an Application in no step is never synced by the controller', () => {
    const r = simulateRollout([app('a', { wave: '1' }), app('x', {})], [{ matchExpressions: [inStep('wave', '1')] }], () => 'Healthy');
    expect(r).toMatchObject({ updated: ['a'], held: ['x'] });
  });
});
