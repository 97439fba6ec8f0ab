/**
 * The triggers and scaling behaviour of a service's `autoscaling`, and the rules KEDA's
 * admission webhook and scalers apply, checked here so that a mistake is reported against
 * the platform or overlay file and field that made it, before anything is rendered.
 */
import { z } from 'zod';
import { durationMs } from '../../kernel/quantities';
import { byteQuantity, cpuQuantity, dnsLabel, duration, gcpProject } from '../../kernel/schema';

const triggerName = dnsLabel;

/** Whole seconds: the HPA and KEDA count in seconds. */
const seconds = z.string().regex(/^[0-9]+(s|m|h)$/, {
  message: 'must be a duration in whole seconds, minutes or hours (e.g. 30s, 5m, 1h)',
});

/** Scaled from zero when the value is above this; 0 means "anything at all" (e.g. one task). */
const activationThreshold = z.number().min(0).default(0);

export const CpuTrigger = z.strictObject({
  type: z.literal('cpu'),
  /** @default cpu */
  name: triggerName.default('cpu'),
  /** Average utilisation to hold, in percent of the CPU request. Exclusive with averageValue. */
  utilization: z.number().int().min(1).optional(),
  /** Average CPU use per pod to hold, e.g. 500m. Exclusive with utilization. */
  averageValue: cpuQuantity.optional(),
});

export const MemoryTrigger = z.strictObject({
  type: z.literal('memory'),
  /** @default memory */
  name: triggerName.default('memory'),
  /** Average utilisation to hold, in percent of the memory request. Exclusive with averageValue. */
  utilization: z.number().int().min(1).optional(),
  /** Average memory use per pod to hold, e.g. 384Mi. Exclusive with utilization. */
  averageValue: byteQuantity.optional(),
});

export const PrometheusTrigger = z.strictObject({
  type: z.literal('prometheus'),
  name: triggerName,
  /** PromQL against the project's Managed Service for Prometheus; must return one value. */
  query: z.string(),
  /** With AverageValue, the value per replica to hold; with Value, the total. */
  threshold: z.number().positive(),
  /** @default 0 */
  activationThreshold,
  /** @default AverageValue */
  metricType: z.enum(['AverageValue', 'Value']).default('AverageValue'),
});

export const CronTrigger = z.strictObject({
  type: z.literal('cron'),
  /** @default cron */
  name: triggerName.default('cron'),
  /** IANA time zone the schedule is read in, e.g. Europe/Paris. */
  timezone: z.string(),
  /** Five-field cron schedule at which the window opens. */
  start: z.string(),
  /** Five-field cron schedule at which the window closes. */
  end: z.string(),
  /** Replicas held (at least) during the window. */
  desiredReplicas: z.number().int().min(1),
});

export const PubSubTrigger = z.strictObject({
  type: z.literal('pubsub'),
  /** @default pubsub-backlog */
  name: triggerName.default('pubsub-backlog'),
  /** Subscription id (not the full path). */
  subscription: z
    .string()
    .regex(/^[A-Za-z][-A-Za-z0-9._~+%]{2,254}$/, { message: 'must be a Pub/Sub subscription id: 3-255 characters, starting with a letter' })
    .refine((s) => !s.startsWith('goog'), { message: 'must not start with "goog"' }),
  /** Project of the subscription. @default - the platform's project */
  project: gcpProject.optional(),
  /** Undelivered messages per replica to hold. */
  messagesPerReplica: z.number().positive(),
  /** @default 0 */
  activationThreshold,
});

