import { addAccessControl, AccessOptions, mergeRules, MeshEndpoint, redisEndpoint } from '../../../features/access/resolve';
import { RedisSentinel } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const opts: AccessOptions = {
  trustDomain: 'cluster.local',
  ingressGateway: { namespace: 'istio-ingress', serviceAccount: 'istio-ingressgateway', labels: { istio: 'ingressgateway' } },
  eastWestGateway: { namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway', labels: { istio: 'eastwestgateway' } },
};

const endpoints: MeshEndpoint[] = [
  {
    ref: 'web',
    name: 'web',
    namespace: 'shop',
    selector: { 'app.kubernetes.io/name': 'web' },
    serviceAccount: 'web',
    ports: [8080],
    dependsOn: ['redis:cache', 'orders'],
    exposed: true,
    workloadIdentity: true,
    egress: [
      { host: 'firestore.googleapis.com', port: 443, protocol: 'tls' },
      { cidr: '10.20.0.3/32', port: 5432, protocol: 'tcp' },
    ],
  },
  {
    ref: 'orders',
    name: 'orders',
    namespace: 'billing',
    selector: { 'app.kubernetes.io/name': 'orders' },
    serviceAccount: 'orders',
    ports: [9090],
    crossRegion: true,
  },
  {
    ref: 'worker',
    name: 'worker',
    namespace: 'shop',
    selector: { 'app.kubernetes.io/name': 'worker' },
    serviceAccount: 'worker',
    ports: [],
    dependsOn: ['search'],
  },
  {
    ref: 'redis:cache',
    name: 'cache',
    namespace: 'shop',
    selector: { 'app.kubernetes.io/name': 'cache' },
    serviceAccount: 'default',
    ports: [6379, 26379],
    peers: true,
  },
];

function render() {
  const chart = testChart();
  addAccessControl(chart, ['shop', 'billing'], endpoints, opts);
  return chart;
}

const principals = (ap: any) => ap.spec.rules[0].from[0].source.principals;

describe('access control from the service graph', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('each namespace gets mTLS STRICT, allow-nothing and a default deny', () => {
    for (const ns of ['shop', 'billing']) {
      const names = manifests(render())
        .filter((m) => m.metadata.namespace === ns)
        .map((m) => `${m.kind}/${m.metadata.name}`);
      expect(names).toEqual(expect.arrayContaining(['PeerAuthentication/default', 'AuthorizationPolicy/allow-nothing', 'NetworkPolicy/default-deny']));
    }
  });

  test("one ALLOW per dependency, by the caller's principal, on the callee's ports", () => {
    const chart = render();
    const ap = only(chart, 'AuthorizationPolicy', 'orders-from-web');
    expect(ap.metadata.namespace).toBe('billing');
    expect(principals(ap)).toEqual(['cluster.local/ns/shop/sa/web']);
    expect(ap.spec.rules[0].to).toEqual([{ operation: { ports: ['9090'] } }]);
    expect(principals(only(chart, 'AuthorizationPolicy', 'cache-from-web'))).toEqual(['cluster.local/ns/shop/sa/web']);
    expect(only(chart, 'AuthorizationPolicy', 'cache-from-web').spec.rules[0].to).toEqual([{ operation: { ports: ['6379', '26379'] } }]);
  });

  test('only exposed services admit the ingress gateway', () => {
    const names = manifests(render())
      .filter((m) => m.kind === 'AuthorizationPolicy')
      .map((m) => m.metadata.name);
    expect(names.filter((n) => n.endsWith('-from-ingress-gateway'))).toEqual(['web-from-ingress-gateway']);
    expect(principals(only(render(), 'AuthorizationPolicy', 'web-from-ingress-gateway'))).toEqual(['cluster.local/ns/istio-ingress/sa/istio-ingressgateway']);
  });

  test('Redis pods admit each other on both ports', () => {
    const chart = render();
    expect(principals(only(chart, 'AuthorizationPolicy', 'cache-from-peers'))).toEqual(['cluster.local/ns/shop/sa/default']);
    const np = only(chart, 'NetworkPolicy', 'cache');
    const ports = [
      { port: 6379, protocol: 'TCP' },
      { port: 26379, protocol: 'TCP' },
    ];
    expect(np.spec.egress).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'cache' } } }], ports }]);
    expect(np.spec.ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'web' } } }, { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'cache' } } }],
        ports,
      },
    ]);
  });

  test('a caller may reach its dependencies, its declared egress and the metadata server, nothing else', () => {
    const np = only(render(), 'NetworkPolicy', 'web');
    expect(np.spec.egress).toEqual([
      {
        to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'cache' } } }],
        ports: [
          { port: 6379, protocol: 'TCP' },
          { port: 26379, protocol: 'TCP' },
        ],
      },
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'billing' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'orders' } },
          },
        ],
        ports: [{ port: 9090, protocol: 'TCP' }],
      },
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 15443, protocol: 'TCP' }] },
      {
        to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'] } }],
        ports: [{ port: 443, protocol: 'TCP' }],
      },
      { to: [{ ipBlock: { cidr: '10.20.0.3/32' } }], ports: [{ port: 5432, protocol: 'TCP' }] },
      { to: [{ ipBlock: { cidr: '169.254.169.254/32' } }], ports: [{ port: 80, protocol: 'TCP' }] },
      { to: [{ ipBlock: { cidr: '169.254.169.252/32' } }], ports: [{ port: 988, protocol: 'TCP' }] },
    ]);
  });

  test('a service split across regions admits the east-west gateway; callers in other namespaces by namespace and labels', () => {
    const np = only(render(), 'NetworkPolicy', 'orders');
    expect(np.spec.ingress).toEqual([
      {
        from: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'web' } } },
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { istio: 'eastwestgateway' } } },
        ],
        ports: [{ port: 9090, protocol: 'TCP' }],
      },
    ]);
  });

  test('a worker serves nothing: no ALLOW and no ingress; a dependency of another region goes through the east-west gateways', () => {
    const chart = render();
    expect(manifests(chart).filter((m) => m.kind === 'AuthorizationPolicy' && m.metadata.name.startsWith('worker'))).toEqual([]);
    expect(only(chart, 'NetworkPolicy', 'worker').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'worker' } },
      policyTypes: ['Ingress', 'Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 15443, protocol: 'TCP' }] }],
    });
  });

  test("declared hosts and addresses become ServiceEntries of the caller's namespace only, with the metadata server", () => {
    const entries = manifests(render()).filter((m) => m.kind === 'ServiceEntry');
    expect(entries.map((se) => [se.metadata.namespace, se.spec.hosts, se.spec.addresses, se.spec.resolution, se.spec.ports])).toEqual([
      ['shop', ['10-20-0-3-32.cidr.meridian.internal'], ['10.20.0.3/32'], 'NONE', [{ number: 5432, name: 'tcp-5432', protocol: 'TCP' }]],
      ['shop', ['firestore.googleapis.com'], undefined, 'DNS', [{ number: 443, name: 'tls-443', protocol: 'TLS' }]],
      [
        'shop',
        ['metadata.google.internal'],
        ['169.254.169.254/32', '169.254.169.252/32'],
        'NONE',
        [
          { number: 80, name: 'http-80', protocol: 'HTTP' },
          { number: 988, name: 'tcp-988', protocol: 'TCP' },
        ],
      ],
    ]);
  });

  test('each workload gets a Sidecar importing exactly what it calls (REGISTRY_ONLY), and the namespace a default with all of them', () => {
    const chart = render();
    expect(only(chart, 'Sidecar', 'web').spec).toEqual({
      workloadSelector: { labels: { 'app.kubernetes.io/name': 'web' } },
      egress: [
        {
          hosts: [
            './10-20-0-3-32.cidr.meridian.internal',
            './firestore.googleapis.com',
            './metadata.google.internal',
            'billing/orders.billing.svc.cluster.local',
            'shop/cache.shop.svc.cluster.local',
          ],
        },
      ],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    });
    expect(only(chart, 'Sidecar', 'worker').spec.egress).toEqual([{ hosts: ['~/*'] }]);
    const shop = manifests(chart).find((m) => m.kind === 'Sidecar' && m.metadata.name === 'default' && m.metadata.namespace === 'shop')!;
    expect(shop.spec.workloadSelector).toBeUndefined();
    expect(shop.spec.egress[0].hosts).toEqual(expect.arrayContaining(['billing/orders.billing.svc.cluster.local', './metadata.google.internal']));
  });

  test('an exposed service serving its metrics on the routed port denies those paths to the ingress gateway', () => {
    const chart = testChart();
    addAccessControl(chart, ['shop'], [{ ...endpoints[0], dependsOn: [], privatePaths: [{ port: 8080, paths: ['/metrics'] }] }], opts);
    expect(only(chart, 'AuthorizationPolicy', 'web-metrics-not-public').spec).toEqual({
      action: 'DENY',
      selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } },
      rules: [
        {
          from: [{ source: { principals: ['cluster.local/ns/istio-ingress/sa/istio-ingressgateway'] } }],
          to: [{ operation: { paths: ['/metrics', '/metrics/*'], ports: ['8080'] } }],
        },
      ],
    });
  });

  test('the DNS servers are data: Cloud DNS and NodeLocal DNSCache addresses', () => {
    const chart = testChart();
    addAccessControl(chart, ['shop'], [], { ...opts, dns: [{ cidr: '169.254.169.254/32' }, { cidr: '169.254.20.10/32' }] });
    expect(only(chart, 'NetworkPolicy', 'allow-dns').spec.egress[0].to).toEqual([
      { ipBlock: { cidr: '169.254.169.254/32' } },
      { ipBlock: { cidr: '169.254.20.10/32' } },
    ]);
  });

  test('a primary Redis group admits replication from the other regions through the east-west gateway, on the redis port only', () => {
    const chart = testChart();
    const redis = new RedisSentinel(chart, 'Redis', {
      name: 'cache',
      namespace: 'shop',
      image: 'redis:7.4.2',
      passwordSecret: 'cache-password',
      region: 'us-east1',
    });
    addAccessControl(chart, ['shop'], [redisEndpoint('cache', redis, { crossRegion: true })], opts);
    expect(only(chart, 'NetworkPolicy', 'cache').spec.ingress).toEqual(
      expect.arrayContaining([
        {
          from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } },
              podSelector: { matchLabels: { istio: 'eastwestgateway' } },
            },
          ],
          ports: [{ port: 6379, protocol: 'TCP' }],
        },
      ]),
    );
    const secondary = testChart();
    const replica = new RedisSentinel(secondary, 'Redis', {
      name: 'cache',
      namespace: 'shop',
      image: 'redis:7.4.2',
      passwordSecret: 'cache-password',
      region: 'us-west1',
      role: 'secondary',
      upstreams: [0, 1, 2].map((i) => `cache-us-east1-${i}.shop.svc.cluster.local`),
    });
    addAccessControl(
      secondary,
      ['shop'],
      [redisEndpoint('cache', replica, { upstreams: [0, 1, 2].map((i) => `cache-us-east1-${i}.shop.svc.cluster.local`) })],
      opts,
    );
    expect(only(secondary, 'NetworkPolicy', 'cache').spec.egress).toEqual(
      expect.arrayContaining([{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 15443, protocol: 'TCP' }] }]),
    );
    expect(only(secondary, 'Sidecar', 'cache').spec.egress[0].hosts).toEqual(
      expect.arrayContaining([0, 1, 2].map((i) => `shop/cache-us-east1-${i}.shop.svc.cluster.local`)),
    );
  });

  test('a Redis group is reached as redis:<name>, with the identity its StatefulSet runs as', () => {
    const chart = testChart();
    const redis = new RedisSentinel(chart, 'Redis', { name: 'cache', namespace: 'shop', image: 'redis:7.4.2', passwordSecret: 'cache-password' });
    expect(redisEndpoint('cache', redis)).toEqual({
      ref: 'redis:cache',
      name: 'cache',
      namespace: 'shop',
      selector: redis.selector,
      serviceAccount: 'cache',
      ports: [6379, 26379],
      hosts: ['cache.shop.svc.cluster.local', 'cache-headless.shop.svc.cluster.local'],
      peers: true,
      peerHosts: [],
      crossRegion: undefined,
      crossRegionPorts: undefined,
      failover: false,
      remoteUpstream: false,
    });
  });

  test('mergeRules folds rules by peer, then by ports, allowing the same', () => {
    const a = { podLabels: { app: 'a' } };
    const b = { podLabels: { app: 'b' } };
    expect(
      mergeRules([
        { peers: [a], ports: [{ port: 1 }] },
        { peers: [b], ports: [{ port: 1 }] },
        { peers: [a], ports: [{ port: 1 }] },
        { peers: [{ cidr: '0.0.0.0/0' }], ports: [{ port: 443 }] },
      ]),
    ).toEqual([
      { peers: [a, b], ports: [{ port: 1 }] },
      { peers: [{ cidr: '0.0.0.0/0' }], ports: [{ port: 443 }] },
    ]);
  });
});
