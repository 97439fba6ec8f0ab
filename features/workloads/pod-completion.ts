/**
 * A model of how a Job's pod ends, for the pods Meridian renders, where no API server, kubelet
 * or istiod runs: what Istio's injector adds to the pod, what the API server keeps of it, and
 * when the kubelet declares the pod finished.
 *
 * It follows, and only follows, these upstream rules:
 *
 * - Istio's injection policy (istio.io/latest/docs/setup/additional-setup/sidecar-injection/,
 *   "Controlling the injection policy"): a namespace labelled `istio-injection=enabled` gets
 *   the proxy unless the pod is labelled `sidecar.istio.io/inject=false`; a namespace labelled
 *   `istio-injection=disabled` never does; an unlabelled namespace only for pods labelled
 *   `sidecar.istio.io/inject=true`.
 * - Istio's choice of a native or a classic sidecar: the pod annotation
 *   `sidecar.istio.io/nativeSidecar` ("true"/"false") takes precedence over istiod's
 *   ENABLE_NATIVE_SIDECARS (istio.io/latest/docs/reference/config/annotations/#SidecarNativeSidecar);
 *   in its default `auto` mode istiod injects a native sidecar only when every node's kubelet
 *   is at least 1.33 (istio/istio pkg/kube/inject/webhook.go, detectNativeSidecar, and its
 *   TestDetectNativeSidecar cases). A native proxy is an init container with
 *   `restartPolicy: Always`; a classic one is a regular container.
 * - The API server drops `restartPolicy` of init containers when the SidecarContainers feature
 *   gate is off (kubernetes/kubernetes pkg/api/pod/util.go, dropDisabledFields): the container
 *   becomes an ordinary init container. The gate is alpha and off in 1.28, beta and on by
 *   default from 1.29, GA in 1.33 (KEP-753, keps/sig-node/753-sidecar-containers).
 * - The kubelet (kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/ and
 *   .../pods/init-containers/): init containers run in order, each ordinary one must exit
 *   successfully before the next starts, a sidecar one only needs to have started; regular
 *   containers start after all init containers. With `restartPolicy: Never` or `OnFailure`
 *   the pod is done when every regular container has terminated; sidecar containers are then
 *   stopped and do not count. A container that never exits keeps the pod Running.
 * - The Job controller (kubernetes.io/docs/concepts/workloads/controllers/job/, "Job
 *   termination and cleanup"): a Job whose pod is still running at `activeDeadlineSeconds`
 *   has its pods terminated and fails with reason DeadlineExceeded.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON

/** Istio's proxy container, as the injector names it. */
export const ISTIO_PROXY = 'istio-proxy';
export const INJECT_LABEL = 'sidecar.istio.io/inject';
export const NATIVE_SIDECAR_ANNOTATION = 'sidecar.istio.io/nativeSidecar';

/** The cluster a pod is created in. */
export interface ClusterRuntime {
  /** The SidecarContainers feature gate of the API server and kubelets. */
  readonly sidecarContainers: boolean;
  /** Minor version of the oldest node's kubelet (28 for 1.28). */
  readonly kubeletMinor: number;
  /** istiod's ENABLE_NATIVE_SIDECARS. @default 'auto' */
  readonly istioNativeSidecars?: 'auto' | 'enabled' | 'disabled';
}

/** How a container behaves once started. */
export type Behaviour = 'exits' | 'runs';

export interface ContainerRun {
  readonly name: string;
  /** `init`: runs to completion before the next; `sidecar`: an init container restarted always; `regular`. */
  readonly kind: 'init' | 'sidecar' | 'regular';
  readonly behaviour: Behaviour;
}

export interface PodOutcome {
  /** The pod's containers after injection and admission, in start order. */
  readonly containers: readonly ContainerRun[];
  /** Whether Istio injected its proxy, and how. */
  readonly proxy: 'none' | 'native' | 'classic';
  readonly phase: 'Succeeded' | 'Failed';
  /** `Completed`, or why the Job fails (DeadlineExceeded). */
  readonly reason: 'Completed' | 'DeadlineExceeded';
  /** What kept the pod from finishing, in the reader's terms. */
  readonly blockedBy?: string;
}

