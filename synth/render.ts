/**
 * Spec → objects → files. One cdk8s App per environment: a RegionChart per region cluster
 * and a GitOpsChart; every object becomes one file named after its kind, namespace and name.
 */
import { formatProblem, ProblemError, type Problem } from '../kernel/problems';
import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { stringify, type ToStringOptions } from 'yaml';
import { GitOpsChart } from '../charts/gitops-chart';
import { previewBaseNamespace, previewCluster, relocation, TEMPLATE_NUMBER, templateKustomization } from '../features/previews/previews';
import { RegionChart } from '../charts/region-chart';
import type { EnvironmentPlan } from '../model/plan';
import { architectureDocument } from './architecture';
import { YamlPool } from './yaml-pool';

/** A Kubernetes object as rendered: plain JSON. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface RenderedFile {
  /** Path relative to the dist folder: `<platform>/<env>/<region|argocd>/<namespace>/<kind>-<name>.yaml`. */
  readonly path: string;
  readonly manifest: Manifest;
  /** File content: a header naming the sources, then the object as YAML. */
  readonly content: string;
}

/** A file that is not a Kubernetes object (e.g. `<platform>/ARCHITECTURE.md`). */
export interface RenderedDocument {
  readonly path: string;
  readonly content: string;
}

export interface Rendering {
  /** Sorted by path. */
  readonly files: readonly RenderedFile[];
  /** Written beside the objects, not validated as objects. */
  readonly documents: readonly RenderedDocument[];
  /** The `<platform>/<env>` folders this rendering owns entirely. */
  readonly scopes: readonly string[];
}

/**
 * cdk8s's `Yaml.stringify` options (YAML 1.1 quoting, no line folding); `directives: false`
 * skips the per-document walk looking for custom tags, which plain objects never have.
 */
const YAML_OPTIONS: ToStringOptions & { keepUndefined: boolean; version: '1.1' } = { keepUndefined: true, lineWidth: 0, version: '1.1', directives: false };

/** @param onEnvironment called after each environment is rendered, for progress output */
export function render(envs: readonly EnvironmentPlan[], onEnvironment?: (scope: string, objects: number) => void): Rendering {
  const rendered: { path: string; manifest: Manifest; header: string; yaml: number }[] = [];
  const placed = new ClusterPlacement();
  const yaml = new YamlPool(YAML_OPTIONS);
  // Constructs refusing their props, cross-construct checks: a ProblemError of source `output`.
  const problems: Problem[] = [];
  const scopes: string[] = [];
  const kustomizations: RenderedDocument[] = [];
  for (const environment of envs) {
    const scope = `${environment.platform.name}/${environment.env}`;
    scopes.push(scope);
    const header = `# Rendered by Meridian from ${environment.files.join(' + ')}: edit those and run \`npx cdk8s synth\`, not this file.\n`;
    let charts: [Chart, string][];
    try {
      charts = buildEnvironment(environment, scope);
    } catch (e) {
      // A prop a construct refuses is reported at the spec field that set it (RegionChart.fromSpec).
      // The same base value fails in every environment: one line for it.
      if (e instanceof ProblemError) {
        for (const p of e.problems) if (!problems.some((q) => formatProblem(q) === formatProblem(p))) problems.push(p);
      } else problems.push({ file: environment.files.join(' + '), path: '', message: (e as Error).message });
      continue;
    }
    // chart.toJson() would resolve dependencies and validate the whole App once per chart
    // (quadratic in regions) and throws on the first failed check: validate once, take objects directly.
    problems.push(...constructErrors(charts[0][0].node.root));
    const before = rendered.length;
    const template = environment.preview?.templateNamespace;
    for (const [chart, folder] of charts) {
      const inTemplate: { file: string; manifest: Manifest }[] = [];
      for (const obj of apiObjects(chart)) {
        if (Chart.of(obj) !== chart) continue;
        const manifest = obj.toJson() as Manifest;
        // A pull request's Application syncs the template folder: its Namespace lives there too.
        const file = manifest.kind === 'Namespace' && manifest.metadata.name === template ? `${template}/namespace-${template}.yaml` : fileName(manifest);
        if (template !== undefined && file.startsWith(`${template}/`)) inTemplate.push({ file: file.slice(template.length + 1), manifest });
        rendered.push({ path: `${folder}/${file}`, manifest, header, yaml: yaml.add(manifest) });
        // Not `instanceof`: cdk8s's Chart answers it for any chart, whatever the subclass.
        const cluster = (chart as Partial<RegionChart>).cluster?.cluster;
        if (cluster !== undefined) placed.add(cluster, scope, manifest);
      }
      if (template !== undefined && inTemplate.length > 0) {
        const base = previewBaseNamespace(environment.platform);
        const moved = relocation(
          inTemplate.map((t) => t.manifest),
          template,
          base,
          { others: [base] },
        );
        if (moved.problems.length > 0) {
          problems.push({
            file: environment.files.join(' + '),
            path: '',
            message: `the preview environment ${environment.env} cannot be relocated per pull request:\n  ${moved.problems.join('\n  ')}`,
          });
        }
        const content = stringify(
          templateKustomization(
            inTemplate.map((t) => t.file),
            template,
            moved,
          ),
          { lineWidth: 0, aliasDuplicateObjects: false },
        );
        kustomizations.push({ path: `${folder}/${template}/kustomization.yaml`, content: header + content });
      }
    }
    onEnvironment?.(scope, rendered.length - before);
  }
  problems.push(...placed.problems());
  const contents = yaml.finish();
  const files: RenderedFile[] = rendered.map((r) => ({ path: r.path, manifest: r.manifest, content: r.header + contents[r.yaml] }));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < files.length; i++) {
    if (files[i].path === files[i - 1].path)
      problems.push({ file: files[i].path, path: '', message: `two objects render to the same file: ${describe(files[i].manifest)}` });
  }
  if (problems.length > 0) throw new ProblemError('output', problems);
  // The diagram of a platform is drawn from its last (most production-like) environment.
  const documents = envs
    .filter((e) => e.env === e.platform.environments[e.platform.environments.length - 1])
    .map((e) => ({ path: `${e.platform.name}/ARCHITECTURE.md`, content: architectureDocument(e) }))
    .concat(kustomizations)
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files, documents, scopes: scopes.sort() };
}

