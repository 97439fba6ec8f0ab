import { selectsTemplatePods, type PodTemplate } from '../../../checks/objects';
import { EAST, problemsAfter } from '../../checks/fixture';

const WEB = `${EAST}/shop/web.yaml`;
const CACHE = `${EAST}/shop/cache.yaml`;
const pdb = (name: string, labels: Record<string, string>) => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name, namespace: 'shop' },
  spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
});

describe('Services and workload selectors (kube-score)', () => {
  test('fails when a Service selects no pods', () => {
    expect(
      problemsAfter((f) =>
        f.add(`${EAST}/shop/service-orphan.yaml`, {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'orphan', namespace: 'shop' },
          spec: { selector: { app: 'orphan' }, ports: [{ port: 80 }] },
        }),
      ),
    ).toEqual([
      `${EAST}/shop/service-orphan.yaml: Service shop/orphan: spec.selector: app=orphan selects no pods in namespace shop: the Service would have no endpoints`,
    ]);
  });

  test('a Service selecting one pod of a StatefulSet by its pod-name label selects it, for an ordinal below replicas only', () => {
    const template = (kind: string): PodTemplate =>
      ({
        owner: { file: 'x.yaml', obj: { kind, metadata: { name: 'cache', namespace: 'shop' }, spec: { replicas: 3 } } },
        namespace: 'shop',
        labels: { app: 'cache' },
        annotations: {},
        spec: {},
        specPath: 'spec.template.spec',
      }) as unknown as PodTemplate;
    const pod = (name: string) => ({ app: 'cache', 'statefulset.kubernetes.io/pod-name': name });
    expect(['cache-0', 'cache-2'].map((n) => selectsTemplatePods(pod(n), template('StatefulSet')))).toEqual([true, true]);
    expect(['cache-3', 'cache-01', 'other-0', 'cache-'].map((n) => selectsTemplatePods(pod(n), template('StatefulSet')))).toEqual([false, false, false, false]);
    expect(selectsTemplatePods(pod('cache-0'), template('Deployment'))).toBe(false);
    expect(selectsTemplatePods({ ...pod('cache-0'), app: 'web' }, template('StatefulSet'))).toBe(false);
  });

  test('fails when a Service targets a port name its pods do not declare', () => {
    expect(
      problemsAfter((f) => {
        f.get('Service', 'web').spec.ports[0].targetPort = 'https';
      }),
    ).toEqual([`${WEB}: Service shop/web: spec.ports[0].targetPort: "https" is not the name of a container port of the pods it selects`]);
  });

  test('fails when a Deployment selector does not match its template labels', () => {
    expect(
      problemsAfter((f) => {
        f.get('Deployment', 'web').spec.selector = { matchLabels: { 'app.kubernetes.io/name': 'web', tier: 'front' } };
      }),
    ).toEqual([
      `${WEB}: Deployment shop/web: spec.selector: app.kubernetes.io/name=web,tier=front does not select the pod template's labels (app.kubernetes.io/name=web,meridian.dev/region=east): the API server rejects it`,
    ]);
  });

  test('fails when a Deployment selector is empty', () => {
    expect(
      problemsAfter((f) => {
        f.get('Deployment', 'web').spec.selector = {};
      }),
    ).toEqual([`${WEB}: Deployment shop/web: spec.selector: must not be empty: it would claim every pod of the namespace`]);
  });

  test('passes with matchExpressions that select the template', () => {
    expect(
      problemsAfter((f) => {
        f.get('Deployment', 'web').spec.selector = {
          matchExpressions: [
            { key: 'app.kubernetes.io/name', operator: 'In', values: ['web'] },
            { key: 'canary', operator: 'DoesNotExist' },
          ],
        };
      }),
    ).toEqual([]);
  });

  test('fails when a ServiceAccount named by a pod does not exist', () => {
    expect(problemsAfter((f) => f.remove('ServiceAccount', 'web'))).toEqual([
      `${WEB}: Deployment shop/web: spec.template.spec.serviceAccountName: ServiceAccount "web" does not exist in namespace shop`,
    ]);
  });
});

describe('StatefulSet serviceName', () => {
  test('fails when the Service does not exist', () => {
    expect(problemsAfter((f) => f.remove('Service', 'cache-headless'))).toEqual([
      `${CACHE}: StatefulSet shop/cache: spec.serviceName: Service "cache-headless" does not exist in namespace shop: the pods get no stable DNS names`,
    ]);
  });

  test('fails when the Service is not headless', () => {
    expect(
      problemsAfter((f) => {
        delete f.get('Service', 'cache-headless').spec.clusterIP;
      }),
    ).toEqual([
      `${CACHE}: StatefulSet shop/cache: spec.serviceName: Service "cache-headless" is not headless (clusterIP: None): the pods get no stable DNS names`,
    ]);
  });

  test('fails when the headless Service selects other pods', () => {
    expect(
      problemsAfter((f) => {
        f.get('Service', 'cache-headless').spec.selector = { 'app.kubernetes.io/name': 'web' };
      }),
    ).toEqual([
      `${CACHE}: StatefulSet shop/cache: spec.serviceName: Service "cache-headless" does not select this StatefulSet's pods: they get no stable DNS names`,
    ]);
  });
});

