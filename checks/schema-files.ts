/** Where `npm run import` writes what it generates, and which upstream CRD files it reads. */
export const IMPORTS_DIR = 'imports';
export const SCHEMAS_DIR = 'imports/schemas';

/**
 * The pinned CRDs (files of `../shared/crds`, see its README for their upstream tags).
 * The Gateway API is left out: ingress goes through the Istio Gateway.
 */
export const CRD_SOURCES = [
  'istio.yaml',
  'keda.yaml',
  'argocd.yaml',
  'external-secrets.yaml',
  'gke-managed-prometheus.yaml',
  'gke-managed-prometheus-more.yaml',
  'gke.yaml',
] as const;