/** Whether Istio's injector adds its proxy to a pod of this namespace. */
export function istioInjects(namespaceLabels: Record<string, string>, podLabels: Record<string, string>): boolean {
  const ns = namespaceLabels['istio-injection'];
  if (ns === 'disabled') return false;
  if (ns === 'enabled') return podLabels[INJECT_LABEL] !== 'false';
  return podLabels[INJECT_LABEL] === 'true';
}

/** Whether Istio injects its proxy as a native sidecar (an init container restarted always). */
export function istioInjectsNative(podAnnotations: Record<string, string>, cluster: ClusterRuntime): boolean {
  const forced = podAnnotations[NATIVE_SIDECAR_ANNOTATION];
  if (forced === 'true') return true;
  if (forced === 'false') return false;
  const mode = cluster.istioNativeSidecars ?? 'auto';
  if (mode !== 'auto') return mode === 'enabled';
  return cluster.kubeletMinor >= 33;
}

/**
 * How a Job's pod ends in `cluster`, given the pod template as rendered and the labels of its
 * namespace. Every container Meridian renders is assumed to do its work and exit, except
 * those named in `longRunning` (a proxy such as the Cloud SQL Auth Proxy) and Istio's proxy,
 * which run until they are stopped.
 */
export function jobPodOutcome(
  template: Json,
  namespaceLabels: Record<string, string>,
  cluster: ClusterRuntime,
  longRunning: readonly string[] = [],
): PodOutcome {
  const meta = template.metadata ?? {};
  const spec = template.spec ?? {};
  const restartPolicy = spec.restartPolicy ?? 'Always';
  if (restartPolicy === 'Always') throw new Error(`a Job's pod needs restartPolicy Never or OnFailure (got ${restartPolicy})`);
  const behaviour = (name: string): Behaviour => (name === ISTIO_PROXY || longRunning.includes(name) ? 'runs' : 'exits');

  // What the pod is created with: the template, then Istio's injection (mutating admission).
  let init: { name: string; restartPolicy?: string }[] = [...(spec.initContainers ?? [])].map((c: Json) => ({ name: c.name, restartPolicy: c.restartPolicy }));
  let regular: string[] = (spec.containers ?? []).map((c: Json) => c.name as string);
  let proxy: PodOutcome['proxy'] = 'none';
  if (istioInjects(namespaceLabels, meta.labels ?? {})) {
    if (istioInjectsNative(meta.annotations ?? {}, cluster)) {
      proxy = 'native';
      init = [{ name: ISTIO_PROXY, restartPolicy: 'Always' }, ...init];
    } else {
      proxy = 'classic';
      regular = [...regular, ISTIO_PROXY];
    }
  }
  // The API server's registry strategy runs after admission and drops fields of disabled gates.
  if (!cluster.sidecarContainers) init = init.map((c) => ({ name: c.name }));

  const containers: ContainerRun[] = [
    ...init.map((c) => ({ name: c.name, kind: c.restartPolicy === 'Always' ? ('sidecar' as const) : ('init' as const), behaviour: behaviour(c.name) })),
    ...regular.map((name) => ({ name, kind: 'regular' as const, behaviour: behaviour(name) })),
  ];
  const fail = (blockedBy: string): PodOutcome => ({ containers, proxy, phase: 'Failed', reason: 'DeadlineExceeded', blockedBy });

  for (const c of containers.filter((x) => x.kind === 'init')) {
    if (c.behaviour === 'runs') return fail(`init container ${c.name} never exits, so the pod's containers never start`);
  }
  const running = containers.filter((x) => x.kind === 'regular' && x.behaviour === 'runs');
  if (running.length > 0) {
    return fail(`container ${running.map((x) => x.name).join(', ')} keeps running after the job's work is done, so the pod never finishes`);
  }
  return { containers, proxy, phase: 'Succeeded', reason: 'Completed' };
}
