/**
 * What KEDA's admission webhook (and the scalers Meridian renders) would refuse, checked on
 * the rendered objects: a ScaledObject alone (`scaledObjectProblems`), and the objects of one
 * cluster together (`kedaClusterProblems`: one ScaledObject per workload, never an HPA beside
 * it, cpu/memory triggers on containers that request that resource). The Autoscaler construct
 * runs the same checks when it is built, so synth and `meridian validate` agree.
 */
import { cronErrors, timezoneError } from '../../kernel/cron';
import { promqlErrors } from '../../kernel/promql';
import type { FieldProblem } from '../../kernel/problems';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** KEDA names the HPA `keda-hpa-<name>` unless told otherwise; that name is a 63-character label. */
export const MAX_SCALED_OBJECT_NAME = 54;
const MAX_LABEL = 63;
const RESOURCE_TRIGGERS = new Set(['cpu', 'memory']);
/** Triggers on which KEDA refuses useCachedMetrics. */
const UNCACHEABLE = new Set(['cpu', 'memory', 'cron']);

const describeTrigger = (t: Obj, i: number) => `trigger "${t.name ?? `#${i}`}" (${t.type})`;
const isNumber = (v: unknown) => typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v));

/** Why a ScaledObject on its own would be refused by KEDA; [] when it would be admitted. */
export function scaledObjectProblems(so: Obj): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const name = String(so.metadata?.name ?? '');
  const spec: Obj = so.spec ?? {};
  const hpaName: string | undefined = spec.advanced?.horizontalPodAutoscalerConfig?.name || undefined;

  if (name.length > MAX_LABEL) {
    add('metadata.name', `is ${name.length} characters; at most ${MAX_LABEL} are allowed: KEDA uses it as a label value (got "${name}")`);
  } else if (!hpaName && name.length > MAX_SCALED_OBJECT_NAME) {
    add(
      'metadata.name',
      `is ${name.length} characters; at most ${MAX_SCALED_OBJECT_NAME} are allowed: KEDA names the HPA keda-hpa-<name>, a ${MAX_LABEL}-character label (got "${name}")`,
    );
  }
  if (hpaName && hpaName.length > MAX_LABEL) {
    add('spec.advanced.horizontalPodAutoscalerConfig.name', `is ${hpaName.length} characters; at most ${MAX_LABEL} are allowed`);
  }

  const min: number = spec.minReplicaCount ?? 0;
  const max: number = spec.maxReplicaCount ?? 100;
  if (min > max) add('spec.minReplicaCount', `(${min}) must be <= maxReplicaCount (${max})`);
  if (spec.idleReplicaCount !== undefined && spec.idleReplicaCount >= Math.max(min, 1)) {
    add('spec.idleReplicaCount', `(${spec.idleReplicaCount}) must be < minReplicaCount (${min})`);
  }

  const triggers: Obj[] = spec.triggers ?? [];
  if (triggers.length === 0) add('spec.triggers', 'needs at least one trigger');
  const names = new Map<string, number>();
  triggers.forEach((t, i) => {
    if (t.name === undefined) return;
    const first = names.get(t.name);
    if (first !== undefined)
      add(`spec.triggers[${i}].name`, `${describeTrigger(t, i)}: "${t.name}" is also the name of spec.triggers[${first}]: trigger names must be unique`);
    else names.set(t.name, i);
  });

  if (triggers.length > 0 && min === 0 && triggers.every((t) => RESOURCE_TRIGGERS.has(t.type))) {
    add('spec.minReplicaCount', 'is 0 but every trigger is cpu or memory: KEDA cannot scale to zero on them (set it to 1 or more, or add an event trigger)');
  }

  triggers.forEach((t, i) => {
    const at = `spec.triggers[${i}]`;
    const what = describeTrigger(t, i);
    const meta: Obj = t.metadata ?? {};
    if (t.useCachedMetrics && UNCACHEABLE.has(t.type)) add(`${at}.useCachedMetrics`, `${what}: useCachedMetrics is not supported by the ${t.type} scaler`);
    switch (t.type) {
      case 'cpu':
      case 'memory':
        if (t.metricType !== 'Utilization' && t.metricType !== 'AverageValue') {
          add(`${at}.metricType`, `${what}: must be Utilization or AverageValue (got ${JSON.stringify(t.metricType)})`);
        }
        if (meta.value === undefined || meta.value === '') add(`${at}.metadata.value`, `${what}: is required`);
        else if (t.metricType === 'Utilization' && !/^[1-9][0-9]*$/.test(meta.value))
          add(`${at}.metadata.value`, `${what}: must be a whole percentage (got "${meta.value}")`);
        break;
      case 'prometheus':
        if (!meta.serverAddress) add(`${at}.metadata.serverAddress`, `${what}: is required`);
        if (typeof meta.query !== 'string') add(`${at}.metadata.query`, `${what}: is required`);
        else for (const e of promqlErrors(meta.query)) add(`${at}.metadata.query`, `${what}: ${e}`);
        if (!isNumber(meta.threshold) || Number(meta.threshold) <= 0)
          add(`${at}.metadata.threshold`, `${what}: must be a number above 0 (got ${JSON.stringify(meta.threshold)})`);
        if (meta.activationThreshold !== undefined && !isNumber(meta.activationThreshold)) {
          add(`${at}.metadata.activationThreshold`, `${what}: must be a number (got ${JSON.stringify(meta.activationThreshold)})`);
        }
        break;
      case 'cron': {
        const tz = typeof meta.timezone === 'string' ? timezoneError(meta.timezone) : 'is required';
        if (tz) add(`${at}.metadata.timezone`, `${what}: ${tz}`);
        for (const field of ['start', 'end']) {
          if (typeof meta[field] !== 'string') add(`${at}.metadata.${field}`, `${what}: is required`);
          else for (const e of cronErrors(meta[field])) add(`${at}.metadata.${field}`, `${what}: ${e}`);
        }
        if (typeof meta.start === 'string' && typeof meta.end === 'string' && meta.start.trim() === meta.end.trim())
          add(`${at}.metadata.end`, `${what}: must differ from start: KEDA refuses a window that opens and closes at once`);
        if (!/^[1-9][0-9]*$/.test(String(meta.desiredReplicas ?? '')))
          add(`${at}.metadata.desiredReplicas`, `${what}: must be a whole number above 0 (got ${JSON.stringify(meta.desiredReplicas)})`);
        break;
      }
      default:
        break;
    }
  });

  if (spec.fallback) {
    triggers.forEach((t, i) => {
      if (RESOURCE_TRIGGERS.has(t.type)) {
        add(
          'spec.fallback',
          `is not supported with ${describeTrigger(t, i)}: KEDA's fallback works only with external triggers of metricType AverageValue, never cpu or memory`,
        );
      } else if (t.metricType !== 'AverageValue') {
        add(
          'spec.fallback',
          `is not supported with ${describeTrigger(t, i)}: its metricType is ${t.metricType ?? 'unset'}, and KEDA's fallback needs AverageValue set on every trigger`,
        );
      }
    });
  }
  return problems;
}

