/**
 * Workloads: the container of a service or a job (image, ports, probes, resources), jobs,
 * and the environment's replica floor. The service object itself is composed in
 * `model/schema.ts` from this and the other features' parts.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { byteQuantity, cpuQuantity, dnsLabel, duration, envVarName } from '../../kernel/schema';
import { Egress } from '../access/schema';
import { NotSecret, SecretRef } from '../secrets/schema';

/** A Kubernetes CronJob schedule: five cron fields or a macro such as @hourly. */
export const cronSchedule = z.string().superRefine((expr, ctx) => {
  const macro = expr.startsWith('@');
  if (!macro && expr.trim().split(/\s+/).length !== 5) {
    ctx.addIssue({ code: 'custom', message: 'must be a cron schedule of five fields (minute hour day month weekday) or a macro such as @daily', input: expr });
    return;
  }
  try {
    CronExpressionParser.parse(expr);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `is not a valid cron schedule: ${(e as Error).message}`, input: expr });
  }
});

/** An IANA time zone such as Africa/Johannesburg or Etc/UTC. */
export const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return tz.length > 0;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as Etc/UTC or Europe/Zurich' },
);

export const Image = z
  .strictObject({
    repository: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)+$/, {
      message: 'must be an image repository such as us-docker.pkg.dev/project/repo/name',
    }),
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { message: 'must be a valid image tag' })
      .refine((t) => t !== 'latest', { message: 'must pin a version: "latest" is not allowed' })
      .optional(),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, { message: 'must be sha256:<64 hex digits>' })
      .optional(),
  })
  .refine((i) => i.tag !== undefined || i.digest !== undefined, { message: 'needs a tag or a digest' });

export const Port = z.strictObject({
  /** Port name; Istio picks the protocol from it, so it is prefixed by Meridian (http-, grpc-, tcp-). */
  name: dnsLabel.max(15),
  port: z.number().int().min(1).max(65535),
  /** How the mesh treats the traffic; `websocket` and `sse` are streaming HTTP: no request timeout. */
  protocol: z.enum(['http', 'grpc', 'tcp', 'websocket', 'sse']).default('http'),
});

export const Probe = z.strictObject({
  /** HTTP path to GET; omit for a TCP check on the port (or give grpc). */
  path: z.string().startsWith('/').optional(),
  /**
   * A gRPC health check (grpc.health.v1.Health/Check, Kubernetes' `grpc` probe, GA in 1.27) on a
   * port of protocol grpc; `service` is the name the server reports health for. Exclusive with path.
   * @default - not a gRPC check; `service` defaults to '' (the server as a whole)
   */
  grpc: z.strictObject({ service: z.string().optional() }).optional(),
  /** Name of one of the service's ports. @default - the first port */
  port: z.string().optional(),
  /** How often to probe. @default 10s */
  period: duration.default('10s'),
  /** Consecutive failures before the probe fails. @default 3 */
  failureThreshold: z.number().int().min(1).default(3),
  /** Time allowed for one probe. @default 1s */
  timeout: duration.default('1s'),
});

export const Resources = z.strictObject({
  /** CPU requested; the scheduler's and the CPU trigger's reference. @default 100m */
  cpu: cpuQuantity.default('100m'),
  /** Memory requested. @default 128Mi */
  memory: byteQuantity.default('128Mi'),
  /** Memory limit; the container is OOM-killed above it. @default - twice the request */
  memoryLimit: byteQuantity.optional(),
  /** CPU limit. @default - none: throttling hurts latency more than it protects neighbours */
  cpuLimit: cpuQuantity.optional(),
  /** Scratch disk requested (and limited to twice that). @default 64Mi */
  ephemeralStorage: byteQuantity.default('64Mi'),
});

/** The three probes of a serving container (see probeIssues). */
export const Probes = z.strictObject({
  readiness: Probe.optional(),
  liveness: Probe.optional(),
  startup: Probe.optional(),
});

/** A directory the container writes besides /tmp (its root filesystem is read-only). */
export const writablePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/, { message: 'must be an absolute directory path such as /var/cache/app' })
  .refine((p) => p !== '/tmp', { message: '/tmp is always writable: leave it out' });

/** A Cloud SQL instance reached through the Cloud SQL Auth Proxy sidecar on 127.0.0.1:<port>. */
export const CloudSql = z.strictObject({
  /** Instance connection name `project:region:instance`. */
  instance: z
    .string()
    .regex(/^[a-z][-a-z0-9]*:[a-z]+-[a-z]+[0-9]+:[a-z][-a-z0-9]*$/, { message: 'must be an instance connection name project:region:instance' }),
  /** Local port of the proxy. @default 5432 */
  port: z.number().int().min(1024).max(65535).default(5432),
});

/** Plain configuration; never a secret value. */
export const EnvVars = z.record(envVarName, z.string());
/** Environment variables whose values come from GCP Secret Manager through External Secrets. */
export const SecretEnvVars = z.record(envVarName, SecretRef);

// ---------------------------------------------------------------------------------------
// Scheduled jobs

