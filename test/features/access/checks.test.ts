import { EAST, problemsAfter } from '../../checks/fixture';

const MESH = `${EAST}/shop/mesh.yaml`;
const NS = `${EAST}/_cluster/namespace-shop.yaml: Namespace shop`;

describe('policy selectors match pods', () => {
  test('fails when a NetworkPolicy selects no pods', () => {
    expect(
      problemsAfter((f) => {
        f.get('NetworkPolicy', 'web').spec.podSelector.matchLabels = { 'app.kubernetes.io/name': 'webb' };
      }),
    ).toEqual([
      `${MESH}: NetworkPolicy shop/web: spec.podSelector: app.kubernetes.io/name=webb selects no pods in namespace shop: the policy protects nothing`,
    ]);
  });

  test('fails when a NetworkPolicy rule admits pods of its namespace that do not exist', () => {
    expect(
      problemsAfter((f) => {
        f.get('NetworkPolicy', 'cache').spec.ingress[0].from[0].podSelector.matchLabels = { 'app.kubernetes.io/name': 'wbe' };
      }),
    ).toEqual([
      `${MESH}: NetworkPolicy shop/cache: spec.ingress[0].from[0].podSelector: app.kubernetes.io/name=wbe selects no pods in namespace shop: the rule allows nothing`,
    ]);
  });

  test('fails when an AuthorizationPolicy selects no pods', () => {
    expect(
      problemsAfter((f) => {
        f.get('AuthorizationPolicy', 'cache-from-web').spec.selector.matchLabels = { 'app.kubernetes.io/name': 'cahce' };
      }),
    ).toEqual([
      `${MESH}: AuthorizationPolicy shop/cache-from-web: spec.selector.matchLabels: app.kubernetes.io/name=cahce selects no pods in namespace shop: the policy applies to nothing`,
    ]);
  });

  test('fails when a PeerAuthentication or RequestAuthentication selects no pods', () => {
    expect(
      problemsAfter((f) => {
        f.add(`${EAST}/shop/peerauthentication-web.yaml`, {
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'web', namespace: 'shop' },
          spec: { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'STRICT' } },
        });
        f.get('RequestAuthentication', 'web-jwt').spec.selector.matchLabels = { app: 'web' };
        f.get('AuthorizationPolicy', 'web-from-ingress-gateway').spec.selector.matchLabels = { app: 'web' };
      }),
    ).toEqual([
      `${MESH}: AuthorizationPolicy shop/web-from-ingress-gateway: spec.selector.matchLabels: app=web selects no pods in namespace shop: the policy applies to nothing`,
      `${MESH}: RequestAuthentication shop/web-jwt: spec.selector.matchLabels: app=web selects no pods in namespace shop: the policy applies to nothing`,
      `${EAST}/shop/peerauthentication-web.yaml: PeerAuthentication shop/web: spec.selector.matchLabels: app=web selects no pods in namespace shop: the policy applies to nothing`,
    ]);
  });

  test('passes with a policy of the root namespace selecting pods of any namespace', () => {
    expect(
      problemsAfter((f) =>
        f.add(`${EAST}/istio-system/authorizationpolicy-deny-debug.yaml`, {
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'deny-debug', namespace: 'istio-system' },
          spec: { action: 'DENY', selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } }, rules: [{ to: [{ operation: { paths: ['/debug/*'] } }] }] },
        }),
      ),
    ).toEqual([]);
  });
});

describe('RequestAuthentication and AuthorizationPolicy rules', () => {
  test('fails when no AuthorizationPolicy requires request principals for the same workloads', () => {
    expect(
      problemsAfter((f) => {
        delete f.get('AuthorizationPolicy', 'web-from-ingress-gateway').spec.rules[0].from[0].source.requestPrincipals;
      }),
    ).toEqual([
      `${MESH}: RequestAuthentication shop/web-jwt: (object): has no AuthorizationPolicy requiring requestPrincipals for the same workloads: a RequestAuthentication only rejects invalid tokens, and requests without a token still get through; add an ALLOW policy with from.source.requestPrincipals: ["*"]`,
    ]);
  });

  test('fails when a jwt rule has no audiences', () => {
    expect(
      problemsAfter((f) => {
        delete f.get('RequestAuthentication', 'web-jwt').spec.jwtRules[0].audiences;
      }),
    ).toEqual([
      `${MESH}: RequestAuthentication shop/web-jwt: spec.jwtRules[0].audiences: must list the audiences tokens are issued for: without them any token of https://securetoken.google.com/shop-prod is accepted, whatever it was issued for`,
    ]);
  });

  test('fails when an ALLOW policy has an empty rule', () => {
    expect(
      problemsAfter((f) => {
        f.get('AuthorizationPolicy', 'cache-from-web').spec.rules = [{}];
      }),
    ).toEqual([
      `${MESH}: AuthorizationPolicy shop/cache-from-web: spec.rules[0]: is empty: an empty rule matches every request, so this ALLOW policy lets everything in; name the sources (from) and operations (to) it allows`,
    ]);
  });

  test('passes with an empty rule in a DENY policy (it denies everything, which is never too open)', () => {
    expect(
      problemsAfter((f) => {
        Object.assign(f.get('AuthorizationPolicy', 'cache-from-web').spec, { action: 'DENY', rules: [{}] });
      }),
    ).toEqual([]);
  });
});