/** An object of one cluster, with a key that says which cluster. */
export interface ClusterObject {
  readonly cluster: string;
  readonly manifest: Obj;
}

export interface ObjectProblem extends FieldProblem {
  /** The object the problem is reported on. */
  readonly manifest: Obj;
}

interface Workload {
  key: string;
  label: string;
}

function targetOf(o: Obj, ref: Obj | undefined, defaultKind: string): Workload {
  const kind = ref?.kind ?? defaultKind;
  const group =
    String(ref?.apiVersion ?? 'apps/v1')
      .split('/')
      .slice(0, -1)
      .join('/') || 'core';
  const ns = o.metadata?.namespace ?? 'default';
  return { key: `${group}/${kind}/${ns}/${ref?.name}`, label: `${kind} ${ns}/${ref?.name}` };
}

const id = (o: Obj) => `${o.kind} ${o.metadata?.namespace ?? 'default'}/${o.metadata?.name}`;

/** The pod template of a Deployment or StatefulSet. */
/** The kinds kedaClusterProblems reads; any other object can be left out of its input. */
export const KEDA_CLUSTER_KINDS: ReadonlySet<string> = new Set(['ScaledObject', 'HorizontalPodAutoscaler', 'Deployment', 'StatefulSet']);

function podSpecOf(o: Obj): Obj | undefined {
  return o.kind === 'Deployment' || o.kind === 'StatefulSet' ? o.spec?.template?.spec : undefined;
}

