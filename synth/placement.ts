/**
 * Which environment renders each object into each cluster (by its ArgoCD name): two
 * environments (or platforms) that put the same object into one cluster would have two
 * Applications own it, each undoing the other's sync. This spans environments, so it runs on
 * every synth over all of them, those taken from the synth cache included (synth/cache.ts):
 * each environment keeps the keys of what it placed.
 */
import type { Problem } from '../kernel/problems';

/** What a placement key is made of: one object in one cluster. */
export interface Placed {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

/** `<cluster>\0<group>/<kind>\0<namespace>\0<name>`: the same object in the same cluster. */
export function placementKey(cluster: string, m: Placed): string {
  const group = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : '';
  return `${cluster}\u0000${group}/${m.kind}\u0000${m.metadata.namespace ?? ''}\u0000${m.metadata.name}`;
}

/** `Kind namespace/name` of a placement key. */
function describeKey(key: string): string {
  const [, groupKind, namespace, name] = key.split('\u0000');
  const kind = groupKind.slice(groupKind.indexOf('/') + 1);
  return `${kind} ${namespace ? `${namespace}/` : ''}${name}`;
}

export class ClusterPlacement {
  private readonly owner = new Map<string, string>();
  /** `<cluster>\0<scope a>\0<scope b>` → the objects both render. */
  private readonly clashes = new Map<string, string[]>();

  /** Environments must be added in synth order (platforms by file, environments as listed): the first owner is named. */
  add(scope: string, key: string): void {
    const first = this.owner.get(key);
    if (first === undefined) {
      this.owner.set(key, scope);
      return;
    }
    if (first === scope) return;
    const pair = `${key.slice(0, key.indexOf('\u0000'))}\u0000${first}\u0000${scope}`;
    this.clashes.set(pair, [...(this.clashes.get(pair) ?? []), describeKey(key)]);
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
