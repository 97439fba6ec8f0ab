/**
 * The security baseline of every pod Meridian renders, checked on each object alone:
 *
 * - the restricted Pod Security Standard (Kubernetes 1.28), field by field, so that a
 *   namespace labelled `pod-security.kubernetes.io/enforce: restricted` admits the pod;
 * - Meridian's additions: uid and gid >= 10001, a read-only root filesystem, an explicit
 *   `automountServiceAccountToken`, resource requests and limits (cpu and memory requests,
 *   memory limit, ephemeral-storage request and limit), and for serving containers a
 *   readiness, a liveness and a startup probe, readiness and liveness not the same check
 *   (kube-score's "Pod Probes").
 */
import type { FieldProblem } from '../../kernel/problems';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Above the range of system and distribution users, as kube-score recommends. */
export const MIN_ID = 10001;

export const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
/** Long-running workloads: the ones that need probes. */
const PROBED_KINDS = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'];

/** The volume types the restricted Pod Security Standard allows. */
export const ALLOWED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
/** Sysctls the baseline standard allows (Kubernetes 1.28). */
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
];
const SELINUX_TYPES = ['container_t', 'container_init_t', 'container_kvm_t'];
const PSS = '(restricted Pod Security Standard)';

export function podSecurityProblems(manifest: Record<string, unknown>): FieldProblem[] {
  const kind = manifest.kind as string;
  const at = POD_SPEC_PATHS[kind];
  const pod = at?.reduce<Json>((o, k) => o?.[k], manifest);
  if (!pod || typeof pod !== 'object') return [];
  const base = at.join('.');
  const problems: FieldProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const podSc: Json = pod.securityContext ?? {};

  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (pod[field] === true) add(`${base}.${field}`, `must be false ${PSS}: the pod would share the node's namespace`);
  }
  if (podSc.windowsOptions?.hostProcess === true) add(`${base}.securityContext.windowsOptions.hostProcess`, `must be false ${PSS}`);
  if (podSc.seLinuxOptions) checkSeLinux(podSc.seLinuxOptions, `${base}.securityContext.seLinuxOptions`, add);
  ((podSc.sysctls ?? []) as Json[]).forEach((s, i) => {
    if (!SAFE_SYSCTLS.includes(s.name))
      add(`${base}.securityContext.sysctls[${i}].name`, `"${s.name}" is not a safe sysctl ${PSS}; allowed: ${SAFE_SYSCTLS.join(', ')}`);
  });
  ((pod.volumes ?? []) as Json[]).forEach((v, i) => {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (type && !ALLOWED_VOLUMES.includes(type))
      add(`${base}.volumes[${i}].${type}`, `volume type ${type} is not allowed ${PSS}; allowed: ${ALLOWED_VOLUMES.join(', ')}`);
  });
  if (podSc.runAsNonRoot === false) add(`${base}.securityContext.runAsNonRoot`, `must be true ${PSS}`);
  for (const id of ['runAsUser', 'runAsGroup', 'fsGroup']) {
    if (podSc[id] !== undefined && podSc[id] < MIN_ID)
      add(`${base}.securityContext.${id}`, `must be >= ${MIN_ID} (got ${podSc[id]}): ids below it belong to system users of the image and the node`);
  }
  const podSeccomp = podSc.seccompProfile?.type;
  if (podSeccomp !== undefined && podSeccomp !== 'RuntimeDefault' && podSeccomp !== 'Localhost') {
    add(`${base}.securityContext.seccompProfile.type`, `must be RuntimeDefault or Localhost (got "${podSeccomp}") ${PSS}`);
  }
  const metaAt = kind === 'Pod' ? ['metadata'] : [...at.slice(0, -1), 'metadata'];
  const metadata = metaAt.reduce<Json>((o, k) => o?.[k], manifest);
  for (const [key, value] of Object.entries((metadata?.annotations ?? {}) as Record<string, string>)) {
    if (key.startsWith('container.apparmor.security.beta.kubernetes.io/') && value !== 'runtime/default' && !value.startsWith('localhost/')) {
      add(`${metaAt.join('.')}.annotations.${key}`, `must be runtime/default or localhost/<profile> (got "${value}") ${PSS}`);
    }
  }
  if (pod.automountServiceAccountToken === undefined) {
    add(
      `${base}.automountServiceAccountToken`,
      'must be set: Kubernetes mounts an API token into every pod by default; set false, or true when the workload calls the Kubernetes API',
    );
  }

  for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
    ((pod[list] ?? []) as Json[]).forEach((c, i) => {
      const p = `${base}.${list}[${i}]`;
      checkContainer(c, p, podSc, add);
      if (list !== 'ephemeralContainers') checkResources(c, p, add);
      if (list === 'containers' && PROBED_KINDS.includes(kind) && (c.ports ?? []).length > 0) checkProbes(c, p, add);
    });
  }
  return problems;
}

type Add = (path: string, message: string) => void;

