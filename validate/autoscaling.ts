/**
 * What KEDA's admission webhook refuses (or lets through to fail later), checked before
 * ArgoCD applies anything: the scale target exists and is scaled once, resource triggers
 * have the requests they compute against, names fit the HPA KEDA derives, trigger names
 * are unique. And one GitOps rule: an autoscaled workload leaves `replicas` out, or every
 * sync would reset what KEDA scaled.
 */
import { at, Cluster, describe, Json, Located, podTemplate, Problem, problem } from './objects';

/** Kubernetes object names used as label values: KEDA labels the HPA with the ScaledObject's name. */
const MAX_LABEL_VALUE = 63;
const HPA_PREFIX = 'keda-hpa-';

interface Target { kind: string; name: string; apiVersion: string }

export function scaleTarget(so: Located): Target {
  const ref = so.obj.spec?.scaleTargetRef ?? {};
  return { kind: ref.kind ?? 'Deployment', name: String(ref.name ?? ''), apiVersion: ref.apiVersion ?? 'apps/v1' };
}

/** The workload a ScaledObject scales, when rendered. */
export function targetOf(cluster: Cluster, so: Located): Located | undefined {
  const t = scaleTarget(so);
  return cluster.find(t.kind, so.obj.metadata.namespace, t.name);
}

function hpaTarget(hpa: Located): Target {
  const ref = hpa.obj.spec?.scaleTargetRef ?? {};
  return { kind: ref.kind ?? '', name: String(ref.name ?? ''), apiVersion: ref.apiVersion ?? '' };
}

export function autoscalingProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, Located>();

  for (const so of cluster.of('ScaledObject')) {
    const ns = so.obj.metadata.namespace ?? 'default';
    const name = so.obj.metadata.name;
    const spec = so.obj.spec ?? {};
    const t = scaleTarget(so);
    const key = `${ns}/${t.kind}/${t.name}`;

    const hpaName: string = spec.advanced?.horizontalPodAutoscalerConfig?.name ?? `${HPA_PREFIX}${name}`;
    if (name.length > MAX_LABEL_VALUE || hpaName.length > MAX_LABEL_VALUE) {
      problems.push(problem(so, 'metadata.name', spec.advanced?.horizontalPodAutoscalerConfig?.name
        ? `is ${name.length} characters: KEDA labels the HPA with it, and a label value has at most ${MAX_LABEL_VALUE}`
        : `is ${name.length} characters: KEDA names its HPA "${HPA_PREFIX}${name}", which must fit in ${MAX_LABEL_VALUE}, so at most ${MAX_LABEL_VALUE - HPA_PREFIX.length} are allowed`));
    }

    const triggers = (spec.triggers ?? []) as Json[];
    const names = new Set<string>();
    triggers.forEach((tr, i) => {
      if (!tr.name) return;
      if (names.has(tr.name)) problems.push(problem(so, at('spec.triggers', i, 'name'), `"${tr.name}" names another trigger of this ScaledObject: trigger names must be unique`));
      names.add(tr.name);
    });
    triggers.forEach((tr, i) => {
      const ref = tr.authenticationRef;
      if (!ref?.name) return;
      const kind = ref.kind ?? 'TriggerAuthentication';
      if (!cluster.find(kind, kind === 'ClusterTriggerAuthentication' ? undefined : ns, ref.name)) {
        problems.push(problem(so, at('spec.triggers', i, 'authenticationRef', 'name'), `${kind} "${ref.name}" does not exist${kind === 'ClusterTriggerAuthentication' ? '' : ` in namespace ${ns}`}`));
      }
    });

    const min = spec.minReplicaCount as number | undefined;
    const max = spec.maxReplicaCount as number | undefined;
    if (min !== undefined && min > (max ?? 100)) {
      problems.push(problem(so, 'spec.minReplicaCount', `${min} must be <= maxReplicaCount (${max ?? '100, the default'})`));
    }
    const resourceOnly = triggers.length > 0 && triggers.every((tr) => tr.type === 'cpu' || tr.type === 'memory');
    if (resourceOnly && (min ?? 0) === 0) {
      problems.push(problem(so, 'spec.minReplicaCount', `is ${min === undefined ? 'unset (0)' : '0'} with only cpu/memory triggers: the HPA cannot scale from zero on resource metrics; set it to 1 or more, or add an event trigger`));
    }

    const target = targetOf(cluster, so);
    if (!target) {
      problems.push(problem(so, 'spec.scaleTargetRef.name', `${t.kind} "${t.name}" does not exist in namespace ${ns}`));
      continue;
    }
    const first = seen.get(key);
    if (first) {
      problems.push(problem(so, 'spec.scaleTargetRef', `${describe(target)} is already scaled by ScaledObject "${first.obj.metadata.name}": one autoscaler per workload`));
    } else {
      seen.set(key, so);
    }
    for (const hpa of cluster.of('HorizontalPodAutoscaler', ns)) {
      const h = hpaTarget(hpa);
      if (h.kind === t.kind && h.name === t.name) {
        problems.push(problem(so, 'spec.scaleTargetRef', `${describe(target)} is already scaled by HorizontalPodAutoscaler "${hpa.obj.metadata.name}": one autoscaler per workload`));
      }
    }
    if (target.obj.spec?.replicas !== undefined) {
      problems.push(problem(target, 'spec.replicas', `is set while ScaledObject "${name}" scales this ${t.kind}: every ArgoCD sync would reset the replica count KEDA chose; leave replicas out`));
    }

    const pod = podTemplate(target);
    triggers.forEach((tr, i) => {
      if (tr.type !== 'cpu' && tr.type !== 'memory' || !pod) return;
      const only = tr.metadata?.containerName as string | undefined;
      for (const c of (pod.spec.containers ?? []) as Json[]) {
        if (only && c.name !== only) continue;
        if (!hasQuantity(c.resources?.requests?.[tr.type]) && !hasQuantity(c.resources?.limits?.[tr.type])) {
          problems.push(problem(so, at('spec.triggers', i), `the ${tr.type} trigger needs a ${tr.type} request on container "${c.name}" of ${describe(target)}: utilisation is a share of the request`));
        }
      }
    });
  }
  return problems;
}

function hasQuantity(q: unknown): boolean {
  return q !== undefined && q !== null && !/^0+(\.0+)?[a-zA-Z]*$/.test(String(q));
}
