/**
 * A fleet as the API servers would show it after ArgoCD applied dist/ and the controllers ran:
 * each rendered object with what the server adds (uid, resourceVersion, generation, the
 * defaults of the apps/v1 and core/v1 types, managedFields of ArgoCD's server-side apply), the
 * status its controller writes (Deployment, StatefulSet, KEDA ScaledObject, ArgoCD
 * Application), the pods, and the lines the Redis start scripts and sentinels log.
 * Shapes: kubernetes/api apps/v1 and core/v1 types.go, kedacore/keda apis/keda/v1alpha1
 * (ScaledObjectStatus, conditions Ready/Active/Fallback/Paused), argo-cd pkg/apis/application/v1alpha1
 * (ApplicationStatus.sync/health/resources).
 */
import type { RegionTarget } from '../../cluster/fleet';
import type { FakeCluster, Obj } from './fake-api';

export const ARGOCD_MANAGER = 'argocd-controller';
const TIME = '2026-12-01T09:00:00Z';
export const REVISION = '4f1d2c3b5a69788766554433221100ffeeddccbb';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The field set server-side apply records for the fields an applier sent (list items keyed by name, else by position). */
export function fieldSetOf(value: unknown): Obj {
  if (Array.isArray(value)) {
    const out: Obj = {};
    value.forEach((item, i) => {
      if (item && typeof item === 'object' && typeof item.name === 'string') out[`k:${JSON.stringify({ name: item.name })}`] = { '.': {}, ...fieldSetOf(item) };
      else if (item === null || typeof item !== 'object') out[`v:${JSON.stringify(item)}`] = {};
      else out[`i:${i}`] = { '.': {}, ...fieldSetOf(item) };
    });
    return out;
  }
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, v && typeof v === 'object' && Object.keys(v).length > 0 ? fieldSetOf(v) : {}]));
  return {};
}

/** What the API server defaults in a pod template (core/v1 defaults.go). */
function defaultPodSpec(spec: Obj): void {
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.restartPolicy ??= 'Always';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    c.imagePullPolicy ??= 'IfNotPresent';
    for (const port of c.ports ?? []) port.protocol ??= 'TCP';
  }
}

function podsOf(o: Obj, replicas: number): Obj[] {
  const template = o.spec.template;
  const names = Array.from({ length: replicas }, (_, i) =>
    o.kind === 'StatefulSet' ? `${o.metadata.name}-${i}` : `${o.metadata.name}-6d8f9c7b5-${'abcdefghijklmnopqrstuvwxyz'[i]}x${i}`,
  );
  return names.map((name) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.metadata.namespace,
      labels: { ...template.metadata?.labels },
      ownerReferences: [
        {
          apiVersion: o.kind === 'StatefulSet' ? 'apps/v1' : 'apps/v1',
          kind: o.kind === 'StatefulSet' ? 'StatefulSet' : 'ReplicaSet',
          name: o.metadata.name,
          controller: true,
        },
      ],
    },
    spec: clone(template.spec),
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: TIME }],
      containerStatuses: (template.spec.containers ?? []).map((c: Obj) => ({
        name: c.name,
        image: c.image,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: TIME } },
        lastState: {},
      })),
    },
  }));
}