describe('PodDisruptionBudgets', () => {
  test('fails when a replicated workload has none', () => {
    expect(problemsAfter((f) => f.remove('PodDisruptionBudget', 'web'))).toEqual([
      `${WEB}: Deployment shop/web: (object): runs at least 2 replicas (ScaledObject "web" keeps at least 2) but no PodDisruptionBudget selects its pods: a node drain may evict them all at once; add one with maxUnavailable: 1`,
    ]);
  });

  test('passes without one for a single replica', () => {
    expect(
      problemsAfter((f) => {
        f.remove('PodDisruptionBudget', 'web');
        f.get('ScaledObject', 'web').spec.minReplicaCount = 1;
      }),
    ).toEqual([]);
  });

  test('fails when two select the same pods', () => {
    expect(problemsAfter((f) => f.add(`${EAST}/shop/poddisruptionbudget-web-again.yaml`, pdb('web-again', { 'app.kubernetes.io/name': 'web' })))).toEqual([
      `${WEB}: Deployment shop/web: (object): its pods are selected by 2 PodDisruptionBudgets ("web", "web-again"): the eviction API refuses to evict a pod covered by more than one; keep exactly one`,
    ]);
  });

  test.each([[3], ['100%'], ['67%']])('fails when minAvailable (%s) is not below the minimum replicas', (min) => {
    expect(
      problemsAfter((f) => {
        f.get('PodDisruptionBudget', 'cache').spec.minAvailable = min;
      }),
    ).toEqual([
      `${CACHE}: PodDisruptionBudget shop/cache: spec.minAvailable: ${min} is not below the 3 minimum replicas of StatefulSet "cache": no pod could ever be evicted, and node drains would hang`,
    ]);
  });

  test('passes with minAvailable 66%, which leaves one of three pods free', () => {
    expect(
      problemsAfter((f) => {
        f.get('PodDisruptionBudget', 'cache').spec.minAvailable = '66%';
      }),
    ).toEqual([]);
  });

  test('fails when maxUnavailable is 0', () => {
    expect(
      problemsAfter((f) => {
        f.get('PodDisruptionBudget', 'web').spec.maxUnavailable = 0;
      }),
    ).toEqual([
      `${WEB}: PodDisruptionBudget shop/web: spec.maxUnavailable: 0 lets no pod of Deployment "web" go: no pod could ever be evicted, and node drains would hang`,
    ]);
  });

  test('fails when one selects no pods', () => {
    expect(problemsAfter((f) => f.add(`${EAST}/shop/poddisruptionbudget-orphan.yaml`, pdb('orphan', { app: 'orphan' })))).toEqual([
      `${EAST}/shop/poddisruptionbudget-orphan.yaml: PodDisruptionBudget shop/orphan: spec.selector: app=orphan selects no pods in namespace shop`,
    ]);
  });
});

describe('zone spread and host anti-affinity of replicated workloads', () => {
  test('fails when a workload that may run several replicas has no zone spread', () => {
    expect(
      problemsAfter((f) => {
        delete f.get('Deployment', 'web').spec.template.spec.topologySpreadConstraints;
      }),
    ).toEqual([
      `${WEB}: Deployment shop/web: spec.template.spec.topologySpreadConstraints: needs a constraint on topology.kubernetes.io/zone: the replicas could all land in one zone and go down with it`,
    ]);
  });

  test('fails when the zone spread selects other pods', () => {
    expect(
      problemsAfter((f) => {
        f.get('StatefulSet', 'cache').spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels = { app: 'other' };
      }),
    ).toEqual([
      `${CACHE}: StatefulSet shop/cache: spec.template.spec.topologySpreadConstraints: the topology.kubernetes.io/zone constraint's labelSelector does not select this workload's pods: it spreads nothing`,
    ]);
  });

  test('fails when there is no host anti-affinity', () => {
    expect(
      problemsAfter((f) => {
        delete f.get('StatefulSet', 'cache').spec.template.spec.affinity;
      }),
    ).toEqual([
      `${CACHE}: StatefulSet shop/cache: spec.template.spec.affinity.podAntiAffinity: needs a term on kubernetes.io/hostname selecting this workload's pods: the replicas could share a node and go down with it`,
    ]);
  });

  test('passes without either for a single replica', () => {
    expect(
      problemsAfter((f) => {
        const sts = f.get('StatefulSet', 'cache');
        sts.spec.replicas = 1;
        delete sts.spec.template.spec.affinity;
        delete sts.spec.template.spec.topologySpreadConstraints;
        f.remove('PodDisruptionBudget', 'cache');
      }),
    ).toEqual([]);
  });
});
