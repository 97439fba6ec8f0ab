/**
 * An environment per pull request: the preview environment renders as a template whose own
 * kustomization.yaml relocates it into `<namespace>-pr-<number>`; the ApplicationSet passes
 * only the namespace. The proof: the template folder of a commit, built by the real kustomize
 * v5 the way ArgoCD builds it, equals the environment rendered directly for that pull request,
 * object for object, for main and for pull requests that add, remove and reorder things.
 */
import { ProblemError } from '../../kernel/problems';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiObject, Chart } from 'cdk8s';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { previewCluster, relocation, templateKustomization } from '../../features/previews/previews';
import { EnvironmentPlan, formatProblem, loadAll, loadEnvironments, PlatformInput } from '../../model';
import { buildEnvironment, Manifest, render, Rendering } from '../../synth';
import { ROOT, tempDir } from '../helpers';
import { re2FullMatch } from '../../kernel/re2';
import { kustomizeBuild, unpackKubectl } from '../kustomize';
import { fixtureRepo, shopPlatform } from '../model/fixtures';

const envs = loadAll(ROOT, { platform: 'pushnchat' });
const rendering = render(envs);
const FOLDER = 'pushnchat/preview/africa-south1/pushnchat-pr-template';
const TEMPLATE = `${FOLDER}/`;
const templateFiles = rendering.files.filter((f) => f.path.startsWith(TEMPLATE));
const appSet = rendering.files.find((f) => f.manifest.kind === 'ApplicationSet')!.manifest as Manifest & { spec: any };
const source = appSet.spec.template.spec.source;

