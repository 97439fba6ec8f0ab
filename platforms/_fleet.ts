/**
 * Settings shared by every platform of this repository: the one place to change them.
 * Files starting with `_` are helpers, not platforms.
 */

/** Where ArgoCD reads the rendered manifests from: this repository. */
export const gitops = {
  repoURL: 'https://github.com/meridian-platform/fleet.git',
  targetRevision: 'main',
  path: 'dist',
};
