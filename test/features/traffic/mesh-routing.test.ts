import { Duration } from 'cdk8s';
import { MeshRouting, MeshRoutingProps } from '../../../features';
import { manifests, testChart } from '../../helpers';

const base: MeshRoutingProps = {
  name: 'api',
  namespace: 'shop',
  host: 'api.shop.svc.cluster.local',
};

function render(props: Partial<MeshRoutingProps> = {}) {
  const chart = testChart();
  new MeshRouting(chart, 'api', { ...base, ...props });
  return chart;
}

function dr(props: Partial<MeshRoutingProps> = {}) {
  return manifests(render(props)).find((m) => m.kind === 'DestinationRule')!;
}

function vs(props: Partial<MeshRoutingProps> = {}, name = 'api') {
  return manifests(render(props)).find((m) => m.kind === 'VirtualService' && m.metadata.name === name)!;
}

const failover = [
  { from: 'us-central1', to: 'us-east1' },
  { from: 'us-east1', to: 'us-central1' },
  { from: 'europe-west1', to: 'us-central1' },
];

const versions = [
  { name: 'stable', labels: { version: 'stable' } },
  { name: 'canary', labels: { version: 'canary' } },
];

describe('MeshRouting', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test("circuit breaking defaults: Istio's connection pool (unlimited), outlier detection", () => {
    // Before: maxConnections 100 / http1MaxPendingRequests 100 per proxy, whatever the protocol.
    expect(dr().spec.trafficPolicy.connectionPool).toBeUndefined();
    expect(dr().spec.trafficPolicy).toMatchObject({
      outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s', maxEjectionPercent: 100 },
    });
    expect(dr({ connectionPool: { maxConnections: 100, maxRequestsPerConnection: 2 } }).spec.trafficPolicy.connectionPool).toEqual({
      tcp: { maxConnections: 100 },
      http: { maxRequestsPerConnection: 2 },
    });
  });

  test('retries by default only where the service cannot have processed the request', () => {
    // Before: connect-failure,refused-stream,unavailable,cancelled,5xx: a POST answered 5xx ran again.
    expect(vs().spec.http[0].retries).toEqual({ attempts: 3, perTryTimeout: '1s', retryOn: 'connect-failure,refused-stream,unavailable,503' });
    expect(vs({ retries: { retryOn: '5xx,reset', idempotent: true } }).spec.http[0].retries.retryOn).toBe('5xx,reset');
  });

  test('fails when retries cover conditions after which the service may have acted, without idempotent', () => {
    expect(() => render({ retries: { retryOn: 'connect-failure,5xx,gateway-error' } })).toThrow(
      "MeshRouting 'api': retries.retryOn (connect-failure,5xx,gateway-error) retries on 5xx, gateway-error, after which the service may already have acted (a POST run twice): keep to connect-failure, refused-stream, unavailable, reset-before-request, envoy-ratelimited, http3-post-connect-failure, 503, or set retries.idempotent when every request is safe to repeat",
    );
  });

  test('locality load balancing is on and explicit by default, without failover entries', () => {
    expect(dr().spec.trafficPolicy.loadBalancer).toEqual({ localityLbSetting: { enabled: true } });
  });

  test('failover entries are rendered per caller region, next to outlier detection', () => {
    const policy = dr({ failover }).spec.trafficPolicy;
    expect(policy.loadBalancer.localityLbSetting).toEqual({ enabled: true, failover });
    expect(policy.outlierDetection).toBeDefined();
  });

  test('opting out sets enabled: false explicitly', () => {
    expect(dr({ localityLoadBalancing: false }).spec.trafficPolicy.loadBalancer).toEqual({ localityLbSetting: { enabled: false } });
  });

  test('a subset preferring a region gets failoverPriority with that region and its own outlier detection, never failover', () => {
    const rule = dr({ failover, subsets: [...versions, { name: 'europe-west1', labels: { version: 'stable' }, preferRegion: 'europe-west1' }] });
    const subset = rule.spec.subsets.find((s: any) => s.name === 'europe-west1');
    expect(subset.trafficPolicy.loadBalancer.localityLbSetting).toEqual({
      enabled: true,
      failoverPriority: ['topology.kubernetes.io/region=europe-west1'],
    });
    expect(subset.trafficPolicy.outlierDetection).toEqual(rule.spec.trafficPolicy.outlierDetection);
    expect(rule.spec.subsets.filter((s: any) => s.name !== 'europe-west1').every((s: any) => s.trafficPolicy === undefined)).toBe(true);
  });

  test('the mesh route defaults to the whole host with retries and no timeout', () => {
    expect(vs().spec).toEqual({
      hosts: ['api.shop.svc.cluster.local'],
      http: [
        {
          name: 'default',
          route: [{ destination: { host: 'api.shop.svc.cluster.local' } }],
          retries: { attempts: 3, perTryTimeout: '1s', retryOn: 'connect-failure,refused-stream,unavailable,503' },
        },
      ],
    });
  });

  test('a timeout applies to every route', () => {
    const spec = vs({ timeout: Duration.seconds(5), subsets: versions, routes: [{ name: 'a', match: [{ prefix: '/a' }] }, { name: 'b' }] }).spec;
    expect(spec.http.map((r: any) => r.timeout)).toEqual(['5s', '5s']);
  });

  test('routes split across subsets by weight', () => {
    const route = vs({
      subsets: versions,
      routes: [
        {
          name: 'default',
          split: [
            { subset: 'stable', weight: 90 },
            { subset: 'canary', weight: 10 },
          ],
        },
      ],
    }).spec.http[0].route;
    expect(route).toEqual([
      { destination: { host: 'api.shop.svc.cluster.local', subset: 'stable' }, weight: 90 },
      { destination: { host: 'api.shop.svc.cluster.local', subset: 'canary' }, weight: 10 },
    ]);
  });

  test('header matches are lower-cased, as Istio requires', () => {
    const match = vs({ subsets: versions, routes: [{ name: 'geo', match: [{ prefix: '/', headers: { 'X-Client-Region': 'DE|FR' } }] }] }).spec.http[0].match;
    expect(match).toEqual([{ uri: { prefix: '/' }, headers: { 'x-client-region': { regex: 'DE|FR' } } }]);
  });

  test('ingress routes get their own VirtualService bound to the gateway, with the port', () => {
    const spec = vs(
      {
        subsets: versions,
        ingress: {
          gateway: 'istio-ingress/shop-gateway',
          hosts: ['api.example.com'],
          port: 8080,
          routes: [{ name: 'default', match: [{ prefix: '/api' }], split: [{ subset: 'stable', weight: 100 }] }],
        },
      },
      'api-ingress',
    ).spec;
    expect(spec.gateways).toEqual(['istio-ingress/shop-gateway']);
    expect(spec.hosts).toEqual(['api.example.com']);
    expect(spec.http[0].route).toEqual([{ destination: { host: 'api.shop.svc.cluster.local', subset: 'stable', port: { number: 8080 } }, weight: 100 }]);
  });

  test('TCP destinations get only the DestinationRule, without the http pool', () => {
    const objects = manifests(render({ http: false }));
    expect(objects.map((m) => m.kind)).toEqual(['DestinationRule']);
    expect(objects[0].spec.trafficPolicy.connectionPool).toBeUndefined();
    expect(
      manifests(render({ http: false, connectionPool: { maxConnections: 50, http1MaxPendingRequests: 10 } }))[0].spec.trafficPolicy.connectionPool,
    ).toEqual({ tcp: { maxConnections: 50 } });
  });

  test('fails when weights do not sum to 100', () => {
    expect(() =>
      render({
        subsets: versions,
        routes: [
          {
            name: 'default',
            split: [
              { subset: 'stable', weight: 90 },
              { subset: 'canary', weight: 5 },
            ],
          },
        ],
      }),
    ).toThrow("MeshRouting 'api': mesh route default: weights must sum to 100, got 95 (stable=90, canary=5)");
  });

  test('fails when a route names a subset that is not declared', () => {
    expect(() => render({ subsets: versions, routes: [{ name: 'default', split: [{ subset: 'blue', weight: 100 }] }] })).toThrow(
      "MeshRouting 'api': mesh route default sends to subset blue, which is not declared (subsets: stable, canary)",
    );
  });

  test('fails when failover is given with locality load balancing off', () => {
    expect(() => render({ localityLoadBalancing: false, failover })).toThrow(
      "MeshRouting 'api': failover (us-central1->us-east1, us-east1->us-central1, europe-west1->us-central1) needs localityLoadBalancing",
    );
  });

  test('fails when a region is listed twice as failover origin', () => {
    expect(() =>
      render({
        failover: [
          { from: 'a', to: 'b' },
          { from: 'a', to: 'c' },
        ],
      }),
    ).toThrow("MeshRouting 'api': failover lists a twice: Istio takes one target region per caller region");
  });

  test('fails when outlier detection cannot eject while failover is on', () => {
    expect(() => render({ failover, outlierDetection: { consecutive5xxErrors: 0 } })).toThrow(
      "MeshRouting 'api': outlierDetection (consecutive5xxErrors 0, maxEjectionPercent 100) must eject hosts while locality failover is on: Istio fails over only away from ejected hosts",
    );
  });

  test('fails when a TCP destination is given routes', () => {
    expect(() => render({ http: false, routes: [{ name: 'default' }] })).toThrow(
      "MeshRouting 'api': routes need http: a TCP destination only gets a DestinationRule",
    );
  });
});

describe('MeshRouting: regexes are RE2, as Envoy compiles them', () => {
  test('fails when a header regex is not RE2 (a lookahead)', () => {
    expect(() => render({ routes: [{ name: 'geo', match: [{ prefix: '/', headers: { 'X-Client-Region': '(?!US)..' } }] }] })).toThrow(
      "MeshRouting 'api': mesh route geo: header X-Client-Region regex \"(?!US)..\" is not valid RE2 (Envoy's engine): invalid perl operator: (?!",
    );
  });
});
