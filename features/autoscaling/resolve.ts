/**
 * From a service's `autoscaling` spec to the Autoscaler's props for one region cluster:
 * the cluster decides the defaults that depend on where it runs (a Cloud Tasks queue's
 * location is the cluster's region unless the spec names one).
 */
import type { ClusterPlan } from '../../model/plan';
import type { ServiceSpec } from '../../model/schema';
import type { ScalingRulesSpec } from './schema';
import { AutoscalerFallback, AutoscalerProps, AutoscalerTrigger, parseCpu, parseDuration, parseSize, ScalingRules } from '..';
import type { IScalable } from '../../kernel/scaling';
import type { FieldPath } from '../../model/merge';
import { APP_LABEL, openStreamsQuery, sidecarSeries } from '../observability/rules';

type Autoscaling = NonNullable<ServiceSpec['autoscaling']>;

/**
 * Istio's server-side request rate of a workload in one region's cluster. KEDA queries the
 * project's global endpoint, which holds every cluster of the project, so the series are
 * picked by labels Meridian attaches (the sidecars' PodMonitoring and the pod's region), not
 * by GMP's `cluster`, which is the GKE cluster's name. The workload's pods scraped without a
 * request counted yet give 0; none scraped gives nothing, which the trigger reports as an error.
 */
export function requestRateQuery(c: Pick<ClusterPlan, 'region'>, workload: string, namespace: string): string {
  const scrape = sidecarSeries(namespace, c.region);
  return `sum(rate(istio_requests_total{${scrape},reporter="destination",destination_workload_namespace="${namespace}",destination_workload="${workload}"}[2m])) or 0 * sum(up{${scrape},${APP_LABEL}="${workload}"})`;
}

export function autoscalerTriggers(scaling: Autoscaling, cluster: ClusterPlan): AutoscalerTrigger[] {
  return scaling.triggers.map((t): AutoscalerTrigger => {
    switch (t.type) {
      case 'cpu':
        return { type: 'cpu', name: t.name, utilization: t.utilization, averageValue: t.averageValue ? parseCpu(t.averageValue) : undefined };
      case 'memory':
        return { type: 'memory', name: t.name, utilization: t.utilization, averageValue: t.averageValue ? parseSize(t.averageValue) : undefined };
      case 'prometheus':
        return {
          type: 'prometheus',
          name: t.name,
          query: t.query,
          threshold: t.threshold,
          activationThreshold: t.activationThreshold,
          metricType: t.metricType,
        };
      case 'cron':
        return { type: 'cron', name: t.name, timezone: t.timezone, start: t.start, end: t.end, desiredReplicas: t.desiredReplicas };
      case 'pubsub':
        return {
          type: 'pubsub',
          name: t.name,
          subscription: t.subscription,
          project: t.project,
          messagesPerReplica: t.messagesPerReplica,
          activationThreshold: t.activationThreshold,
        };
      case 'cloud-tasks':
        return {
          type: 'cloud-tasks',
          name: t.name,
          queue: t.queue,
          location: t.location ?? cluster.gcpRegion,
          project: t.project,
          tasksPerReplica: t.tasksPerReplica,
          activationThreshold: t.activationThreshold,
        };
    }
  });
}

export function scalingRules(rules: ScalingRulesSpec | undefined): ScalingRules | undefined {
  return (
    rules && {
      stabilization: rules.stabilization !== undefined ? parseDuration(rules.stabilization) : undefined,
      select: rules.select,
      policies: rules.policies?.map((p) => ({ type: p.type, value: p.value, period: parseDuration(p.period) })),
    }
  );
}

export function autoscalerFallback(scaling: Autoscaling): AutoscalerFallback | undefined {
  return scaling.fallback && { replicas: scaling.fallback.replicas, failureThreshold: scaling.fallback.failureThreshold, behavior: scaling.fallback.behavior };
}

/**
 * The Autoscaler of service `name` in one cluster, and the spec field each prop comes from,
 * so that a prop the construct refuses is reported at the field that set it.
 */
export function autoscalerProps(
  c: ClusterPlan,
  name: string,
  svc: ServiceSpec,
  target: IScalable,
): { props: AutoscalerProps; sources: Record<string, FieldPath> } {
  const scaling = svc.autoscaling!;
  const at = ['services', name, 'autoscaling'];
  const props: AutoscalerProps = {
    target,
    minReplicas: scaling.min,
    maxReplicas: scaling.max,
    cpuUtilization: scaling.cpuUtilization,
    prometheus: (scaling.requestsPerSecond === undefined
      ? []
      : [
          {
            name: 'requests-per-second',
            query: requestRateQuery(c, name, svc.namespace),
            target: scaling.requestsPerSecond,
            // The query says 0 when the pods are scraped but idle: empty means the data is gone.
            ignoreNullValues: false,
          },
        ]
    ).concat(
      scaling.connectionsPerReplica === undefined
        ? []
        : [
            {
              name: 'open-streams',
              // A stream is counted by Istio only when it closes: the open ones are Envoy's gauge.
              query: openStreamsQuery(c.region, name, svc.namespace),
              target: scaling.connectionsPerReplica,
              ignoreNullValues: false,
            },
          ],
    ),
    project: c.platform.project,
    pollingInterval: parseDuration(scaling.pollingInterval),
    cooldown: parseDuration(scaling.cooldown),
    triggers: autoscalerTriggers(scaling, c),
    scaleUp: scalingRules(scaling.scaleUp),
    scaleDown: scalingRules(scaling.scaleDown),
    fallback: autoscalerFallback(scaling),
  };
  const sources: Record<string, FieldPath> = {
    // The ScaledObject and the HPA KEDA derives are named after the service.
    name: ['services', name],
    target: ['services', name],
    minReplicas: [...at, 'min'],
    maxReplicas: [...at, 'max'],
    cpuUtilization: [...at, 'cpuUtilization'],
    'prometheus[0]': [...at, scaling.requestsPerSecond === undefined ? 'connectionsPerReplica' : 'requestsPerSecond'],
    'prometheus[1]': [...at, 'connectionsPerReplica'],
    triggers: [...at, 'triggers'],
    pollingInterval: [...at, 'pollingInterval'],
    cooldown: [...at, 'cooldown'],
    scaleUp: [...at, 'scaleUp'],
    scaleDown: [...at, 'scaleDown'],
    fallback: [...at, 'fallback'],
    project: ['project'],
  };
  return { props, sources };
}
