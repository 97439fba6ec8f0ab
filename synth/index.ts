/**
 * The synth pipeline: load and check the specs, render every cluster, validate every
 * object, and only then swap the result into `dist/`. Any problem leaves `dist/` as it was.
 */
import * as path from 'node:path';
import { loadAll } from '../model';
import { validateObjects } from '../checks';
import { checkFlows } from '../checks/flows';
import { ProblemError } from '../kernel/problems';
import { render, Rendering } from './render';
import type { Located } from '../checks/objects';
import { writeDist } from './write';

export * from './render';
export { writeDist } from './write';

export interface SynthOptions {
  /** Repository root holding `platforms/` and `overlays/`. */
  readonly root: string;
  /** Output folder. @default `<root>/dist` */
  readonly dist?: string;
  /** Only this platform. @default - all */
  readonly platform?: string;
  /** Only this environment. @default - all */
  readonly env?: string;
  /** Called after each environment is rendered, for progress output. */
  readonly onEnvironment?: (scope: string, objects: number) => void;
}

export interface SynthResult {
  readonly rendering: Rendering;
  /** Objects per cluster folder (`<platform>/<env>/<region|argocd>`). */
  readonly perCluster: ReadonlyMap<string, number>;
}

export function synthesize(opts: SynthOptions): SynthResult {
  const dist = opts.dist ?? path.join(opts.root, 'dist');
  const envs = loadAll(opts.root, { platform: opts.platform, env: opts.env });
  const rendering = render(envs, opts.onEnvironment);
  const distName = path.relative(opts.root, dist) || dist;
  const problems = validateObjects(rendering.files.map((f) => ({ file: path.join(distName, f.path), manifest: f.manifest })));
  // Well-formed objects may still drop a connection the platform needs, or open one nobody asked for.
  for (const env of envs) {
    const scope = `${env.platform.name}/${env.env}/`;
    const files = rendering.files
      .filter((f) => f.path.startsWith(scope) && !f.path.startsWith(`${scope}argocd/`))
      .map((f) => ({ file: path.join(distName, f.path), obj: f.manifest as unknown as Located['obj'] }));
    problems.push(...checkFlows(env, files).problems);
  }
  // Problems in the rendered objects: nothing is written.
  if (problems.length > 0) throw new ProblemError('output', problems);
  writeDist(dist, rendering, { full: !opts.platform && !opts.env });

  const perCluster = new Map<string, number>();
  for (const f of rendering.files) {
    const cluster = f.path.split('/').slice(0, 3).join('/');
    perCluster.set(cluster, (perCluster.get(cluster) ?? 0) + 1);
  }
  return { rendering, perCluster };
}
