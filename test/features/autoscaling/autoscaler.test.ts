import { Chart, Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-28';
import { Autoscaler, AutoscalerProps, Microservice } from '../../../features';
import type { IScalable } from '../../../kernel/scaling';
import { manifests, only, testChart } from '../../helpers';

const GMP = 'https://monitoring.googleapis.com/v1/projects/p-project/location/global/prometheus';

/** A workload as the Autoscaler sees it: the Deployment jobs/worker, one container requesting cpu and memory. */
function worker(): IScalable & { marked?: number } {
  const target: IScalable & { marked?: number } = {
    toScalingTarget: () => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'worker',
      namespace: 'jobs',
      containers: [{ name: 'worker', requests: { cpu: '100m', memory: '128Mi' }, limits: {} }],
    }),
    markHasAutoscaler: (min: number) => {
      target.marked = min;
    },
  };
  return target;
}

const base: Omit<AutoscalerProps, 'target'> = {
  minReplicas: 1,
  maxReplicas: 10,
  project: 'p-project',
};

function render(props: Partial<AutoscalerProps> = {}, chart: Chart = testChart()) {
  new Autoscaler(chart, 'worker-Autoscaler', { target: worker(), ...base, ...props });
  return chart;
}

const triggers = (chart: Chart) => only(chart, 'ScaledObject').spec.triggers;

