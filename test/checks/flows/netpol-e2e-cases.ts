/**
 * The policies and expected reachability of the Kubernetes e2e NetworkPolicy suite, ported as
 * data: kubernetes/kubernetes test/e2e/network/netpol/network_policy.go (read at commit
 * 008b3652959ca58af8be3fb5b6ecfe9ae7638282). One entry per probe of a test (a test that
 * probes two ports or changes a policy between probes gives one entry per step, named
 * "... (step n)"). The suite's conventions: namespaces x, y, z; pods labelled `pod: <name>`
 * serving ports 80 and 81 on TCP, UDP and SCTP, named `serve-<port>-<protocol>`; the table
 * starts all-true and the expectations below are applied in order; loopback is ignored.
 */
import type { Protocol } from '../../../checks/flows/network-policy';

export interface PeerRef {
  readonly ns?: string;
  readonly pod?: string;
}
export type Expectation =
  | { readonly peer: [PeerRef, PeerRef]; readonly allowed: boolean }
  | { readonly allIngress: string; readonly allowed: boolean }
  | { readonly allEgress: string; readonly allowed: boolean }
  | { readonly pair: [string, string]; readonly allowed: boolean };

export interface E2ECase {
  readonly name: string;
  readonly pods: readonly string[];
  readonly port: number;
  readonly protocol: Protocol;
  /** Labels namespaces carry besides kubernetes.io/metadata.name. @default {} */
  readonly namespaceLabels?: Readonly<Record<string, Record<string, string>>>;
  /** Labels pods carry besides `pod`. @default {} */
  readonly podLabels?: Readonly<Record<string, Record<string, string>>>;
  readonly policies: readonly { readonly namespace: string; readonly name: string; readonly spec: object }[];
  readonly expect: readonly Expectation[];
}

/** Pod addresses for the ipBlock cases (the suite reads them from the pods' status). */
export const POD_IPS: Readonly<Record<string, string>> = {
  'x/a': '10.8.0.10',
  'x/b': '10.8.0.11',
  'x/c': '10.8.0.12',
  'y/a': '10.8.1.10',
  'y/b': '10.8.1.11',
  'y/c': '10.8.1.12',
  'z/a': '10.8.2.10',
  'z/b': '10.8.2.11',
  'z/c': '10.8.2.12',
};

const NS = 'kubernetes.io/metadata.name';
const podA = { matchLabels: { pod: 'a' } };
const denyIngress = (name: string, podSelector: object = {}) => ({ name, spec: { podSelector, policyTypes: ['Ingress'], ingress: [] } });

