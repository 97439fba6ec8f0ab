import { Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  ScaledObject,
  ScaledObjectSpecAdvanced,
  ScaledObjectSpecFallback,
  ScaledObjectSpecFallbackBehavior,
  ScaledObjectSpecTriggers,
  TriggerAuthentication,
  TriggerAuthenticationSpecPodIdentityProvider,
} from '../../imports/keda.sh';
import { kedaClusterProblems, MAX_SCALED_OBJECT_NAME, scaledObjectProblems } from './keda-checks';
import type { IScalable, ScalingTarget } from '../../kernel/scaling';
import { PropError } from '../../kernel/prop-error';
import type { FieldProblem } from '../../kernel/problems';
import { formatSize } from '../../kernel/units';

export { MAX_SCALED_OBJECT_NAME };

/** A Prometheus query whose value, divided by the replica count, is held near `target`. */
export interface PrometheusTrigger {
  /** Trigger name, unique within the ScaledObject. */
  readonly name: string;
  /** PromQL returning one series. */
  readonly query: string;
  /** Value per replica to hold. */
  readonly target: number;
  /**
   * Whether an empty result counts as 0 (KEDA's `ignoreNullValues`); false makes it an error
   * KEDA reports (and the fallback engages), for a query that returns 0, not nothing, when idle.
   * @default - true, or false when the Autoscaler has a fallback
   */
  readonly ignoreNullValues?: boolean;
}

/** Scale on the CPU the pods use: exactly one of `utilization` or `averageValue`. */
export interface CpuScaling {
  readonly type: 'cpu';
  /** @default 'cpu' */
  readonly name?: string;
  /** Average use in percent of the container's CPU request. @default - averageValue */
  readonly utilization?: number;
  /** Average use per pod. @default - utilization */
  readonly averageValue?: Cpu;
}

/** Scale on the memory the pods use: exactly one of `utilization` or `averageValue`. */
export interface MemoryScaling {
  readonly type: 'memory';
  /** @default 'memory' */
  readonly name?: string;
  /** Average use in percent of the container's memory request. @default - averageValue */
  readonly utilization?: number;
  /** Average use per pod. @default - utilization */
  readonly averageValue?: Size;
}

/** Scale on any PromQL query against GKE Managed Service for Prometheus. */
export interface PrometheusScaling {
  readonly type: 'prometheus';
  readonly name: string;
  /** PromQL returning one value. */
  readonly query: string;
  /** Per replica with AverageValue, in total with Value. */
  readonly threshold: number;
  /** Scaled up from zero when the value is above this. @default 0 */
  readonly activationThreshold?: number;
  /** @default 'AverageValue' */
  readonly metricType?: 'AverageValue' | 'Value';
  /** Project whose Managed Prometheus is queried. @default - the Autoscaler's `project` */
  readonly project?: string;
  /** Whether an empty result counts as 0 (see PrometheusTrigger). @default - true, or false when the Autoscaler has a fallback */
  readonly ignoreNullValues?: boolean;
}

/** Hold `desiredReplicas` (at least) between two cron schedules. */
export interface CronScaling {
  readonly type: 'cron';
  /** @default 'cron' */
  readonly name?: string;
  /** IANA time zone, e.g. Europe/Paris. */
  readonly timezone: string;
  /** Five-field schedule opening the window. */
  readonly start: string;
  /** Five-field schedule closing the window. */
  readonly end: string;
  readonly desiredReplicas: number;
}

/** Scale on the undelivered messages of a Pub/Sub subscription (Cloud Monitoring, read through PromQL). */
export interface PubSubBacklogScaling {
  readonly type: 'pubsub';
  /** @default 'pubsub-backlog' */
  readonly name?: string;
  /** Subscription id. */
  readonly subscription: string;
  /** Project of the subscription, also the one queried. @default - the Autoscaler's `project` */
  readonly project?: string;
  /** Undelivered messages per replica to hold. */
  readonly messagesPerReplica: number;
  /** @default 0 */
  readonly activationThreshold?: number;
}

/** Scale on the depth of a Cloud Tasks queue (Cloud Monitoring, read through PromQL). */
export interface CloudTasksDepthScaling {
  readonly type: 'cloud-tasks';
  /** @default 'cloud-tasks-depth' */
  readonly name?: string;
  /** Queue id. */
  readonly queue: string;
  /** Location (region) of the queue. */
  readonly location: string;
  /** Project of the queue, also the one queried. @default - the Autoscaler's `project` */
  readonly project?: string;
  /** Tasks in the queue per replica to hold. */
  readonly tasksPerReplica: number;
  /** @default 0 */
  readonly activationThreshold?: number;
}