let work: string;
let kubectl: string;
beforeAll(() => {
  work = tempDir('meridian-previews-');
  kubectl = unpackKubectl(work);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** The preview environment rendered directly for pull request `n`: its objects in `<namespace>-pr-<n>`. */
function renderedFor(n: string, from: readonly EnvironmentPlan[] = envs): Manifest[] {
  const preview = from.find((e) => e.env === 'preview')!;
  const charts = buildEnvironment(preview, 'pushnchat/preview', n);
  const [chart] = charts[0] as [Chart, string];
  return chart.node
    .findAll()
    .filter((c): c is ApiObject => c instanceof ApiObject && Chart.of(c) === chart)
    .map((o) => o.toJson() as Manifest)
    .filter((m) => m.metadata.namespace === `pushnchat-pr-${n}` || (m.kind === 'Namespace' && m.metadata.name === `pushnchat-pr-${n}`));
}

/**
 * What ArgoCD does for pull request `n` of a commit whose dist/ is `r`: checks the template
 * folder out, runs `kustomize edit set namespace pushnchat-pr-<n>` (the Application's
 * kustomize.namespace; argo-cd util/kustomize/kustomize.go), then `kustomize build`.
 * @param kustomization another kustomization.yaml to build with (e.g. another commit's)
 */
function argoBuild(r: Rendering, n: string, kustomization?: string): Manifest[] {
  const dir = fs.mkdtempSync(path.join(work, 'pr-'));
  for (const f of r.files.filter((x) => x.path.startsWith(TEMPLATE))) fs.writeFileSync(path.join(dir, f.path.slice(TEMPLATE.length)), f.content);
  const k = parse(kustomization ?? r.documents.find((d) => d.path === `${TEMPLATE}kustomization.yaml`)!.content);
  k.namespace = `pushnchat-pr-${n}`;
  fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify(k));
  const out = kustomizeBuild(kubectl, dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return parseAllDocuments(out).map((d) => d.toJS() as Manifest);
}

const key = (m: Manifest) => `${m.apiVersion} ${m.kind} ${m.metadata.name}`;
const byKey = (ms: Manifest[]) => new Map(ms.map((m) => [key(m), m]));

/** Built and direct renders hold the same objects, equal field for field. */
function expectSameObjects(built: Manifest[], direct: Manifest[]): void {
  expect([...byKey(built).keys()].sort()).toEqual([...byKey(direct).keys()].sort());
  const want = byKey(direct);
  for (const m of built) expect({ [key(m)]: m }).toEqual({ [key(m)]: want.get(key(m)) });
  expect(JSON.stringify(built)).not.toContain('pr-template');
}

describe('PushNchat: an environment per pull request', () => {
  test('the template folder holds the namespace, everything in it and the kustomization listing exactly them', () => {
    const names = templateFiles.map((f) => f.path.slice(TEMPLATE.length));
    expect(names).toContain('namespace-pushnchat-pr-template.yaml');
    expect(names.length).toBeGreaterThan(50);
    expect(templateFiles.every((f) => f.manifest.metadata.namespace === 'pushnchat-pr-template' || f.manifest.kind === 'Namespace')).toBe(true);
    const kustomization = parse(rendering.documents.find((d) => d.path === `${TEMPLATE}kustomization.yaml`)!.content);
    expect(kustomization.resources).toEqual([...names].sort());
    expect(kustomization.namespace).toBe('pushnchat-pr-template');
  });

  test("the ApplicationSet lists the labelled pull requests of the fleet repository and passes only the namespace to each one's head commit", () => {
    expect(appSet.spec.generators).toEqual([
      {
        pullRequest: {
          github: { owner: 'meridian-platform', repo: 'fleet', labels: ['preview-pushnchat'], tokenRef: { secretName: 'github-pull-requests', key: 'token' } },
          requeueAfterSeconds: 180,
        },
      },
    ]);
    expect(appSet.spec.goTemplate).toBe(true);
    expect(source.targetRevision).toBe('{{.head_sha}}');
    expect(source.path).toBe('dist/pushnchat/preview/africa-south1/pushnchat-pr-template');
    // Before: JSON patches rendered from main, addressing the pull request's fields by position.
    expect(source.kustomize).toEqual({ namespace: 'pushnchat-pr-{{.number}}' });
    expect(appSet.spec.template.spec.destination).toEqual({ name: 'pushnchat-preview-africa-south1', namespace: 'pushnchat-pr-{{.number}}' });
    // Closing the pull request deletes the Application, and the finalizer deletes what it synced.
    expect(appSet.spec.template.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io']);
    expect(appSet.spec.syncPolicy).toBeUndefined();
  });

  test("pull requests are fenced: their project allows only <namespace>-pr-* and the template's kinds", () => {
    const project = rendering.files.find((f) => f.manifest.kind === 'AppProject' && f.manifest.metadata.name === 'pushnchat-preview-pull-requests')!
      .manifest as any;
    expect(project.spec.destinations).toEqual([{ name: 'pushnchat-preview-africa-south1', namespace: 'pushnchat-pr-*' }]);
    // Before: any Namespace, so a pull request could adopt istio-ingress and delete it on close.
    expect(project.spec.clusterResourceWhitelist).toEqual([{ group: '', kind: 'Namespace', name: 'pushnchat-pr-*' }]);
    const kinds = new Set(templateFiles.filter((f) => f.manifest.kind !== 'Namespace').map((f) => f.manifest.kind));
    expect(new Set(project.spec.namespaceResourceWhitelist.map((k: { kind: string }) => k.kind))).toEqual(kinds);
    // The environment's own Application syncs the shared part only.
    const shared = rendering.files.find((f) => f.manifest.kind === 'Application' && f.manifest.metadata.name === 'pushnchat-preview-africa-south1')!
      .manifest as any;
    expect(shared.spec.source.directory).toEqual({ recurse: true, exclude: 'pushnchat-pr-template/*' });
  });

  test.each(['7', '123', '4567890'])('the template built by kustomize v5 for pull request %s equals the environment rendered for it', (n) => {
    expectSameObjects(argoBuild(rendering, n), renderedFor(n));
  });

  test('a pull request is reached at <label>-pushnchat-pr-<n>.preview.pushnchat.example.com through the shared gateway', () => {
    const ingress = renderedFor('42').filter((m) => m.kind === 'VirtualService' && m.metadata.name.endsWith('-ingress'));
    expect([...new Set(ingress.flatMap((m: any) => m.spec.hosts))].sort()).toEqual([
      'admin-pushnchat-pr-42.preview.pushnchat.example.com',
      'api-pushnchat-pr-42.preview.pushnchat.example.com',
      'app-pushnchat-pr-42.preview.pushnchat.example.com',
    ]);
    const gateway = rendering.files.find((f) => f.path === 'pushnchat/preview/africa-south1/istio-ingress/gateway-pushnchat-gateway.yaml')!.manifest as any;
    expect(gateway.spec.servers[0].hosts).toEqual(['*/*']);
    expect(gateway.spec.servers[0].tls.credentialName).toBe('pushnchat-preview-tls');
  });

  test("the preview cluster's secret store admits the pull requests' namespaces only (an RE2 pattern, as External Secrets' Go regexp)", () => {
    const store = rendering.files.find((f) => f.path === 'pushnchat/preview/africa-south1/_cluster/clustersecretstore-pushnchat-secret-manager.yaml')!
      .manifest as any;
    expect(store.spec.conditions).toEqual([{ namespaceRegexes: ['^pushnchat-pr-[0-9]+$'] }]);
    const [pattern] = store.spec.conditions[0].namespaceRegexes;
    expect(['pushnchat-pr-7', 'pushnchat-pr-4567890'].map((n) => re2FullMatch(pattern, n))).toEqual([true, true]);
    expect(['pushnchat', 'istio-ingress', 'pushnchat-pr-7x', 'x-pushnchat-pr-7'].map((n) => re2FullMatch(`.*(?:${pattern}).*`, n))).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  test('no alerts and no dashboards for a pull request: monitoring.rules is false in the preview overlay', () => {
    expect(templateFiles.filter((f) => ['Rules', 'ClusterRules'].includes(f.manifest.kind) || f.path.includes('dashboard'))).toEqual([]);
    expect(templateFiles.some((f) => f.manifest.kind === 'PodMonitoring')).toBe(true);
  });

  test('previewCluster leaves other environments alone and moves only the preview namespace', () => {
    const preview = envs.find((e) => e.env === 'preview')!;
    const moved = previewCluster(preview.clusters[0], '9');
    expect(Object.keys(moved.platform.namespaces)).toEqual(['pushnchat-pr-9']);
    expect(new Set(Object.values(moved.services).map((s) => s.namespace))).toEqual(new Set(['pushnchat-pr-9']));
    expect(preview.clusters[0].services.user.namespace).toBe('pushnchat');
  });
});

/**
 * A pull request's tree: PushNchat's platform and overlays as `change` leaves them, loaded from
 * a copy of the overlays (the platform input is passed as the file would export it).
 */
function pullRequestTree(change: (input: any, overlays: Map<string, any>) => void): EnvironmentPlan[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const input = structuredClone(require(path.join(ROOT, 'platforms/pushnchat.ts')).default as PlatformInput);
  const root = fs.mkdtempSync(path.join(work, 'tree-'));
  const dir = path.join(root, 'overlays', 'pushnchat');
  fs.mkdirSync(dir, { recursive: true });
  const overlays = new Map<string, any>();
  for (const f of fs.readdirSync(path.join(ROOT, 'overlays', 'pushnchat')))
    overlays.set(f, parse(fs.readFileSync(path.join(ROOT, 'overlays', 'pushnchat', f), 'utf8')));
  change(input, overlays);
  for (const [f, doc] of overlays) fs.writeFileSync(path.join(dir, f), stringify(doc));
  const loaded = loadEnvironments({ file: 'platforms/pushnchat.ts', input }, root);
  fs.rmSync(root, { recursive: true, force: true });
  return loaded.filter((e) => e.env === 'preview');
}

const reversed = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).reverse());

describe('pull requests relocate from their own commit, through the real kustomize v5', () => {
  const mainKustomization = rendering.documents.find((d) => d.path === `${TEMPLATE}kustomization.yaml`)!.content;
  /** Name, change, a check that the change happened, whether main's kustomization (what main's ApplicationSet patches amounted to) breaks on it. */
  const scenarios: [string, (input: any, overlays: Map<string, any>) => void, (tree: Manifest[]) => void, boolean][] = [
    [
      'adds a service (reviews, exposed on the API host, called by the frontend)',
      (input) => {
        input.services.reviews = {
          ...structuredClone(input.services.listing),
          image: { repository: 'africa-south1-docker.pkg.dev/pushnchat-prod/services/review-service', tag: 'pr-17-9f1c2d3' },
          expose: { hosts: ['api.pushnchat.example.com'], paths: ['/api/reviews'] },
          autoscaling: undefined,
          replicas: 2,
        };
        input.services.frontend.dependsOn.push('reviews');
      },
      (tree) => expect(tree.some((m) => m.kind === 'VirtualService' && m.metadata.name === 'reviews-ingress')).toBe(true),
      true,
    ],
    [
      'removes a service (admin, and its overlay entries)',
      (input, overlays) => {
        delete input.services.admin;
        input.ingress.hosts = input.ingress.hosts.filter((h: string) => !h.startsWith('admin.'));
        delete input.ingress.rateLimit.overrides.admin;
        for (const doc of overlays.values()) if (doc?.services) delete doc.services.admin;
      },
      (tree) => expect(tree.some((m) => m.metadata.name.startsWith('admin'))).toBe(false),
      true,
    ],
    [
      'reorders env entries, routes and rules (services, env, dependencies, hosts, egress)',
      (input) => {
        input.services = reversed(input.services);
        for (const svc of Object.values(input.services) as any[]) {
          if (svc.env) svc.env = reversed(svc.env);
          if (svc.dependsOn) svc.dependsOn = [...svc.dependsOn].reverse();
          if (svc.egress) svc.egress = [...svc.egress].reverse();
        }
        input.ingress.hosts = [...input.ingress.hosts].reverse();
      },
      () => undefined,
      // The renderer sorts what it can; what moves (env lists, egress rules) names no namespace here.
      false,
    ],
  ];

  test.each(scenarios)('a pull request that %s: its template built for it equals its direct render', (_, change, sanity, mainBreaks) => {
    const tree = pullRequestTree(change);
    const own = render(tree);
    sanity(own.files.map((f) => f.manifest));
    // The scenario matters: main's relocation, applied to this pull request's objects, is wrong.
    const ownTemplate = own.files.filter((f) => f.path.startsWith(TEMPLATE)).map((f) => JSON.stringify(f.manifest));
    const mainTemplate = new Set(templateFiles.map((f) => JSON.stringify(f.manifest)));
    expect(ownTemplate.some((m) => !mainTemplate.has(m))).toBe(true);
    for (const n of ['5', '31337']) expectSameObjects(argoBuild(own, n), renderedFor(n, tree));
    if (!mainBreaks) return;
    // main's kustomization on this tree (what relocating from main amounts to) is not.
    let fromMain: Manifest[] | undefined;
    try {
      fromMain = argoBuild(own, '5', mainKustomization);
    } catch {
      // kustomize refuses: a resource main lists is gone.
    }
    if (fromMain) expect(JSON.stringify(fromMain) === JSON.stringify(argoBuild(own, '5'))).toBe(false);
  });
});

describe('relocation', () => {
  const obj = (data: Record<string, unknown>, name = 'x') => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'a-pr-template' }, data });

  test('any string naming the namespace, anywhere in it and any number of times, is relocated by kustomize v5', () => {
    const values: Record<string, string> = {
      whole: 'a-pr-template',
      fqdn: 'db.a-pr-template.svc.cluster.local:5432',
      principal: 'cluster.local/ns/a-pr-template/sa/web',
      host: 'app-a-pr-template.preview.example.com',
      twice: 'x-a-pr-template-y-a-pr-template.z',
      end: 'label-a-pr-template',
      quoted: '"a-pr-template-x"',
      query: 'up{namespace="a-pr-template",job=~"a-pr-template-.*"}',
      untouched: 'a-pr-template2.svc',
    };
    const objects = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a-pr-template' } }, obj({ ...values, 'dotted.key': 'b.a-pr-template.svc' })];
    const r = relocation(objects as any, 'a-pr-template', 'a');
    expect(r.problems).toEqual([]);
    const dir = fs.mkdtempSync(path.join(work, 'unit-'));
    objects.forEach((o, i) => fs.writeFileSync(path.join(dir, `${i}.yaml`), stringify(o)));
    const k = templateKustomization(['0.yaml', '1.yaml'], 'a-pr-template', r);
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify({ ...k, namespace: 'a-pr-808' }, { aliasDuplicateObjects: false }));
    const built = parseAllDocuments(kustomizeBuild(kubectl, dir)).map((d) => d.toJS());
    fs.rmSync(dir, { recursive: true, force: true });
    expect(built).toHaveLength(2);
    const data = built.find((m) => m.kind === 'ConfigMap').data;
    expect(data).toEqual({
      whole: 'a-pr-808',
      fqdn: 'db.a-pr-808.svc.cluster.local:5432',
      principal: 'cluster.local/ns/a-pr-808/sa/web',
      host: 'app-a-pr-808.preview.example.com',
      twice: 'x-a-pr-808-y-a-pr-808.z',
      end: 'label-a-pr-808',
      quoted: '"a-pr-808-x"',
      query: 'up{namespace="a-pr-808",job=~"a-pr-808-.*"}',
      untouched: 'a-pr-template2.svc',
      'dotted.key': 'b.a-pr-808.svc',
    });
  });

  test('fails when an object name, or a key, names the template namespace', () => {
    const { problems } = relocation([obj({ 'a-pr-template': 'v' }, 'cfg-a-pr-template')], 'a-pr-template', 'a');
    expect(problems).toEqual([
      "ConfigMap/cfg-a-pr-template: metadata.name: names the template namespace a-pr-template: kustomize selects the objects to relocate by name, so an object's name cannot change per pull request",
      'ConfigMap/cfg-a-pr-template: data.a-pr-template: a key names the template namespace a-pr-template: only values can be relocated per pull request',
    ]);
  });

  test('fails when a value names the shared namespace: a pull request would call into it', () => {
    const { problems } = relocation(
      [obj({ A: 'db.a.svc.cluster.local:5432', B: 'cluster.local/ns/a/sa/x', C: 'up{namespace="a"}', D: 'data.a.example.com' })],
      'a-pr-template',
      'a',
      { others: ['a'] },
    );
    expect(problems.map((p) => p.split(':')[1].trim())).toEqual(['data.A', 'data.B', 'data.C']);
    expect(problems[0]).toContain(
      'names the namespace a, which a pull request\'s environment does not run in (got "db.a.svc.cluster.local:5432"); refer to services in the same namespace by their short name',
    );
  });
});

