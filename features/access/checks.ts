/**
 * Access policies: a NetworkPolicy or Istio policy whose selector matches no pod protects
 * nothing (istioctl analyze IST0127 NoMatchingWorkloadsFound); a RequestAuthentication
 * alone lets requests without a token through; an ALLOW rule that is empty allows everything.
 * And the per-namespace baseline Meridian renders: mTLS STRICT, allow-nothing, default deny.
 */
import { at, Cluster, isEmptySelector, Json, Located, matchesLabels, Problem, problem, selects, showSelector } from '../../checks/objects';

import { ISTIO_ROOT_NAMESPACE, MTLS_EXCEPTION } from '../../kernel/mesh';

export { ISTIO_ROOT_NAMESPACE, MTLS_EXCEPTION };

const ISTIO_POLICY_KINDS = ['AuthorizationPolicy', 'RequestAuthentication', 'PeerAuthentication'];

export function policyReferenceProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  const podsIn = (ns: string) => cluster.pods(ns);

  for (const np of cluster.of('NetworkPolicy')) {
    const ns = np.obj.metadata.namespace ?? 'default';
    const spec = np.obj.spec ?? {};
    if (!isEmptySelector(spec.podSelector) && !podsIn(ns).some((p) => selects(spec.podSelector, p.labels))) {
      problems.push(problem(np, 'spec.podSelector', `${showSelector(spec.podSelector)} selects no pods in namespace ${ns}: the policy protects nothing`));
    }
    // Peers in the policy's own namespace (a podSelector without namespaceSelector) are checkable here.
    for (const [dir, side] of [
      ['ingress', 'from'],
      ['egress', 'to'],
    ] as const) {
      ((spec[dir] ?? []) as Json[]).forEach((rule, i) => {
        ((rule[side] ?? []) as Json[]).forEach((peer, j) => {
          if (peer.namespaceSelector || peer.ipBlock || isEmptySelector(peer.podSelector)) return;
          if (!podsIn(ns).some((p) => selects(peer.podSelector, p.labels))) {
            problems.push(
              problem(
                np,
                at('spec', dir, i, side, j, 'podSelector'),
                `${showSelector(peer.podSelector)} selects no pods in namespace ${ns}: the rule allows nothing`,
              ),
            );
          }
        });
      });
    }
  }

  for (const kind of ISTIO_POLICY_KINDS) {
    for (const p of cluster.of(kind)) {
      const ns = p.obj.metadata.namespace ?? 'default';
      const labels: Record<string, string> = p.obj.spec?.selector?.matchLabels ?? {};
      if (Object.keys(labels).length === 0) continue;
      const pods = ns === ISTIO_ROOT_NAMESPACE ? cluster.pods() : podsIn(ns);
      if (!pods.some((pod) => matchesLabels(labels, pod.labels))) {
        problems.push(
          problem(
            p,
            'spec.selector.matchLabels',
            `${showSelector(labels)} selects no pods in ${ns === ISTIO_ROOT_NAMESPACE ? 'the mesh' : `namespace ${ns}`}: the policy applies to nothing`,
          ),
        );
      }
    }
  }

  for (const ap of cluster.of('AuthorizationPolicy')) {
    if ((ap.obj.spec?.action ?? 'ALLOW') !== 'ALLOW') continue;
    ((ap.obj.spec?.rules ?? []) as Json[]).forEach((rule, i) => {
      if (rule && typeof rule === 'object' && Object.keys(rule).length === 0) {
        problems.push(
          problem(
            ap,
            at('spec.rules', i),
            'is empty: an empty rule matches every request, so this ALLOW policy lets everything in; name the sources (from) and operations (to) it allows',
          ),
        );
      }
    });
  }

  for (const ra of cluster.of('RequestAuthentication')) {
    ((ra.obj.spec?.jwtRules ?? []) as Json[]).forEach((rule, i) => {
      if (!Array.isArray(rule.audiences) || rule.audiences.length === 0) {
        problems.push(
          problem(
            ra,
            at('spec.jwtRules', i, 'audiences'),
            `must list the audiences tokens are issued for: without them any token of ${rule.issuer ?? 'the issuer'} is accepted, whatever it was issued for`,
          ),
        );
      }
    });
    if (!hasTokenRequirement(cluster, ra)) {
      problems.push(
        problem(
          ra,
          '',
          'has no AuthorizationPolicy requiring requestPrincipals for the same workloads: a RequestAuthentication only rejects invalid tokens, and requests without a token still get through; add an ALLOW policy with from.source.requestPrincipals: ["*"]',
        ),
      );
    }
  }
  return problems;
}

