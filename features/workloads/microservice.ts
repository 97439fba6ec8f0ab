import { Duration, Lazy, Size } from 'cdk8s';
import { Cpu, k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { containerSecurityContext, podSecurityContext } from '../../kernel/hardening';
import type { IScalable, ScalingTarget } from '../../kernel/scaling';
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
  /** HTTP path to GET. @default - a TCP connection check (or grpc) */
  readonly path?: string;
  /**
   * A gRPC health check (grpc.health.v1) of `service` on the port; exclusive with `path`.
   * @default - not a gRPC check; `service` '' asks for the server as a whole
   */
  readonly grpc?: { readonly service?: string };
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
  readonly cpu?: Cpu;
  /** CPU limit. @default - none */
  readonly cpuLimit?: Cpu;
  /** Memory requested. @default Size.mebibytes(128) */
  readonly memory?: Size;
  /** Memory limit. @default - twice the memory request */
  readonly memoryLimit?: Size;
  /** Scratch disk requested; the limit is twice that. @default Size.mebibytes(64) */
  readonly ephemeralStorage?: Size;
}

/** A container beside the main one, hardened like it; it reads no environment and mounts nothing. */
export interface SidecarContainer {
  readonly name: string;
  /**
   * Run it as a native sidecar: an init container with `restartPolicy: Always`, started (its
   * startup probe passed) before the main container and stopped after it. Only where the
   * cluster runs native sidecars (the SidecarContainers gate: on from Kubernetes 1.29).
   * @default false - a regular container beside the main one
   */
  readonly native?: boolean;
  /** Image reference pinned by tag or digest. */
  readonly image: string;
  /** @default - the image's */
  readonly args?: string[];
  /** Ports it listens on. @default [] */
  readonly ports?: { readonly name: string; readonly port: number }[];
  /** CPU requested. @default - none */
  readonly cpu?: Cpu;
  /** Memory requested. @default - none */
  readonly memory?: Size;
  /** Memory limit. @default - none */
  readonly memoryLimit?: Size;
  /** Scratch disk requested. @default Size.mebibytes(16) */
  readonly ephemeralStorage?: Size;
  /** Scratch disk limit. @default Size.mebibytes(64) */
  readonly ephemeralStorageLimit?: Size;
  /** Period and timeout default to the kubelet's (10 s, 1 s). @default - none */
  readonly readiness?: MicroserviceProbe;
  /** @default - none */
  readonly liveness?: MicroserviceProbe;
  /** @default - none */
  readonly startup?: MicroserviceProbe;
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
  /** Fixed replica count, until an autoscaler takes it over (see `markHasAutoscaler`). @default 2 */
  readonly replicas?: number;
  /** Google service account bound through Workload Identity. */
  readonly gcpServiceAccount: string;
  /** Zones the pods are restricted to and spread across. @default - no zone constraint */
  readonly zones?: string[];
  /** Labels added to every object and to the pods. @default {} */
  readonly labels?: Record<string, string>;
  /** Labels added to the pods only (not to the selector). @default {} */
  readonly podLabels?: Record<string, string>;
  /**
   * Envoy statistics the sidecar exports besides Istio's defaults, by name suffix (the pod's
   * `proxy.istio.io/config` `proxyStatsMatcher.inclusionSuffixes`). @default - Istio's defaults only
   */
  readonly proxyStatsSuffixes?: readonly string[];
  /** Extra containers in the pod (e.g. the Cloud SQL Auth Proxy); hardened like the main one. @default [] */
  readonly sidecars?: SidecarContainer[];
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

/** UID/GID the containers run as (defined with the rest of the baseline in kernel/hardening). */
export { RUN_AS } from '../../kernel/hardening';

/**
 * A stateless service: Deployment, Service, ServiceAccount (Workload Identity) and
 * PodDisruptionBudget, hardened by default (non-root, read-only root filesystem, no
 * privilege escalation, all capabilities dropped, seccomp RuntimeDefault). Built on the
 * L1 objects; the pod-level fields Kubernetes would default are written out, so the
 * rendered Deployment says what runs.
 */
export class Microservice extends Construct implements IScalable {
  /** Name of the Deployment: the service's name, `<name>-<version>` for a variant. */
  public readonly name: string;
  public readonly namespace: string;
  /** Labels that select this service's pods. */
  public readonly selector: Record<string, string>;
  public readonly ports: Required<MicroservicePort>[];
  /** The fixed replica count; not rendered once an autoscaler owns it. */
  public readonly replicas: number;
  public readonly deployment: k8s.KubeDeployment;
  /** Name of the ServiceAccount the pods run as (a variant runs as its service's). */
  public readonly serviceAccountName: string;
  /** Undefined for a variant, which runs as its service's ServiceAccount. */
  public readonly serviceAccount?: k8s.KubeServiceAccount;
  /** Undefined for a service without ports and for a variant. */
  public readonly service?: k8s.KubeService;
  private scaledFrom?: number;
  private readonly podSelector: Record<string, string>;
  private readonly workloadMetadata: k8s.ObjectMeta;
  private readonly containers: k8s.Container[];