export const E2E_CASES: readonly E2ECase[] = [
  {
    name: "should support a 'default-deny-ingress' policy",
    pods: ['x/a', 'x/b', 'y/a', 'y/b'],
    port: 80,
    protocol: 'TCP',
    policies: [{ namespace: 'x', ...denyIngress('deny-ingress') }],
    expect: [{ peer: [{}, { ns: 'x' }], allowed: false }],
  },
  {
    name: "should support a 'default-deny-all' policy",
    pods: ['x/a', 'x/b', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [{ namespace: 'x', name: 'deny-all', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] } }],
    expect: [
      { peer: [{}, { ns: 'x' }], allowed: false },
      { peer: [{ ns: 'x' }, {}], allowed: false },
    ],
  },
  {
    name: 'should enforce policy to allow traffic from pods within server namespace based on PodSelector',
    pods: ['x/a', 'x/b', 'x/c', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'x-a-allows-x-b',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] },
      },
    ],
    expect: [
      { allIngress: 'x/a', allowed: false },
      { pair: ['x/b', 'x/a'], allowed: true },
    ],
  },
  {
    name: 'should enforce policy to allow ingress traffic for a target',
    pods: ['x/a', 'x/b', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      { namespace: 'x', ...denyIngress('deny-all') },
      {
        namespace: 'x',
        name: 'allow-all-to-a',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }] },
      },
    ],
    expect: [
      { allIngress: 'x/a', allowed: true },
      { allIngress: 'x/b', allowed: false },
    ],
  },
  {
    name: 'should enforce policy to allow ingress traffic from pods in all namespaces',
    pods: ['x/a', 'x/b', 'y/a', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-from-another-ns',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: {} } }] }] },
      },
    ],
    expect: [],
  },
  {
    name: 'should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
    pods: ['x/a', 'x/b', 'y/a', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-ns-selector',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }] }] },
      },
    ],
    expect: [
      { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
      { peer: [{ ns: 'z' }, { ns: 'x', pod: 'a' }], allowed: false },
    ],
  },
  {
    name: 'should enforce policy based on PodSelector with MatchExpressions',
    pods: ['x/a', 'x/b', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'x-a-allows-x-b',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }],
        },
      },
    ],
    expect: [
      { allIngress: 'x/a', allowed: false },
      { pair: ['x/b', 'x/a'], allowed: true },
    ],
  },
  {
    name: 'should enforce policy based on NamespaceSelector with MatchExpressions',
    pods: ['x/a', 'x/b', 'y/a', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ns-y-match-selector',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: NS, operator: 'In', values: ['y'] }] } }] }],
        },
      },
    ],
    expect: [
      { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
      { peer: [{ ns: 'z' }, { ns: 'x', pod: 'a' }], allowed: false },
    ],
  },
  {
    name: 'should enforce policy based on PodSelector or NamespaceSelector',
    pods: ['x/a', 'x/b', 'x/c', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ns-y-match-selector',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [
            {
              from: [
                { namespaceSelector: { matchExpressions: [{ key: NS, operator: 'NotIn', values: ['x'] }] } },
                { podSelector: { matchLabels: { pod: 'b' } } },
              ],
            },
          ],
        },
      },
    ],
    expect: [
      { pair: ['x/a', 'x/a'], allowed: false },
      { pair: ['x/c', 'x/a'], allowed: false },
    ],
  },
  {
    name: 'should enforce policy based on PodSelector and NamespaceSelector',
    pods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/b'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ns-y-podselector-and-nsselector',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [
            {
              from: [{ namespaceSelector: { matchExpressions: [{ key: NS, operator: 'NotIn', values: ['x'] }] }, podSelector: { matchLabels: { pod: 'b' } } }],
            },
          ],
        },
      },
    ],
    expect: [
      { allIngress: 'x/a', allowed: false },
      { pair: ['y/b', 'x/a'], allowed: true },
      { pair: ['z/b', 'x/a'], allowed: true },
    ],
  },
  {
    name: 'should enforce policy based on Multiple PodSelectors and NamespaceSelectors',
    pods: ['x/a', 'x/b', 'y/a', 'y/b', 'y/c'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ns-y-z-pod-b-c',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchExpressions: [{ key: NS, operator: 'NotIn', values: ['x'] }] },
                  podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] },
                },
              ],
            },
          ],
        },
      },
    ],
    expect: [
      { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
      { pair: ['y/a', 'x/a'], allowed: false },
    ],
  },
  {
    name: 'should enforce policy based on any PodSelectors',
    pods: ['x/a', 'x/b', 'x/c'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ns-x-pod-b-c',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }, { podSelector: { matchLabels: { pod: 'c' } } }] }],
        },
      },
    ],
    expect: [
      { allIngress: 'x/a', allowed: false },
      { pair: ['x/b', 'x/a'], allowed: true },
      { pair: ['x/c', 'x/a'], allowed: true },
    ],
  },
  {
    name: 'should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector',
    pods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ns-y-pod-a-via-namespace-pod-selector',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }] }] },
      },
    ],
    expect: [
      { allIngress: 'x/a', allowed: false },
      { pair: ['y/a', 'x/a'], allowed: true },
    ],
  },
  ...[81, 80].map((port): E2ECase => ({
    name:
      port === 81
        ? 'should enforce policy based on Ports'
        : 'should enforce multiple, stacked policies with overlapping podSelectors (step 2: port 80 before its policy)',
    pods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/a'],
    port,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-ns-selector',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }], ports: [{ port: 81, protocol: 'TCP' }] }],
        },
      },
    ],
    expect:
      port === 81
        ? [
            { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
            { peer: [{ ns: 'y' }, { ns: 'x', pod: 'a' }], allowed: true },
            { peer: [{ ns: 'z' }, { ns: 'x', pod: 'a' }], allowed: false },
          ]
        : [{ allIngress: 'x/a', allowed: false }],
  })),
  {
    name: 'should enforce multiple, stacked policies with overlapping podSelectors (step 3: port 80 unblocked)',
    pods: ['x/a', 'x/b', 'y/a', 'y/b', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [81, 80].map((port) => ({
      namespace: 'x',
      name: port === 81 ? 'allow-client-a-via-ns-selector' : 'allow-client-a-via-ns-selector-80',
      spec: {
        podSelector: podA,
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }], ports: [{ port, protocol: 'TCP' }] }],
      },
    })),
    expect: [
      { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
      { peer: [{ ns: 'y' }, { ns: 'x', pod: 'a' }], allowed: true },
      { peer: [{ ns: 'z' }, { ns: 'x', pod: 'a' }], allowed: false },
    ],
  },
  ...[80, 81].map((port): E2ECase => ({
    name: `should support allow-all policy (probing ${port})`,
    pods: ['x/a', 'x/b', 'y/a'],
    port,
    protocol: 'TCP',
    policies: [{ namespace: 'x', name: 'allow-all', spec: { podSelector: { matchLabels: {} }, policyTypes: ['Ingress'], ingress: [{}] } }],
    expect: [],
  })),
  ...[81, 80].map((port): E2ECase => ({
    name: `should allow ingress access on one named port (probing ${port})`,
    pods: ['x/a', 'x/b', 'y/a'],
    port,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-all',
        spec: { podSelector: { matchLabels: {} }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] },
      },
    ],
    expect: port === 81 ? [] : [{ peer: [{}, { ns: 'x' }], allowed: false }],
  })),
  ...[80, 81].map((port): E2ECase => ({
    name: `should allow ingress access from namespace on one named port (probing ${port})`,
    pods: ['x/a', 'x/b', 'y/a', 'z/a'],
    port,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-ns-selector-80',
        spec: {
          podSelector: podA,
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }], ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }],
        },
      },
    ],
    expect:
      port === 80
        ? [
            { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
            { peer: [{ ns: 'z' }, { ns: 'x', pod: 'a' }], allowed: false },
          ]
        : [{ allIngress: 'x/a', allowed: false }],
  })),
  ...[80, 81].map((port): E2ECase => ({
    name: `should allow egress access on one named port (probing ${port})`,
    pods: ['x/a', 'y/a'],
    port,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-egress',
        spec: { podSelector: { matchLabels: {} }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] },
      },
    ],
    expect: port === 80 ? [] : [{ peer: [{ ns: 'x' }, {}], allowed: false }],
  })),
  {
    name: 'should enforce updated policy (step 2: allow-all updated to deny-all)',
    pods: ['x/a', 'y/a'],
    port: 81,
    protocol: 'TCP',
    policies: [{ namespace: 'x', name: 'allow-all-mutate-to-deny-all', spec: { podSelector: { matchLabels: {} }, policyTypes: ['Ingress'], ingress: [] } }],
    expect: [{ peer: [{}, { ns: 'x' }], allowed: false }],
  },
  ...[false, true].map((labelled): E2ECase => ({
    name: `should allow ingress access from updated namespace (step ${labelled ? 2 : 1})`,
    pods: ['x/a', 'y/a'],
    port: 80,
    protocol: 'TCP',
    namespaceLabels: labelled ? { y: { ns2: 'updated' } } : {},
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-ns-selector',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }] },
      },
    ],
    expect: labelled
      ? [
          { allIngress: 'x/a', allowed: false },
          { peer: [{ ns: 'y' }, {}], allowed: true },
        ]
      : [{ allIngress: 'x/a', allowed: false }],
  })),
  ...[false, true].map((labelled): E2ECase => ({
    name: `should allow ingress access from updated pod (step ${labelled ? 2 : 1})`,
    pods: ['x/a', 'x/b'],
    port: 80,
    protocol: 'TCP',
    podLabels: labelled ? { 'x/b': { pod2: 'updated' } } : {},
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-pod-selector',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b', pod2: 'updated' } } }] }] },
      },
    ],
    expect: labelled
      ? [
          { allIngress: 'x/a', allowed: false },
          { pair: ['x/b', 'x/a'], allowed: true },
        ]
      : [{ allIngress: 'x/a', allowed: false }],
  })),
  {
    name: 'should deny ingress from pods on other namespaces',
    pods: ['x/a', 'x/b', 'y/a', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'deny-empty-policy',
        spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: {} } }] }] },
      },
    ],
    expect: [
      { peer: [{ ns: 'y' }, { ns: 'x' }], allowed: false },
      { peer: [{ ns: 'z' }, { ns: 'x' }], allowed: false },
    ],
  },
  ...[false, true].map((labelled): E2ECase => ({
    name: `should deny ingress access to updated pod (step ${labelled ? 2 : 1})`,
    pods: ['x/a', 'y/a'],
    port: 80,
    protocol: 'TCP',
    podLabels: labelled ? { 'x/a': { target: 'isolated' } } : {},
    policies: [{ namespace: 'x', ...denyIngress('deny-ingress-via-label-selector', { matchLabels: { target: 'isolated' } }) }],
    expect: labelled ? [{ allIngress: 'x/a', allowed: false }] : [],
  })),
  {
    name: 'should deny egress from pods based on PodSelector',
    pods: ['x/a', 'x/b', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [{ namespace: 'x', name: 'deny-egress-pod-a', spec: { podSelector: podA, policyTypes: ['Egress'], egress: [] } }],
    expect: [{ allEgress: 'x/a', allowed: false }],
  },
  {
    name: 'should deny egress from all pods in a namespace',
    pods: ['x/a', 'x/b', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [{ namespace: 'x', name: 'deny-egress-ns-x', spec: { podSelector: {}, policyTypes: ['Egress'], egress: [] } }],
    expect: [{ peer: [{ ns: 'x' }, {}], allowed: false }],
  },
  ...[80, 81].map((port): E2ECase => ({
    name: `should work with Ingress, Egress specified together (probing ${port})`,
    pods: ['x/a', 'x/b', 'x/c', 'y/a'],
    port,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-pod-selector',
        spec: {
          podSelector: podA,
          policyTypes: ['Egress', 'Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
          egress: [{ ports: [{ port: 80 }] }],
        },
      },
    ],
    expect:
      port === 80
        ? [
            { allIngress: 'x/a', allowed: false },
            { pair: ['x/b', 'x/a'], allowed: true },
          ]
        : [
            { allIngress: 'x/a', allowed: false },
            { allEgress: 'x/a', allowed: false },
            { pair: ['x/b', 'x/a'], allowed: true },
          ],
  })),
  {
    name: 'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
    pods: ['x/a', 'y/a', 'y/b'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-to-ns-y-pod-a',
        spec: { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }] }] },
      },
      ...['a', 'b'].map((pod) => ({
        namespace: 'y',
        name: `allow-from-xa-on-y${pod}-match-selector`,
        spec: {
          podSelector: { matchLabels: { pod } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'x' } }, podSelector: podA }] }],
        },
      })),
    ],
    expect: [
      { peer: [{ ns: 'x', pod: 'a' }, {}], allowed: false },
      { peer: [{}, { ns: 'y', pod: 'a' }], allowed: false },
      {
        peer: [
          { ns: 'x', pod: 'a' },
          { ns: 'y', pod: 'a' },
        ],
        allowed: true,
      },
      { peer: [{}, { ns: 'y', pod: 'b' }], allowed: false },
    ],
  },
  {
    name: 'should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector',
    pods: ['x/a', 'y/a', 'y/b'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-to-ns-y-pod-a',
        spec: { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }] }] },
      },
    ],
    expect: [
      { allEgress: 'x/a', allowed: false },
      { pair: ['x/a', 'y/a'], allowed: true },
    ],
  },
  ...(['TCP', 'UDP'] as const).map((protocol): E2ECase => ({
    name: `should enforce ingress policy allowing any port traffic to a server on a specific protocol (probing ${protocol})`,
    pods: ['x/a', 'y/a'],
    port: 80,
    protocol,
    policies: [
      { namespace: 'x', name: 'allow-ingress-by-proto', spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP' }] }] } },
    ],
    expect: protocol === 'TCP' ? [] : [{ peer: [{}, { ns: 'x', pod: 'a' }], allowed: false }],
  })),
  ...[false, true].map((both): E2ECase => ({
    name: `should enforce multiple ingress policies with ingress allow-all policy taking precedence (step ${both ? 2 : 1})`,
    pods: ['x/a', 'y/a'],
    port: 81,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ingress-port-80',
        spec: { podSelector: { matchLabels: {} }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80 }] }] },
      },
      ...(both ? [{ namespace: 'x', name: 'allow-ingress', spec: { podSelector: { matchLabels: {} }, policyTypes: ['Ingress'], ingress: [{}] } }] : []),
    ],
    expect: both ? [] : [{ peer: [{}, { ns: 'x' }], allowed: false }],
  })),
  ...[false, true].map((both): E2ECase => ({
    name: `should enforce multiple egress policies with egress allow-all policy taking precedence (step ${both ? 2 : 1})`,
    pods: ['x/a', 'y/a'],
    port: 81,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-egress-port-80',
        spec: { podSelector: { matchLabels: {} }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 80 }] }] },
      },
      ...(both ? [{ namespace: 'x', name: 'allow-egress', spec: { podSelector: { matchLabels: {} }, policyTypes: ['Egress'], egress: [{}] } }] : []),
    ],
    expect: both ? [] : [{ peer: [{ ns: 'x' }, {}], allowed: false }],
  })),
  ...[false, true].map((deleted): E2ECase => ({
    name: `should stop enforcing policies after they are deleted (step ${deleted ? 2 : 1})`,
    pods: ['x/a', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: deleted ? [] : [{ namespace: 'x', name: 'deny-all', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] } }],
    expect: deleted
      ? []
      : [
          { peer: [{ ns: 'x' }, {}], allowed: false },
          { peer: [{}, { ns: 'x' }], allowed: false },
        ],
  })),
  {
    name: 'should allow egress access to server in CIDR block',
    pods: ['x/a', 'y/a', 'y/b'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-cidr-egress-rule',
        spec: { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${POD_IPS['y/b']}/32` } }] }] },
      },
    ],
    expect: [
      { allEgress: 'x/a', allowed: false },
      { pair: ['x/a', 'y/b'], allowed: true },
    ],
  },
  {
    name: 'should enforce except clause while egress access to server in CIDR block',
    pods: ['x/a', 'x/b', 'x/c'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-cidr-egress-rule',
        spec: { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.8.0.0/16', except: [`${POD_IPS['x/b']}/32`] } }] }] },
      },
    ],
    expect: [{ pair: ['x/a', 'x/b'], allowed: false }],
  },
  {
    name: 'should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed (step 2: policy updated to the pod address)',
    pods: ['x/a', 'x/b', 'x/c'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-cidr-egress-rule',
        spec: { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${POD_IPS['x/b']}/32` } }] }] },
      },
    ],
    expect: [
      { allEgress: 'x/a', allowed: false },
      { pair: ['x/a', 'x/b'], allowed: true },
    ],
  },
  ...[false, true].map((deny): E2ECase => ({
    name: `should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector (step ${deny ? 2 : 1})`,
    pods: ['x/a', 'x/b', 'y/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      { namespace: 'x', name: 'allow-egress-for-target', spec: { podSelector: podA, policyTypes: ['Egress'], egress: [{}] } },
      ...(deny ? [{ namespace: 'x', ...denyIngress('deny-ingress-via-label-selector', podA) }] : []),
    ],
    expect: deny ? [{ allIngress: 'x/a', allowed: false }] : [],
  })),
  {
    name: "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
    pods: ['x/a', 'y/a'],
    port: 81,
    protocol: 'TCP',
    policies: [
      { namespace: 'x', ...denyIngress('deny-ingress') },
      {
        namespace: 'x',
        name: 'allow-only-sctp-ingress-on-port-81',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 81, protocol: 'SCTP' }] }] },
      },
    ],
    expect: [{ peer: [{}, { ns: 'x' }], allowed: false }],
  },
  {
    name: "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
    pods: ['x/a', 'y/a'],
    port: 81,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-only-sctp-ingress-on-port-80',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }] },
      },
    ],
    expect: [{ allIngress: 'x/a', allowed: false }],
  },
  {
    name: 'should not allow access by TCP when a policy specifies only UDP',
    pods: ['x/a', 'y/a'],
    port: 81,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-only-udp-ingress-on-port-81',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }] },
      },
    ],
    expect: [{ allIngress: 'x/a', allowed: false }],
  },
  {
    name: 'should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label',
    pods: ['x/a', 'x/b', 'y/a', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-client-a-via-ns-selector-for-immutable-ns-label',
        spec: { podSelector: podA, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }] }] },
      },
    ],
    expect: [
      { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
      { peer: [{ ns: 'z' }, { ns: 'x', pod: 'a' }], allowed: false },
    ],
  },
  {
    name: 'should enforce policy based on NamespaceSelector with MatchExpressions using default ns label',
    pods: ['x/a', 'x/b', 'y/a', 'z/a'],
    port: 80,
    protocol: 'TCP',
    policies: [
      {
        namespace: 'x',
        name: 'allow-ns-y-match-selector-for-immutable-ns-label',
        spec: {
          podSelector: podA,
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: { matchExpressions: [{ key: NS, operator: 'NotIn', values: ['y'] }] } }] }],
        },
      },
    ],
    expect: [{ peer: [{ ns: 'x', pod: 'a' }, { ns: 'y' }], allowed: false }],
  },
  // The UDP and SCTP variants of the suite: the same policies probed on the other protocols.
  ...(['UDP', 'SCTP'] as const).flatMap((protocol): E2ECase[] => [
    {
      name: `${protocol}: should support a 'default-deny-ingress' policy`,
      pods: ['x/a', 'x/b', 'y/a', 'y/b'],
      port: 80,
      protocol,
      policies: [{ namespace: 'x', ...denyIngress('deny-all') }],
      expect: [{ peer: [{}, { ns: 'x' }], allowed: false }],
    },
    {
      name: `${protocol}: should enforce policy based on Ports`,
      pods: ['x/a', 'x/b', 'y/a', 'z/a'],
      port: 81,
      protocol,
      policies: [
        {
          namespace: 'x',
          name: 'allow-ingress-on-port-81-ns-x',
          spec: {
            podSelector: podA,
            policyTypes: ['Ingress'],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } } }], ports: [{ port: 81, protocol }] }],
          },
        },
      ],
      expect: [
        { peer: [{ ns: 'x' }, { ns: 'x', pod: 'a' }], allowed: false },
        { peer: [{ ns: 'z' }, { ns: 'x', pod: 'a' }], allowed: false },
      ],
    },
    {
      name: `${protocol}: should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector`,
      pods: ['x/a', 'x/b', 'y/a'],
      port: 80,
      protocol,
      policies: [
        {
          namespace: 'x',
          name: 'allow-ns-y-pod-a-via-namespace-pod-selector',
          spec: {
            podSelector: podA,
            policyTypes: ['Ingress'],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: 'y' } }, podSelector: podA }] }],
          },
        },
      ],
      expect: [
        { allIngress: 'x/a', allowed: false },
        { pair: ['y/a', 'x/a'], allowed: true },
      ],
    },
  ]),
];
