import { EAST, problemsAfter } from '../../checks/fixture';

const SO = `${EAST}/shop/web.yaml: ScaledObject shop/web`;
const scaledObject = (name: string, target = 'web') => ({
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: { name, namespace: 'shop' },
  spec: {
    scaleTargetRef: { name: target },
    minReplicaCount: 2,
    maxReplicaCount: 4,
    triggers: [{ type: 'cpu', metricType: 'Utilization', metadata: { value: '60' } }],
  },
});

describe('KEDA ScaledObjects (what the admission webhook checks)', () => {
  test('passes with a name of 54 characters', () => {
    const name = 'w'.repeat(54);
    expect(
      problemsAfter((f) => {
        f.get('ScaledObject', 'web').metadata.name = name;
      }),
    ).toEqual([]);
  });

  test('fails when the target does not exist in the namespace', () => {
    expect(
      problemsAfter((f) => {
        f.get('ScaledObject', 'web').spec.scaleTargetRef.name = 'webb';
      }),
    ).toEqual([`${SO}: spec.scaleTargetRef: Deployment shop/webb is not rendered in this cluster`]);
  });

  test('fails when a second ScaledObject scales the same workload', () => {
    expect(problemsAfter((f) => f.add(`${EAST}/shop/scaledobject-web-again.yaml`, scaledObject('web-again')))).toEqual([
      `${EAST}/shop/scaledobject-web-again.yaml: ScaledObject shop/web-again: spec.scaleTargetRef: Deployment shop/web is already scaled by ScaledObject shop/web: KEDA admits one ScaledObject per workload`,
    ]);
  });

  test('fails when a HorizontalPodAutoscaler already scales the workload', () => {
    expect(
      problemsAfter((f) =>
        f.add(`${EAST}/shop/horizontalpodautoscaler-web.yaml`, {
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          metadata: { name: 'web', namespace: 'shop' },
          spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 2, maxReplicas: 4 },
        }),
      ),
    ).toEqual([
      `${SO}: spec.scaleTargetRef: Deployment shop/web is also scaled by HorizontalPodAutoscaler shop/web: a workload is scaled by a ScaledObject or an HPA, never both`,
    ]);
  });

  test('fails when the scaled workload sets replicas', () => {
    expect(
      problemsAfter((f) => {
        f.get('Deployment', 'web').spec.replicas = 2;
      }),
    ).toEqual([
      `${EAST}/shop/web.yaml: Deployment shop/web: spec.replicas: is set while ScaledObject "web" scales this Deployment: every ArgoCD sync would reset the replica count KEDA chose; leave replicas out`,
    ]);
  });

  test('fails when a cpu trigger scales a container without a cpu request', () => {
    expect(
      problemsAfter((f) => {
        delete f.get('Deployment', 'web').spec.template.spec.containers[0].resources.requests.cpu;
      }),
    ).toEqual([
      `${EAST}/shop/web.yaml: Deployment shop/web: spec.template.spec.containers[0].resources.requests.cpu: must be set: without it the scheduler places the pod blind and cpu autoscaling has nothing to compute a share of`,
      `${SO}: spec.triggers[0]: trigger "cpu" (cpu): container "web" of Deployment shop/web has no cpu request: KEDA refuses a cpu trigger without one`,
    ]);
  });

  test('fails when only cpu/memory triggers are left with minReplicaCount 0 or unset', () => {
    const cpuOnly = (min: number | undefined) =>
      problemsAfter((f) => {
        const so = f.get('ScaledObject', 'web');
        so.spec.triggers = so.spec.triggers.slice(0, 1);
        if (min === undefined) delete so.spec.minReplicaCount;
        else so.spec.minReplicaCount = min;
      });
    expect(cpuOnly(0)).toEqual([
      `${SO}: spec.minReplicaCount: is 0 but every trigger is cpu or memory: KEDA cannot scale to zero on them (set it to 1 or more, or add an event trigger)`,
    ]);
    expect(cpuOnly(undefined)).toEqual([
      `${SO}: spec.minReplicaCount: is 0 but every trigger is cpu or memory: KEDA cannot scale to zero on them (set it to 1 or more, or add an event trigger)`,
    ]);
    expect(cpuOnly(2)).toEqual([]);
  });

  test('fails when the name is longer than 54 characters', () => {
    const name = 'w'.repeat(55);
    expect(
      problemsAfter((f) => {
        f.get('ScaledObject', 'web').metadata.name = name;
      }),
    ).toEqual([
      `${EAST}/shop/web.yaml: ScaledObject shop/${name}: metadata.name: is 55 characters; at most 54 are allowed: KEDA names the HPA keda-hpa-<name>, a 63-character label (got "${name}")`,
    ]);
  });

  test('fails when two triggers share a name', () => {
    expect(
      problemsAfter((f) => {
        f.get('ScaledObject', 'web').spec.triggers[1].name = 'cpu';
      }),
    ).toEqual([`${SO}: spec.triggers[1].name: trigger "cpu" (prometheus): "cpu" is also the name of spec.triggers[0]: trigger names must be unique`]);
  });

  test('fails when minReplicaCount is above maxReplicaCount', () => {
    expect(
      problemsAfter((f) => {
        f.get('ScaledObject', 'web').spec.minReplicaCount = 8;
      }),
    ).toEqual([`${SO}: spec.minReplicaCount: (8) must be <= maxReplicaCount (6)`]);
  });

  test('fails when a trigger authenticates with a TriggerAuthentication that does not exist', () => {
    expect(problemsAfter((f) => f.remove('TriggerAuthentication', 'web-gcp'))).toEqual([
      `${SO}: spec.triggers[1].authenticationRef.name: TriggerAuthentication "web-gcp" does not exist in namespace shop`,
    ]);
  });
});
