/**
 * What KEDA does with a Prometheus trigger's query result, where no KEDA runs: the value the
 * scaler reports (or its error), and the replicas the ScaledObject then asks for, fallback
 * included. Follows, and only follows:
 *
 * - kedacore/keda pkg/scalers/prometheus_scaler.go (executePromQuery): an empty result or an
 *   empty value list is 0 when `ignoreNullValues` is true (its default) and an error ("target
 *   may be lost") when it is false; more than one element is an error; ±Inf is 0 or an error
 *   the same way; otherwise the sample's value. keda.sh/docs/2.20/scalers/prometheus/
 *   documents `ignoreNullValues` ("Value to reporting error when Prometheus target is lost",
 *   default true).
 * - kedacore/keda pkg/fallback/fallback.go (GetMetricsWithFallback): a success resets the
 *   trigger's failure count; each error increments it; once the count exceeds
 *   `fallback.failureThreshold`, the trigger reports the fallback replicas (only for
 *   AverageValue triggers); before that the error reaches the HPA, which keeps the current
 *   replica count. keda.sh/docs/2.20/reference/scaledobject-spec/#fallback.
 * - The HPA's algorithm for an AverageValue external metric (kubernetes.io/docs/tasks/
 *   run-application/horizontal-pod-autoscale/#algorithm-details): desired = ceil(value /
 *   target), within the ScaledObject's min and max.
 */

/** One element of a Prometheus instant-vector result: `[time, "value"]`. */
export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: readonly [number, string] | readonly [];
}

export type ScalerReading = { readonly value: number } | { readonly error: string };

/** The value KEDA's Prometheus scaler reports for a query result. */
export function prometheusScalerReading(result: readonly PromSample[], ignoreNullValues: boolean): ScalerReading {
  if (result.length === 0) return ignoreNullValues ? { value: 0 } : { error: 'target may be lost, the result is empty' };
  if (result.length > 1) return { error: 'query returned multiple elements' };
  const sample = result[0].value;
  if (sample.length === 0) return ignoreNullValues ? { value: 0 } : { error: 'target may be lost, the value list is empty' };
  // Go's strconv.ParseFloat, as Prometheus formats values: decimals, NaN, +Inf, -Inf.
  const text = sample[1] as string;
  const infinite: Record<string, number> = { '+Inf': Infinity, Inf: Infinity, '-Inf': -Infinity };
  const v = text in infinite ? infinite[text] : Number(text);
  if (Number.isNaN(v) && text !== 'NaN') return { error: `cannot parse ${text}` };
  if (!Number.isFinite(v) && !Number.isNaN(v)) return ignoreNullValues ? { value: 0 } : { error: `query returns ${v}` };
  return { value: v };
}

/** The parts of a rendered ScaledObject the model reads. */
export interface ScaledObjectView {
  readonly minReplicaCount: number;
  readonly maxReplicaCount: number;
  readonly fallback?: { readonly failureThreshold: number; readonly replicas: number };
  /** The trigger's `threshold` (AverageValue target per replica). */
  readonly threshold: number;
  readonly metricType: 'AverageValue' | 'Value';
}

/**
 * Replicas after each poll of a single-trigger ScaledObject, starting from `current`, given
 * what the scaler read at each poll.
 */
export function replicasOverPolls(so: ScaledObjectView, readings: readonly ScalerReading[], current: number): number[] {
  const clamp = (n: number) => Math.min(so.maxReplicaCount, Math.max(so.minReplicaCount, n));
  let failures = 0;
  let replicas = current;
  const out: number[] = [];
  for (const r of readings) {
    if ('value' in r) {
      failures = 0;
      replicas = clamp(Math.ceil(r.value / so.threshold));
    } else {
      failures++;
      if (so.fallback && so.metricType === 'AverageValue' && failures > so.fallback.failureThreshold) replicas = so.fallback.replicas;
    }
    out.push(replicas);
  }
  return out;
}
