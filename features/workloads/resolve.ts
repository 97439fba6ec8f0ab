/**
 * The workload props of a service and of a scheduled job, from the spec as one cluster sees it
 * (spec × cluster → props, every value explicit). The region chart adds what it wires: the
 * environment a Redis dependency and the synced secrets give.
 */
import { OPEN_STREAMS_STAT } from '../observability/rules';
import { LABEL_REGION } from '../../kernel/labels';
import { parseCpu, parseDuration, parseSize } from '../../kernel/units';
import type { ClusterPlan, ServicePlan } from '../../model/plan';
import type { JobSpec, ProbeSpec } from '../../model/schema';
import { cloudSqlProxyContainer } from './cloud-sql-proxy';
import type { MicroserviceProbe, MicroserviceProps, SecretEnv } from './microservice';
import type { ScheduledJobProps } from './scheduled-job';

/** What a workload's containers get besides the spec's own `env`. */
export interface WiredEnv {
  /** Plain variables (a Redis dependency's endpoints). */
  readonly env: Readonly<Record<string, string>>;
  /** Variables read from Secrets (the workload's synced secrets, a Redis group's password). */
  readonly secretEnv: Readonly<Record<string, SecretEnv>>;
}

/** `repository:tag@digest`, or the parts given. */
export function imageRef(image: { repository: string; tag?: string; digest?: string }): string {
  return `${image.repository}${image.tag ? `:${image.tag}` : ''}${image.digest ? `@${image.digest}` : ''}`;
}

/** The Google service account a workload runs as: the spec's, else `<name>@<project>.iam.gserviceaccount.com`. */
function gcpServiceAccount(c: ClusterPlan, name: string, given: string | undefined): string {
  return given ?? `${name}@${c.platform.project}.iam.gserviceaccount.com`;
}

/** The Microservice props of a service in this cluster (the stable version; canaryProps derives the canary's). */
export function microserviceProps(c: ClusterPlan, name: string, svc: ServicePlan, wired: WiredEnv): MicroserviceProps {
  const portNumber = (portName: string | undefined) => (svc.ports.find((p) => p.name === portName) ?? svc.ports[0]).port;
  const probe = (p: ProbeSpec | undefined): MicroserviceProbe | undefined =>
    p && {
      path: p.path,
      grpc: p.grpc,
      port: portNumber(p.port),
      period: parseDuration(p.period),
      failureThreshold: p.failureThreshold,
      timeout: parseDuration(p.timeout),
    };
  return {
    name,
    namespace: svc.namespace,
    image: imageRef(svc.image),
    ports: svc.ports,
    command: svc.command,
    args: svc.args,
    resources: {
      cpu: parseCpu(svc.resources.cpu),
      cpuLimit: svc.resources.cpuLimit ? parseCpu(svc.resources.cpuLimit) : undefined,
      memory: parseSize(svc.resources.memory),
      memoryLimit: svc.resources.memoryLimit ? parseSize(svc.resources.memoryLimit) : undefined,
      ephemeralStorage: parseSize(svc.resources.ephemeralStorage),
    },
    readiness: probe(svc.probes.readiness),
    liveness: probe(svc.probes.liveness),
    startup: probe(svc.probes.startup),
    env: { ...svc.env, ...wired.env },
    notSecretEnv: svc.notSecret,
    secretEnv: { ...wired.secretEnv },
    replicas: svc.replicas,
    gcpServiceAccount: gcpServiceAccount(c, name, svc.gcpServiceAccount),
    zones: [...c.zones],
    podLabels: { [LABEL_REGION]: c.region },
    // A service scaled on its open WebSockets needs Envoy's count of them, which Istio does not export by default.
    proxyStatsSuffixes: svc.autoscaling?.connectionsPerReplica !== undefined ? [OPEN_STREAMS_STAT] : undefined,
    sidecars: svc.cloudSql ? [cloudSqlProxyContainer({ ...svc.cloudSql, native: c.nativeSidecars })] : [],
    writablePaths: svc.writablePaths,
  };
}

/** The ScheduledJob props of a job in this cluster. */
export function scheduledJobProps(c: ClusterPlan, name: string, job: JobSpec, wired: WiredEnv): ScheduledJobProps {
  return {
    name,
    namespace: job.namespace,
    image: imageRef(job.image),
    schedule: job.schedule,
    timeZone: job.timeZone,
    concurrencyPolicy: job.concurrencyPolicy,
    deadline: parseDuration(job.deadline),
    startingDeadline: parseDuration(job.startingDeadline),
    backoffLimit: job.backoffLimit,
    command: job.command,
    args: job.args,
    cpu: job.resources.cpu,
    memory: parseSize(job.resources.memory),
    ephemeralStorage: parseSize(job.resources.ephemeralStorage),
    env: { ...job.env, ...wired.env },
    notSecretEnv: job.notSecret,
    secretEnv: { ...wired.secretEnv },
    gcpServiceAccount: gcpServiceAccount(c, name, job.gcpServiceAccount),
    mesh: c.nativeSidecars ? 'native-sidecar' : 'outside',
  };
}