describe('previews: spec and render errors', () => {
  const withPreviews = (overrides: Record<string, unknown> = {}) => ({
    ...shopPlatform(),
    environments: ['preview', 'staging', 'prod'],
    gitops: { repoURL: 'https://github.com/acme/fleet.git' },
    previews: { environment: 'preview', github: { tokenSecret: 'gh' }, domain: 'preview.example.com', tlsCredential: 'preview-tls' },
    ...overrides,
  });
  const oneRegion = 'regions: { europe-west1: null }\nrouting: { weights: { us-east1: 100, europe-west1: null } }\n';
  const problemsOf = (root: string) => {
    try {
      render(loadAll(root));
    } catch (e) {
      if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
      if (e instanceof ProblemError && e.source === 'output') return e.problems.map(formatProblem);
      throw e;
    }
    return [];
  };

  test('a one-region preview environment renders and its template validates', () => {
    expect(problemsOf(fixtureRepo(withPreviews(), { preview: `${oneRegion}monitoring: { rules: false }\n` }))).toEqual([]);
  });

  test('fails when a dashboard is rendered: its file name in the ConfigMap names the namespace', () => {
    expect(problemsOf(fixtureRepo(withPreviews(), { preview: oneRegion }))).toEqual([
      'platforms/shop.ts + overlays/shop/preview.yaml: the preview environment preview cannot be relocated per pull request:\n  ConfigMap/autoscaling-dashboard: data.shop-preview-shop-pr-template-a-c9e79004.json: a key names the template namespace shop-pr-template: only values can be relocated per pull request',
    ]);
  });

  test('fails when the preview environment is not an environment of the platform', () => {
    expect(
      problemsOf(
        fixtureRepo(
          withPreviews({ previews: { environment: 'pr', github: { tokenSecret: 'gh' }, domain: 'preview.example.com', tlsCredential: 'preview-tls' } }),
          { preview: oneRegion },
        ),
      ),
    ).toContain('platforms/shop.ts: previews.environment: must be one of the platform\'s environments (preview, staging, prod) (got "pr")');
  });

  test('fails when the GitOps repository is not on GitHub', () => {
    expect(problemsOf(fixtureRepo(withPreviews({ gitops: { repoURL: 'https://git.example.com/fleet.git' } }), { preview: oneRegion }))).toContain(
      'platforms/shop.ts: gitops.repoURL: must be a GitHub repository (https://github.com/<owner>/<repo>) for previews: ArgoCD lists its pull requests (got "https://git.example.com/fleet.git")',
    );
  });

  test('fails when the preview environment keeps two regions, naming the overlay', () => {
    expect(problemsOf(fixtureRepo(withPreviews(), { preview: 'services: { worker: { replicas: 1 } }\n' }))).toEqual([
      'overlays/shop/preview.yaml: regions: must name exactly one region in the preview environment preview: each pull request runs in one cluster; remove the others with null (got us-east1, europe-west1)',
    ]);
  });

  test('fails when a value of the template names the shared namespace', () => {
    const overlay = `${oneRegion}monitoring: { rules: false }\nservices: { worker: { env: { API: "http://api.shop.svc.cluster.local:8080" } } }\n`;
    const problems = problemsOf(fixtureRepo(withPreviews(), { preview: overlay }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('the preview environment preview cannot be relocated per pull request');
    expect(problems[0]).toContain(
      'Deployment/worker: spec.template.spec.containers.0.env.0.value: names the namespace shop, which a pull request\'s environment does not run in (got "http://api.shop.svc.cluster.local:8080")',
    );
  });
});
