/**
 * The golden test: every environment × region of every platform in the repository renders,
 * and every object passes strict schema validation and the policy checks.
 */
import { loadAll, platformFiles } from '../../model';
import { render } from '../../synth';
import { formatProblem, validateObjects } from '../../checks';
import { ROOT } from '../helpers';

const envs = loadAll(ROOT);
const rendering = render(envs);

describe('golden: every platform of the repository', () => {
  test('every platform file has environments', () => {
    const platforms = new Set(envs.map((e) => e.platform.name));
    expect(platformFiles(ROOT).length).toBe(platforms.size);
    expect(platforms.has('ggen')).toBe(true);
  });

  test('each environment renders one folder per region cluster and one for ArgoCD', () => {
    for (const env of envs) {
      const scope = `${env.platform.name}/${env.env}`;
      const folders = new Set(rendering.files.filter((f) => f.path.startsWith(`${scope}/`)).map((f) => f.path.split('/')[2]));
      expect([...folders].sort()).toEqual([...env.clusters.map((c) => c.region), 'argocd'].sort());
    }
  });

  test('ggen renders 3 environments × 3 regions + ArgoCD', () => {
    const ggen = envs.filter((e) => e.platform.name === 'ggen');
    expect(ggen.map((e) => e.env)).toEqual(['dev', 'staging', 'prod']);
    for (const e of ggen) expect(e.clusters.map((c) => c.region)).toEqual(['us-central1', 'us-east1', 'europe-west1']);
  });

  test('every object passes strict schema validation with unknown fields rejected', () => {
    const problems = validateObjects(rendering.files.map((f) => ({ file: f.path, manifest: f.manifest })));
    expect(problems.map(formatProblem)).toEqual([]);
    expect(rendering.files.length).toBeGreaterThan(100);
  });

  test('every object has an explicit name and a sync wave', () => {
    for (const f of rendering.files) {
      expect(f.manifest.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect((f.manifest.metadata.annotations as Record<string, string>)['argocd.argoproj.io/sync-wave']).toMatch(/^-?[0-9]+$/);
    }
  });
});