describe('Autoscaler', () => {
  test('default output', () => {
    expect(manifests(render({ cpuUtilization: 70 }))).toMatchSnapshot();
  });

  test('defaults: poll every 30 s, cool down 5 min, scale the Deployment named target', () => {
    const spec = only(render({ cpuUtilization: 70 }), 'ScaledObject').spec;
    expect(spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker' },
      minReplicaCount: 1,
      maxReplicaCount: 10,
      pollingInterval: 30,
      cooldownPeriod: 300,
      triggers: [{ type: 'cpu', name: 'cpu', metricType: 'Utilization', metadata: { value: '70' } }],
    });
  });

  test('a cpu or memory trigger needs no authentication', () => {
    const chart = render({
      triggers: [
        { type: 'cpu', averageValue: Cpu.millis(400) },
        { type: 'memory', utilization: 80 },
      ],
    });
    expect(manifests(chart).map((m) => m.kind)).toEqual(['ScaledObject']);
    expect(triggers(chart)).toEqual([
      { type: 'cpu', name: 'cpu', metricType: 'AverageValue', metadata: { value: '400m' } },
      { type: 'memory', name: 'memory', metricType: 'Utilization', metadata: { value: '80' } },
    ]);
  });

  test('a memory trigger on an average value writes a Kubernetes quantity', () => {
    expect(triggers(render({ triggers: [{ type: 'memory', averageValue: Size.mebibytes(384) }] }))).toEqual([
      { type: 'memory', name: 'memory', metricType: 'AverageValue', metadata: { value: '384Mi' } },
    ]);
  });

  test('a prometheus trigger reads Managed Prometheus with the GCP pod identity and nothing else', () => {
    const chart = render({ triggers: [{ type: 'prometheus', name: 'lag', query: 'max(consumer_lag_seconds)', threshold: 30, activationThreshold: 5 }] });
    const auth = only(chart, 'TriggerAuthentication');
    expect(auth.metadata).toMatchObject({ name: 'worker-gcp', namespace: 'jobs' });
    expect(auth.spec).toEqual({ podIdentity: { provider: 'gcp' } });
    expect(triggers(chart)).toEqual([
      {
        type: 'prometheus',
        name: 'lag',
        metricType: 'AverageValue',
        metadata: { serverAddress: GMP, query: 'max(consumer_lag_seconds)', threshold: '30', activationThreshold: '5' },
        authenticationRef: { name: 'worker-gcp' },
      },
    ]);
  });

  test('a prometheus trigger may hold a total (metricType Value)', () => {
    expect(triggers(render({ triggers: [{ type: 'prometheus', name: 'lag', query: 'max(lag)', threshold: 30, metricType: 'Value' }] }))[0].metricType).toBe(
      'Value',
    );
  });

  test('a Pub/Sub trigger holds the backlog per replica, through PromQL over the Cloud Monitoring metric', () => {
    const chart = render({ minReplicas: 0, triggers: [{ type: 'pubsub', subscription: 'raw-observations', messagesPerReplica: 500 }] });
    expect(only(chart, 'TriggerAuthentication').spec).toEqual({ podIdentity: { provider: 'gcp' } });
    expect(triggers(chart)).toEqual([
      {
        type: 'prometheus',
        name: 'pubsub-backlog',
        metricType: 'AverageValue',
        metadata: {
          serverAddress: GMP,
          query: 'sum(pubsub_googleapis_com:subscription_num_undelivered_messages{project_id="p-project",subscription_id="raw-observations"})',
          threshold: '500',
          activationThreshold: '0',
        },
        authenticationRef: { name: 'worker-gcp' },
      },
    ]);
  });

  test('a Pub/Sub subscription of another project is read from that project', () => {
    const t = triggers(render({ triggers: [{ type: 'pubsub', subscription: 'feed', project: 'other-project', messagesPerReplica: 10 }] }))[0];
    expect(t.metadata.serverAddress).toBe('https://monitoring.googleapis.com/v1/projects/other-project/location/global/prometheus');
    expect(t.metadata.query).toBe('sum(pubsub_googleapis_com:subscription_num_undelivered_messages{project_id="other-project",subscription_id="feed"})');
  });

  test('a Cloud Tasks trigger scales to zero on the queue depth, woken by the first task', () => {
    const chart = render({ minReplicas: 0, triggers: [{ type: 'cloud-tasks', queue: 'test-execution', location: 'us-central1', tasksPerReplica: 5 }] });
    expect(only(chart, 'ScaledObject').spec.minReplicaCount).toBe(0);
    expect(triggers(chart)).toEqual([
      {
        type: 'prometheus',
        name: 'cloud-tasks-depth',
        metricType: 'AverageValue',
        metadata: {
          serverAddress: GMP,
          query: 'sum(cloudtasks_googleapis_com:queue_depth{project_id="p-project",location="us-central1",queue_id="test-execution"})',
          threshold: '5',
          activationThreshold: '0',
        },
        authenticationRef: { name: 'worker-gcp' },
      },
    ]);
  });

  test('a cron trigger holds replicas in a window, with no authentication', () => {
    const chart = render({ triggers: [{ type: 'cron', timezone: 'Europe/Paris', start: '0 8 * * 1-5', end: '0 19 * * 1-5', desiredReplicas: 4 }] });
    expect(manifests(chart).map((m) => m.kind)).toEqual(['ScaledObject']);
    expect(triggers(chart)).toEqual([
      {
        type: 'cron',
        name: 'cron',
        metricType: 'AverageValue',
        metadata: { timezone: 'Europe/Paris', start: '0 8 * * 1-5', end: '0 19 * * 1-5', desiredReplicas: '4' },
      },
    ]);
  });

  test('the shorthands come first: cpuUtilization, then prometheus, then triggers', () => {
    const chart = render({
      cpuUtilization: 70,
      prometheus: [{ name: 'requests-per-second', query: 'sum(rate(x[2m]))', target: 1000 }],
      triggers: [{ type: 'memory', utilization: 80 }],
    });
    expect(triggers(chart).map((t: any) => t.name)).toEqual(['cpu', 'requests-per-second', 'memory']);
  });

  test("ignoreNullValues: KEDA's default (true, omitted) unless a fallback or the trigger says otherwise", () => {
    const q = { name: 'rps', query: 'sum(rate(x[2m])) or 0 * sum(up)', target: 10 };
    const meta = (chart: Chart) => triggers(chart).map((t: any) => t.metadata.ignoreNullValues);
    expect(meta(render({ prometheus: [q] }))).toEqual([undefined]);
    expect(meta(render({ prometheus: [{ ...q, ignoreNullValues: false }] }))).toEqual(['false']);
    expect(meta(render({ prometheus: [q], fallback: { replicas: 2 } }))).toEqual(['false']);
    expect(meta(render({ triggers: [{ type: 'prometheus', name: 'p', query: 'x', threshold: 1, ignoreNullValues: false }] }))).toEqual(['false']);
  });

  test('polling interval, cooldown and the HPA behavior', () => {
    const spec = only(
      render({
        cpuUtilization: 70,
        pollingInterval: Duration.seconds(15),
        cooldown: Duration.minutes(10),
        scaleDown: { stabilization: Duration.minutes(10), policies: [{ type: 'Percent', value: 50, period: Duration.minutes(1) }] },
        scaleUp: { stabilization: Duration.seconds(0), select: 'Max', policies: [{ type: 'Pods', value: 4, period: Duration.seconds(15) }] },
      }),
      'ScaledObject',
    ).spec;
    expect(spec).toMatchObject({ pollingInterval: 15, cooldownPeriod: 600 });
    expect(spec.advanced).toEqual({
      horizontalPodAutoscalerConfig: {
        behavior: {
          scaleDown: { stabilizationWindowSeconds: 600, policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] },
          scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
        },
      },
    });
  });

  test('fallback replicas, with the failure threshold defaulting to 3', () => {
    const spec = only(
      render({ triggers: [{ type: 'pubsub', subscription: 'feed', messagesPerReplica: 100 }], fallback: { replicas: 4 } }),
      'ScaledObject',
    ).spec;
    expect(spec.fallback).toEqual({ failureThreshold: 3, replicas: 4, behavior: 'static' });
  });

  test('fails when name is longer than 54 characters', () => {
    const name = 'w'.repeat(55);
    expect(() => render({ name, cpuUtilization: 70 })).toThrow(
      `Autoscaler 'worker-Autoscaler': name: is 55 characters; at most 54 are allowed: KEDA names the HPA keda-hpa-<name>, a 63-character label (got "${name}")`,
    );
  });

  test('fails when minReplicas is above maxReplicas', () => {
    expect(() => render({ minReplicas: 11, cpuUtilization: 70 })).toThrow("Autoscaler 'worker-Autoscaler': minReplicas: (11) must be <= maxReplicaCount (10)");
  });

  test('fails when there is no trigger', () => {
    expect(() => render()).toThrow("Autoscaler 'worker-Autoscaler': triggers: needs at least one trigger");
  });

  test('fails when two triggers have the same name', () => {
    expect(() => render({ cpuUtilization: 70, triggers: [{ type: 'cpu', averageValue: Cpu.millis(300) }] })).toThrow(
      'Autoscaler \'worker-Autoscaler\': triggers[0].name: trigger "cpu" (cpu): "cpu" is also the name of spec.triggers[0]: trigger names must be unique',
    );
  });

  test('fails when every trigger is cpu or memory and minReplicas is 0', () => {
    expect(() => render({ minReplicas: 0, cpuUtilization: 70, triggers: [{ type: 'memory', utilization: 80 }] })).toThrow(
      "Autoscaler 'worker-Autoscaler': minReplicas: is 0 but every trigger is cpu or memory: KEDA cannot scale to zero on them (set it to 1 or more, or add an event trigger)",
    );
  });

  test('fails when fallback is set with a cpu trigger', () => {
    expect(() => render({ cpuUtilization: 70, fallback: { replicas: 2 } })).toThrow(
      "Autoscaler 'worker-Autoscaler': fallback: is not supported with trigger \"cpu\" (cpu): KEDA's fallback works only with external triggers of metricType AverageValue, never cpu or memory",
    );
  });

  test('fails when fallback is set with a Value trigger', () => {
    expect(() =>
      render({ triggers: [{ type: 'prometheus', name: 'lag', query: 'max(lag)', threshold: 3, metricType: 'Value' }], fallback: { replicas: 2 } }),
    ).toThrow(
      "Autoscaler 'worker-Autoscaler': fallback: is not supported with trigger \"lag\" (prometheus): its metricType is Value, and KEDA's fallback needs AverageValue set on every trigger",
    );
  });

  test('fails when a PromQL query does not parse', () => {
    expect(() => render({ triggers: [{ type: 'prometheus', name: 'lag', query: 'max(lag', threshold: 3 }] })).toThrow(
      'Autoscaler \'worker-Autoscaler\': triggers[0].query: trigger "lag" (prometheus): syntax error at column 8: unexpected end of query',
    );
  });

  test('fails when a cron trigger has a bad time zone or schedule', () => {
    expect(() => render({ triggers: [{ type: 'cron', timezone: 'Mars/Olympus', start: '0 8 * * *', end: '@daily', desiredReplicas: 2 }] })).toThrow(
      'Autoscaler \'worker-Autoscaler\': triggers[0].timezone: trigger "cron" (cron): must be an IANA time zone name such as Europe/Paris, America/New_York or UTC',
    );
  });

  test('fails when a cpu or memory trigger has both or neither of utilization and averageValue', () => {
    expect(() => render({ triggers: [{ type: 'memory' }] })).toThrow(
      'Autoscaler \'worker-Autoscaler\': triggers[0]: trigger "memory" (memory) needs exactly one of utilization or averageValue',
    );
  });

  test('fails when a Managed Prometheus trigger has no project to query', () => {
    expect(() => render({ project: undefined, triggers: [{ type: 'cloud-tasks', queue: 'q', location: 'us-central1', tasksPerReplica: 1 }] })).toThrow(
      "Autoscaler 'worker-Autoscaler': project is required with prometheus, pubsub or cloud-tasks triggers that name no project",
    );
  });
});

