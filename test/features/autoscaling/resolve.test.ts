import { loadAll, loadEnvironments } from '../../../model';
import { render, RenderedFile } from '../../../synth/render';
import { validateObjects } from '../../../checks';
import { queues } from '../../fixtures/queues';
import { ROOT, tempDir } from '../../helpers';

const rendering = render(loadEnvironments({ file: 'platforms/queues.ts', input: queues }, tempDir()));

function object(path: string): Record<string, any> {
  const found = rendering.files.find((f) => f.path === path);
  if (!found) throw new Error(`${path} is not rendered (rendered: ${rendering.files.map((f) => f.path).join(', ')})`);
  return found.manifest;
}

const inFolder = (folder: string): RenderedFile[] => rendering.files.filter((f) => f.path.startsWith(`${folder}/`));

describe('autoscaling in the region charts', () => {
  test("every rendered object passes the strict schemas and KEDA's rules", () => {
    expect(validateObjects(rendering.files.map((f) => ({ file: `dist/${f.path}`, manifest: f.manifest })))).toEqual([]);
  });

  test('a queue worker is first-class: workload, identity and autoscaling, no Service, no route', () => {
    const worker = inFolder('queues/prod/us-central1')
      .filter((f) => f.manifest.metadata.name.startsWith('task-worker'))
      .map((f) => f.path);
    expect(worker).toEqual([
      'queues/prod/us-central1/jobs/configmap-task-worker-red-dashboard.yaml',
      'queues/prod/us-central1/jobs/deployment-task-worker.yaml',
      'queues/prod/us-central1/jobs/networkpolicy-task-worker.yaml',
      'queues/prod/us-central1/jobs/rules-task-worker.yaml',
      'queues/prod/us-central1/jobs/scaledobject-task-worker.yaml',
      'queues/prod/us-central1/jobs/serviceaccount-task-worker.yaml',
      // Its mesh egress is exactly what it calls (docs/flows.md).
      'queues/prod/us-central1/jobs/sidecar-task-worker.yaml',
      'queues/prod/us-central1/jobs/triggerauthentication-task-worker-gcp.yaml',
    ]);
  });

  test('autoscaled Deployments leave replicas to KEDA', () => {
    const deployments = rendering.files.filter((f) => f.manifest.kind === 'Deployment');
    expect(deployments).toHaveLength(12);
    for (const d of deployments) expect(d.manifest.spec).not.toHaveProperty('replicas');
  });

  test("the Cloud Tasks worker scales to zero on its queue in the cluster's own region, and is held up on weekday mornings", () => {
    for (const region of ['us-central1', 'europe-west1']) {
      const spec = object(`queues/prod/${region}/jobs/scaledobject-task-worker.yaml`).spec;
      expect(spec).toMatchObject({ minReplicaCount: 0, maxReplicaCount: 20, cooldownPeriod: 600 });
      expect(spec.triggers).toEqual([
        {
          type: 'prometheus',
          name: 'cloud-tasks-depth',
          metricType: 'AverageValue',
          metadata: {
            serverAddress: 'https://monitoring.googleapis.com/v1/projects/queues-project/location/global/prometheus',
            query: `sum(cloudtasks_googleapis_com:queue_depth{project_id="queues-project",location="${region}",queue_id="test-execution"})`,
            threshold: '5',
            activationThreshold: '0',
          },
          authenticationRef: { name: 'task-worker-gcp' },
        },
        {
          type: 'cron',
          name: 'cron',
          metricType: 'AverageValue',
          metadata: { timezone: 'America/New_York', start: '0 8 * * 1-5', end: '0 18 * * 1-5', desiredReplicas: '2' },
        },
      ]);
    }
    expect(object('queues/prod/us-central1/jobs/triggerauthentication-task-worker-gcp.yaml').spec).toEqual({ podIdentity: { provider: 'gcp' } });
  });

  test('the Pub/Sub consumer holds its backlog per replica, with a fallback', () => {
    const spec = object('queues/dev/us-central1/jobs/scaledobject-ingest.yaml').spec;
    expect(spec).toMatchObject({
      minReplicaCount: 1,
      maxReplicaCount: 30,
      pollingInterval: 15,
      fallback: { failureThreshold: 3, replicas: 6, behavior: 'static' },
    });
    expect(spec.triggers[0].metadata).toMatchObject({
      query: 'sum(pubsub_googleapis_com:subscription_num_undelivered_messages{project_id="queues-project",subscription_id="raw-observations-ingest"})',
      threshold: '500',
    });
  });

  test('the API scales on cpu and memory with a slower scale-down', () => {
    const spec = object('queues/prod/europe-west1/jobs/scaledobject-api.yaml').spec;
    expect(spec.triggers.map((t: any) => [t.type, t.metricType, t.metadata.value])).toEqual([
      ['cpu', 'Utilization', '70'],
      ['memory', 'AverageValue', '384Mi'],
    ]);
    expect(spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown).toEqual({
      stabilizationWindowSeconds: 600,
      policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
    });
    expect(object('queues/prod/europe-west1/jobs/deployment-api.yaml').spec.template.spec.containers[0].resources.requests).toMatchObject({
      cpu: '500m',
      memory: '512Mi',
    });
  });
});

