import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareTrees, formatFieldPath, runDiff } from '../../cli/diff';
import { synthesize } from '../../synth';
import { tempDir } from '../helpers';

jest.setTimeout(120_000);

/** A small platform: two regions, one environment, a web service and a queue worker. */
const platform = (name: string) => `export default {
  name: '${name}',
  project: 'shop-project-prod',
  environments: ['prod'],
  regions: {
    'us-central1': { role: 'primary', zones: ['us-central1-a', 'us-central1-b'] },
    'europe-west1': { role: 'secondary', zones: ['europe-west1-b', 'europe-west1-c'] },
  },
  namespaces: { store: {} },
  services: {
    web: {
      namespace: 'store',
      image: { repository: 'us-docker.pkg.dev/shop/apps/web', tag: '1.0.0' },
      ports: [{ name: 'http', port: 8080 }],
      probes: { readiness: { path: '/ready' } },
      env: { LOG_LEVEL: 'info', REGION_HINT: 'auto' },
      replicas: 2,
    },
    worker: {
      namespace: 'store',
      image: { repository: 'us-docker.pkg.dev/shop/apps/worker', tag: '1.0.0' },
      replicas: 1,
    },
  },
  gitops: { repoURL: 'https://github.com/example/fleet.git' },
};
`;

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], {
    cwd: repo,
    encoding: 'utf8',
  });
}

/** A git repository holding the platform and its rendered dist/, committed. */
function repoWithPlatform(name = 'shop'): string {
  const repo = tempDir('meridian-diff-');
  fs.mkdirSync(path.join(repo, 'platforms'));
  fs.writeFileSync(path.join(repo, 'platforms', `${name}.ts`), platform(name));
  synthesize({ root: repo });
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'platform and its rendering');
  return repo;
}

function overlay(repo: string, name: string, text: string): void {
  fs.mkdirSync(path.join(repo, 'overlays', name), { recursive: true });
  fs.writeFileSync(path.join(repo, 'overlays', name, 'prod.yaml'), text);
}

function diff(repo: string, base?: string): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = runDiff({ root: repo, base }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** The lines of the ```diff block under a cluster's heading. */
function block(out: string[], cluster: string): string[] {
  const heading = out.findIndex((l) => l.startsWith(`#### \`${cluster}\``));
  if (heading < 0) throw new Error(`no heading for ${cluster} in:\n${out.join('\n')}`);
  const start = out.indexOf('```diff', heading) + 1;
  return out.slice(start, out.indexOf('```', start));
}