export type AutoscalerTrigger = CpuScaling | MemoryScaling | PrometheusScaling | CronScaling | PubSubBacklogScaling | CloudTasksDepthScaling;

export interface ScalingPolicy {
  /** `Pods`: at most `value` pods per period; `Percent`: at most `value` % of the current replicas. */
  readonly type: 'Pods' | 'Percent';
  readonly value: number;
  /** The window the policy holds over, 1 s to 30 min. */
  readonly period: Duration;
}

/** One direction of the HPA behavior. */
export interface ScalingRules {
  /** Past recommendations considered before changing the replica count. @default - the HPA's: 5 min down, none up */
  readonly stabilization?: Duration;
  /** @default - the HPA's */
  readonly policies?: ScalingPolicy[];
  /** Which policy wins; `Disabled` forbids scaling in this direction. @default - Max */
  readonly select?: 'Max' | 'Min' | 'Disabled';
}

/** Replicas held once every trigger's source has failed `failureThreshold` times in a row. */
export interface AutoscalerFallback {
  readonly replicas: number;
  /** @default 3 */
  readonly failureThreshold?: number;
  /** @default 'static' */
  readonly behavior?: 'static' | 'currentReplicas' | 'currentReplicasIfHigher' | 'currentReplicasIfLower';
}

export interface AutoscalerProps {
  /** The workload scaled; the ScaledObject goes in its namespace, and the workload leaves its replica count to it. */
  readonly target: IScalable;
  /** Name of the ScaledObject (at most 54 characters: KEDA derives the HPA name from it). @default - the target's name */
  readonly name?: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Shorthand for a cpu trigger named `cpu` at this utilisation (percent of the request). @default - no such trigger */
  readonly cpuUtilization?: number;
  /** Shorthand for AverageValue Prometheus triggers. @default [] */
  readonly prometheus?: PrometheusTrigger[];
  /** Triggers, after the shorthands. @default [] */
  readonly triggers?: AutoscalerTrigger[];
  /** GCP project whose Managed Prometheus is queried; required with Prometheus-backed triggers that name none. @default - none */
  readonly project?: string;
  /** How often KEDA polls. @default Duration.seconds(30) */
  readonly pollingInterval?: Duration;
  /** Wait after the last active trigger before scaling to zero. @default Duration.minutes(5) */
  readonly cooldown?: Duration;
  /** HPA behavior when adding replicas. @default - the HPA's */
  readonly scaleUp?: ScalingRules;
  /** HPA behavior when removing replicas. @default - the HPA's */
  readonly scaleDown?: ScalingRules;
  /** @default - no fallback */
  readonly fallback?: AutoscalerFallback;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/** The query endpoint of a project's Managed Service for Prometheus (also serves Cloud Monitoring metrics). */
export function managedPrometheusAddress(project: string): string {
  return `https://monitoring.googleapis.com/v1/projects/${project}/location/global/prometheus`;
}

/** A PromQL string literal. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/**
 * Cloud Monitoring metrics in PromQL: the first `/` becomes `:`, every other `/` and `.` a `_`;
 * `pubsub.googleapis.com/subscription/num_undelivered_messages` on the `pubsub_subscription`
 * resource, labelled by `project_id` and `subscription_id`.
 */
export function pubsubBacklogQuery(project: string, subscription: string): string {
  return `sum(pubsub_googleapis_com:subscription_num_undelivered_messages{project_id=${quote(project)},subscription_id=${quote(subscription)}})`;
}

/** `cloudtasks.googleapis.com/queue/depth` on the `cloud_tasks_queue` resource. */
export function cloudTasksDepthQuery(project: string, location: string, queue: string): string {
  return `sum(cloudtasks_googleapis_com:queue_depth{project_id=${quote(project)},location=${quote(location)},queue_id=${quote(queue)}})`;
}

const num = (n: number) => String(n);
/** The ScaledObjects already made for each workload, so that a second one is refused as KEDA would. */
const scaledObjectsOf = new WeakMap<IScalable, object[]>();

/**
 * A KEDA ScaledObject on a Deployment. Prometheus-backed triggers (prometheus, pubsub,
 * cloud-tasks) read GKE Managed Service for Prometheus with the KEDA operator's Google
 * identity (a TriggerAuthentication with `podIdentity: gcp`), never a key. The object is
 * checked as KEDA's admission webhook would when built, with the workload it scales (one
 * ScaledObject per workload, cpu/memory requests); an HPA beside it is found by the checks of
 * the rendered cluster, which see every object.
 */
export class Autoscaler extends Construct {
  public readonly scaledObject: ScaledObject;
  public readonly triggerAuthentication?: TriggerAuthentication;
  public readonly minReplicas: number;
  public readonly maxReplicas: number;
  public readonly pollingInterval: Duration;
  public readonly cooldown: Duration;