export const Job = z.strictObject({
  namespace: dnsLabel,
  image: Image,
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  /** When it runs, in `timeZone`. */
  schedule: cronSchedule,
  /** @default Etc/UTC */
  timeZone: timeZone.default('Etc/UTC'),
  /** What to do when the previous run is still going. @default Forbid */
  concurrencyPolicy: z.enum(['Forbid', 'Replace', 'Allow']).default('Forbid'),
  /** A run is stopped after this long. @default 30m */
  deadline: duration.default('30m'),
  /** A run that could not start within this long is skipped. @default 5m */
  startingDeadline: duration.default('5m'),
  /** Retries of a failed run. @default 2 */
  backoffLimit: z.number().int().min(0).default(2),
  resources: Resources.default(Resources.parse({})),
  env: EnvVars.default({}),
  /** Variables of `env` that look like secrets but are not. @default [] */
  notSecret: NotSecret,
  secrets: SecretEnvVars.default({}),
  /** @default - `<job>@<project>.iam.gserviceaccount.com` */
  gcpServiceAccount: z.string().email().optional(),
  /** Regions it runs in. @default - the primary region only: a job runs once per environment */
  regions: z.array(z.string()).optional(),
  /**
   * Other services and Redis groups it calls: mesh calls, so only in regions with
   * `nativeSidecars` (elsewhere a job's pod runs outside the mesh). @default []
   */
  dependsOn: z.array(z.string()).default([]),
  /** Destinations outside the cluster it calls (Google APIs); everything else outside is denied. @default [] */
  egress: z.array(Egress).default([]),
});

/**
 * A serving container needs readiness, liveness and startup probes, readiness and liveness
 * not the same check (kube-score): liveness and startup default to a TCP check of the
 * readiness port, so readiness must be given, and an HTTP check or another port than that.
 */
export function probeIssues(s: {
  ports: { name: string; protocol?: string }[];
  probes: Partial<Record<'readiness' | 'liveness' | 'startup', ProbeShape>>;
}): { path: (string | number)[]; message: string; input: unknown }[] {
  if (s.ports.length === 0) return [];
  const issues: { path: (string | number)[]; message: string; input: unknown }[] = [];
  for (const [kind, probe] of Object.entries(s.probes)) {
    if (!probe?.grpc) continue;
    if (probe.path !== undefined) {
      issues.push({
        path: ['probes', kind, 'grpc'],
        message: 'cannot be set together with path: a probe is an HTTP GET or a gRPC health check',
        input: probe.grpc,
      });
      continue;
    }
    const port = s.ports.find((p) => p.name === (probe.port ?? s.ports[0].name));
    if (port && port.protocol !== 'grpc') {
      issues.push({
        path: ['probes', kind, 'grpc'],
        message: `needs a port of protocol grpc: port ${port.name} is ${port.protocol ?? 'http'} (grpc.health.v1 is served by a gRPC server)`,
        input: probe.grpc,
      });
    }
  }
  if (issues.length > 0) return issues;
  const readiness = s.probes.readiness;
  if (!readiness) {
    return [
      {
        path: ['probes', 'readiness'],
        message: 'is required for a service with ports: give the HTTP path that answers when it can take traffic (leave path out for a TCP check)',
        input: undefined,
      },
    ];
  }
  const port = readiness.port ?? s.ports[0].name;
  const liveness: ProbeShape = s.probes.liveness ?? { port };
  // A TCP-only server (a connection pooler) has no other check to offer: the rule is for HTTP and gRPC.
  if (probeCheck(readiness) !== 'tcp' && (liveness.port ?? s.ports[0].name) === port && probeCheck(liveness) === probeCheck(readiness)) {
    const what = readiness.path ? `GET ${readiness.path} on port ${port}` : `the gRPC health check of "${readiness.grpc!.service ?? ''}" on port ${port}`;
    return [
      {
        path: ['probes', 'liveness'],
        message: `must differ from readiness (${what}${s.probes.liveness ? '' : ', the default'}): an overloaded pod would be restarted instead of taken out of rotation; give readiness an HTTP path, or liveness another path, gRPC service or port`,
        input: s.probes.liveness,
      },
    ];
  }
  return [];
}

/** What the probe rules read of a probe. */
interface ProbeShape {
  readonly path?: string;
  readonly port?: string;
  readonly grpc?: { readonly service?: string };
}

/** What a probe checks, port aside: `GET /ready`, `grpc:<service>` or `tcp`. */
function probeCheck(p: ProbeShape): string {
  return p.path !== undefined ? `GET ${p.path}` : p.grpc ? `grpc:${p.grpc.service ?? ''}` : 'tcp';
}

/** Rules an environment holds its services to; set per environment in the overlays. */
export const Policy = z.strictObject({
  /** Fewest replicas a service may run (fixed, or the autoscaler's minimum). @default 1 */
  minReplicas: z.number().int().min(1).default(1),
});

/** A service's fewest replicas against the environment's `policy.minReplicas`. */
export function replicaFloorIssues(
  svc: { replicas?: number; ports?: unknown[]; autoscaling?: { min: number; triggers?: { type: string; push?: unknown }[] } },
  minReplicas: number,
): { path: string[]; message: string; input: number }[] {
  // A queue worker scaled to zero serves no requests: an empty queue needs no pod, and KEDA
  // starts one on the first message. One a queue pushes to serves only that queue, which
  // retries its tasks until a pod is up (cloudTasksPushIssues holds the retries to that).
  // The floor protects what serves traffic.
  const queueOnly = (svc.ports ?? []).length === 0 || (svc.autoscaling?.triggers ?? []).some((t) => t.type === 'cloud-tasks' && t.push !== undefined);
  if (svc.autoscaling?.min === 0 && queueOnly) return [];
  const why = `must be >= policy.minReplicas (${minReplicas}) in this environment: one pod down would take the service down`;
  if (svc.autoscaling && svc.autoscaling.min < minReplicas) return [{ path: ['autoscaling', 'min'], message: why, input: svc.autoscaling.min }];
  if (!svc.autoscaling && (svc.replicas ?? 2) < minReplicas) return [{ path: ['replicas'], message: why, input: svc.replicas ?? 2 }];
  return [];
}

export type PortSpec = z.output<typeof Port>;
export type ProbeSpec = z.output<typeof Probe>;
export type JobSpec = z.output<typeof Job>;