function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(p).update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('meridian diff', () => {
  test('exits 0 when the work tree renders dist/ exactly as committed', () => {
    const repo = repoWithPlatform();
    const r = diff(repo);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([expect.stringMatching(/^No changes: the work tree renders exactly dist\/ at HEAD \([0-9a-f]{12}\) \(3 clusters\)\.$/)]);
  });

  test('lists added, removed and changed objects per cluster with field-level changes, and leaves dist/ alone', () => {
    const repo = repoWithPlatform();
    overlay(
      repo,
      'shop',
      [
        'services:',
        '  web:',
        '    image: { tag: "1.1.0" }',
        '    replicas: 3',
        '    env: { LOG_LEVEL: debug, REGION_HINT: null, FEATURE_X: "on" }',
        '  worker: null',
        '  search:',
        '    namespace: store',
        '    image: { repository: us-docker.pkg.dev/shop/apps/search, tag: "2.0.0" }',
        '    replicas: 1',
        '',
      ].join('\n'),
    );
    const before = treeHash(path.join(repo, 'dist'));

    const r = diff(repo);

    expect(r.code).toBe(1);
    expect(treeHash(path.join(repo, 'dist'))).toBe(before);
    expect(r.out[0]).toMatch(/^### meridian diff: dist\/ at HEAD \([0-9a-f]{12}\) → work tree$/);
    // Counts follow the objects a service renders (workload, identity, policies, monitoring).
    expect(r.out).toContainEqual(expect.stringMatching(/^3 of 3 clusters differ: [0-9]+ objects added, [0-9]+ removed, [0-9]+ changed\.$/));
    expect(r.out).toContainEqual(expect.stringMatching(/^#### `shop\/prod\/us-central1`: [0-9]+ added, [0-9]+ removed, [0-9]+ changed, [0-9]+ text only$/));
    expect(block(r.out, 'shop/prod/us-central1')).toEqual(
      expect.arrayContaining([
        '+ Deployment store/search',
        '+ ServiceAccount store/search',
        '- Deployment store/worker',
        '- ServiceAccount store/worker',
        '~ Deployment store/web',
        '    spec.replicas: 2 → 3',
        '    spec.template.spec.containers[name=web].env[name=LOG_LEVEL].value: "info" → "debug"',
        '    spec.template.spec.containers[name=web].env[name=REGION_HINT]: {"name":"REGION_HINT","value":"auto"} → (none)',
        '    spec.template.spec.containers[name=web].env[name=FEATURE_X]: (none) → {"name":"FEATURE_X","value":"on"}',
        '    spec.template.spec.containers[name=web].image: "us-docker.pkg.dev/shop/apps/web:1.0.0" → "us-docker.pkg.dev/shop/apps/web:1.1.0"',
      ]),
    );
    // The header of every file now names the overlay too.
    expect(block(r.out, 'shop/prod/us-central1').at(-1)).toMatch(/^ {2}[0-9]+ files differ only in comments or formatting$/);
    // The ArgoCD objects are the same: only their header comment changed.
    expect(block(r.out, 'shop/prod/argocd')).toEqual(['  4 files differ only in comments or formatting']);
    expect(r.err[0]).toMatch(/^diff: rendering the work tree into .*meridian-diff-.* \(dist\/ is left as it is\)$/);
  });

  test('compares a renamed platform with its old self, cluster by cluster', () => {
    const repo = repoWithPlatform('shop');
    fs.rmSync(path.join(repo, 'platforms', 'shop.ts'));
    fs.writeFileSync(path.join(repo, 'platforms', 'store.ts'), platform('store'));

    const r = diff(repo);

    expect(r.code).toBe(1);
    expect(r.out).toContain('Platform folder renamed: `shop/` → `store/` (its objects are compared with their old selves).');
    expect(r.out).toContainEqual(expect.stringMatching(/^3 of 3 clusters differ: [0-9]+ objects added, [0-9]+ removed, [0-9]+ changed\.$/));
    // Objects named after the platform (its ClusterRules) are added and removed; the rest change.
    expect(r.out).toContainEqual(expect.stringMatching(/^#### `store\/prod\/europe-west1` \(was `shop\/prod\/europe-west1`\): (.*, )?[0-9]+ changed$/));
    const europe = block(r.out, 'store/prod/europe-west1');
    const web = europe.indexOf('~ Deployment store/web');
    expect(
      europe.slice(web, web + 3).concat(europe.slice(europe.indexOf('~ Deployment store/worker'), europe.indexOf('~ Deployment store/worker') + 3)),
    ).toEqual([
      '~ Deployment store/web',
      '    metadata.labels["app.kubernetes.io/part-of"]: "shop" → "store"',
      '    metadata.labels["meridian.dev/platform"]: "shop" → "store"',
      '~ Deployment store/worker',
      '    metadata.labels["app.kubernetes.io/part-of"]: "shop" → "store"',
      '    metadata.labels["meridian.dev/platform"]: "shop" → "store"',
    ]);
    // ArgoCD objects are named after the platform: ArgoCD sees the old ones go and new ones come.
    expect(block(r.out, 'store/prod/argocd')).toEqual([
      '+ AppProject argocd/store-prod',
      '+ Application argocd/store-prod-europe-west1',
      '+ Application argocd/store-prod-us-central1',
      '- AppProject argocd/shop-prod',
      '- Application argocd/shop-prod-europe-west1',
      '- Application argocd/shop-prod-us-central1',
      // argocd-cm is the same object under either platform: only its header comment names the platform.
      '  1 files differ only in comments or formatting',
    ]);
    expect(r.out.some((l) => l.startsWith('#### `shop/'))).toBe(false);
  });

  test('--base compares with dist/ as committed at an older revision', () => {
    const repo = repoWithPlatform();
    overlay(repo, 'shop', 'services:\n  web:\n    replicas: 4\n');
    synthesize({ root: repo });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'four web replicas');

    expect(diff(repo).code).toBe(0);
    const r = diff(repo, 'HEAD~1');
    expect(r.code).toBe(1);
    const lines = block(r.out, 'shop/prod/us-central1');
    expect(lines.slice(0, 2)).toEqual(['~ Deployment store/web', '    spec.replicas: 2 → 4']);
    expect(lines.slice(2)).toEqual([expect.stringMatching(/^ {2}[0-9]+ files differ only in comments or formatting$/)]);
  });

  test('a cluster folder that is new is listed whole', () => {
    const repo = repoWithPlatform();
    overlay(repo, 'shop', "regions:\n  us-east1: { role: secondary, zones: ['us-east1-b'] }\n");
    const r = diff(repo);
    expect(r.code).toBe(1);
    expect(r.out).toContainEqual(expect.stringMatching(/^#### `shop\/prod\/us-east1`: new cluster folder, [0-9]+ added$/));
    expect(block(r.out, 'shop/prod/us-east1')).toContain('+ Namespace store');
    expect(block(r.out, 'shop/prod/argocd').slice(0, 3)).toEqual([
      '+ Application argocd/shop-prod-us-east1',
      '~ AppProject argocd/shop-prod',
      '    spec.destinations[name=shop-prod-us-east1]: (none) → {"name":"shop-prod-us-east1","namespace":"*"}',
    ]);
  });

  test('a platform that is gone is listed as removed cluster folders', () => {
    const repo = repoWithPlatform();
    fs.rmSync(path.join(repo, 'platforms', 'shop.ts'));
    const r = diff(repo);
    expect(r.code).toBe(1);
    expect(r.out).toContainEqual(expect.stringMatching(/^3 of 3 clusters differ: 0 objects added, [0-9]+ removed, 0 changed\.$/));
    expect(r.out).toContainEqual(expect.stringMatching(/^#### `shop\/prod\/europe-west1`: cluster folder removed, [0-9]+ removed$/));
    expect(block(r.out, 'shop/prod/argocd')).toEqual([
      '- AppProject argocd/shop-prod',
      '- Application argocd/shop-prod-europe-west1',
      '- Application argocd/shop-prod-us-central1',
      '- ConfigMap argocd/argocd-cm',
    ]);
  });

  test('fails when --base is not a commit', () => {
    const repo = repoWithPlatform();
    const r = diff(repo, 'no-such-branch');
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`--base no-such-branch: not a commit of the repository at ${fs.realpathSync(repo)}`]);
  });

  test('fails when the spec is invalid, naming the problem', () => {
    const repo = repoWithPlatform();
    overlay(repo, 'shop', 'services:\n  web:\n    replicas: -1\n');
    const r = diff(repo);
    expect(r.code).toBe(2);
    expect(r.err).toContain('overlays/shop/prod.yaml: services.web.replicas: Too small: expected number to be >=0 (got -1)');
    expect(r.err[r.err.length - 1]).toMatch(/^diff: [0-9]+ problem\(s\) in the platform spec: nothing to compare$/);
    expect(r.out).toEqual([]);
  });
});

describe('compareTrees', () => {
  const deployment = (image: string, header = '# a\n') =>
    `${header}apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ${image}\n`;

  test('a file whose object is unchanged but whose text differs is reported as text only', () => {
    const d = compareTrees(
      new Map([['p/e/r/shop/deployment-api.yaml', deployment('a:1')]]),
      new Map([['p/e/r/shop/deployment-api.yaml', deployment('a:1', '# b\n')]]),
    );
    expect(d.clusters).toEqual([expect.objectContaining({ cluster: 'p/e/r', textOnly: ['p/e/r/shop/deployment-api.yaml'], changed: [] })]);
  });

  test('an object is matched by identity, not by file name', () => {
    const d = compareTrees(new Map([['p/e/r/shop/old-name.yaml', deployment('a:1')]]), new Map([['p/e/r/shop/deployment-api.yaml', deployment('a:2')]]));
    expect(d.clusters[0].changed).toEqual([
      {
        label: 'Deployment shop/api',
        file: 'p/e/r/shop/deployment-api.yaml',
        fileBefore: 'p/e/r/shop/old-name.yaml',
        fields: [{ path: 'spec.template.spec.containers[name=api].image', before: 'a:1', after: 'a:2' }],
      },
    ]);
  });

  test('multi-line strings are compared line by line', () => {
    const cm = (conf: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: s\ndata:\n  redis.conf: ${JSON.stringify(conf)}\n`;
    const d = compareTrees(new Map([['p/e/r/s/c.yaml', cm('port 1\nmaxmemory 1mb\n')]]), new Map([['p/e/r/s/c.yaml', cm('port 1\nmaxmemory 2mb\n')]]));
    expect(d.clusters[0].changed[0].fields).toEqual([{ path: 'data["redis.conf"] line 2', before: 'maxmemory 1mb', after: 'maxmemory 2mb' }]);
  });

  test('formatFieldPath quotes keys that are not identifiers', () => {
    expect(formatFieldPath(['metadata', 'annotations', 'argocd.argoproj.io/sync-wave'])).toBe('metadata.annotations["argocd.argoproj.io/sync-wave"]');
    expect(formatFieldPath(['spec', 'args', 2])).toBe('spec.args[2]');
  });
});