  constructor(scope: Construct, id: string, props: AutoscalerProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`Autoscaler '${id}': ${msg}`);
    };
    this.minReplicas = props.minReplicas;
    this.maxReplicas = props.maxReplicas;
    this.pollingInterval = props.pollingInterval ?? Duration.seconds(30);
    this.cooldown = props.cooldown ?? Duration.minutes(5);

    // The name limit and min <= max are KEDA's: scaledObjectProblems checks them on the object below.
    // The shorthands expand here and nowhere else; `sources[i]` is the prop trigger i came from.
    const triggers: AutoscalerTrigger[] = [
      ...(props.cpuUtilization !== undefined ? [{ type: 'cpu', name: 'cpu', utilization: props.cpuUtilization } as CpuScaling] : []),
      ...(props.prometheus ?? []).map((t): PrometheusScaling => ({
        type: 'prometheus',
        name: t.name,
        query: t.query,
        threshold: t.target,
        ignoreNullValues: t.ignoreNullValues,
      })),
      ...(props.triggers ?? []),
    ];
    const sources = [
      ...(props.cpuUtilization !== undefined ? ['cpuUtilization'] : []),
      ...(props.prometheus ?? []).map((_, i) => `prometheus[${i}]`),
      ...(props.triggers ?? []).map((_, i) => `triggers[${i}]`),
    ];
    /** KEDA's rules are checked on the rendered object; a problem is reported against the prop that made the field. */
    const refuse = (p: FieldProblem): never => {
      throw new PropError('Autoscaler', id, propOf(p.path, sources), undefined, p.message);
    };
    const needsGmp = triggers.some((t) => (t.type === 'prometheus' || t.type === 'pubsub' || t.type === 'cloud-tasks') && !t.project);
    if (needsGmp && !props.project) fail('project is required with prometheus, pubsub or cloud-tasks triggers that name no project');
    triggers.forEach((t, i) => {
      if ((t.type === 'cpu' || t.type === 'memory') && (t.utilization === undefined) === (t.averageValue === undefined)) {
        throw new PropError(
          'Autoscaler',
          id,
          sources[i],
          undefined,
          `trigger "${t.name ?? t.type}" (${t.type}) needs exactly one of utilization or averageValue`,
        );
      }
    });

    const target = props.target.toScalingTarget();
    const name = props.name ?? target.name;
    const metadata = { name, namespace: target.namespace, labels: props.labels };
    if (triggers.some((t) => t.type === 'prometheus' || t.type === 'pubsub' || t.type === 'cloud-tasks')) {
      this.triggerAuthentication = new TriggerAuthentication(this, 'Auth', {
        metadata: { ...metadata, name: `${name}-gcp` },
        spec: { podIdentity: { provider: TriggerAuthenticationSpecPodIdentityProvider.GCP } },
      });
    }
    const auth = this.triggerAuthentication && { name: this.triggerAuthentication.name };
    const gmp = (
      name: string,
      project: string,
      query: string,
      threshold: number,
      activation: number | undefined,
      metricType = 'AverageValue',
      ignoreNullValues = !props.fallback,
    ): ScaledObjectSpecTriggers => ({
      type: 'prometheus',
      name,
      // Explicit, so that KEDA's fallback check (AverageValue on every trigger) sees it.
      metricType,
      metadata: {
        serverAddress: managedPrometheusAddress(project),
        query,
        threshold: num(threshold),
        activationThreshold: num(activation ?? 0),
        // KEDA's Prometheus scaler reads an empty result as 0 unless told otherwise
        // (ignoreNullValues, default true): a metric gone missing would scale the workload to
        // its minimum instead of engaging the fallback. With a fallback, missing is an error;
        // so it is for a query that says 0 when idle (an empty result is then data gone missing).
        ...(ignoreNullValues ? {} : { ignoreNullValues: 'false' }),
      },
      authenticationRef: auth,
    });
    const project = (p: string | undefined) => (p ?? props.project)!;