describe('Autoscaler on a workload: rules across objects', () => {
  function workload(chart: Chart, props: { cpu?: number } = {}) {
    return new Microservice(chart, 'worker', {
      name: 'worker',
      namespace: 'jobs',
      image: 'us-docker.pkg.dev/p/r/worker:1.0.0',
      gcpServiceAccount: 'worker@p.iam.gserviceaccount.com',
      resources: props.cpu !== undefined ? { cpu: Cpu.millis(props.cpu) } : undefined,
    });
  }

  test('the target is passed by reference: the ScaledObject goes in its namespace and the workload leaves replicas to it', () => {
    const chart = testChart();
    const target = workload(chart);
    new Autoscaler(chart, 'worker-Autoscaler', { ...base, target, cpuUtilization: 70 });
    expect(only(chart, 'ScaledObject').metadata).toMatchObject({ name: 'worker', namespace: 'jobs' });
    expect(only(chart, 'ScaledObject').spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker' });
    expect(target.hasAutoscaler).toBe(true);
    expect(only(chart, 'Deployment').spec).not.toHaveProperty('replicas');
    // Its minimum (1) decides the disruption budget: none for a single pod.
    expect(manifests(chart).map((m) => m.kind)).not.toContain('PodDisruptionBudget');
  });

  test('fails when two ScaledObjects scale one workload', () => {
    const chart = testChart();
    const target = workload(chart);
    new Autoscaler(chart, 'worker-Autoscaler', { ...base, target, cpuUtilization: 70 });
    expect(
      () =>
        new Autoscaler(chart, 'second', { ...base, target, name: 'worker-queue', triggers: [{ type: 'pubsub', subscription: 'feed', messagesPerReplica: 5 }] }),
    ).toThrow("Autoscaler 'second': target: Deployment jobs/worker is already scaled by ScaledObject jobs/worker: KEDA admits one ScaledObject per workload");
  });

  test('fails when a cpu trigger scales a container that requests no cpu', () => {
    const chart = testChart();
    expect(() => new Autoscaler(chart, 'worker-Autoscaler', { ...base, target: workload(chart, { cpu: 0 }), cpuUtilization: 70 })).toThrow(
      'Autoscaler \'worker-Autoscaler\': cpuUtilization: trigger "cpu" (cpu): container "worker" of Deployment jobs/worker has no cpu request: KEDA refuses a cpu trigger without one',
    );
  });
});