describe('ArgoCD and autoscaled workloads', () => {
  test('each Application ignores replica drift on the autoscaled Deployments of its cluster and respects it when syncing', () => {
    for (const region of ['us-central1', 'europe-west1']) {
      const app = object(`queues/prod/argocd/argocd/application-queues-prod-${region}.yaml`);
      expect(app.spec.ignoreDifferences).toEqual(
        ['api', 'ingest', 'task-worker'].map((name) => ({
          group: 'apps',
          kind: 'Deployment',
          namespace: 'jobs',
          name,
          jsonPointers: ['/spec/replicas'],
        })),
      );
      expect(app.spec.syncPolicy.syncOptions).toContain('RespectIgnoreDifferences=true');
    }
  });

  test('an environment without autoscaling ignores nothing', () => {
    const input = structuredClone(queues);
    for (const svc of Object.values(input.services!)) {
      delete svc.autoscaling;
      svc.replicas = 2;
    }
    const files = render(loadEnvironments({ file: 'platforms/queues.ts', input }, tempDir())).files;
    const app = files.find((f) => f.path === 'queues/prod/argocd/argocd/application-queues-prod-us-central1.yaml')!.manifest as Record<string, any>;
    expect(app.spec).not.toHaveProperty('ignoreDifferences');
    expect(app.spec.syncPolicy.syncOptions).not.toContain('RespectIgnoreDifferences=true');
    expect(files.filter((f) => f.manifest.kind === 'Deployment').every((f) => (f.manifest as any).spec.replicas === 2)).toBe(true);
  });

  test('the AppProject allows the KEDA kinds', () => {
    const project = object('queues/prod/argocd/argocd/appproject-queues-prod.yaml');
    expect(project.spec.namespaceResourceWhitelist).toEqual(
      expect.arrayContaining([
        { group: 'keda.sh', kind: 'ScaledObject' },
        { group: 'keda.sh', kind: 'TriggerAuthentication' },
      ]),
    );
  });
});

describe('seed mapping: ggen', () => {
  const ggen = render(loadAll(ROOT, { platform: 'ggen' }));
  const so = (env: string, region: string) =>
    (ggen.files.find((f) => f.path === `ggen/${env}/${region}/marketplace/scaledobject-api.yaml`)!.manifest as Record<string, any>).spec;

  test('prod: cpu 70 % and 1000 requests/s per replica, 2 to 20 replicas (10 in europe-west1)', () => {
    const spec = so('prod', 'us-central1');
    expect(spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 20 });
    expect(spec.triggers[0]).toEqual({ type: 'cpu', name: 'cpu', metricType: 'Utilization', metadata: { value: '70' } });
    expect(spec.triggers[1]).toMatchObject({
      type: 'prometheus',
      name: 'requests-per-second',
      metricType: 'AverageValue',
      metadata: {
        query:
          'sum(rate(istio_requests_total{job="istio-proxies",namespace="marketplace",region="us-central1",reporter="destination",destination_workload_namespace="marketplace",destination_workload="api"}[2m])) or 0 * sum(up{job="istio-proxies",namespace="marketplace",region="us-central1",app="api"})',
        threshold: '1000',
        ignoreNullValues: 'false',
      },
      authenticationRef: { name: 'api-gcp' },
    });
    expect(so('prod', 'europe-west1').maxReplicaCount).toBe(10);
  });

  test('the replication worker keeps its fixed replicas', () => {
    const worker = ggen.files.find((f) => f.path === 'ggen/prod/us-central1/marketplace/deployment-replication-worker.yaml')!.manifest as Record<string, any>;
    expect(worker.spec.replicas).toBe(2);
    expect(ggen.files.some((f) => f.path.endsWith('scaledobject-replication-worker.yaml'))).toBe(false);
  });
});