    const rendered = triggers.map((t): ScaledObjectSpecTriggers => {
      switch (t.type) {
        case 'cpu':
          return {
            type: 'cpu',
            name: t.name ?? 'cpu',
            metricType: t.utilization !== undefined ? 'Utilization' : 'AverageValue',
            metadata: { value: t.utilization !== undefined ? num(t.utilization) : t.averageValue!.amount },
          };
        case 'memory':
          return {
            type: 'memory',
            name: t.name ?? 'memory',
            metricType: t.utilization !== undefined ? 'Utilization' : 'AverageValue',
            metadata: { value: t.utilization !== undefined ? num(t.utilization) : formatSize(t.averageValue!) },
          };
        case 'prometheus':
          return gmp(t.name, project(t.project), t.query, t.threshold, t.activationThreshold, t.metricType, t.ignoreNullValues ?? !props.fallback);
        case 'pubsub':
          return gmp(
            t.name ?? 'pubsub-backlog',
            project(t.project),
            pubsubBacklogQuery(project(t.project), t.subscription),
            t.messagesPerReplica,
            t.activationThreshold,
          );
        case 'cloud-tasks':
          return gmp(
            t.name ?? 'cloud-tasks-depth',
            project(t.project),
            cloudTasksDepthQuery(project(t.project), t.location, t.queue),
            t.tasksPerReplica,
            t.activationThreshold,
          );
        case 'cron':
          return {
            type: 'cron',
            name: t.name ?? 'cron',
            metricType: 'AverageValue',
            metadata: { timezone: t.timezone, start: t.start, end: t.end, desiredReplicas: num(t.desiredReplicas) },
          };
      }
    });

    const behavior = (rules: ScalingRules | undefined) =>
      rules && {
        stabilizationWindowSeconds: rules.stabilization?.toSeconds(),
        selectPolicy: rules.select,
        policies: rules.policies?.map((p) => ({ type: p.type, value: p.value, periodSeconds: p.period.toSeconds() })),
      };
    const advanced: ScaledObjectSpecAdvanced | undefined =
      props.scaleUp || props.scaleDown
        ? { horizontalPodAutoscalerConfig: { behavior: { scaleUp: behavior(props.scaleUp), scaleDown: behavior(props.scaleDown) } } }
        : undefined;
    const fallback: ScaledObjectSpecFallback | undefined = props.fallback && {
      failureThreshold: props.fallback.failureThreshold ?? 3,
      replicas: props.fallback.replicas,
      behavior: (props.fallback.behavior ?? 'static') as ScaledObjectSpecFallbackBehavior,
    };

    this.scaledObject = new ScaledObject(this, 'Resource', {
      metadata,
      spec: {
        scaleTargetRef: { apiVersion: target.apiVersion, kind: target.kind, name: target.name },
        minReplicaCount: props.minReplicas,
        maxReplicaCount: props.maxReplicas,
        pollingInterval: this.pollingInterval.toSeconds(),
        cooldownPeriod: this.cooldown.toSeconds(),
        fallback,
        advanced,
        triggers: rendered,
      },
    });

    // The admission webhook's checks, now, so a mistake names this construct and its trigger.
    const manifest = this.scaledObject.toJson();
    const problems = scaledObjectProblems(manifest);
    if (problems.length > 0) refuse(problems[0]);
    // And the rules across objects, on the workload this scales and its other ScaledObjects.
    const earlier = scaledObjectsOf.get(props.target) ?? [];
    const across = kedaClusterProblems([...earlier, manifest, workloadManifest(target)].map((manifest) => ({ cluster: '', manifest })));
    if (across.length > 0) refuse(across[0]);
    scaledObjectsOf.set(props.target, [...earlier, manifest]);
    props.target.markHasAutoscaler(props.minReplicas);
  }
}

/**
 * The prop a field of the rendered ScaledObject came from: `spec.minReplicaCount` →
 * `minReplicas`, `spec.triggers[2].metadata.query` → `triggers[1].query` when the first
 * trigger came from `cpuUtilization`.
 */
function propOf(path: string, sources: readonly string[]): string {
  const fields: Record<string, string> = {
    'metadata.name': 'name',
    'spec.minReplicaCount': 'minReplicas',
    'spec.maxReplicaCount': 'maxReplicas',
    'spec.pollingInterval': 'pollingInterval',
    'spec.cooldownPeriod': 'cooldown',
    'spec.scaleTargetRef': 'target',
    'spec.triggers': 'triggers',
  };
  const trigger = /^spec\.triggers\[(\d+)\](?:\.(?:metadata\.)?([A-Za-z]+))?/.exec(path);
  if (trigger) {
    const source = sources[Number(trigger[1])];
    // A shorthand is one number: its inner fields are the construct's, not the caller's.
    const field = trigger[2] && trigger[2] !== 'value' && source.startsWith('triggers[') ? `.${trigger[2]}` : '';
    return `${source}${field}`;
  }
  if (path.startsWith('spec.fallback')) return 'fallback';
  if (path.startsWith('spec.advanced')) return 'scaleUp';
  return fields[path] ?? path;
}

/** The target in the shape of a rendered workload, as the cross-object rules read it. */
function workloadManifest(t: ScalingTarget): object {
  return {
    apiVersion: t.apiVersion,
    kind: t.kind,
    metadata: { name: t.name, namespace: t.namespace },
    spec: { template: { spec: { containers: t.containers.map((c) => ({ name: c.name, resources: { requests: c.requests, limits: c.limits } })) } } },
  };
}
