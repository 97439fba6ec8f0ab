import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { containerSecurityContext, podSecurityContext } from '../../kernel/hardening';
import type { SecretEnv } from './microservice';
import { formatSize } from '../../kernel/units';
import { INJECT_LABEL, NATIVE_SIDECAR_ANNOTATION } from './pod-completion';
import { NOT_SECRET_ANNOTATION } from '../secrets/not-secret';

const k8s = kplus.k8s;

export interface ScheduledJobProps {
  /** Name of the CronJob and its ServiceAccount. */
  readonly name: string;
  readonly namespace: string;
  /** Image reference pinned by tag or digest. */
  readonly image: string;
  /** Cron schedule (five fields or a macro). */
  readonly schedule: string;
  /** IANA time zone of the schedule. @default 'Etc/UTC' */
  readonly timeZone?: string;
  /** @default 'Forbid' */
  readonly concurrencyPolicy?: 'Forbid' | 'Replace' | 'Allow';
  /** A run is stopped after this long. @default Duration.minutes(30) */
  readonly deadline?: Duration;
  /** A run not started within this long after its time is skipped. @default Duration.minutes(5) */
  readonly startingDeadline?: Duration;
  /** Retries of a failed run. @default 2 */
  readonly backoffLimit?: number;
  /** @default - the image's */
  readonly command?: string[];
  /** @default - the image's */
  readonly args?: string[];
  /** CPU request. @default '100m' */
  readonly cpu?: string;
  /** Memory request; the limit is twice that. @default Size.mebibytes(128) */
  readonly memory?: Size;
  /** Scratch disk request; the limit is twice that. @default Size.mebibytes(64) */
  readonly ephemeralStorage?: Size;
  /** @default {} */
  readonly env?: Record<string, string>;
  /** Variables of `env` that look like secrets but are not: listed in the pod annotation `meridian.dev/not-secret`, which validate reads. @default [] */
  readonly notSecretEnv?: readonly string[];
  /** @default {} */
  readonly secretEnv?: Record<string, SecretEnv>;
  /** Google service account bound through Workload Identity. */
  readonly gcpServiceAccount: string;
  /** @default {} */
  readonly labels?: Record<string, string>;
  /**
   * How the run's pod relates to the Istio mesh. A classic (regular container) proxy never
   * exits, so the pod would run until its deadline and the run count as failed:
   * - `native-sidecar`: the pod asks Istio for its proxy as a native sidecar, which the kubelet
   *   stops once the job's container exits; only where the cluster runs native sidecars
   *   (Kubernetes SidecarContainers, on by default from 1.29);
   * - `outside`: the pod is not injected; it has no mTLS identity and reaches only what its
   *   NetworkPolicy allows (Google APIs over TLS).
   * @default 'outside'
   */
  readonly mesh?: 'native-sidecar' | 'outside';
}

/**
 * A CronJob with its own Workload Identity ServiceAccount: runs never overlap by default,
 * are bounded in time, and keep a short history; containers are hardened like services'.
 */
export class ScheduledJob extends Construct {
  public readonly cronJob: kplus.k8s.KubeCronJob;
  /** Labels of the runs' pods. */
  public readonly selector: Record<string, string>;
  /** The runs' Kubernetes ServiceAccount. */
  public readonly serviceAccount: string;
  public readonly mesh: 'native-sidecar' | 'outside';

  constructor(scope: Construct, id: string, props: ScheduledJobProps) {
    super(scope, id);
    const deadline = props.deadline ?? Duration.minutes(30);
    const starting = props.startingDeadline ?? Duration.minutes(5);
    if (deadline.toMilliseconds() < 1000) throw new Error(`ScheduledJob '${id}': deadline (${deadline.toHumanString()}) must be at least 1s`);
    const selector = { 'app.kubernetes.io/name': props.name };
    const labels = { ...props.labels, ...selector };
    const metadata = { name: props.name, namespace: props.namespace, labels };
    this.selector = selector;
    this.serviceAccount = props.name;
    this.mesh = props.mesh ?? 'outside';
    const notSecret = props.notSecretEnv?.length ? { [NOT_SECRET_ANNOTATION]: [...props.notSecretEnv].sort().join(',') } : undefined;
    const podMetadata =
      this.mesh === 'native-sidecar'
        ? { labels, annotations: { [NATIVE_SIDECAR_ANNOTATION]: 'true', ...notSecret } }
        : { labels: { ...labels, [INJECT_LABEL]: 'false' }, ...(notSecret ? { annotations: notSecret } : {}) };
    const memory = props.memory ?? Size.mebibytes(128);
    const scratch = props.ephemeralStorage ?? Size.mebibytes(64);
    const q = (s: string) => k8s.Quantity.fromString(s);

    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { ...metadata, annotations: { 'iam.gke.io/gcp-service-account': props.gcpServiceAccount } },
      automountServiceAccountToken: false,
    });

    const env = [
      ...Object.entries(props.env ?? {}).map(([name, value]) => ({ name, value })),
      ...Object.entries(props.secretEnv ?? {}).map(([name, ref]) => ({ name, valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } })),
    ];

    this.cronJob = new k8s.KubeCronJob(this, 'Resource', {
      metadata,
      spec: {
        schedule: props.schedule,
        timeZone: props.timeZone ?? 'Etc/UTC',
        concurrencyPolicy: props.concurrencyPolicy ?? 'Forbid',
        startingDeadlineSeconds: starting.toSeconds(),
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            activeDeadlineSeconds: deadline.toSeconds(),
            backoffLimit: props.backoffLimit ?? 2,
            ttlSecondsAfterFinished: 86400,
            template: {
              metadata: podMetadata,
              spec: {
                serviceAccountName: props.name,
                automountServiceAccountToken: false,
                restartPolicy: 'Never',
                securityContext: podSecurityContext(),
                containers: [
                  {
                    name: props.name,
                    image: props.image,
                    imagePullPolicy: 'IfNotPresent',
                    command: props.command,
                    args: props.args,
                    env: env.length > 0 ? env : undefined,
                    resources: {
                      requests: { cpu: q(props.cpu ?? '100m'), memory: q(formatSize(memory)), 'ephemeral-storage': q(formatSize(scratch)) },
                      limits: {
                        memory: q(formatSize(Size.mebibytes(memory.toMebibytes() * 2))),
                        'ephemeral-storage': q(formatSize(Size.mebibytes(scratch.toMebibytes() * 2))),
                      },
                    },
                    securityContext: containerSecurityContext(),
                    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                  },
                ],
                volumes: [{ name: 'tmp', emptyDir: {} }],
              },
            },
          },
        },
      },
    });
  }
}
