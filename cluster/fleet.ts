/**
 * The region clusters `meridian status` and `meridian drift` read: one per region of each
 * chosen environment, with the kubeconfig context that reaches it (the cluster's name in
 * ArgoCD, `<platform>-<env>-<region>` unless the spec's `regions.<region>.cluster` names another),
 * its ArgoCD Application, and what dist/ renders for it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ProblemError } from '../kernel/problems';
import { loadAll, type ClusterPlan } from '../model';
import type { LiveObject } from './kube';

/** An object of dist/, with the file it is in (relative to the repository). */
export interface RenderedObject {
  readonly file: string;
  readonly object: LiveObject;
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

export interface RegionTarget {
  readonly platform: string;
  readonly env: string;
  readonly region: string;
  readonly plan: ClusterPlan;
  /** The kubeconfig context of the region's cluster. */
  readonly context: string;
  /** The region's ArgoCD Application (in the ArgoCD cluster). */
  readonly application: { readonly namespace: string; readonly name: string };
  /** `dist/<platform>/<env>/<region>` */
  readonly folder: string;
  readonly objects: readonly RenderedObject[];
}

/** `Deployment marketplace/api` */
export function objectLabel(o: { kind?: string; namespace?: string; name?: string }): string {
  return `${o.kind ?? '?'} ${o.namespace ? `${o.namespace}/` : ''}${o.name ?? '?'}`;
}

/** The region clusters of every environment (or the chosen ones); preview environments are templates and have none. */
export function fleetTargets(root: string, dist: string, only: { platform?: string; env?: string }): RegionTarget[] {
  const targets: RegionTarget[] = [];
  for (const env of loadAll(root, only)) {
    if (env.preview) continue;
    for (const plan of env.clusters) {
      const folder = path.join(dist, env.platform.name, env.env, plan.region);
      const shown = path.relative(root, folder) || folder;
      if (!fs.existsSync(folder))
        throw new ProblemError('input', [
          { file: shown, path: '', message: 'is not rendered: run `npx cdk8s synth` (status and drift compare the clusters with dist/)' },
        ]);
      targets.push({
        platform: env.platform.name,
        env: env.env,
        region: plan.region,
        plan,
        context: plan.cluster,
        application: { namespace: env.platform.gitops.namespace, name: `${env.platform.name}-${env.env}-${plan.region}` },
        folder: shown,
        objects: readRendered(root, folder),
      });
    }
  }
  return targets;
}

/** The objects of a dist/ folder (kustomization files are not objects). */
export function readRendered(root: string, folder: string): RenderedObject[] {
  const out: RenderedObject[] = [];
  const files = (fs.readdirSync(folder, { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f) && !/(^|\/)kustomization\.ya?ml$/.test(f)).sort();
  for (const rel of files) {
    const file = path.relative(root, path.join(folder, rel));
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(folder, rel), 'utf8'))) {
      if (doc.errors.length > 0) throw new ProblemError('input', [{ file, path: '', message: `not valid YAML: ${doc.errors[0].message.split('\n')[0]}` }]);
      const object = doc.toJS() as LiveObject | null;
      if (!object || typeof object !== 'object' || !object.kind || !object.apiVersion || !object.metadata?.name) continue;
      out.push({ file, object, apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name });
    }
  }
  return out;
}
