import { loadEnvironments } from '../../../model';
import { render } from '../../../synth/render';
import { formatProblem, ObjectFile, validateObjects } from '../../../checks';
import { queues } from '../../fixtures/queues';
import { tempDir } from '../../helpers';

const CLUSTER = 'dist/queues/prod/us-central1';
const rendered: ObjectFile[] = render(loadEnvironments({ file: 'platforms/queues.ts', input: queues }, tempDir()))
  .files.filter((f) => f.path.startsWith('queues/prod/us-central1/'))
  .map((f) => ({ file: `dist/${f.path}`, manifest: f.manifest }));

/** The cluster's objects with `edit` applied to a copy; the problems `meridian validate` prints. */
function problems(edit: (objects: ObjectFile[]) => void): string[] {
  const objects = structuredClone(rendered);
  edit(objects);
  return validateObjects(objects).map(formatProblem);
}

function manifest(objects: ObjectFile[], name: string): Record<string, any> {
  return objects.find((o) => o.file === `${CLUSTER}/jobs/${name}.yaml`)!.manifest;
}

describe('meridian validate: KEDA rules on rendered objects', () => {
  test('the rendered cluster is clean', () => {
    expect(problems(() => {})).toEqual([]);
  });

  test('fails when a hand-edited query does not parse', () => {
    expect(
      problems((o) => {
        manifest(o, 'scaledobject-ingest').spec.triggers[0].metadata.query = 'sum(x';
      }),
    ).toEqual([
      `${CLUSTER}/jobs/scaledobject-ingest.yaml: ScaledObject jobs/ingest: spec.triggers[0].metadata.query: trigger "pubsub-backlog" (prometheus): syntax error at column 6: unexpected end of query`,
    ]);
  });

  test('fails when a second ScaledObject scales the same Deployment', () => {
    expect(
      problems((o) => {
        const copy = structuredClone(manifest(o, 'scaledobject-ingest'));
        copy.metadata.name = 'ingest-2';
        o.push({ file: `${CLUSTER}/jobs/scaledobject-ingest-2.yaml`, manifest: copy });
      }),
    ).toEqual([
      `${CLUSTER}/jobs/scaledobject-ingest-2.yaml: ScaledObject jobs/ingest-2: spec.scaleTargetRef: Deployment jobs/ingest is already scaled by ScaledObject jobs/ingest: KEDA admits one ScaledObject per workload`,
    ]);
  });

  test("fails when an HPA also scales an autoscaled Deployment, unless it opts out of KEDA's ownership check", () => {
    const hpa = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'api', namespace: 'jobs' } as Record<string, unknown>,
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }, minReplicas: 2, maxReplicas: 4 },
    };
    expect(
      problems((o) => {
        o.push({ file: `${CLUSTER}/jobs/horizontalpodautoscaler-api.yaml`, manifest: hpa });
      }),
    ).toEqual([
      `${CLUSTER}/jobs/scaledobject-api.yaml: ScaledObject jobs/api: spec.scaleTargetRef: Deployment jobs/api is also scaled by HorizontalPodAutoscaler jobs/api: a workload is scaled by a ScaledObject or an HPA, never both`,
    ]);
    const optedOut = { ...hpa, metadata: { ...hpa.metadata, annotations: { 'validations.keda.sh/hpa-ownership': 'false' } } };
    expect(
      problems((o) => {
        o.push({ file: `${CLUSTER}/jobs/horizontalpodautoscaler-api.yaml`, manifest: optedOut });
      }),
    ).toEqual([]);
  });

  test('fails when the container of a cpu-scaled Deployment loses its cpu request', () => {
    // The pod-security baseline reports the missing request on the Deployment too.
    expect(
      problems((o) => {
        delete manifest(o, 'deployment-api').spec.template.spec.containers[0].resources.requests.cpu;
      }),
    ).toEqual([
      `${CLUSTER}/jobs/deployment-api.yaml: Deployment jobs/api: spec.template.spec.containers[0].resources.requests.cpu: must be set: without it the scheduler places the pod blind and cpu autoscaling has nothing to compute a share of`,
      `${CLUSTER}/jobs/scaledobject-api.yaml: ScaledObject jobs/api: spec.triggers[0]: trigger "cpu" (cpu): container "api" of Deployment jobs/api has no cpu request: KEDA refuses a cpu trigger without one`,
    ]);
  });

  test('fails when the scaled Deployment is not in the cluster', () => {
    // The workload's NetworkPolicy then protects nothing, which the policy checks report too.
    expect(
      problems((o) => {
        o.splice(
          o.findIndex((x) => x.file.endsWith('deployment-ingest.yaml')),
          1,
        );
      }),
    ).toEqual([
      `${CLUSTER}/jobs/networkpolicy-ingest.yaml: NetworkPolicy jobs/ingest: spec.podSelector: app.kubernetes.io/name=ingest selects no pods in namespace jobs: the policy protects nothing`,
      `${CLUSTER}/jobs/scaledobject-ingest.yaml: ScaledObject jobs/ingest: spec.scaleTargetRef: Deployment jobs/ingest is not rendered in this cluster`,
    ]);
  });

  test('fails when min is 0 on cpu and memory alone, and when fallback meets a cpu trigger', () => {
    expect(
      problems((o) => {
        const spec = manifest(o, 'scaledobject-api').spec;
        spec.minReplicaCount = 0;
        spec.fallback = { failureThreshold: 3, replicas: 2 };
      }),
    ).toEqual([
      `${CLUSTER}/jobs/scaledobject-api.yaml: ScaledObject jobs/api: spec.minReplicaCount: is 0 but every trigger is cpu or memory: KEDA cannot scale to zero on them (set it to 1 or more, or add an event trigger)`,
      `${CLUSTER}/jobs/scaledobject-api.yaml: ScaledObject jobs/api: spec.fallback: is not supported with trigger "cpu" (cpu): KEDA's fallback works only with external triggers of metricType AverageValue, never cpu or memory`,
      `${CLUSTER}/jobs/scaledobject-api.yaml: ScaledObject jobs/api: spec.fallback: is not supported with trigger "memory" (memory): KEDA's fallback works only with external triggers of metricType AverageValue, never cpu or memory`,
    ]);
  });

  test('fails when a name is too long for the HPA KEDA derives from it, or trigger names repeat', () => {
    const long = 'x'.repeat(55);
    expect(
      problems((o) => {
        const so = manifest(o, 'scaledobject-task-worker');
        so.metadata.name = long;
        so.spec.triggers[1].name = 'cloud-tasks-depth';
      }),
    ).toEqual([
      `${CLUSTER}/jobs/scaledobject-task-worker.yaml: ScaledObject jobs/${long}: metadata.name: is 55 characters; at most 54 are allowed: KEDA names the HPA keda-hpa-<name>, a 63-character label (got "${long}")`,
      `${CLUSTER}/jobs/scaledobject-task-worker.yaml: ScaledObject jobs/${long}: spec.triggers[1].name: trigger "cloud-tasks-depth" (cron): "cloud-tasks-depth" is also the name of spec.triggers[0]: trigger names must be unique`,
    ]);
  });
});
