/**
 * Workload references, as kube-score reports them: Services and workload selectors select
 * pods, StatefulSets have their headless Service, ServiceAccounts exist, replicated
 * workloads have exactly one PodDisruptionBudget that still lets a pod go, and are spread
 * across zones and nodes.
 */
import { scaleTarget } from '../autoscaling/checks';
import {
  at,
  Cluster,
  describe,
  isEmptySelector,
  Json,
  Located,
  matchesLabels,
  podTemplate,
  PodTemplate,
  Problem,
  problem,
  selects,
  selectsTemplatePods,
  showSelector,
} from '../../checks/objects';

export const ZONE_KEY = 'topology.kubernetes.io/zone';
export const HOST_KEY = 'kubernetes.io/hostname';

/** Workloads whose replicas the PodDisruptionBudget and spread rules are about. */
const REPLICATED_KINDS = ['Deployment', 'StatefulSet'];
/** Workloads with a label selector that must match their own template. */
const SELECTING_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'];

export interface ReplicaBounds {
  readonly min: number;
  readonly max: number;
  readonly by?: string;
}

/** Replicas a workload runs: the autoscaler's bounds when one scales it, else `spec.replicas` (1 when unset). */
export function replicaBounds(cluster: Cluster, w: Located): ReplicaBounds {
  const ns = w.obj.metadata.namespace;
  const name = w.obj.metadata.name;
  const so = cluster.of('ScaledObject', ns).find((s) => {
    const t = scaleTarget(s);
    return t.kind === w.obj.kind && t.name === name;
  });
  if (so) return { min: so.obj.spec?.minReplicaCount ?? 0, max: so.obj.spec?.maxReplicaCount ?? 100, by: `ScaledObject "${so.obj.metadata.name}"` };
  const hpa = cluster
    .of('HorizontalPodAutoscaler', ns)
    .find((h) => h.obj.spec?.scaleTargetRef?.kind === w.obj.kind && h.obj.spec?.scaleTargetRef?.name === name);
  if (hpa) return { min: hpa.obj.spec?.minReplicas ?? 1, max: hpa.obj.spec?.maxReplicas ?? 1, by: `HorizontalPodAutoscaler "${hpa.obj.metadata.name}"` };
  const replicas = w.obj.spec?.replicas ?? 1;
  return { min: replicas, max: replicas };
}

/** Another cluster of the environment has the Service `namespace/name` with pods behind it. */
function runsElsewhere(cluster: Cluster, name: string, namespace: string, selector: Record<string, string>): boolean {
  return cluster.environment.some(
    (other) =>
      other !== cluster &&
      other.find('Service', namespace, name) !== undefined &&
      other.pods(namespace).some((p) => p.owner.obj.kind !== 'Job' && p.owner.obj.kind !== 'CronJob' && matchesLabels(selector, p.labels)),
  );
}

export function workloadProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];

  for (const svc of cluster.of('Service')) {
    const selector: Record<string, string> = svc.obj.spec?.selector ?? {};
    if (Object.keys(selector).length === 0) continue; // endpoints managed elsewhere (ExternalName, manual)
    const ns = svc.obj.metadata.namespace ?? 'default';
    const pods = cluster.pods(ns).filter((p) => p.owner.obj.kind !== 'Job' && p.owner.obj.kind !== 'CronJob' && selectsTemplatePods(selector, p));
    if (pods.length === 0) {
      // A Service of a microservice that runs in other region clusters only (features/traffic/remote-service.ts):
      // Istio merges the same-named Services of the mesh's clusters, and its endpoints are theirs.
      if (runsElsewhere(cluster, svc.obj.metadata.name, ns, selector)) continue;
      problems.push(problem(svc, 'spec.selector', `${showSelector(selector)} selects no pods in namespace ${ns}: the Service would have no endpoints`));
      continue;
    }
    ((svc.obj.spec?.ports ?? []) as Json[]).forEach((port, i) => {
      if (typeof port.targetPort !== 'string') return;
      const named = pods.some((p) => ((p.spec.containers ?? []) as Json[]).some((c) => ((c.ports ?? []) as Json[]).some((cp) => cp.name === port.targetPort)));
      if (!named)
        problems.push(problem(svc, at('spec.ports', i, 'targetPort'), `"${port.targetPort}" is not the name of a container port of the pods it selects`));
    });
  }

  for (const kind of SELECTING_KINDS) {
    for (const w of cluster.of(kind)) {
      const pod = podTemplate(w);
      if (!pod) continue;
      const selector = w.obj.spec?.selector;
      if (isEmptySelector(selector)) {
        problems.push(problem(w, 'spec.selector', 'must not be empty: it would claim every pod of the namespace'));
      } else if (!selects(selector, pod.labels)) {
        problems.push(
          problem(
            w,
            'spec.selector',
            `${showSelector(selector)} does not select the pod template's labels (${showSelector(pod.labels)}): the API server rejects it`,
          ),
        );
      }
    }
  }

  for (const sts of cluster.of('StatefulSet')) {
    const serviceName = sts.obj.spec?.serviceName as string | undefined;
    const pod = podTemplate(sts);
    if (!serviceName || !pod) continue;
    const ns = sts.obj.metadata.namespace ?? 'default';
    const svc = cluster.find('Service', ns, serviceName);
    if (!svc) {
      problems.push(problem(sts, 'spec.serviceName', `Service "${serviceName}" does not exist in namespace ${ns}: the pods get no stable DNS names`));
    } else if (svc.obj.spec?.clusterIP !== 'None') {
      problems.push(problem(sts, 'spec.serviceName', `Service "${serviceName}" is not headless (clusterIP: None): the pods get no stable DNS names`));
    } else if (!matchesLabels(svc.obj.spec?.selector ?? {}, pod.labels) || Object.keys(svc.obj.spec?.selector ?? {}).length === 0) {
      problems.push(problem(sts, 'spec.serviceName', `Service "${serviceName}" does not select this StatefulSet's pods: they get no stable DNS names`));
    }
  }

  for (const pod of cluster.pods()) {
    const sa: string | undefined = pod.spec.serviceAccountName ?? pod.spec.serviceAccount;
    if (sa && sa !== 'default' && !cluster.find('ServiceAccount', pod.namespace, sa)) {
      problems.push(problem(pod.owner, `${pod.specPath}.serviceAccountName`, `ServiceAccount "${sa}" does not exist in namespace ${pod.namespace}`));
    }
  }

  problems.push(...disruptionProblems(cluster));
  return problems;
}

function disruptionProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  const covered = new Set<Located>();
  for (const kind of REPLICATED_KINDS) {
    for (const w of cluster.of(kind)) {
      const pod = podTemplate(w);
      if (!pod) continue;
      const bounds = replicaBounds(cluster, w);
      const pdbs = cluster.of('PodDisruptionBudget', pod.namespace).filter((p) => selects(p.obj.spec?.selector, pod.labels));
      pdbs.forEach((p) => covered.add(p));
      const scaled = bounds.by ? ` (${bounds.by} keeps at least ${bounds.min})` : '';
      if (pdbs.length > 1) {
        problems.push(
          problem(
            w,
            '',
            `its pods are selected by ${pdbs.length} PodDisruptionBudgets (${pdbs.map((p) => `"${p.obj.metadata.name}"`).join(', ')}): the eviction API refuses to evict a pod covered by more than one; keep exactly one`,
          ),
        );
      } else if (pdbs.length === 0 && bounds.min > 1) {
        problems.push(
          problem(
            w,
            '',
            `runs at least ${bounds.min} replicas${scaled} but no PodDisruptionBudget selects its pods: a node drain may evict them all at once; add one with maxUnavailable: 1`,
          ),
        );
      }
      for (const pdb of pdbs) problems.push(...budgetProblems(pdb, w, bounds));
      if (bounds.max > 1) problems.push(...spreadProblems(w, pod));
    }
  }
  for (const pdb of cluster.of('PodDisruptionBudget')) {
    if (covered.has(pdb)) continue;
    const ns = pdb.obj.metadata.namespace ?? 'default';
    if (!cluster.pods(ns).some((p) => selects(pdb.obj.spec?.selector, p.labels))) {
      problems.push(problem(pdb, 'spec.selector', `${showSelector(pdb.obj.spec?.selector)} selects no pods in namespace ${ns}`));
    }
  }
  return problems;
}

/** A budget must leave room for one eviction at the workload's fewest replicas. */
function budgetProblems(pdb: Located, w: Located, bounds: ReplicaBounds): Problem[] {
  const spec = pdb.obj.spec ?? {};
  const hangs = 'no pod could ever be evicted, and node drains would hang';
  if (spec.minAvailable !== undefined) {
    const needed = resolveIntOrPercent(spec.minAvailable, bounds.min, true);
    if (bounds.min > 0 && needed >= bounds.min) {
      return [problem(pdb, 'spec.minAvailable', `${spec.minAvailable} is not below the ${bounds.min} minimum replicas of ${describe(w)}: ${hangs}`)];
    }
  }
  if (spec.maxUnavailable !== undefined && resolveIntOrPercent(spec.maxUnavailable, Math.max(bounds.min, 1), false) === 0) {
    return [problem(pdb, 'spec.maxUnavailable', `${spec.maxUnavailable} lets no pod of ${describe(w)} go: ${hangs}`)];
  }
  return [];
}

/** As the disruption controller does: minAvailable percentages round up, maxUnavailable ones down. */
function resolveIntOrPercent(value: number | string, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const pct = Number(String(value).replace('%', ''));
  const exact = (pct * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

function spreadProblems(w: Located, pod: PodTemplate): Problem[] {
  const problems: Problem[] = [];
  const spread = ((pod.spec.topologySpreadConstraints ?? []) as Json[]).filter((t) => t.topologyKey === ZONE_KEY);
  if (spread.length === 0) {
    problems.push(
      problem(w, `${pod.specPath}.topologySpreadConstraints`, `needs a constraint on ${ZONE_KEY}: the replicas could all land in one zone and go down with it`),
    );
  } else if (!spread.some((t) => selects(t.labelSelector, pod.labels))) {
    problems.push(
      problem(
        w,
        `${pod.specPath}.topologySpreadConstraints`,
        `the ${ZONE_KEY} constraint's labelSelector does not select this workload's pods: it spreads nothing`,
      ),
    );
  }
  const anti = pod.spec.affinity?.podAntiAffinity ?? {};
  const terms = [
    ...((anti.requiredDuringSchedulingIgnoredDuringExecution ?? []) as Json[]),
    ...((anti.preferredDuringSchedulingIgnoredDuringExecution ?? []) as Json[]).map((t) => t.podAffinityTerm ?? {}),
  ].filter((t) => t.topologyKey === HOST_KEY && selects(t.labelSelector, pod.labels));
  if (terms.length === 0) {
    problems.push(
      problem(
        w,
        `${pod.specPath}.affinity.podAntiAffinity`,
        `needs a term on ${HOST_KEY} selecting this workload's pods: the replicas could share a node and go down with it`,
      ),
    );
  }
  return problems;
}