/**
 * The charts of one environment, each with the folder it renders to.
 * @param pullRequest for the preview environment: the pull request to render it as (tests
 *   compare a relocated template with it); by default the template
 */
export function buildEnvironment(input: EnvironmentPlan, scope: string, pullRequest = TEMPLATE_NUMBER): [Chart, string][] {
  const app = new App({ outdir: '/nonexistent' });
  const environment = input.preview === undefined ? input : { ...input, clusters: input.clusters.map((c) => previewCluster(c, pullRequest)) };
  const regions = environment.clusters.map((cluster) => new RegionChart(app, `${scope}/${cluster.region}`.replace(/\//g, '-'), { cluster }));
  const gitops = new GitOpsChart(app, `${scope.replace(/\//g, '-')}-argocd`, {
    environment,
    regions,
    distPath: `${environment.platform.gitops.path}/${scope}`,
  });
  return [...regions.map((chart): [Chart, string] => [chart, `${scope}/${chart.cluster.region}`]), [gitops, `${scope}/argocd`]];
}

/**
 * Which environment renders each object into each cluster (by its ArgoCD name): two
 * environments (or platforms) that put the same object into one cluster would have two
 * Applications own it, each undoing the other's sync.
 */
class ClusterPlacement {
  private readonly owner = new Map<string, string>();
  /** `<cluster>\0<scope a>\0<scope b>` → the objects both render. */
  private readonly clashes = new Map<string, string[]>();

  add(cluster: string, scope: string, m: Manifest): void {
    const group = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : '';
    const key = `${cluster}\u0000${group}/${m.kind}\u0000${m.metadata.namespace ?? ''}\u0000${m.metadata.name}`;
    const first = this.owner.get(key);
    if (first === undefined) {
      this.owner.set(key, scope);
      return;
    }
    if (first === scope) return;
    const pair = `${cluster}\u0000${first}\u0000${scope}`;
    this.clashes.set(pair, [...(this.clashes.get(pair) ?? []), describe(m)]);
  }

  problems(): Problem[] {
    return [...this.clashes].map(([pair, objects]) => {
      const [cluster, a, b] = pair.split('\u0000');
      const shown = objects.slice(0, 3).join(', ') + (objects.length > 3 ? `, and ${objects.length - 3} more` : '');
      const message = `renders ${objects.length} object(s) that ${a} also renders into cluster ${cluster} (${shown}): two ArgoCD Applications would own them and undo each other's syncs; give one of them its own cluster (regions.<region>.cluster) or other names`;
      return { file: b, path: '', message };
    });
  }
}

function constructErrors(root: Construct): Problem[] {
  return root.node.findAll().flatMap((c) => c.node.validate().map((message) => ({ file: c.node.path, path: '', message })));
}

/** `<namespace>/<kind>-<name>.yaml`; cluster-scoped objects go under `_cluster/`. */
export function fileName(m: Manifest): string {
  return `${m.metadata.namespace ?? '_cluster'}/${m.kind.toLowerCase()}-${m.metadata.name}.yaml`;
}

export function describe(m: Manifest): string {
  return `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
}

/** Every ApiObject under a construct, for tests and the GitOps chart. */
export function apiObjects(scope: Construct): ApiObject[] {
  return scope.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
}
