/**
 * How an autoscaler and the workload it scales meet: by reference, as cdk8s-plus's
 * `HorizontalPodAutoscaler` and its `IScalable` do. The autoscaler reads the target it is
 * given and tells it that it now owns the replica count.
 */

/** A container of the scaled workload, with the resources a cpu or memory trigger computes against. */
export interface ScalingTargetContainer {
  readonly name: string;
  /** Kubernetes quantities, e.g. `{ cpu: '250m', memory: '256Mi' }`. */
  readonly requests: Readonly<Record<string, string>>;
  readonly limits: Readonly<Record<string, string>>;
}

/** What an autoscaler needs to know about the workload it scales. */
export interface ScalingTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly containers: readonly ScalingTargetContainer[];
}

/** A workload an autoscaler can scale. */
export interface IScalable {
  toScalingTarget(): ScalingTarget;
  /**
   * Called by the autoscaler that scales this workload: the workload leaves its replica count
   * to it (GitOps would otherwise reset it on every sync) and keeps at least `minReplicas`.
   */
  markHasAutoscaler(minReplicas: number): void;
}
