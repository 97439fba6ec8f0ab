import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { formatSize } from '../../kernel/units';
import { NOT_SECRET_ANNOTATION } from '../secrets/not-secret';

/** How the mesh treats a port's traffic; `websocket` and `sse` are streaming HTTP. */
export type PortProtocol = 'http' | 'grpc' | 'tcp' | 'websocket' | 'sse';

export interface MicroservicePort {
  /** Port name, also the container port name. */
  readonly name: string;
  /** Port number, the same on the Service and the container. */
  readonly port: number;
  /** Sets the Service's `appProtocol`, which Istio reads to choose its protocol handling. @default 'http' */
  readonly protocol?: PortProtocol;
}

export interface MicroserviceProbe {
  /** HTTP path to GET. @default - a TCP connection check */
  readonly path?: string;
  /** The container port probed. */
  readonly port: number;
  /** Time between probes. @default Duration.seconds(10) */
  readonly period?: Duration;
  /** Consecutive failures before the probe fails. @default 3 */
  readonly failureThreshold?: number;
  /** Time allowed for one probe. @default Duration.seconds(1) */
  readonly timeout?: Duration;
}

export interface MicroserviceResources {
  /** CPU requested. @default Cpu.millis(100) */
  readonly cpu?: kplus.Cpu;
  /** CPU limit. @default - none */
  readonly cpuLimit?: kplus.Cpu;
  /** Memory requested. @default Size.mebibytes(128) */
  readonly memory?: Size;
  /** Memory limit. @default - twice the memory request */
  readonly memoryLimit?: Size;
  /** Scratch disk requested; the limit is twice that. @default Size.mebibytes(64) */
  readonly ephemeralStorage?: Size;
}

/** An environment variable read from a key of a Kubernetes Secret (kept in sync by External Secrets). */
export interface SecretEnv {
  readonly secretName: string;
  readonly key: string;
}

export interface MicroserviceProps {
  /** Name of the Deployment, Service, ServiceAccount and PodDisruptionBudget. */
  readonly name: string;
  readonly namespace: string;
  /** Image reference pinned by tag or digest. */
  readonly image: string;
  /** Ports served; with none, no Service is created (a queue worker). @default [] */
  readonly ports?: MicroservicePort[];
  /** Entrypoint override. @default - the image's */
  readonly command?: string[];
  /** Arguments. @default - the image's */
  readonly args?: string[];
  /** @default - see MicroserviceResources */
  readonly resources?: MicroserviceResources;
  /** When a pod can take traffic; required when ports are served. @default - none for a worker without ports */
  readonly readiness?: MicroserviceProbe;
  /** When to restart the container; must not be the readiness check. @default - a TCP check of the readiness port every 10 s, 3 failures */
  readonly liveness?: MicroserviceProbe;
  /** Holds the other probes until the container is up. @default - a TCP check of the readiness port every 2 s, for up to 2 minutes */
  readonly startup?: MicroserviceProbe;
  /** Plain environment variables. @default {} */
  readonly env?: Record<string, string>;
  /** Variables of `env` that look like secrets but are not: listed in the pod annotation `meridian.dev/not-secret`, which validate reads. @default [] */
  readonly notSecretEnv?: readonly string[];
  /** Environment variables from Secrets. @default {} */
  readonly secretEnv?: Record<string, SecretEnv>;
  /** Fixed replica count. @default 2 */
  readonly replicas?: number;
  /**
   * An autoscaler owns the replica count: `replicas` is left out of the Deployment so that
   * GitOps does not fight the autoscaler, and `minReplicas` decides the PodDisruptionBudget.
   * @default false
   */
  readonly autoscaled?: boolean;
  /** Fewest replicas the autoscaler keeps. @default - `replicas` */
  readonly minReplicas?: number;
  /** Google service account bound through Workload Identity. */
  readonly gcpServiceAccount: string;
  /** Zones the pods are restricted to and spread across. @default - no zone constraint */
  readonly zones?: string[];
  /** Labels added to every object and to the pods. @default {} */
  readonly labels?: Record<string, string>;
  /** Labels added to the pods only (not to the selector). @default {} */
  readonly podLabels?: Record<string, string>;
  /** Extra containers in the pod (e.g. the Cloud SQL Auth Proxy); hardened like the main one. @default [] */
  readonly sidecars?: kplus.ContainerProps[];
  /** Directories the main container writes besides /tmp (its root filesystem is read-only): an emptyDir each. @default [] */
  readonly writablePaths?: string[];
  /**
   * The pod label `version`, which Istio subsets select. Any version but `stable` is a
   * variant of the service `name` (a canary): a Deployment `<name>-<version>` selecting its
   * version, running as the service's ServiceAccount, reached through the service's Service.
   * @default - no version label
   */
  readonly version?: string;
}

/** The version of the pods a service's Service and ServiceAccount belong to. */
export const STABLE_VERSION = 'stable';

/** UID/GID the containers run as: above the range of system users, as restricted PSS and kube-score want. */
export const RUN_AS = 10001;

