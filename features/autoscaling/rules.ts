/**
 * Cloud Tasks queues that push to a service (HTTP targets): the queue dispatches each task as
 * an HTTP request to the service's exposed host, with an OIDC token Google signs for the
 * queue's service account, and retries a task that fails (any non-2xx, or no answer within the
 * dispatch deadline) on the queue's RetryConfig schedule. The queue itself is managed (outside
 * the clusters): the spec declares its settings so the rendered route, load balancer, token
 * check and autoscaler can be held to them.
 *
 * Upstream: cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RetryConfig
 * (min/maxBackoff, maxDoublings, maxAttempts and the worked example 10s, 20s, 40s, 80s, 160s,
 * 240s, 300s, 300s), .../projects.locations.queues.tasks#Task (dispatchDeadline: 15 s to 30 min,
 * 10 min by default for HTTP tasks), .../tasks#OidcToken (audience defaults to the target URL),
 * cloud.google.com/tasks/docs/creating-http-target-tasks.
 */
import type { z } from 'zod';
import { durationMs } from '../../kernel/quantities';
import { mergeTraffic } from '../traffic/rules';
import type { ExposeSpec, IngressSpec, RoutingSpec, TrafficPolicySpec } from '../traffic/schema';
import type { ProbeSpec } from '../workloads/schema';
import type { TriggerSpec } from './schema';

type Ctx = Pick<z.RefinementCtx, 'addIssue'>;

/** Google's issuer of OIDC tokens for service accounts, and where its signing keys are published. */
export const GOOGLE_OIDC = { issuer: 'https://accounts.google.com', jwksUri: 'https://www.googleapis.com/oauth2/v3/certs' } as const;

/** Cloud Tasks' bounds on a task's dispatch deadline. */
const MIN_DEADLINE_MS = 15_000;
const MAX_DEADLINE_MS = 30 * 60_000;

export interface RetryConfig {
  readonly minBackoff: string;
  readonly maxBackoff: string;
  readonly maxDoublings: number;
  readonly maxAttempts: number;
}

export type PushSpec = NonNullable<Extract<TriggerSpec, { type: 'cloud-tasks' }>['push']>;

/** What these rules read of a service (model/schema.ts's ServiceSpec has these fields). */
interface ServiceSpec {
  readonly autoscaling?: { readonly min: number; readonly pollingInterval?: string; readonly triggers: readonly TriggerSpec[] };
  readonly probes: { readonly startup?: ProbeSpec; readonly readiness?: ProbeSpec };
  readonly expose?: ExposeSpec;
  readonly auth?: unknown;
  readonly traffic: TrafficPolicySpec;
}

/** What these rules read of a platform. */
interface Platform {
  readonly services: Record<string, ServiceSpec>;
  readonly ingress?: IngressSpec;
  readonly routing: RoutingSpec;
}

/**
 * The waits (ms) before each retry of a task that keeps failing, per RetryConfig: the interval
 * starts at minBackoff, doubles maxDoublings times, then grows linearly by minBackoff ×
 * 2^maxDoublings, capped at maxBackoff; maxAttempts - 1 retries in all.
 */
export function retryDelaysMs(retry: RetryConfig): number[] {
  const min = durationMs(retry.minBackoff);
  const max = durationMs(retry.maxBackoff);
  const step = min * 2 ** retry.maxDoublings;
  const delays: number[] = [];
  for (let i = 0; i < retry.maxAttempts - 1; i++) {
    const interval = i <= retry.maxDoublings ? min * 2 ** i : step + (i - retry.maxDoublings) * step;
    delays.push(Math.min(interval, max));
  }
  return delays;
}

/** The push settings of a service's Cloud Tasks trigger, if its queue pushes to it. */
export function taskPush(svc: Pick<ServiceSpec, 'autoscaling'>): { push: PushSpec; index: number; queue: string; project?: string } | undefined {
  const triggers = svc.autoscaling?.triggers ?? [];
  const index = triggers.findIndex((t) => t.type === 'cloud-tasks' && t.push !== undefined);
  if (index < 0) return undefined;
  const t = triggers[index];
  return t.type === 'cloud-tasks' ? { push: t.push!, index, queue: t.queue, project: t.project } : undefined;
}

/** The account the queue signs its tokens as: the one declared, else one named after the queue in its project. */
export function pushServiceAccount(found: { push: PushSpec; queue: string; project?: string }, platformProject: string): string {
  return found.push.serviceAccount ?? `${found.queue}@${found.project ?? platformProject}.iam.gserviceaccount.com`;
}