/** An AuthorizationPolicy of the namespace (or the root) over the same workloads that matches on request principals. */
function hasTokenRequirement(cluster: Cluster, ra: Located): boolean {
  const ns = ra.obj.metadata.namespace;
  const raLabels: Record<string, string> = ra.obj.spec?.selector?.matchLabels ?? {};
  return [...cluster.of('AuthorizationPolicy', ns), ...cluster.of('AuthorizationPolicy', ISTIO_ROOT_NAMESPACE)].some((ap) => {
    const apLabels: Record<string, string> = ap.obj.spec?.selector?.matchLabels ?? {};
    // The policy must cover at least every workload the RequestAuthentication covers.
    if (!matchesLabels(apLabels, raLabels)) return false;
    return ((ap.obj.spec?.rules ?? []) as Json[]).some((rule) =>
      ((rule.from ?? []) as Json[]).some((f) => (f.source?.requestPrincipals ?? []).length > 0 || (f.source?.notRequestPrincipals ?? []).length > 0),
    );
  });
}

/**
 * The baseline of every namespace in the mesh: mutual TLS required (PeerAuthentication
 * STRICT), nothing allowed unless a policy says so (allow-nothing AuthorizationPolicy),
 * no traffic unless a NetworkPolicy allows it (default deny), restricted pod security.
 */
export function namespaceBaselineProblems(cluster: Cluster): Problem[] {
  const problems: Problem[] = [];
  for (const ns of cluster.of('Namespace')) {
    const name = ns.obj.metadata.name;
    const labels = ns.obj.metadata.labels ?? {};
    if (labels['pod-security.kubernetes.io/enforce'] !== 'restricted') {
      problems.push(
        problem(
          ns,
          'metadata.labels.pod-security.kubernetes.io/enforce',
          `must be "restricted" (got ${JSON.stringify(labels['pod-security.kubernetes.io/enforce'] ?? null)}): the API server then refuses pods that break the restricted Pod Security Standard`,
        ),
      );
    }
    const meshed = labels['istio-injection'] === 'enabled' || labels['istio.io/rev'] !== undefined;
    if (meshed) {
      // A namespace-wide policy with another mode is reported on the policy itself, below.
      const peer = cluster
        .of('PeerAuthentication', name)
        .filter((p) => isEmptySelector(p.obj.spec?.selector) && ![undefined, 'UNSET'].includes(p.obj.spec?.mtls?.mode));
      if (peer.length === 0) {
        problems.push(problem(ns, '', 'has no namespace-wide PeerAuthentication with mtls.mode STRICT: workloads would accept plaintext traffic'));
      }
      const allowNothing = cluster
        .of('AuthorizationPolicy', name)
        .some(
          (p) =>
            isEmptySelector(p.obj.spec?.selector) &&
            (p.obj.spec?.action ?? 'ALLOW') === 'ALLOW' &&
            (p.obj.spec?.rules ?? []).length === 0 &&
            !p.obj.spec?.targetRef &&
            !p.obj.spec?.targetRefs,
        );
      if (!allowNothing) {
        problems.push(
          problem(ns, '', 'has no allow-nothing AuthorizationPolicy (no selector, no rules): any workload of the mesh may call any of its workloads'),
        );
      }
    }
    const denyAll = cluster
      .of('NetworkPolicy', name)
      .some(
        (p) =>
          isEmptySelector(p.obj.spec?.podSelector) &&
          ['Ingress', 'Egress'].every((t) => (p.obj.spec?.policyTypes ?? []).includes(t)) &&
          (p.obj.spec?.ingress ?? []).length === 0 &&
          (p.obj.spec?.egress ?? []).length === 0,
      );
    if (!denyAll) {
      problems.push(
        problem(
          ns,
          '',
          'has no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules): pods may reach and be reached by anything',
        ),
      );
    }
  }
  for (const pa of cluster.of('PeerAuthentication')) {
    const mode = pa.obj.spec?.mtls?.mode;
    if (mode !== undefined && mode !== 'STRICT' && mode !== 'UNSET') {
      problems.push(problem(pa, 'spec.mtls.mode', `must be STRICT (got "${mode}"): the workloads would accept plaintext traffic`));
    }
    // A port-level exception for selected workloads is allowed when it says why (the annotation
    // is the reviewable record of the exception), never namespace-wide.
    const justified =
      pa.obj.spec?.selector && typeof pa.obj.metadata.annotations?.[MTLS_EXCEPTION] === 'string' && pa.obj.metadata.annotations[MTLS_EXCEPTION].trim() !== '';
    for (const [port, setting] of Object.entries((pa.obj.spec?.portLevelMtls ?? {}) as Record<string, Json>)) {
      if (setting?.mode !== undefined && setting.mode !== 'STRICT' && setting.mode !== 'UNSET' && !justified) {
        problems.push(
          problem(pa, at('spec.portLevelMtls', port, 'mode'), `must be STRICT (got "${setting.mode}"): port ${port} would accept plaintext traffic`),
        );
      }
    }
  }
  return problems;
}
