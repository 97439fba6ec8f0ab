/**
 * What the cross-reference checks share: objects grouped into clusters and environments,
 * pod templates of workloads, and Kubernetes label selector matching.
 *
 * A cluster is the folder Meridian renders one region cluster into: every object file sits
 * at `<cluster>/<namespace|_cluster>/<kind>-<name>.yaml`, so a file's cluster is the folder
 * two levels above it. An environment is the folder holding its clusters
 * (`dist/<platform>/<env>`): DestinationRule subsets select pods across all its regions.
 */
import * as path from 'node:path';
import { objectProblem, type Problem } from '../kernel/problems';

/** A rendered object, read loosely: checks test every field they use. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface KObject {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: Json;
}

/** An object and the file it is (or will be) written to. */
export interface Located {
  readonly file: string;
  readonly obj: KObject;
}

export type { Problem } from '../kernel/problems';

/** A problem at a field of a located object; `fieldPath` is `spec.rules[0]`, or '' for the whole object. */
export function problem(at: Located, fieldPath: string, message: string): Problem {
  return objectProblem(at.file, at.obj, fieldPath, message);
}

export class Cluster {
  private readonly byKind = new Map<string, Located[]>();
  /** Every cluster of the same environment, this one included. */
  public environment: readonly Cluster[] = [this];

  constructor(
    public readonly folder: string,
    public readonly objects: readonly Located[],
  ) {
    for (const o of objects) {
      const list = this.byKind.get(o.obj.kind) ?? [];
      list.push(o);
      this.byKind.set(o.obj.kind, list);
    }
  }

  /** Objects of a kind, in file order; in one namespace when given. */
  of(kind: string, namespace?: string): Located[] {
    const all = this.byKind.get(kind) ?? [];
    return namespace === undefined ? all : all.filter((o) => o.obj.metadata.namespace === namespace);
  }

  find(kind: string, namespace: string | undefined, name: string): Located | undefined {
    return this.of(kind, namespace).find((o) => o.obj.metadata.name === name);
  }

  /** Pod templates of every workload, in one namespace when given. */
  pods(namespace?: string): PodTemplate[] {
    if (!this.podTemplates) {
      this.podTemplates = [];
      for (const kind of Object.keys(POD_TEMPLATE_PATHS)) {
        for (const o of this.of(kind)) {
          const t = podTemplate(o);
          if (t) this.podTemplates.push(t);
        }
      }
    }
    return namespace === undefined ? this.podTemplates : this.podTemplates.filter((p) => p.namespace === namespace);
  }

  private podTemplates?: PodTemplate[];
}

/** The cluster folder of a file: two levels up (`<cluster>/<namespace>/<file>`). */
export function clusterFolder(file: string): string {
  return path.dirname(path.dirname(file));
}

/** Groups objects by cluster folder, and clusters by environment (their parent folder). */
export function groupClusters(objects: readonly Located[]): Cluster[] {
  const byFolder = new Map<string, Located[]>();
  for (const o of objects) {
    const folder = clusterFolder(o.file);
    const list = byFolder.get(folder) ?? [];
    list.push(o);
    byFolder.set(folder, list);
  }
  const clusters = [...byFolder].map(([folder, list]) => new Cluster(folder, list));
  const byEnv = new Map<string, Cluster[]>();
  for (const c of clusters) {
    const env = path.dirname(c.folder);
    byEnv.set(env, [...(byEnv.get(env) ?? []), c]);
  }
  for (const env of byEnv.values()) for (const c of env) c.environment = env;
  return clusters;
}

// ---------------------------------------------------------------------------------------
// Workloads and their pods

export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** Kinds a Service, a PodDisruptionBudget or an autoscaler may front: long-running pods. */
export const SERVING_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'];

export interface PodTemplate {
  /** The workload (or Pod) the template belongs to. */
  readonly owner: Located;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: Json;
  /** Field path of the pod spec, e.g. `spec.template.spec`. */
  readonly specPath: string;
}

export function podTemplate(o: Located): PodTemplate | undefined {
  const at = POD_TEMPLATE_PATHS[o.obj.kind];
  if (!at) return undefined;
  const template = at.reduce<Json>((v, k) => v?.[k], o.obj);
  if (!template || typeof template !== 'object' || !template.spec) return undefined;
  return {
    owner: o,
    namespace: o.obj.metadata.namespace ?? 'default',
    labels: template.metadata?.labels ?? (o.obj.kind === 'Pod' ? o.obj.metadata.labels : undefined) ?? {},
    annotations: template.metadata?.annotations ?? (o.obj.kind === 'Pod' ? o.obj.metadata.annotations : undefined) ?? {},
    spec: template.spec,
    specPath: [...at, 'spec'].join('.'),
  };
}

/** `Deployment "api"` */
export function describe(o: Located): string {
  return `${o.obj.kind} "${o.obj.metadata.name}"`;
}

// ---------------------------------------------------------------------------------------
// Label selectors

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Does a Kubernetes label selector (matchLabels and matchExpressions) select these labels? */
export function selects(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  if (!matchesLabels(selector.matchLabels ?? {}, labels)) return false;
  return (selector.matchExpressions ?? []).every((e) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In':
        return has && (e.values ?? []).includes(labels[e.key]);
      case 'NotIn':
        return !has || !(e.values ?? []).includes(labels[e.key]);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        return false;
    }
  });
}

/** Does a plain label map (a Service or Istio selector) select these labels? */
export function matchesLabels(wanted: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

/** The label the StatefulSet controller gives each pod it creates: `<statefulset>-<ordinal>`. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

/**
 * A Service selector (equality) selects pods of this template: its labels, plus, for a
 * StatefulSet, the pod-name label the controller adds to each pod (kubernetes
 * pkg/controller/statefulset stateful_set_utils.go, `updateIdentity`), one per ordinal below
 * `spec.replicas`.
 */
export function selectsTemplatePods(wanted: Readonly<Record<string, string>>, t: PodTemplate): boolean {
  const { [POD_NAME_LABEL]: podName, ...rest } = wanted;
  if (podName === undefined) return matchesLabels(wanted, t.labels);
  if (t.owner.obj.kind !== 'StatefulSet' || !matchesLabels(rest, t.labels)) return false;
  const name = String(t.owner.obj.metadata.name);
  const ordinal = podName.startsWith(`${name}-`) ? podName.slice(name.length + 1) : '';
  return /^(0|[1-9][0-9]*)$/.test(ordinal) && Number(ordinal) < (t.owner.obj.spec?.replicas ?? 1);
}

export function isEmptySelector(selector: LabelSelector | undefined): boolean {
  return !selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0);
}

/** `app=api,tier in (web)` */
export function showSelector(selector: LabelSelector | Record<string, string> | undefined): string {
  if (!selector) return '(none)';
  const s = 'matchLabels' in selector || 'matchExpressions' in selector ? (selector as LabelSelector) : { matchLabels: selector as Record<string, string> };
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    parts.push(
      e.operator === 'Exists' ? e.key : e.operator === 'DoesNotExist' ? `!${e.key}` : `${e.key} ${e.operator.toLowerCase()} (${(e.values ?? []).join(',')})`,
    );
  }
  return parts.join(',') || '(everything)';
}

/** JSON path segment for an array index or a key. */
export function at(base: string, ...parts: (string | number)[]): string {
  let out = base;
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${p}`;
  return out;
}