function checkContainer(c: Json, p: string, podSc: Json, add: Add): void {
  const sc: Json = c.securityContext ?? {};
  const scp = `${p}.securityContext`;
  if (sc.privileged === true) add(`${scp}.privileged`, `must be false ${PSS}`);
  if (sc.allowPrivilegeEscalation !== false) add(`${scp}.allowPrivilegeEscalation`, `must be false ${PSS}: setuid binaries could gain privileges`);
  if (sc.readOnlyRootFilesystem !== true) add(`${scp}.readOnlyRootFilesystem`, 'must be true: write to an emptyDir volume (e.g. /tmp) instead of the image');
  if (sc.procMount !== undefined && sc.procMount !== 'Default') add(`${scp}.procMount`, `must be Default (got "${sc.procMount}") ${PSS}`);
  if (sc.windowsOptions?.hostProcess === true) add(`${scp}.windowsOptions.hostProcess`, `must be false ${PSS}`);
  if (sc.seLinuxOptions) checkSeLinux(sc.seLinuxOptions, `${scp}.seLinuxOptions`, add);
  const drop: string[] = sc.capabilities?.drop ?? [];
  if (!drop.includes('ALL')) add(`${scp}.capabilities.drop`, `must include ALL ${PSS}`);
  ((sc.capabilities?.add ?? []) as string[]).forEach((cap, i) => {
    if (cap !== 'NET_BIND_SERVICE') add(`${scp}.capabilities.add[${i}]`, `${cap} may not be added ${PSS}: only NET_BIND_SERVICE is allowed`);
  });
  ((c.ports ?? []) as Json[]).forEach((port, i) => {
    if (port.hostPort !== undefined && port.hostPort !== 0)
      add(`${p}.ports[${i}].hostPort`, `must not be set (got ${port.hostPort}) ${PSS}: it binds the node's port`);
  });

  // Fields the container inherits from the pod: checked where the value comes from.
  if (sc.runAsNonRoot === false) add(`${scp}.runAsNonRoot`, `must be true ${PSS}`);
  else if (sc.runAsNonRoot === undefined && podSc.runAsNonRoot !== true && podSc.runAsNonRoot !== false)
    add(`${scp}.runAsNonRoot`, `must be true, here or in the pod's securityContext ${PSS}`);
  for (const id of ['runAsUser', 'runAsGroup']) {
    if (sc[id] !== undefined && sc[id] < MIN_ID)
      add(`${scp}.${id}`, `must be >= ${MIN_ID} (got ${sc[id]}): ids below it belong to system users of the image and the node`);
    else if (sc[id] === undefined && podSc[id] === undefined)
      add(`${scp}.${id}`, `must be set to ${MIN_ID} or above, here or in the pod's securityContext: the image's own user could be root`);
  }
  const seccomp = sc.seccompProfile?.type;
  if (seccomp !== undefined && seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
    add(`${scp}.seccompProfile.type`, `must be RuntimeDefault or Localhost (got "${seccomp}") ${PSS}`);
  else if (seccomp === undefined && podSc.seccompProfile?.type === undefined)
    add(`${scp}.seccompProfile.type`, `must be RuntimeDefault or Localhost, here or in the pod's securityContext ${PSS}`);
}

function checkSeLinux(o: Json, p: string, add: Add): void {
  if (o.type && !SELINUX_TYPES.includes(o.type)) add(`${p}.type`, `must be one of ${SELINUX_TYPES.join(', ')} (got "${o.type}") ${PSS}`);
  if (o.user) add(`${p}.user`, `must not be set ${PSS}`);
  if (o.role) add(`${p}.role`, `must not be set ${PSS}`);
}

const REQUIRED_RESOURCES: [string, string, string][] = [
  ['requests', 'cpu', 'the scheduler places the pod blind and cpu autoscaling has nothing to compute a share of'],
  ['requests', 'memory', 'the scheduler places the pod blind'],
  ['limits', 'memory', "a leak would eat the node's memory and get other pods OOM-killed"],
  ['requests', 'ephemeral-storage', 'the scheduler places the pod blind of its scratch disk'],
  ['limits', 'ephemeral-storage', "a runaway log or temp file would fill the node's disk and get other pods evicted"],
];

function checkResources(c: Json, p: string, add: Add): void {
  for (const [section, resource, why] of REQUIRED_RESOURCES) {
    if (c.resources?.[section]?.[resource] === undefined) add(`${p}.resources.${section}.${resource}`, `must be set: without it ${why}`);
  }
}

function checkProbes(c: Json, p: string, add: Add): void {
  const missing: [string, string][] = [
    ['readinessProbe', 'traffic would reach it before it can serve, and keep reaching it when it cannot'],
    ['livenessProbe', 'a wedged process would never be restarted'],
    ['startupProbe', 'a slow start would have to be covered by a lax liveness probe'],
  ];
  for (const [probe, why] of missing) {
    if (!c[probe]) add(`${p}.${probe}`, `must be set on a container that serves ports: without it ${why}`);
  }
  if (c.readinessProbe && c.livenessProbe && sameCheck(c.readinessProbe, c.livenessProbe)) {
    add(
      `${p}.livenessProbe`,
      'is the same check as the readinessProbe: when the pod is overloaded it would be restarted instead of taken out of rotation; check a cheaper endpoint, or the port alone',
    );
  }
}

/**
 * kube-score's rule: the same HTTP path and port, the same gRPC service, or the same command.
 * Two TCP checks of one port are allowed: a TCP-only server (a connection pooler) has no
 * other check to offer, and a port that accepts connections says nothing about load.
 */
function sameCheck(a: Json, b: Json): boolean {
  if (a.httpGet && b.httpGet) return a.httpGet.path === b.httpGet.path && String(a.httpGet.port) === String(b.httpGet.port);
  if (a.grpc && b.grpc) return a.grpc.port === b.grpc.port && (a.grpc.service ?? '') === (b.grpc.service ?? '');
  if (a.exec && b.exec) return JSON.stringify(a.exec.command ?? []) === JSON.stringify(b.exec.command ?? []);
  return false;
}
