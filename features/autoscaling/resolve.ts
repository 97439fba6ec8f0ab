/**
 * From a service's `autoscaling` spec to the Autoscaler's props for one region cluster:
 * the cluster decides the defaults that depend on where it runs (a Cloud Tasks queue's
 * location is the cluster's region unless the spec names one).
 */
import type { ClusterPlan } from '../../model/plan';
import type { ServiceSpec } from '../../model/schema';
import type { ScalingRulesSpec } from './schema';
import { AutoscalerFallback, AutoscalerTrigger, parseCpu, parseDuration, parseSize, ScalingRules } from '..';

type Autoscaling = NonNullable<ServiceSpec['autoscaling']>;

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
