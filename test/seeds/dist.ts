/**
 * The committed `dist/` of a platform, cluster by cluster, beside the spec that declared it:
 * the seeds' tests judge what ArgoCD syncs, which CI keeps equal to a fresh synth.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { loadAll } from '../../model';
import type { ClusterPlan } from '../../model/plan';
import { ROOT } from '../helpers';

type Json = Record<string, any>;

export interface DistCluster {
  readonly platform: string;
  readonly env: string;
  readonly region: string;
  readonly spec: ClusterPlan;
  /** Every object of the cluster's folder, with its file relative to dist/. */
  readonly objects: readonly { file: string; obj: Json }[];
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesUnder(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

/** The clusters of `platform` (every environment) as committed in dist/. */
export function distClusters(platform: string): DistCluster[] {
  const dist = path.join(ROOT, 'dist');
  return loadAll(ROOT, { platform }).flatMap((env) =>
    env.clusters.map((spec) => {
      const folder = path.join(dist, platform, env.env, spec.region);
      const objects = filesUnder(folder)
        .filter((f) => f.endsWith('.yaml') && !f.endsWith('kustomization.yaml'))
        .sort()
        .map((f) => ({ file: path.relative(dist, f), obj: parse(fs.readFileSync(f, 'utf8')) as Json }));
      return { platform, env: env.env, region: spec.region, spec, objects };
    }),
  );
}

/** The objects of one kind in a cluster. */
export function ofKind(cluster: DistCluster, kind: string): Json[] {
  return cluster.objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
}

/** One named object of a cluster; throws when absent. */
export function named(cluster: DistCluster, kind: string, name: string): Json {
  const found = ofKind(cluster, kind).find((o) => o.metadata.name === name);
  if (!found) throw new Error(`${cluster.platform}/${cluster.env}/${cluster.region}: no ${kind} ${name}`);
  return found;
}
