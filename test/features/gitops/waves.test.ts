import { ApiObject, Chart } from 'cdk8s';
import { EnvironmentPlan, formatProblem, loadAll, ProblemError } from '../../../model';
import { buildEnvironment } from '../../../synth/render';
import { simulateRollout } from '../../../features/gitops/progressive-sync';
import { fixtureRepo, shopPlatform } from '../../model/fixtures';
import { ROOT } from '../../helpers';
import { generateApplications } from './appset-model';

const envOf = (platform: string, env: string) => loadAll(ROOT, { platform, env })[0];

/** The ArgoCD objects rendered for an environment. */
function argocdObjects(env: EnvironmentPlan): any[] {
  const charts = buildEnvironment(env, `${env.platform.name}/${env.env}`);
  const gitops: Chart = charts[charts.length - 1][0];
  return gitops.node
    .findAll()
    .filter((c): c is ApiObject => c instanceof ApiObject)
    .map((o) => o.toJson());
}

/** What ArgoCD holds once the objects are applied: the Applications, generated ones included. */
function applications(objects: any[]): any[] {
  return objects.flatMap((o) => (o.kind === 'Application' ? [o] : o.kind === 'ApplicationSet' && o.spec.strategy ? generateApplications(o) : []));
}

describe('regions in waves', () => {
  test('ggen and PushNchat prod roll out region by region, secondaries by ascending weight, the primary last', () => {
    expect(envOf('ggen', 'prod').rollout).toMatchObject({
      promotesFrom: 'staging',
      revision: 'meridian/ggen/prod',
      waves: [['europe-west1'], ['us-east1'], ['us-central1']],
    });
    expect(envOf('pushnchat', 'prod').rollout).toMatchObject({
      promotesFrom: 'staging',
      waves: [['europe-west6'], ['me-west1'], ['africa-south1']],
    });
    // dev and previews sync at once; PushNchat's staging takes every merge (the seed), in waves.
    expect(envOf('ggen', 'dev').rollout.waves).toEqual([['us-central1', 'us-east1', 'europe-west1']]);
    expect(envOf('pushnchat', 'preview').rollout).toMatchObject({ promotesFrom: undefined, revision: 'main' });
    expect(envOf('pushnchat', 'staging').rollout).toMatchObject({
      promotesFrom: undefined,
      revision: 'main',
      waves: [['europe-west6'], ['me-west1'], ['africa-south1']],
    });
    // Weather's prod syncs only what staging ran; staging what dev ran.
    expect(envOf('weather', 'prod').rollout).toMatchObject({ promotesFrom: 'staging', revision: 'meridian/weather/prod' });
    expect(envOf('weather', 'staging').rollout).toMatchObject({ promotesFrom: 'dev', revision: 'meridian/weather/staging' });
  });

  test('the ApplicationSet generates exactly the Applications of an all-at-once render, but for automated sync and the wave labels', () => {
    const waved = envOf('ggen', 'staging');
    const atOnce: EnvironmentPlan = { ...waved, rollout: { ...waved.rollout, waves: [Object.keys(waved.platform.regions)] } };
    const strip = (app: any) => {
      const { [`meridian.dev/wave`]: _w, [`meridian.dev/region`]: _r, ...labels } = app.metadata.labels;
      const { automated: _a, ...syncPolicy } = app.spec.syncPolicy;
      return { ...app, metadata: { ...app.metadata, labels, annotations: undefined }, spec: { ...app.spec, syncPolicy } };
    };
    const generated = applications(argocdObjects(waved)).map(strip);
    const direct = applications(argocdObjects(atOnce)).map(strip);
    expect(generated).toHaveLength(3);
    expect(generated).toEqual(direct);
    // The all-at-once Applications of staging sync by themselves; the generated ones leave it to the controller.
    expect(applications(argocdObjects(atOnce))[0].spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(applications(argocdObjects(waved))[0].spec.syncPolicy.automated).toBeUndefined();
  });

  test('a bad change stops at the first wave: the rendered ApplicationSet run through the progressive sync model', () => {
    for (const [platform, first] of [
      ['ggen', 'ggen-prod-europe-west1'],
      ['pushnchat', 'pushnchat-prod-europe-west6'],
    ]) {
      const objects = argocdObjects(envOf(platform, 'prod'));
      const appset = objects.find((o) => o.kind === 'ApplicationSet' && o.spec.strategy)!;
      const apps = generateApplications(appset).map((a) => ({ name: a.metadata.name, labels: a.metadata.labels }));
      const bad = simulateRollout(apps, appset.spec.strategy.rollingSync.steps, (app) => (app === first ? 'Degraded' : 'Healthy'));
      expect(bad.updated).toEqual([first]);
      expect(bad.held).toHaveLength(2);
      const good = simulateRollout(apps, appset.spec.strategy.rollingSync.steps, () => 'Healthy');
      expect(good.rounds.map((r) => r.length)).toEqual([1, 1, 1]);
      expect(good.rounds.at(-1)![0]).toMatch(platform === 'ggen' ? /us-central1$/ : /africa-south1$/); // the primary last
    }
  });

  test('the AppProject carries the sync windows the environment declares', () => {
    const env = envOf('ggen', 'prod');
    const withWindows: EnvironmentPlan = {
      ...env,
      rollout: { ...env.rollout, syncWindows: [{ kind: 'allow', schedule: '0 8 * * 1-5', duration: '10h', timeZone: 'Europe/Berlin', manualSync: true }] },
    };
    const project = argocdObjects(withWindows).find((o) => o.kind === 'AppProject');
    expect(project.spec.syncWindows).toEqual([
      { kind: 'allow', schedule: '0 8 * * 1-5', duration: '10h', timeZone: 'Europe/Berlin', manualSync: true, applications: ['*'] },
    ]);
  });
});

describe('rollout rules', () => {
  function problems(rollout: unknown, env = 'prod'): string[] {
    try {
      loadAll(fixtureRepo(shopPlatform(), { [env]: `rollout: ${JSON.stringify(rollout)}\n` }));
    } catch (e) {
      if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
      throw e;
    }
    return [];
  }

  test('fails when a region is missing, unknown or in two waves', () => {
    expect(problems({ waves: [['europe-west1']] })).toEqual([
      'overlays/shop/prod.yaml: rollout.waves: must name every region once; missing: us-east1 (got [["europe-west1"]])',
    ]);
    expect(problems({ waves: [['europe-west1'], ['us-east1', 'asia-east1']] })).toEqual([
      'overlays/shop/prod.yaml: rollout.waves[1][1]: is not a region of this environment (regions: us-east1, europe-west1) (got "asia-east1")',
    ]);
    expect(problems({ waves: [['europe-west1'], ['us-east1', 'europe-west1']] })).toEqual([
      'overlays/shop/prod.yaml: rollout.waves[1][1]: is already in wave 1: every region rolls out exactly once (got "europe-west1")',
    ]);
  });

  test('fails when the primary region is alone in the first wave', () => {
    expect(problems({ waves: [['us-east1'], ['europe-west1']] })).toEqual([
      'overlays/shop/prod.yaml: rollout.waves[0]: must not be the primary region alone: a bad change would reach the region that holds the master and most traffic first (put a secondary first) (got ["us-east1"])',
    ]);
    expect(problems({ waves: [['us-east1', 'europe-west1']] })).toEqual([]);
  });

  test('fails when promotesFrom names no other environment', () => {
    expect(problems({ promotesFrom: 'qa' })).toEqual([
      'overlays/shop/prod.yaml: rollout.promotesFrom: must name another environment of the platform that is not the preview environment (allowed: staging; false tracks main) (got "qa")',
    ]);
    expect(problems({ promotesFrom: 'prod' })).toHaveLength(1);
    expect(problems({ promotesFrom: false })).toEqual([]);
  });
});
