import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { ScaledObject, ScaledObjectSpecTriggers, TriggerAuthentication, TriggerAuthenticationSpecPodIdentityProvider } from '../../imports/keda.sh';

/** A Prometheus query whose value, divided by the replica count, is held near `target`. */
export interface PrometheusTrigger {
  /** Trigger name, unique within the ScaledObject. */
  readonly name: string;
  /** PromQL returning one series. */
  readonly query: string;
  /** Value per replica to hold. */
  readonly target: number;
}

export interface AutoscalerProps {
  /** Name of the ScaledObject (at most 54 characters: KEDA derives the HPA name from it). */
  readonly name: string;
  readonly namespace: string;
  /** The Deployment scaled, in the same namespace. */
  readonly target: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Average CPU utilisation (percent of the request) to hold. @default - no CPU trigger */
  readonly cpuUtilization?: number;
  /** Queries against GKE Managed Service for Prometheus. @default [] */
  readonly prometheus?: PrometheusTrigger[];
  /** GCP project whose Managed Prometheus is queried; required with `prometheus`. @default - none */
  readonly project?: string;
  /** How often KEDA polls. @default Duration.seconds(30) */
  readonly pollingInterval?: Duration;
  /** Wait after the last active trigger before scaling to zero. @default Duration.minutes(5) */
  readonly cooldown?: Duration;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/** The longest ScaledObject name: KEDA names the HPA `keda-hpa-<name>`, itself a 63-character label. */
export const MAX_SCALED_OBJECT_NAME = 54;

/**
 * A KEDA ScaledObject on a Deployment, with CPU and Managed Prometheus triggers. Prometheus
 * is read with the pod's Google identity (TriggerAuthentication `podIdentity: gcp`), never a key.
 */
export class Autoscaler extends Construct {
  public readonly scaledObject: ScaledObject;
  public readonly triggerAuthentication?: TriggerAuthentication;

  constructor(scope: Construct, id: string, props: AutoscalerProps) {
    super(scope, id);
    const prometheus = props.prometheus ?? [];
    const fail = (msg: string): never => { throw new Error(`Autoscaler '${id}': ${msg}`); };
    if (props.name.length > MAX_SCALED_OBJECT_NAME) fail(`name "${props.name}" is ${props.name.length} characters, at most ${MAX_SCALED_OBJECT_NAME} are allowed`);
    if (props.minReplicas > props.maxReplicas) fail(`minReplicas (${props.minReplicas}) must be <= maxReplicas (${props.maxReplicas})`);
    if (props.cpuUtilization === undefined && prometheus.length === 0) fail('needs at least one trigger: cpuUtilization or prometheus');
    if (props.minReplicas === 0 && prometheus.length === 0) fail('minReplicas 0 needs a trigger other than cpu: KEDA cannot scale from zero on CPU');
    if (prometheus.length > 0 && !props.project) fail('project is required with prometheus triggers');
    const names = new Set<string>(['cpu']);
    for (const t of prometheus) {
      if (names.has(t.name)) fail(`trigger name "${t.name}" is used twice`);
      names.add(t.name);
    }

    const metadata = { name: props.name, namespace: props.namespace, labels: props.labels };
    if (prometheus.length > 0) {
      this.triggerAuthentication = new TriggerAuthentication(this, 'Auth', {
        metadata: { ...metadata, name: `${props.name}-gcp` },
        spec: { podIdentity: { provider: TriggerAuthenticationSpecPodIdentityProvider.GCP } },
      });
    }

    const triggers: ScaledObjectSpecTriggers[] = [];
    if (props.cpuUtilization !== undefined) {
      triggers.push({ type: 'cpu', name: 'cpu', metricType: 'Utilization', metadata: { value: String(props.cpuUtilization) } });
    }
    for (const t of prometheus) {
      triggers.push({
        type: 'prometheus',
        name: t.name,
        metricType: 'AverageValue',
        metadata: {
          serverAddress: `https://monitoring.googleapis.com/v1/projects/${props.project}/location/global/prometheus`,
          query: t.query,
          threshold: String(t.target),
        },
        authenticationRef: { name: this.triggerAuthentication!.name },
      });
    }

    this.scaledObject = new ScaledObject(this, 'Resource', {
      metadata,
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: props.target },
        minReplicaCount: props.minReplicas,
        maxReplicaCount: props.maxReplicas,
        pollingInterval: (props.pollingInterval ?? Duration.seconds(30)).toSeconds(),
        cooldownPeriod: (props.cooldown ?? Duration.minutes(5)).toSeconds(),
        triggers,
      },
    });
  }
}