const HARDENED: kplus.ContainerSecurityContextProps = {
  ensureNonRoot: true,
  user: RUN_AS,
  group: RUN_AS,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: [kplus.Capability.ALL] },
  seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
};

/**
 * A stateless service: Deployment, Service, ServiceAccount (Workload Identity) and
 * PodDisruptionBudget, hardened by default (non-root, read-only root filesystem, no
 * privilege escalation, all capabilities dropped, seccomp RuntimeDefault).
 */
export class Microservice extends Construct {
  /** Name of the Deployment: the service's name, `<name>-<version>` for a variant. */
  public readonly name: string;
  public readonly namespace: string;
  /** Labels that select this service's pods. */
  public readonly selector: Record<string, string>;
  public readonly ports: Required<MicroservicePort>[];
  public readonly replicas: number;
  public readonly minReplicas: number;
  public readonly autoscaled: boolean;
  public readonly deployment: kplus.Deployment;
  public readonly serviceAccount: kplus.IServiceAccount;
  /** Undefined for a service without ports. */
  public readonly service?: kplus.Service;

  constructor(scope: Construct, id: string, props: MicroserviceProps) {
    super(scope, id);
    const variant = props.version !== undefined && props.version !== STABLE_VERSION;
    this.name = variant ? `${props.name}-${props.version}` : props.name;
    this.namespace = props.namespace;
    this.ports = (props.ports ?? []).map((p) => ({ protocol: 'http', ...p }));
    this.autoscaled = props.autoscaled ?? false;
    this.replicas = props.replicas ?? 2;
    this.minReplicas = props.minReplicas ?? this.replicas;
    if (!Number.isInteger(this.replicas) || this.replicas < 0) {
      throw new Error(`Microservice '${id}': replicas (${this.replicas}) must be a whole number >= 0`);
    }
    if (this.ports.length === 0 && (props.readiness || props.liveness || props.startup)) {
      throw new Error(`Microservice '${id}': probes need a port, and ports is empty`);
    }
    if (this.ports.length > 0 && !props.readiness) {
      throw new Error(`Microservice '${id}': readiness is required when ports are served: traffic would reach pods before they can serve`);
    }
    // kube-score's rule: a liveness check that is the readiness check restarts overloaded pods.
    const liveness = props.readiness && (props.liveness ?? { port: props.readiness.port });
    const startup = props.readiness && (props.startup ?? { port: props.readiness.port, period: Duration.seconds(2), failureThreshold: 60 });
    // Two TCP checks of one port are allowed: a TCP-only server has no other check to offer.
    if (props.readiness?.path !== undefined && liveness && liveness.port === props.readiness.port && liveness.path === props.readiness.path) {
      throw new Error(
        `Microservice '${id}': liveness (${describeProbe(liveness)}) must not be the readiness check: an overloaded pod would be restarted instead of taken out of rotation`,
      );
    }
    this.selector = { 'app.kubernetes.io/name': props.name };
    const labels = { ...props.labels, ...this.selector };
    const metadata = { name: props.name, namespace: props.namespace, labels };
    // The stable Deployment keeps selecting by name only (a selector is immutable); the
    // disruption budget and spreading count each version's pods apart.
    const versionLabels: Record<string, string> = props.version !== undefined ? { version: props.version } : {};
    const podSelector = { ...this.selector, ...versionLabels };
    const workloadMetadata = variant ? { ...metadata, name: this.name, labels: { ...labels, ...versionLabels } } : metadata;

    // Workload Identity binds the Google service account to this ServiceAccount's name.
    this.serviceAccount = variant
      ? kplus.ServiceAccount.fromServiceAccountName(this, 'ServiceAccount', props.name)
      : new kplus.ServiceAccount(this, 'ServiceAccount', {
          metadata: { ...metadata, annotations: { 'iam.gke.io/gcp-service-account': props.gcpServiceAccount } },
          automountToken: false,
        });

    const res = props.resources ?? {};
    const memory = res.memory ?? Size.mebibytes(128);
    const scratch = res.ephemeralStorage ?? Size.mebibytes(64);
    this.deployment = new kplus.Deployment(this, 'Resource', {
      metadata: workloadMetadata,
      replicas: this.replicas,
      select: false,
      spread: false,
      serviceAccount: this.serviceAccount,
      automountServiceAccountToken: false,
      podMetadata: {
        labels: { ...labels, app: props.name, ...props.podLabels, ...versionLabels },
        annotations: props.notSecretEnv?.length ? { [NOT_SECRET_ANNOTATION]: [...props.notSecretEnv].sort().join(',') } : undefined,
      },
      securityContext: { ensureNonRoot: true, user: RUN_AS, group: RUN_AS, fsGroup: RUN_AS },
      containers: [
        {
          name: props.name,
          image: props.image,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: props.command,
          args: props.args,
          ports: this.ports.map((p) => ({ name: p.name, number: p.port })),
          envVariables: {
            ...Object.fromEntries(Object.entries(props.env ?? {}).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
            ...Object.fromEntries(
              Object.entries(props.secretEnv ?? {}).map(([k, ref]) => [
                k,
                kplus.EnvValue.fromSecretValue({
                  secret: kplus.Secret.fromSecretName(this, `Secret${k}`, ref.secretName),
                  key: ref.key,
                }),
              ]),
            ),
          },
          resources: {
            cpu: { request: res.cpu ?? kplus.Cpu.millis(100), limit: res.cpuLimit },
            memory: { request: memory, limit: res.memoryLimit ?? Size.mebibytes(memory.toMebibytes() * 2) },
          },
          readiness: toProbe(props.readiness),
          liveness: toProbe(liveness),
          startup: toProbe(startup),
          securityContext: HARDENED,
          volumeMounts: [
            { path: '/tmp', volume: kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp') },
            ...(props.writablePaths ?? []).map((path) => ({ path, volume: kplus.Volume.fromEmptyDir(this, `Writable${path}`, writableVolumeName(path)) })),
          ],
        },
      ],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: variant ? podSelector : this.selector }));
    if (this.autoscaled) this.deployment.markHasAutoscaler();

    for (const sidecar of props.sidecars ?? []) this.deployment.addContainer({ ...sidecar, securityContext: HARDENED });

    const resource = ApiObject.of(this.deployment);
    resource.addJsonPatch(JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }));
    // cdk8s-plus only writes ephemeral storage in whole GiB.
    (props.sidecars ?? []).forEach((_, i) =>
      resource.addJsonPatch(
        JsonPatch.add(`/spec/template/spec/containers/${i + 1}/resources/requests/ephemeral-storage`, quantity(Size.mebibytes(16))),
        JsonPatch.add(`/spec/template/spec/containers/${i + 1}/resources/limits/ephemeral-storage`, quantity(Size.mebibytes(64))),
      ),
    );
    resource.addJsonPatch(
      JsonPatch.add('/spec/template/spec/containers/0/resources/requests/ephemeral-storage', quantity(scratch)),
      JsonPatch.add('/spec/template/spec/containers/0/resources/limits/ephemeral-storage', quantity(Size.mebibytes(scratch.toMebibytes() * 2))),
    );
    // cdk8s-plus labels pods with a hash of the construct path; selection uses our own labels.
    resource.addJsonPatch(JsonPatch.remove(`/spec/template/metadata/labels/${kplus.Pod.ADDRESS_LABEL.replace('/', '~1')}`));
    if (props.zones && props.zones.length > 0) {
      resource.addJsonPatch(JsonPatch.add('/spec/template/spec/affinity', affinity(props.zones, podSelector)));
      resource.addJsonPatch(
        JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [
          { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: podSelector } },
        ]),
      );
    }

    if (this.ports.length > 0 && !variant) {
      this.service = new kplus.Service(this, 'Service', {
        metadata,
        selector: this.deployment,
        ports: this.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port })),
      });
      const service = ApiObject.of(this.service);
      service.addJsonPatch(JsonPatch.replace('/spec/selector', this.selector), JsonPatch.remove('/spec/externalIPs'));
      this.ports.forEach((p, i) => {
        service.addJsonPatch(JsonPatch.add(`/spec/ports/${i}/appProtocol`, p.protocol === 'websocket' || p.protocol === 'sse' ? 'http' : p.protocol));
      });
    }

    if (this.minReplicas >= 2) {
      // A pod covered by two budgets cannot be evicted at all: each version has its own.
      new kplus.k8s.KubePodDisruptionBudget(this, 'Disruption', {
        metadata: workloadMetadata,
        spec: { maxUnavailable: kplus.k8s.IntOrString.fromNumber(1), selector: { matchLabels: podSelector } },
      });
    }
  }
}