/** The live objects of one region cluster, and its pods' logs. */
export function liveCluster(t: RegionTarget): FakeCluster {
  const objects: Obj[] = [];
  const logs: Record<string, string> = {};
  const scaled = new Map<string, Obj>();
  for (const r of t.objects) if (r.kind === 'ScaledObject') scaled.set(`${r.namespace}/${(r.object.spec as Obj).scaleTargetRef.name}`, r.object);
  let uid = 0;
  for (const r of t.objects) {
    const applied = clone(r.object) as Obj;
    const o = clone(applied);
    const sent = clone(applied);
    delete sent.metadata.name;
    delete sent.metadata.namespace;
    Object.assign(o.metadata, {
      uid: `0000${++uid}-${t.region}`,
      resourceVersion: String(1000 + uid),
      generation: 1,
      creationTimestamp: TIME,
      managedFields: [
        { manager: ARGOCD_MANAGER, operation: 'Apply', apiVersion: o.apiVersion, time: TIME, fieldsType: 'FieldsV1', fieldsV1: fieldSetOf(sent) },
      ],
    });
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
      const so = scaled.get(`${r.namespace}/${r.name}`);
      if (so) {
        o.spec.replicas = so.spec.minReplicaCount ?? 1;
        o.metadata.managedFields.push({
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'apps/v1',
          subresource: 'scale',
          time: TIME,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        });
      }
      o.spec.replicas ??= 1;
      o.spec.revisionHistoryLimit ??= 10;
      if (o.kind === 'Deployment') {
        o.spec.progressDeadlineSeconds ??= 600;
        o.spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
        o.metadata.annotations = { ...o.metadata.annotations, 'deployment.kubernetes.io/revision': '3' };
      } else {
        o.spec.podManagementPolicy ??= 'OrderedReady';
        o.spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      }
      defaultPodSpec(o.spec.template.spec);
      const n = o.spec.replicas;
      o.status =
        o.kind === 'Deployment'
          ? {
              observedGeneration: 1,
              replicas: n,
              updatedReplicas: n,
              readyReplicas: n,
              availableReplicas: n,
              conditions: [
                { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastTransitionTime: TIME, lastUpdateTime: TIME },
                { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastTransitionTime: TIME, lastUpdateTime: TIME },
              ],
            }
          : {
              observedGeneration: 1,
              replicas: n,
              readyReplicas: n,
              currentReplicas: n,
              updatedReplicas: n,
              availableReplicas: n,
              currentRevision: `${r.name}-7c9d`,
              updateRevision: `${r.name}-7c9d`,
            };
      const pods = podsOf(o, n);
      objects.push(...pods);
      if (o.metadata.annotations?.['meridian.dev/redis-master-region']) Object.assign(logs, redisLogs(t, o, pods));
    }
    if (o.kind === 'Service') {
      o.spec.type ??= 'ClusterIP';
      o.spec.sessionAffinity ??= 'None';
      if (o.spec.clusterIP !== 'None') o.spec.clusterIP = `10.8.${uid}.10`;
      o.spec.clusterIPs = [o.spec.clusterIP];
      o.spec.ipFamilies = ['IPv4'];
      o.spec.ipFamilyPolicy = 'SingleStack';
      o.spec.internalTrafficPolicy = 'Cluster';
      for (const p of o.spec.ports ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
      o.status = { loadBalancer: {} };
    }
    if (o.kind === 'ScaledObject') {
      o.status = {
        scaleTargetKind: 'apps/v1.Deployment',
        scaleTargetGVKR: { group: 'apps', version: 'v1', kind: 'Deployment', resource: 'deployments' },
        originalReplicaCount: 1,
        hpaName: `keda-hpa-${r.name}`,
        externalMetricNames: ['s1-prometheus'],
        health: { 's1-prometheus': { numberOfFailures: 0, status: 'Happy' } },
        conditions: [
          { type: 'Ready', status: 'True', reason: 'ScaledObjectReady', message: 'ScaledObject is defined correctly and is ready for scaling' },
          { type: 'Active', status: 'True', reason: 'ScalerActive', message: 'Scaling is performed because triggers are active' },
          { type: 'Fallback', status: 'False', reason: 'NoFallbackFound', message: 'No fallbacks are active on this scaled object' },
          { type: 'Paused', status: 'False', reason: 'ScaledObjectUnpaused', message: 'pause annotation removed for ScaledObject' },
        ],
      };
    }
    objects.push(o);
  }
  return { objects, logs };
}

/** What the Redis start scripts (and the sentinels) of a group log after a clean start. */
function redisLogs(t: RegionTarget, sts: Obj, pods: Obj[]): Record<string, string> {
  const plan = t.plan.redis[sts.metadata.name];
  const host = (i: number) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}.${sts.metadata.namespace}.svc.cluster.local`;
  const logs: Record<string, string> = {};
  pods.forEach((p, i) => {
    const key = (c: string) => `${p.metadata.namespace}/${p.metadata.name}/${c}`;
    if (plan.role === 'primary') {
      logs[key('sentinel')] = [
        `meridian-redis ${p.metadata.name}: sentinel monitors ${host(0)} (quorum 2)`,
        `1:X 01 Dec 2026 09:00:01.100 * Sentinel new configuration saved on disk`,
        `1:X 01 Dec 2026 09:00:01.101 # +monitor master master ${host(0)} 6379 quorum 2`,
        '',
      ].join('\n');
      logs[key('redis')] = `meridian-redis ${p.metadata.name}: ${i === 0 ? 'starting as master' : `starting as a replica of ${host(0)}`}\n`;
    } else {
      logs[key('sentinel')] = `meridian-redis ${p.metadata.name}: secondary region: the sentinel monitors nothing until the region is promoted\n`;
      logs[key('redis')] = `meridian-redis ${p.metadata.name}: secondary region: starting as a replica of ${i === 0 ? plan.upstreams![1] : host(0)}\n`;
    }
  });
  return logs;
}

/** The ArgoCD cluster: one Application per region, Synced and Healthy at REVISION. */
export function argocdCluster(targets: readonly RegionTarget[]): FakeCluster {
  return {
    objects: targets.map((t) => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: {
        name: t.application.name,
        namespace: t.application.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'meridian', 'meridian.dev/region': t.region },
        ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet', name: `${t.platform}-${t.env}`, controller: true }],
      },
      spec: { project: `${t.platform}-${t.env}`, destination: { name: t.context }, source: { path: t.folder } },
      status: {
        sync: { status: 'Synced', revision: REVISION, comparedTo: { destination: { name: t.context } } },
        health: { status: 'Healthy' },
        resources: t.objects.slice(0, 3).map((o) => ({
          group: o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '',
          version: 'v1',
          kind: o.kind,
          namespace: o.namespace,
          name: o.name,
          status: 'Synced',
        })),
        operationState: { phase: 'Succeeded', finishedAt: TIME },
      },
    })),
  };
}

/** Every region cluster of `targets` and the ArgoCD cluster (context `argocd`), healthy. */
export function healthyFleet(targets: readonly RegionTarget[]): Record<string, FakeCluster> {
  return { argocd: argocdCluster(targets), ...Object.fromEntries(targets.map((t) => [t.context, liveCluster(t)])) };
}

/** The one live object of a cluster. */
export function find(c: FakeCluster, kind: string, name: string): Obj {
  const found = c.objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0];
}