/** The audience the service accepts: the one declared, else its first exposed host. */
export function pushAudience(push: PushSpec, svc: Pick<ServiceSpec, 'expose'>, ingressHosts: readonly string[]): string {
  return push.audience ?? `https://${(svc.expose?.hosts ?? ingressHosts)[0]}`;
}

/**
 * How long pods take to serve from zero, at worst as the spec bounds it: KEDA notices the
 * first task within a polling interval, then the pod must pass its startup probe (period ×
 * failureThreshold) and one readiness check. Node provisioning and image pulls are not bounded
 * by the spec and not counted.
 */
export function coldStartMs(svc: Pick<ServiceSpec, 'autoscaling' | 'probes'>): number {
  const startup = svc.probes.startup;
  const readiness = svc.probes.readiness;
  return (
    durationMs(svc.autoscaling?.pollingInterval ?? '30s') +
    (startup ? durationMs(startup.period) * startup.failureThreshold : 0) +
    (readiness ? durationMs(readiness.period) : 0)
  );
}

const fmt = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/** The rules of a pushed queue against the route, the load balancer and the autoscaler. */
export function cloudTasksPushIssues(p: Platform, ctx: Ctx): void {
  for (const [name, svc] of Object.entries(p.services)) {
    const found = taskPush(svc);
    if (!found) continue;
    const { push, index } = found;
    const at = (path: (string | number)[], message: string, input: unknown) =>
      ctx.addIssue({ code: 'custom', path: ['services', name, ...path], message, input });
    const pushPath = ['autoscaling', 'triggers', index, 'push'];
    const deadline = durationMs(push.dispatchDeadline);
    if (deadline < MIN_DEADLINE_MS || deadline > MAX_DEADLINE_MS) {
      at([...pushPath, 'dispatchDeadline'], 'must be between 15s and 30m (Cloud Tasks bounds an HTTP task dispatch deadline)', push.dispatchDeadline);
    }
    if (!svc.expose || !p.ingress) {
      at(
        [...pushPath],
        'needs the service exposed (expose, and the platform an ingress): Cloud Tasks pushes from outside the cluster, through the gateway',
        push,
      );
      continue;
    }
    if (svc.auth) {
      at(['auth'], "must be left out: the pushing queue's Google-signed token is what the service checks (push.serviceAccount)", svc.auth);
    }
    const traffic = mergeTraffic(p.routing.traffic, svc.traffic);
    if (traffic.timeout === undefined || durationMs(traffic.timeout) !== deadline) {
      at(
        ['traffic', 'timeout'],
        `must equal the queue's dispatch deadline (${push.dispatchDeadline}): a shorter route cuts tasks Cloud Tasks still waits for, a longer one works on tasks Cloud Tasks has already given up and will retry`,
        traffic.timeout,
      );
    }
    if ((traffic.retries?.attempts ?? 3) !== 0) {
      at(
        ['traffic', 'retries', 'attempts'],
        'must be 0: Cloud Tasks retries a failed task itself, so a retry at the gateway would run it twice (and its per-try timeout would cut it)',
        traffic.retries?.attempts,
      );
    }
    if (p.ingress.backendTimeout !== undefined && durationMs(p.ingress.backendTimeout) < deadline) {
      ctx.addIssue({
        code: 'custom',
        path: ['ingress', 'backendTimeout'],
        message: `must be at least the dispatch deadline of ${name}'s queue (${push.dispatchDeadline}): the load balancer would end the task's request first`,
        input: p.ingress.backendTimeout,
      });
    }
    if (svc.autoscaling!.min === 0) {
      const window = retryDelaysMs(push.retry).reduce((a, b) => a + b, 0);
      const cold = coldStartMs(svc);
      if (window < cold) {
        at(
          [...pushPath, 'retry'],
          `retries a task for ${fmt(window)} in all, less than a start from zero takes (${fmt(cold)}: polling interval, startup probe, readiness): a task arriving at zero pods would fail; raise maxAttempts or the backoffs`,
          push.retry,
        );
      }
    }
  }
}

/** The longest dispatch deadline among the platform's pushed services: the load balancer must wait that long. */
export function longestDispatchDeadline(services: Record<string, Pick<ServiceSpec, 'autoscaling' | 'expose'>>): string | undefined {
  const deadlines = Object.values(services)
    .filter((s) => s.expose)
    .map((s) => taskPush(s)?.push.dispatchDeadline)
    .filter((d): d is string => d !== undefined);
  return deadlines.sort((a, b) => durationMs(b) - durationMs(a))[0];
}