  constructor(scope: Construct, id: string, props: MicroserviceProps) {
    super(scope, id);
    const variant = props.version !== undefined && props.version !== STABLE_VERSION;
    this.name = variant ? `${props.name}-${props.version}` : props.name;
    this.namespace = props.namespace;
    this.ports = (props.ports ?? []).map((p) => ({ protocol: 'http', ...p }));
    this.replicas = props.replicas ?? 2;
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
    for (const [kind, probe] of Object.entries({ readiness: props.readiness, liveness: props.liveness, startup: props.startup })) {
      if (probe?.grpc && probe.path !== undefined) {
        throw new Error(`Microservice '${id}': ${kind} sets both path (${probe.path}) and grpc: a probe is an HTTP GET or a gRPC health check`);
      }
    }
    // Two TCP checks of one port are allowed: a TCP-only server has no other check to offer.
    if (
      props.readiness &&
      describeProbe(props.readiness) !== `TCP port ${props.readiness.port}` &&
      liveness &&
      describeProbe(liveness) === describeProbe(props.readiness)
    ) {
      throw new Error(
        `Microservice '${id}': liveness (${describeProbe(liveness)}) must not be the readiness check: an overloaded pod would be restarted instead of taken out of rotation`,
      );
    }
    this.selector = microserviceSelector(props.name);
    const labels = { ...props.labels, ...this.selector };
    const metadata = { name: props.name, namespace: props.namespace, labels };
    // The stable Deployment keeps selecting by name only (a selector is immutable); the
    // disruption budget and spreading count each version's pods apart.
    const versionLabels: Record<string, string> = props.version !== undefined ? { version: props.version } : {};
    const podSelector = (this.podSelector = { ...this.selector, ...versionLabels });
    const workloadMetadata = (this.workloadMetadata = variant ? { ...metadata, name: this.name, labels: { ...labels, ...versionLabels } } : metadata);

    // Workload Identity binds the Google service account to this ServiceAccount's name.
    this.serviceAccountName = props.name;
    if (!variant) {
      this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
        metadata: { ...metadata, annotations: { 'iam.gke.io/gcp-service-account': props.gcpServiceAccount } },
        automountServiceAccountToken: false,
      });
    }

