/** Names the mesh constructs and the checks of rendered objects share. */

/** On a PeerAuthentication with a workload selector: why a port accepts plaintext. */
export const MTLS_EXCEPTION = 'meridian.dev/mtls-exception';

/** Istio's root namespace: policies there apply to the whole mesh. */
export const ISTIO_ROOT_NAMESPACE = 'istio-system';
