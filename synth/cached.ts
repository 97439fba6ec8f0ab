/**
 * A synth whose every environment hits the synth cache (nothing was edited, or only files
 * the output does not depend on): the files are taken from the cache, the one check that
 * spans environments runs again over them, and dist/ is swapped as by any synth. It loads
 * neither cdk8s nor the charts nor the validators, which is most of a synth's start-up.
 */
import * as path from 'node:path';
import { ProblemError } from '../kernel/problems';
import type { CachedFile, EnvironmentOutput, SynthCache } from './cache';
import { ClusterPlacement } from './placement';
import type { Manifest, RenderedDocument, RenderedFile, Rendering } from './types';
import { writeDist } from './write';

/** A file taken from the synth cache: its object is read back from its text only if asked for. */
export function cachedFile(f: CachedFile): RenderedFile {
  let manifest: Manifest | undefined;
  return {
    path: f.path,
    sha256: f.sha256,
    get content() {
      return f.content;
    },
    get manifest(): Manifest {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (manifest ??= (require('yaml') as typeof import('yaml')).parse(f.content, { version: '1.1' }) as Manifest);
    },
  };
}

/** Adds an environment taken from the cache to what a synth collects. */
export function takeCached(
  item: EnvironmentOutput,
  into: { placed: ClusterPlacement; files: RenderedFile[]; documents: RenderedDocument[]; scopes: string[] },
): void {
  into.scopes.push(item.scope);
  for (const key of item.placement) into.placed.add(item.scope, key);
  for (const f of item.files) into.files.push(cachedFile(f));
  into.documents.push(...item.documents);
}

export const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The synth when `cache.lookup().complete`: every environment from the cache.
 * @param dist the output folder, `<root>/dist` by default
 * @throws ProblemError when two environments now place one object in one cluster
 */
export function synthesizeCached(
  cache: SynthCache,
  dist = path.join(cache.root, 'dist'),
  onEnvironment?: (scope: string, objects: number, cached?: boolean) => void,
): { rendering: Rendering; perCluster: Map<string, number>; reuse: { rendered: number; cached: number } } {
  const { platforms, hits, complete } = cache.lookup();
  if (!complete) throw new Error('synthesizeCached: some environments are not in the cache');
  const into = { placed: new ClusterPlacement(), files: [] as RenderedFile[], documents: [] as RenderedDocument[], scopes: [] as string[] };
  for (const p of platforms) {
    for (const env of p.envs ?? []) {
      const item = hits.get(`${p.name}/${env}`)!;
      takeCached(item, into);
      onEnvironment?.(item.scope, item.files.length, true);
    }
  }
  const problems = into.placed.problems();
  if (problems.length > 0) throw new ProblemError('output', problems);
  const rendering: Rendering = { files: into.files.sort(byPath), documents: into.documents.sort(byPath), scopes: into.scopes.sort() };
  writeDist(dist, rendering, { full: true, hashes: cache.distHashes() });
  cache.store(
    platforms.map((p) => ({ file: p.file, name: p.name, envs: p.envs ?? [] })),
    [],
    rendering.files.map((f) => cache.objectKey(f)),
  );
  const perCluster = new Map<string, number>();
  for (const f of rendering.files) {
    const cluster = f.path.split('/').slice(0, 3).join('/');
    perCluster.set(cluster, (perCluster.get(cluster) ?? 0) + 1);
  }
  return { rendering, perCluster, reuse: { rendered: 0, cached: into.scopes.length } };
}
