import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../cli/main';
import { runSynth } from '../../cli/synth';
import { shopPlatform, fixtureRepo } from '../model/fixtures';
import { ROOT, tempDir, tree } from '../helpers';

const quiet = { out: () => undefined, err: () => undefined };

function capture() {
  const lines: string[] = [];
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
}

describe('synth output', () => {
  test('is deterministic: two renders are byte-identical', () => {
    const a = path.join(tempDir(), 'dist');
    const b = path.join(tempDir(), 'dist');
    expect(runSynth({ root: ROOT, dist: a }, quiet).code).toBe(0);
    expect(runSynth({ root: ROOT, dist: b }, quiet).code).toBe(0);
    const ta = tree(a);
    expect(Object.keys(ta).length).toBeGreaterThan(100);
    expect(tree(b)).toEqual(ta);
  });

  test('one file per object, named from kind, namespace and name', () => {
    const dist = path.join(tempDir(), 'dist');
    runSynth({ root: fixtureRepo(shopPlatform()), dist }, quiet);
    const files = Object.keys(tree(dist)).sort();
    expect(files).toContain('shop/prod/us-east1/shop/deployment-api.yaml');
    expect(files).toContain('shop/prod/us-east1/_cluster/namespace-shop.yaml');
    // prod rolls out in waves: one ApplicationSet generates the regions' Applications.
    expect(files).toContain('shop/prod/argocd/argocd/applicationset-shop-prod.yaml');
    const text = fs.readFileSync(path.join(dist, 'shop/prod/us-east1/shop/deployment-api.yaml'), 'utf8');
    expect(text.startsWith('# Rendered by Meridian from platforms/shop.ts:')).toBe(true);
    expect(text).toContain('kind: Deployment\n');
  });

  test('stale files disappear', () => {
    const root = fixtureRepo(shopPlatform());
    const dist = path.join(tempDir(), 'dist');
    runSynth({ root, dist }, quiet);
    fs.writeFileSync(path.join(dist, 'shop/prod/us-east1/shop/deployment-old.yaml'), 'stale');
    fs.mkdirSync(path.join(dist, 'retired-platform'));
    fs.writeFileSync(path.join(dist, 'retired-platform/x.yaml'), 'stale');
    runSynth({ root, dist }, quiet);
    expect(fs.existsSync(path.join(dist, 'shop/prod/us-east1/shop/deployment-old.yaml'))).toBe(false);
    expect(fs.existsSync(path.join(dist, 'retired-platform'))).toBe(false);
  });

  test('synth of one environment replaces only that environment', () => {
    const root = fixtureRepo(shopPlatform());
    const dist = path.join(tempDir(), 'dist');
    runSynth({ root, dist }, quiet);
    const before = tree(dist);
    fs.writeFileSync(path.join(dist, 'shop/staging/us-east1/shop/marker.yaml'), 'kept');
    fs.writeFileSync(path.join(dist, 'shop/prod/us-east1/shop/marker.yaml'), 'removed');
    expect(runSynth({ root, dist, platform: 'shop', env: 'prod' }, quiet).code).toBe(0);
    expect(tree(dist)).toEqual({ ...before, 'shop/staging/us-east1/shop/marker.yaml': expect.any(String) });
  });

  test('fails when the spec is invalid, and dist/ is untouched', () => {
    const root = fixtureRepo(shopPlatform(), { prod: 'services:\n  api:\n    autoscaling: { min: 9 }\n' });
    const dist = path.join(tempDir(), 'dist');
    fs.mkdirSync(dist);
    fs.writeFileSync(path.join(dist, 'keep.yaml'), 'kept');
    const { lines, io } = capture();
    expect(runSynth({ root, dist }, io).code).toBe(1);
    // min <= max is KEDA's rule, checked once by the Autoscaler and reported at the spec field that set min.
    expect(lines).toEqual([
      expect.stringMatching(/^ {2}shop\/staging: \d+ objects$/),
      "overlays/shop/prod.yaml: services.api.autoscaling.min: (9) must be <= maxReplicaCount (6) (Autoscaler 'api-Autoscaler': minReplicas)",
      'synth: 1 problem(s) in the rendered objects; dist/ was not changed',
    ]);
    expect(tree(dist)).toEqual({ 'keep.yaml': expect.any(String) });
    expect(fs.readdirSync(path.dirname(dist))).toEqual(['dist']);
  });

  test('an unknown platform or environment is a clear error', () => {
    const root = fixtureRepo(shopPlatform());
    const { lines, io } = capture();
    expect(runSynth({ root, dist: path.join(tempDir(), 'dist'), platform: 'nope' }, io).code).toBe(1);
    expect(lines[0]).toBe('platforms/: has no platform "nope" (platforms: shop)');
    const second = capture();
    expect(runSynth({ root, dist: path.join(tempDir(), 'dist'), platform: 'shop', env: 'qa' }, second.io).code).toBe(1);
    expect(second.lines[0]).toBe('platforms/shop.ts: environments: has no environment "qa" (allowed: staging, prod)');
  });
});

describe('meridian validate', () => {
  const dist = path.join(tempDir(), 'dist');
  beforeAll(() => runSynth({ root: fixtureRepo(shopPlatform()), dist }, quiet));

  test('exit 0 on a clean folder', () => {
    const { lines, io } = capture();
    expect(main(['validate', dist], io)).toBe(0);
    expect(lines.at(-1)).toMatch(/^validate: [0-9]+ objects, no problems$/);
  });

  test('exit 1 with one line per problem: file, object, field path, message', () => {
    const bad = tempDir();
    fs.writeFileSync(
      path.join(bad, 'a.yaml'),
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: { name: web, namespace: shop }',
        'spec:',
        '  replica: 2',
        '  selector: { matchLabels: { app: web } }',
        '  template:',
        '    metadata: { labels: { app: web } }',
        '    spec: { containers: [{ name: web, image: "nginx:latest" }] }',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(bad, 'b.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata: { name: creds, namespace: shop }\nstringData: { password: hunter2 }\n');
    const { lines, io } = capture();
    expect(main(['validate', bad], io)).toBe(1);
    // The pod-security baseline reports more on this bare Deployment; these are the ones planted.
    expect(lines).toEqual(
      expect.arrayContaining([
        `${bad}/a.yaml: Deployment shop/web: spec.replica: unknown field`,
        `${bad}/a.yaml: Deployment shop/web: spec.template.spec.containers[0].image: must be pinned by tag or digest, not "latest" or untagged (got "nginx:latest")`,
        `${bad}/b.yaml: Secret shop/creds: stringData: secret values must not be committed: name the secret in Secret Manager and let External Secrets sync it`,
      ]),
    );
    expect(lines.at(-1)).toMatch(/^validate: [0-9]+ problem\(s\) in 2 objects$/);
  });

  test('exit 2 when the input is not YAML or not there', () => {
    const bad = tempDir();
    fs.writeFileSync(path.join(bad, 'a.yaml'), 'kind: [unclosed\n');
    const { lines, io } = capture();
    expect(main(['validate', bad], io)).toBe(2);
    expect(lines[0]).toMatch(new RegExp(`^${bad}/a.yaml: not valid YAML: `));
    expect(main(['validate', path.join(bad, 'missing')], quiet)).toBe(2);
  });
});