/** Restricts pods to the zones, and prefers one pod per node. */
function affinity(zones: string[], selector: Record<string, string>): unknown {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: zones }] }],
      },
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } },
        },
      ],
    },
  };
}

/** Patches go in before cdk8s-plus's L1 serializer, which expects Quantity objects. */
function quantity(size: Size): kplus.k8s.Quantity {
  return kplus.k8s.Quantity.fromString(formatSize(size));
}

function describeProbe(probe: MicroserviceProbe): string {
  return probe.path ? `GET ${probe.path} on port ${probe.port}` : `TCP port ${probe.port}`;
}

function toProbe(probe: MicroserviceProbe | undefined): kplus.Probe | undefined {
  if (!probe) return undefined;
  const options = {
    port: probe.port,
    periodSeconds: probe.period ?? Duration.seconds(10),
    failureThreshold: probe.failureThreshold ?? 3,
    timeoutSeconds: probe.timeout ?? Duration.seconds(1),
  };
  return probe.path ? kplus.Probe.fromHttpGet(probe.path, options) : kplus.Probe.fromTcpSocket(options);
}

/** `/opt/bitnami/pgbouncer/conf` → `opt-bitnami-pgbouncer-conf`, a volume name (a DNS label). */
function writableVolumeName(path: string): string {
  const name = path
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (name.length <= 63) return name;
  return name.slice(name.length - 63).replace(/^-+/, '');
}