describe('namespace baseline', () => {
  test('fails when the namespace has no PeerAuthentication STRICT', () => {
    expect(problemsAfter((f) => f.remove('PeerAuthentication', 'default'))).toEqual([
      `${NS}: (object): has no namespace-wide PeerAuthentication with mtls.mode STRICT: workloads would accept plaintext traffic`,
    ]);
  });

  test('fails when mTLS is PERMISSIVE, for the namespace or a port', () => {
    expect(
      problemsAfter((f) => {
        f.get('PeerAuthentication', 'default').spec.mtls.mode = 'PERMISSIVE';
        f.add(`${EAST}/shop/peerauthentication-web.yaml`, {
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'web', namespace: 'shop' },
          spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } },
        });
      }),
    ).toEqual([
      `${MESH}: PeerAuthentication shop/default: spec.mtls.mode: must be STRICT (got "PERMISSIVE"): the workloads would accept plaintext traffic`,
      `${EAST}/shop/peerauthentication-web.yaml: PeerAuthentication shop/web: spec.portLevelMtls.8080.mode: must be STRICT (got "DISABLE"): port 8080 would accept plaintext traffic`,
    ]);
  });

  test('passes when a workload port accepts plaintext with the reason recorded, never namespace-wide', () => {
    const exception = (selector: boolean, reason?: string) => ({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'web', namespace: 'shop', ...(reason === undefined ? {} : { annotations: { 'meridian.dev/mtls-exception': reason } }) },
      spec: { ...(selector ? { selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } } } : {}), portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } },
    });
    expect(problemsAfter((f) => f.add(`${EAST}/shop/peerauthentication-web.yaml`, exception(true, 'scraped from outside the mesh')))).toEqual([]);
    expect(problemsAfter((f) => f.add(`${EAST}/shop/peerauthentication-web.yaml`, exception(true, ' ')))).toEqual([
      `${EAST}/shop/peerauthentication-web.yaml: PeerAuthentication shop/web: spec.portLevelMtls.8080.mode: must be STRICT (got "PERMISSIVE"): port 8080 would accept plaintext traffic`,
    ]);
    expect(problemsAfter((f) => f.add(`${EAST}/shop/peerauthentication-web.yaml`, exception(false, 'no selector')))).toContainEqual(
      `${EAST}/shop/peerauthentication-web.yaml: PeerAuthentication shop/web: spec.portLevelMtls.8080.mode: must be STRICT (got "PERMISSIVE"): port 8080 would accept plaintext traffic`,
    );
  });

  test('fails when the namespace has no allow-nothing AuthorizationPolicy', () => {
    expect(problemsAfter((f) => f.remove('AuthorizationPolicy', 'allow-nothing'))).toEqual([
      `${NS}: (object): has no allow-nothing AuthorizationPolicy (no selector, no rules): any workload of the mesh may call any of its workloads`,
    ]);
  });

  test('fails when the namespace has no default-deny NetworkPolicy', () => {
    expect(
      problemsAfter((f) => {
        f.get('NetworkPolicy', 'default-deny').spec.policyTypes = ['Ingress'];
      }),
    ).toEqual([
      `${NS}: (object): has no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules): pods may reach and be reached by anything`,
    ]);
  });

  test('fails when the namespace does not enforce the restricted Pod Security Standard', () => {
    expect(
      problemsAfter((f) => {
        f.get('Namespace', 'shop').metadata.labels['pod-security.kubernetes.io/enforce'] = 'baseline';
      }),
    ).toEqual([
      `${NS}: metadata.labels.pod-security.kubernetes.io/enforce: must be "restricted" (got "baseline"): the API server then refuses pods that break the restricted Pod Security Standard`,
    ]);
  });

  test('passes outside the mesh without mesh policies, never without the default deny', () => {
    expect(
      problemsAfter((f) => {
        f.get('Namespace', 'shop').metadata.labels['istio-injection'] = 'disabled';
        f.remove('PeerAuthentication', 'default');
        f.remove('AuthorizationPolicy', 'allow-nothing');
      }),
    ).toEqual([]);
  });
});
