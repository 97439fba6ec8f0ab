/**
 * The security baseline of every container and pod Meridian renders, in Kubernetes API
 * shape, for constructs built on the L1 classes (cdk8s-plus ones set the same through
 * their own props): Pod Security Standard "restricted", plus a read-only root filesystem.
 */
/** UID/GID the containers run as: above the range of system users, as restricted PSS and kube-score want. */
export const RUN_AS = 10001;

export function containerSecurityContext() {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS,
    runAsGroup: RUN_AS,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function podSecurityContext() {
  return { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS, seccompProfile: { type: 'RuntimeDefault' } };
}
