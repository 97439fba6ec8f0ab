/**
 * The synth pipeline: load and check the specs, render every cluster, validate every
 * object, and only then swap the result into `dist/`. Any problem leaves `dist/` as it was.
 */
import * as path from 'node:path';
import { loadAll } from '../model';
import { validateObjects } from '../checks';
import { checkFlows } from '../checks/flows';
import { ProblemError } from '../kernel/problems';
import { renderWith, Rendering } from './render';
import type { EnvironmentPlan } from '../model/plan';
import type { EnvironmentOutput, SynthCache } from './cache';
import type { Located } from '../checks/objects';
import { writeDist } from './write';

export * from './render';
export { writeDist } from './write';
export { SynthCache } from './cache';

export interface SynthOptions {
  /** Repository root holding `platforms/` and `overlays/`. */
  readonly root: string;
  /** Output folder. @default `<root>/dist` */
  readonly dist?: string;
  /** Only this platform. @default - all */
  readonly platform?: string;
  /** Only this environment. @default - all */
  readonly env?: string;
  /** Called after each environment is rendered (or taken from the cache), for progress output. */
  readonly onEnvironment?: (scope: string, objects: number, cached?: boolean) => void;
  /**
   * Renders only the environments whose inputs or code changed since the cache was written
   * and takes the others from it (synth/cache.ts); the output is the same as a full render's.
   * Only for a synth of everything (no `platform`, no `env`). @default - render everything
   */
  readonly cache?: SynthCache;
}

export interface SynthResult {
  readonly rendering: Rendering;
  /** Objects per cluster folder (`<platform>/<env>/<region|argocd>`). */
  readonly perCluster: ReadonlyMap<string, number>;
  /**
   * With a cache: the environments rendered, those taken from the cache, and the modules the
   * app loaded that the cache's key does not cover (then nothing was stored).
   */
  readonly reuse?: { readonly rendered: number; readonly cached: number; readonly uncovered?: readonly string[] };
}

export function synthesize(opts: SynthOptions): SynthResult {
  const dist = opts.dist ?? path.join(opts.root, 'dist');
  const cache = opts.platform || opts.env ? undefined : opts.cache;
  const hit = cache?.lookup();
  // Platforms with an environment to render are loaded whole (loading checks all their overlays).
  const stale = hit?.platforms.filter((p) => !p.envs || p.envs.some((e) => !hit.hits.has(`${p.name}/${e}`)));
  const envs = loadAll(opts.root, { platform: opts.platform, env: opts.env, files: stale?.map((p) => p.file) });
  const items: (EnvironmentPlan | EnvironmentOutput)[] = [];
  if (hit) {
    for (const p of hit.platforms) {
      const planned = envs.filter((e) => e.platform.name === p.name);
      for (const env of p.envs && !stale?.includes(p) ? p.envs : planned.map((e) => e.env)) {
        items.push(hit.hits.get(`${p.name}/${env}`) ?? planned.find((e) => e.env === env)!);
      }
    }
  } else items.push(...envs);
  const { rendering, fresh } = renderWith(items, opts.onEnvironment);
  const distName = path.relative(opts.root, dist) || dist;
  const rendered = fresh.flatMap((e) => e.files);
  // With a cache, objects whose text passed the per-object checks under this code are not checked again.
  const known = cache?.passedObjects();
  const passed = new Set(known ? rendered.filter((f) => known.has(cache!.objectKey(f))).map((f) => path.join(distName, f.path)) : []);
  const problems = validateObjects(
    rendered.map((f) => ({ file: path.join(distName, f.path), manifest: f.manifest })),
    undefined,
    [],
    passed,
  );
  // Well-formed objects may still drop a connection the platform needs, or open one nobody asked for.
  for (const env of fresh) {
    const files = env.files
      .filter((f) => !f.path.startsWith(`${env.output.scope}/argocd/`))
      .map((f) => ({ file: path.join(distName, f.path), obj: f.manifest as unknown as Located['obj'] }));
    problems.push(...checkFlows(env.plan, files).problems);
  }
  // Problems in the rendered objects: nothing is written.
  if (problems.length > 0) throw new ProblemError('output', problems);
  writeDist(dist, rendering, { full: !opts.platform && !opts.env, hashes: cache?.distHashes() });
  let uncovered: string[] = [];
  if (cache && hit) {
    const platforms = hit.platforms.map((p) => ({
      file: p.file,
      name: p.name,
      envs: stale?.includes(p) || !p.envs ? envs.filter((e) => e.platform.name === p.name).map((e) => e.env) : p.envs,
    }));
    uncovered = cache.uncoveredModules();
    if (uncovered.length === 0)
      cache.store(
        platforms,
        fresh.map((e) => e.output),
        rendering.files.map((f) => cache.objectKey(f)),
      );
  }

  const perCluster = new Map<string, number>();
  for (const f of rendering.files) {
    const cluster = f.path.split('/').slice(0, 3).join('/');
    perCluster.set(cluster, (perCluster.get(cluster) ?? 0) + 1);
  }
  return { rendering, perCluster, reuse: hit && { rendered: fresh.length, cached: items.length - fresh.length, uncovered } };
}