export const CloudTasksTrigger = z.strictObject({
  type: z.literal('cloud-tasks'),
  /** @default cloud-tasks-depth */
  name: triggerName.default('cloud-tasks-depth'),
  /** Queue id (not the full path). */
  queue: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, { message: 'must be a Cloud Tasks queue id: letters, digits and "-", at most 100' }),
  /** Location of the queue. @default - the GCP region of the cluster */
  location: z
    .string()
    .regex(/^[a-z]+-[a-z]+[0-9]+$/, { message: 'must be a GCP region such as us-central1' })
    .optional(),
  /** Project of the queue. @default - the platform's project */
  project: gcpProject.optional(),
  /** Tasks in the queue per replica to hold. */
  tasksPerReplica: z.number().positive(),
  /** @default 0 */
  activationThreshold,
  /**
   * The queue pushes its tasks to this service (Cloud Tasks HTTP targets): through the
   * ingress gateway, on the service's exposed host, with a Google-signed OIDC token.
   * docs/autoscaling.md ("Cloud Tasks push"). @default - the service pulls (no HTTP target)
   */
  push: z
    .strictObject({
      /**
       * The service account Cloud Tasks signs each task's OIDC token as (`oidcToken.serviceAccountEmail`): the only caller admitted.
       * @default - `<queue>@<the queue's project>.iam.gserviceaccount.com`
       */
      serviceAccount: z.string().email().optional(),
      /** The token's audience (`oidcToken.audience`). @default - `https://<first exposed host>` */
      audience: z.string().url().optional(),
      /** The task's dispatch deadline (Cloud Tasks: 15s to 30m): the route's timeout and at most the load balancer's. @default 10m */
      dispatchDeadline: seconds.default('10m'),
      /** The queue's retry config (Cloud Tasks RetryConfig): it must outlast a start from zero. */
      retry: z
        .strictObject({
          /** @default 10s */
          minBackoff: seconds.default('10s'),
          /** @default 5m */
          maxBackoff: seconds.default('5m'),
          /** @default 3 */
          maxDoublings: z.number().int().min(0).default(3),
          /** Attempts of a task in all, the first included. @default 20 */
          maxAttempts: z.number().int().min(1).default(20),
        })
        .prefault({}),
    })
    .optional(),
});

const TRIGGER_TYPES = ['cpu', 'memory', 'prometheus', 'cron', 'pubsub', 'cloud-tasks'];

export const Trigger = z.discriminatedUnion('type', [CpuTrigger, MemoryTrigger, PrometheusTrigger, CronTrigger, PubSubTrigger, CloudTasksTrigger], {
  error: (iss) => (iss.code === 'invalid_union' ? `type must be one of ${TRIGGER_TYPES.join(', ')}` : undefined),
});

export const ScalingPolicy = z.strictObject({
  /** Pods: at most `value` pods per period; Percent: at most `value` % of the current replicas. */
  type: z.enum(['Pods', 'Percent']),
  value: z.number().int().min(1),
  /** The window the policy holds over: 1s to 30m. */
  period: seconds,
});

/** One direction of the HPA `behavior`. */
export const ScalingRules = z.strictObject({
  /** Past recommendations considered before changing the replica count: 0s to 1h. @default - the HPA's: 5m down, 0s up */
  stabilization: seconds.optional(),
  /** @default - the HPA's */
  policies: z.array(ScalingPolicy).min(1).optional(),
  /** Which policy wins; Disabled forbids scaling in this direction. @default Max */
  select: z.enum(['Max', 'Min', 'Disabled']).optional(),
});

/** Replicas KEDA holds when every trigger's source has failed `failureThreshold` times in a row. */
export const Fallback = z.strictObject({
  replicas: z.number().int().min(0),
  /** @default 3 */
  failureThreshold: z.number().int().min(1).default(3),
  /** @default static */
  behavior: z.enum(['static', 'currentReplicas', 'currentReplicasIfHigher', 'currentReplicasIfLower']).default('static'),
});

export type TriggerSpec = z.output<typeof Trigger>;
export type ScalingRulesSpec = z.output<typeof ScalingRules>;
export type FallbackSpec = z.output<typeof Fallback>;

/** The parts of a parsed service the autoscaling rules read. */
export interface AutoscaledService {
  readonly resources: { readonly cpu: string; readonly memory: string };
  readonly ports: readonly { readonly protocol: string }[];
  readonly autoscaling?: {
    readonly min: number;
    readonly max: number;
    readonly cpuUtilization?: number;
    readonly requestsPerSecond?: number;
    readonly connectionsPerReplica?: number;
    readonly pollingInterval: string;
    readonly cooldown: string;
    readonly scaleUp?: ScalingRulesSpec;
    readonly scaleDown?: ScalingRulesSpec;
    readonly fallback?: FallbackSpec;
    readonly triggers: readonly TriggerSpec[];
  };
}

export interface AutoscalingIssue {
  readonly path: (string | number)[];
  readonly message: string;
  readonly input: unknown;
}

const label = (t: TriggerSpec) => `trigger "${t.name}" (${t.type})`;

const toSeconds = (d: string) => durationMs(d) / 1000;

/**
 * Every rule of `autoscaling` that spans fields: KEDA's webhook (triggers, names, replica
 * bounds, fallback, cpu/memory requests), the scalers' own checks (PromQL, cron, time zone)
 * and the HPA's bounds. Paths are relative to the service.
 */
