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
import type { EnvironmentOutput } from './cache';
import type { Manifest, RenderedDocument, RenderedFile, Rendering } from './types';
import { byPath, takeCached } from './cached';
import { ClusterPlacement, placementKey } from './placement';

export type { Manifest, RenderedDocument, RenderedFile, Rendering } from './types';

/**
 * cdk8s's `Yaml.stringify` options (YAML 1.1 quoting, no line folding); `directives: false`
 * skips the per-document walk looking for custom tags, which plain objects never have.
 */
const YAML_OPTIONS: ToStringOptions & { keepUndefined: boolean; version: '1.1' } = { keepUndefined: true, lineWidth: 0, version: '1.1', directives: false };

/** @param onEnvironment called after each environment is rendered, for progress output */
export function render(envs: readonly EnvironmentPlan[], onEnvironment?: (scope: string, objects: number) => void): Rendering {
  return renderWith(envs, onEnvironment).rendering;
}

/** An environment rendered by this synth: its plan, its files (with their objects) and what the cache keeps of it. */
export interface FreshEnvironment {
  readonly plan: EnvironmentPlan;
  readonly files: readonly RenderedFile[];
  readonly output: EnvironmentOutput;
}

/**
 * Renders the environments given as plans and takes the others as they were rendered before
 * (the synth cache): each must appear in synth order (platforms by file, environments as
 * listed), because the check that spans environments names the first that placed an object.
 * @param onEnvironment called after each environment is rendered (or taken), for progress output
 */
export function renderWith(
  items: readonly (EnvironmentPlan | EnvironmentOutput)[],
  onEnvironment?: (scope: string, objects: number, cached?: boolean) => void,
): { rendering: Rendering; fresh: FreshEnvironment[] } {
  const rendered: { path: string; manifest: Manifest; header: string; yaml: number }[] = [];
  const placed = new ClusterPlacement();
  const yaml = new YamlPool(YAML_OPTIONS);
  // Constructs refusing their props, cross-construct checks: a ProblemError of source `output`.
  const problems: Problem[] = [];
  const scopes: string[] = [];
  const documents: RenderedDocument[] = [];
  const files: RenderedFile[] = [];
  const pending: { plan: EnvironmentPlan; scope: string; from: number; to: number; documents: RenderedDocument[]; placement: string[] }[] = [];
  for (const item of items) {
    if (!('platform' in item)) {
      takeCached(item, { placed, files, documents, scopes });
      onEnvironment?.(item.scope, item.files.length, true);
      continue;
    }
    const environment = item;
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
    const own: RenderedDocument[] = [];
    const placement: string[] = [];
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
        if (cluster !== undefined) {
          const key = placementKey(cluster, manifest);
          placement.push(key);
          placed.add(scope, key);
        }
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
        own.push({ path: `${folder}/${template}/kustomization.yaml`, content: header + content });
      }
    }
    // The diagram of a platform is drawn from its last (most production-like) environment.
    const envs = environment.platform.environments;
    if (environment.env === envs[envs.length - 1])
      own.push({ path: `${environment.platform.name}/ARCHITECTURE.md`, content: architectureDocument(environment) });
    documents.push(...own);
    pending.push({ plan: environment, scope, from: before, to: rendered.length, documents: own, placement });
    onEnvironment?.(scope, rendered.length - before);
  }
  problems.push(...placed.problems());
  const contents = yaml.finish();
  const made: RenderedFile[] = rendered.map((r) => ({ path: r.path, manifest: r.manifest, content: r.header + contents[r.yaml] }));
  const fresh = pending.map((p) => {
    const own = made.slice(p.from, p.to);
    const output: EnvironmentOutput = {
      scope: p.scope,
      files: own.map((f) => ({ path: f.path, content: f.content })),
      documents: p.documents,
      placement: p.placement,
    };
    return { plan: p.plan, files: own, output };
  });
  files.push(...made);
  files.sort(byPath);
  // Every path starts with its environment's folder: two files of one path come from one environment.
  for (let i = 1; i < files.length; i++) {
    if (files[i].path === files[i - 1].path)
      problems.push({ file: files[i].path, path: '', message: `two objects render to the same file: ${describe(files[i].manifest)}` });
  }
  if (problems.length > 0) throw new ProblemError('output', problems);
  documents.sort(byPath);
  return { rendering: { files, documents, scopes: scopes.sort() }, fresh };
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