    const res = props.resources ?? {};
    const memory = res.memory ?? Size.mebibytes(128);
    const scratch = res.ephemeralStorage ?? Size.mebibytes(64);
    const writable = [{ name: 'tmp', path: '/tmp' }, ...(props.writablePaths ?? []).map((path) => ({ name: writableVolumeName(path), path }))];
    // One entry per name; a secret wins over a plain value of the same name.
    const env: Record<string, k8s.EnvVar> = {};
    for (const [name, value] of Object.entries(props.env ?? {})) env[name] = { name, value };
    for (const [name, ref] of Object.entries(props.secretEnv ?? {})) env[name] = { name, valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } };
    const main: k8s.Container = {
      name: props.name,
      image: props.image,
      imagePullPolicy: 'IfNotPresent',
      command: props.command,
      args: props.args,
      ports: undefinedIfEmpty(this.ports.map((p) => ({ name: p.name, containerPort: p.port }))),
      env: undefinedIfEmpty(Object.values(env)),
      resources: {
        limits: {
          ...(res.cpuLimit ? { cpu: k8s.Quantity.fromString(res.cpuLimit.amount) } : {}),
          memory: mebibytes(res.memoryLimit ?? Size.mebibytes(memory.toMebibytes() * 2)),
          'ephemeral-storage': quantity(Size.mebibytes(scratch.toMebibytes() * 2)),
        },
        requests: {
          cpu: k8s.Quantity.fromString((res.cpu ?? Cpu.millis(100)).amount),
          memory: mebibytes(memory),
          'ephemeral-storage': quantity(scratch),
        },
      },
      readinessProbe: toProbe(props.readiness, PROBE_DEFAULTS),
      livenessProbe: toProbe(liveness, PROBE_DEFAULTS),
      startupProbe: toProbe(startup, PROBE_DEFAULTS),
      securityContext: containerSecurityContext(),
      volumeMounts: writable.map((w) => ({ name: w.name, mountPath: w.path })),
    };

    this.containers = [main, ...(props.sidecars ?? []).filter((c) => !c.native).map(sidecarContainer)];
    const initContainers = (props.sidecars ?? []).filter((c) => c.native).map((c) => ({ ...sidecarContainer(c), restartPolicy: 'Always' }));
    const zoned = props.zones !== undefined && props.zones.length > 0;
    this.deployment = new k8s.KubeDeployment(this, 'Resource', {
      metadata: workloadMetadata,
      spec: {
        replicas: Lazy.any({ produce: () => (this.hasAutoscaler ? undefined : this.replicas) }),
        minReadySeconds: 0,
        progressDeadlineSeconds: 600,
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxSurge: k8s.IntOrString.fromString('25%'), maxUnavailable: k8s.IntOrString.fromString('25%') },
        },
        selector: { matchLabels: variant ? podSelector : this.selector },
        template: {
          metadata: {
            labels: { ...labels, app: props.name, ...props.podLabels, ...versionLabels },
            ...(props.notSecretEnv?.length || props.proxyStatsSuffixes?.length
              ? {
                  annotations: {
                    ...(props.notSecretEnv?.length ? { [NOT_SECRET_ANNOTATION]: [...props.notSecretEnv].sort().join(',') } : {}),
                    // Read by Istio's injector: a ProxyConfig for this pod's sidecar.
                    ...(props.proxyStatsSuffixes?.length
                      ? { 'proxy.istio.io/config': JSON.stringify({ proxyStatsMatcher: { inclusionSuffixes: [...props.proxyStatsSuffixes].sort() } }) }
                      : {}),
                  },
                }
              : {}),
          },
          spec: {
            serviceAccountName: this.serviceAccountName,
            automountServiceAccountToken: false,
            securityContext: { ...podSecurityContext(), fsGroupChangePolicy: 'Always' },
            initContainers: initContainers.length ? initContainers : undefined,
            containers: this.containers,
            volumes: writable.map((w) => ({ name: w.name, emptyDir: {} })),
            affinity: zoned ? affinity(props.zones!, podSelector) : undefined,
            topologySpreadConstraints: zoned
              ? [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: podSelector } }]
              : undefined,
            restartPolicy: 'Always',
            dnsPolicy: 'ClusterFirst',
            hostNetwork: false,
            setHostnameAsFqdn: false,
            terminationGracePeriodSeconds: 30,
          },
        },
      },
    });

    if (this.ports.length > 0 && !variant) {
      this.service = new k8s.KubeService(this, 'Service', {
        metadata,
        spec: {
          type: 'ClusterIP',
          selector: this.selector,
          ports: servicePorts(this.ports),
        },
      });
    }

    this.updateDisruptionBudget();
  }

  /** An autoscaler owns the replica count (it called `markHasAutoscaler`). */
  public get hasAutoscaler(): boolean {
    return this.scaledFrom !== undefined;
  }

  /** Fewest replicas running: the autoscaler's minimum once there is one, else `replicas`. */
  public get minReplicas(): number {
    return this.scaledFrom ?? this.replicas;
  }

  public toScalingTarget(): ScalingTarget {
    const quantities = (q: Record<string, k8s.Quantity> | undefined) => Object.fromEntries(Object.entries(q ?? {}).map(([k, v]) => [k, String(v.value)]));
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: this.name,
      namespace: this.namespace,
      containers: this.containers.map((c) => ({ name: c.name, requests: quantities(c.resources?.requests), limits: quantities(c.resources?.limits) })),
    };
  }

  /**
   * The autoscaler owns the replica count from now on: `replicas` is left out of the
   * Deployment so that GitOps does not fight it, and its minimum decides the disruption budget.
   */
  public markHasAutoscaler(minReplicas: number): void {
    this.scaledFrom = minReplicas;
    this.updateDisruptionBudget();
  }

  /** A budget when at least two pods run (with one, it would forbid every voluntary eviction). */
  private updateDisruptionBudget(): void {
    const wanted = this.minReplicas >= 2;
    const present = this.node.tryFindChild('Disruption') !== undefined;
    if (wanted && !present) {
      // A pod covered by two budgets cannot be evicted at all: each version has its own.
      new k8s.KubePodDisruptionBudget(this, 'Disruption', {
        metadata: this.workloadMetadata,
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.podSelector } },
      });
    } else if (!wanted && present) {
      this.node.tryRemoveChild('Disruption');
    }
  }
}