function hasResource(container: Obj, resource: string): boolean {
  const r = container.resources ?? {};
  return [r.requests?.[resource], r.limits?.[resource]].some((q) => q !== undefined && parseFloat(String(q)) > 0);
}

/**
 * Rules across the objects of each cluster: a workload is scaled by one ScaledObject, never by
 * an HPA as well, and a cpu or memory trigger needs that resource requested by the containers
 * it reads. With `requireTargets`, a ScaledObject whose target is not among the objects is a
 * problem too (a rendered cluster folder holds every workload it scales).
 */
export function kedaClusterProblems(objects: readonly ClusterObject[], opts: { requireTargets?: boolean } = {}): ObjectProblem[] {
  const problems: ObjectProblem[] = [];
  const byCluster = new Map<string, Obj[]>();
  for (const o of objects) {
    const list = byCluster.get(o.cluster);
    if (list) list.push(o.manifest);
    else byCluster.set(o.cluster, [o.manifest]);
  }

  for (const manifests of byCluster.values()) {
    const workloads = new Map<string, Obj>();
    for (const o of manifests) {
      if (podSpecOf(o)) workloads.set(targetOf(o, { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata?.name }, o.kind).key, o);
    }
    const scaledBy = new Map<string, Obj>();
    const hpas = new Map<string, Obj>();
    for (const o of manifests) {
      if (o.kind === 'HorizontalPodAutoscaler' && o.metadata?.annotations?.['validations.keda.sh/hpa-ownership'] !== 'false') {
        hpas.set(targetOf(o, o.spec?.scaleTargetRef, 'Deployment').key, o);
      }
    }
    for (const so of manifests.filter((o) => o.kind === 'ScaledObject')) {
      const target = targetOf(so, so.spec?.scaleTargetRef, 'Deployment');
      const add = (path: string, message: string) => problems.push({ manifest: so, path, message });
      const other = scaledBy.get(target.key);
      if (other) add('spec.scaleTargetRef', `${target.label} is already scaled by ${id(other)}: KEDA admits one ScaledObject per workload`);
      else scaledBy.set(target.key, so);
      const hpa = hpas.get(target.key);
      if (hpa) add('spec.scaleTargetRef', `${target.label} is also scaled by ${id(hpa)}: a workload is scaled by a ScaledObject or an HPA, never both`);

      const workload = workloads.get(target.key);
      if (!workload) {
        if (opts.requireTargets) add('spec.scaleTargetRef', `${target.label} is not rendered in this cluster`);
        continue;
      }
      const containers: Obj[] = podSpecOf(workload)?.containers ?? [];
      ((so.spec?.triggers ?? []) as Obj[]).forEach((t, i) => {
        if (!RESOURCE_TRIGGERS.has(t.type)) return;
        const only = t.metadata?.containerName;
        for (const c of containers) {
          if (only && c.name !== only) continue;
          if (!hasResource(c, t.type)) {
            add(
              `spec.triggers[${i}]`,
              `${describeTrigger(t, i)}: container "${c.name}" of ${target.label} has no ${t.type} request: KEDA refuses a ${t.type} trigger without one`,
            );
          }
        }
      });
    }
  }
  return problems;
}
