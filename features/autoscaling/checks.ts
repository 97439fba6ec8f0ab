/**
 * What KEDA's admission webhook refuses (or lets through to fail later), checked before
 * ArgoCD applies anything: the scale target exists and is scaled once, resource triggers
 * have the requests they compute against, names fit the HPA KEDA derives, trigger names
 * are unique. And one GitOps rule: an autoscaled workload leaves `replicas` out, or every
 * sync would reset what KEDA scaled.
 */
import { at, Cluster, Json, Located, Problem, problem } from '../../checks/objects';

interface Target {
  kind: string;
  name: string;
  apiVersion: string;
}

export function scaleTarget(so: Located): Target {
  const ref = so.obj.spec?.scaleTargetRef ?? {};
  return { kind: ref.kind ?? 'Deployment', name: String(ref.name ?? ''), apiVersion: ref.apiVersion ?? 'apps/v1' };
}

/** The workload a ScaledObject scales, when rendered. */
export function targetOf(cluster: Cluster, so: Located): Located | undefined {
  const t = scaleTarget(so);
  return cluster.find(t.kind, so.obj.metadata.namespace, t.name);
}

/**
 * The ScaledObject rules KEDA's webhook applies (names, triggers, one autoscaler per
 * workload, requests, scale from zero) live in `keda.ts`, shared with the Autoscaler
 * construct. These are the references it does not follow: the TriggerAuthentication a
 * trigger names, and the GitOps rule that a scaled workload leaves `replicas` out.
 */
export function autoscalingProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  for (const so of cluster.of('ScaledObject')) {
    const ns = so.obj.metadata.namespace ?? 'default';
    const name = so.obj.metadata.name;
    const t = scaleTarget(so);
    ((so.obj.spec?.triggers ?? []) as Json[]).forEach((tr, i) => {
      const ref = tr.authenticationRef;
      if (!ref?.name) return;
      const kind = ref.kind ?? 'TriggerAuthentication';
      if (!cluster.find(kind, kind === 'ClusterTriggerAuthentication' ? undefined : ns, ref.name)) {
        problems.push(
          problem(
            so,
            at('spec.triggers', i, 'authenticationRef', 'name'),
            `${kind} "${ref.name}" does not exist${kind === 'ClusterTriggerAuthentication' ? '' : ` in namespace ${ns}`}`,
          ),
        );
      }
    });
    const target = targetOf(cluster, so);
    if (target && target.obj.spec?.replicas !== undefined) {
      problems.push(
        problem(
          target,
          'spec.replicas',
          `is set while ScaledObject "${name}" scales this ${t.kind}: every ArgoCD sync would reset the replica count KEDA chose; leave replicas out`,
        ),
      );
    }
  }
  return problems;
}
