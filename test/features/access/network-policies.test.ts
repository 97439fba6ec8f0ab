import { NetworkPolicies, NetworkPoliciesProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: NetworkPoliciesProps = {
  namespace: 'shop',
  workloads: [
    {
      name: 'web',
      selector: { app: 'web' },
      ingress: [{ peers: [{ namespace: 'istio-ingress', podLabels: { istio: 'ingressgateway' } }], ports: [{ port: 8080 }] }],
      egress: [
        { peers: [{ podLabels: { app: 'cache' } }], ports: [{ port: 6379 }] },
        { peers: [{ cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] }], ports: [{ port: 443 }] },
      ],
    },
  ],
};

function render(props: Partial<NetworkPoliciesProps> = {}) {
  const chart = testChart();
  new NetworkPolicies(chart, 'net', { ...base, ...props });
  return chart;
}

describe('NetworkPolicies', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('denies all ingress and egress of every pod', () => {
    expect(only(render(), 'NetworkPolicy', 'default-deny').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  test('every pod may resolve names with kube-dns over UDP and TCP', () => {
    expect(only(render(), 'NetworkPolicy', 'allow-dns').spec).toEqual({
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
          ],
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
      ],
    });
  });

  test('every sidecar may reach istiod on 15012, and be scraped on 15020', () => {
    expect(only(render(), 'NetworkPolicy', 'allow-istiod').spec.egress).toEqual([
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { app: 'istiod' } } }],
        ports: [{ port: 15012, protocol: 'TCP' }],
      },
    ]);
    expect(only(render(), 'NetworkPolicy', 'allow-metrics-scraping').spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gmp-system' } } }],
        ports: [{ port: 15020, protocol: 'TCP' }],
      },
    ]);
  });

  test('a workload gets exactly its rules; pods of its own namespace need no namespace selector', () => {
    expect(only(render(), 'NetworkPolicy', 'web').spec).toEqual({
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-ingress' } },
              podSelector: { matchLabels: { istio: 'ingressgateway' } },
            },
          ],
          ports: [{ port: 8080, protocol: 'TCP' }],
        },
      ],
      egress: [
        { to: [{ podSelector: { matchLabels: { app: 'cache' } } }], ports: [{ port: 6379, protocol: 'TCP' }] },
        { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 443, protocol: 'TCP' }] },
      ],
    });
  });

  test('a workload without rules is denied both ways', () => {
    const np = only(render({ workloads: [{ name: 'worker', selector: { app: 'worker' } }] }), 'NetworkPolicy', 'worker');
    expect(np.spec).toEqual({ podSelector: { matchLabels: { app: 'worker' } }, policyTypes: ['Ingress', 'Egress'] });
  });

  test('fails when a rule has no peers', () => {
    expect(() => render({ workloads: [{ name: 'web', selector: { app: 'web' }, egress: [{ peers: [], ports: [{ port: 443 }] }] }] })).toThrow(
      'NetworkPolicies \'net\': workload "web" egress[0]: peers is empty: a rule without peers would allow everything',
    );
  });

  test('fails when a peer is both pods and a cidr', () => {
    expect(() =>
      render({
        workloads: [{ name: 'web', selector: { app: 'web' }, egress: [{ peers: [{ cidr: '10.0.0.0/8', podLabels: { app: 'x' } }], ports: [{ port: 443 }] }] }],
      }),
    ).toThrow('NetworkPolicies \'net\': workload "web" egress[0]: a peer is either pods or a cidr, not both');
  });

  test('fails when a workload selects every pod or reuses a baseline name', () => {
    expect(() => render({ workloads: [{ name: 'web', selector: {} }] })).toThrow(
      'NetworkPolicies \'net\': workload "web": selector is empty: it would apply to every pod of the namespace',
    );
    expect(() => render({ workloads: [{ name: 'default-deny', selector: { app: 'x' } }] })).toThrow(
      'NetworkPolicies \'net\': workload "default-deny": the name is used by another NetworkPolicy of the namespace',
    );
  });

  test('fails when a port is out of range', () => {
    expect(() =>
      render({ workloads: [{ name: 'web', selector: { app: 'web' }, ingress: [{ peers: [{ podLabels: { app: 'a' } }], ports: [{ port: 0 }] }] }] }),
    ).toThrow('NetworkPolicies \'net\': workload "web" ingress[0]: port (0) must be a whole number from 1 to 65535');
  });

  test('has no more objects than the baseline and the workloads', () => {
    expect(manifests(render()).map((m) => m.metadata.name)).toEqual(['default-deny', 'allow-dns', 'allow-istiod', 'allow-metrics-scraping', 'web']);
  });
});