export function autoscalingIssues(s: AutoscaledService): AutoscalingIssue[] {
  const a = s.autoscaling;
  if (!a) return [];
  const issues: AutoscalingIssue[] = [];
  const at = (path: (string | number)[], message: string, input: unknown) => issues.push({ path: ['autoscaling', ...path], message, input });
  // KEDA's own rules (at least one trigger, unique names, min <= max, no scale to zero on cpu
  // or memory alone, the requests those read, fallback, the name limit) are checked once, by
  // the Autoscaler on the ScaledObject it renders (keda-checks.ts), and reported here in the
  // spec's terms through the prop each field came from. These are the rules of the spec alone.
  const triggers = a.triggers.map((trigger, i) => ({ trigger, path: ['triggers', i] as (string | number)[] }));

  if (a.requestsPerSecond !== undefined && s.ports.length === 0) {
    at(
      ['requestsPerSecond'],
      'needs a port: a worker without ports serves no requests; scale it on its queue (pubsub, cloud-tasks, prometheus)',
      a.requestsPerSecond,
    );
  }

  if (a.connectionsPerReplica !== undefined && !s.ports.some((p) => p.protocol === 'websocket')) {
    at(
      ['connectionsPerReplica'],
      'needs a websocket port: it counts the WebSocket connections open on the pods (Envoy counts upgraded connections only)',
      a.connectionsPerReplica,
    );
  }

  // PromQL, cron schedules, time zones and the window's ends are KEDA's rules too (keda-checks.ts).
  // The HPA clamps a cron window's replicas to max: a rule of the spec, said here.
  for (const { trigger: t, path } of triggers) {
    if (t.type === 'cron' && t.desiredReplicas > a.max)
      at([...path, 'desiredReplicas'], `${label(t)}: must be <= max (${a.max}): the HPA would clamp it`, t.desiredReplicas);
  }

  if (a.fallback && a.fallback.replicas > a.max) at(['fallback', 'replicas'], `must be <= max (${a.max})`, a.fallback.replicas);

  for (const dir of ['scaleUp', 'scaleDown'] as const) {
    const rules = a[dir];
    if (!rules) continue;
    if (rules.stabilization !== undefined && toSeconds(rules.stabilization) > 3600) {
      at([dir, 'stabilization'], 'must be at most 1h: the HPA refuses a longer stabilization window', rules.stabilization);
    }
    rules.policies?.forEach((p, i) => {
      // A period in milliseconds is refused by its own format already.
      const sec = toSeconds(p.period);
      if (!p.period.endsWith('ms') && (sec < 1 || sec > 1800))
        at([dir, 'policies', i, 'period'], 'must be between 1s and 30m: the HPA refuses other periods', p.period);
    });
  }

  for (const field of ['pollingInterval', 'cooldown'] as const) {
    if (a[field].endsWith('ms')) at([field], 'must be whole seconds, minutes or hours (e.g. 30s, 5m): KEDA counts in seconds', a[field]);
  }
  if (!a.pollingInterval.endsWith('ms') && toSeconds(a.pollingInterval) === 0) at(['pollingInterval'], 'must be at least 1s', a.pollingInterval);
  return issues;
}

export const Autoscaling = z.strictObject({
  min: z.number().int().min(0),
  max: z.number().int().min(1),
  /** Scale out when average CPU utilisation of the requests passes this percentage. */
  cpuUtilization: z.number().int().min(1).max(100).optional(),
  /** Scale out when requests per second per replica (from Istio's metrics) pass this. */
  requestsPerSecond: z.number().positive().optional(),
  /** Scale out when the WebSocket connections open per replica (Envoy's count, on services with a websocket port) pass this. */
  connectionsPerReplica: z.number().positive().optional(),
  /** How often KEDA polls its triggers. @default 30s */
  pollingInterval: duration.default('30s'),
  /** Wait after the last active trigger before scaling to zero. @default 5m */
  cooldown: duration.default('5m'),
  /** HPA behavior when adding replicas. @default - the HPA's: no stabilization */
  scaleUp: ScalingRules.optional(),
  /** HPA behavior when removing replicas. @default - the HPA's: 5m stabilization */
  scaleDown: ScalingRules.optional(),
  /** Replicas held while every trigger's source fails (AverageValue external triggers only). @default - none */
  fallback: Fallback.optional(),
  /** Event triggers (cpu, memory, prometheus, cron, pubsub, cloud-tasks), after the shorthands above. @default [] */
  triggers: z.array(Trigger).default([]),
});