/** Restricts pods to the zones, and prefers one pod per node. */
function affinity(zones: string[], selector: Record<string, string>): k8s.Affinity {
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

function quantity(size: Size): k8s.Quantity {
  return k8s.Quantity.fromString(formatSize(size));
}

/** Memory in MiB, the unit it has always been rendered in (`1024Mi`, not `1Gi`). */
function mebibytes(size: Size): k8s.Quantity {
  return k8s.Quantity.fromString(`${size.toMebibytes()}Mi`);
}

function undefinedIfEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}

function describeProbe(probe: MicroserviceProbe): string {
  if (probe.path !== undefined) return `GET ${probe.path} on port ${probe.port}`;
  return probe.grpc ? `gRPC health of "${probe.grpc.service ?? ''}" on port ${probe.port}` : `TCP port ${probe.port}`;
}

/** The main container's probe timing; a sidecar's probes keep the kubelet's defaults. */
const PROBE_DEFAULTS = { period: Duration.seconds(10), timeout: Duration.seconds(1) };

function toProbe(probe: MicroserviceProbe | undefined, defaults: { period?: Duration; timeout?: Duration } = {}): k8s.Probe | undefined {
  if (!probe) return undefined;
  const port = k8s.IntOrString.fromNumber(probe.port);
  const period = probe.period ?? defaults.period;
  const timeout = probe.timeout ?? defaults.timeout;
  return {
    ...(probe.path !== undefined
      ? { httpGet: { path: probe.path, port, scheme: 'HTTP' } }
      : probe.grpc
        ? { grpc: { port: probe.port, ...(probe.grpc.service ? { service: probe.grpc.service } : {}) } }
        : { tcpSocket: { port } }),
    failureThreshold: probe.failureThreshold ?? 3,
    periodSeconds: period?.toSeconds(),
    timeoutSeconds: timeout?.toSeconds(),
  };
}

/** A sidecar container, hardened like the main one. */
function sidecarContainer(sidecar: SidecarContainer): k8s.Container {
  return {
    name: sidecar.name,
    image: sidecar.image,
    imagePullPolicy: 'IfNotPresent',
    args: sidecar.args,
    ports: sidecar.ports && undefinedIfEmpty(sidecar.ports.map((p) => ({ name: p.name, containerPort: p.port }))),
    resources: {
      limits: {
        ...(sidecar.memoryLimit ? { memory: mebibytes(sidecar.memoryLimit) } : {}),
        'ephemeral-storage': quantity(sidecar.ephemeralStorageLimit ?? Size.mebibytes(64)),
      },
      requests: {
        ...(sidecar.cpu ? { cpu: k8s.Quantity.fromString(sidecar.cpu.amount) } : {}),
        ...(sidecar.memory ? { memory: mebibytes(sidecar.memory) } : {}),
        'ephemeral-storage': quantity(sidecar.ephemeralStorage ?? Size.mebibytes(16)),
      },
    },
    readinessProbe: toProbe(sidecar.readiness),
    livenessProbe: toProbe(sidecar.liveness),
    startupProbe: toProbe(sidecar.startup),
    securityContext: containerSecurityContext(),
  };
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

/** The labels a Microservice's Service selects its pods by: `app.kubernetes.io/name: <name>`. */
export function microserviceSelector(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name };
}

/** A Microservice's ports as its Service declares them; `appProtocol` is what Istio reads to choose its protocol handling. */
export function servicePorts(ports: readonly MicroservicePort[]): k8s.ServicePort[] {
  return ports.map((p) => ({
    name: p.name,
    port: p.port,
    targetPort: k8s.IntOrString.fromNumber(p.port),
    appProtocol: p.protocol === 'websocket' || p.protocol === 'sse' ? 'http' : (p.protocol ?? 'http'),
  }));
}
