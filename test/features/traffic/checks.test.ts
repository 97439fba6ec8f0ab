import { durationMillis } from '../../../checks/durations';
import { EAST, Fixture, GOOD, problemsAfter, WEST } from '../../checks/fixture';
import { regexProblems } from '../../../features/traffic/checks';

const VS = `${EAST}/shop/web.yaml: VirtualService shop/web`;
const DR = `${EAST}/shop/web.yaml: DestinationRule shop/web`;

describe('Istio routing references', () => {
  test('the good fixture passes: short and qualified hosts, a ServiceEntry host, a subset whose pods run in the other region', () => {
    expect(new Fixture().problems()).toEqual([]);
  });

  test('fails when a VirtualService routes to a host that is neither a Service nor a ServiceEntry host', () => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].route[0].destination.host = 'web.other.svc.cluster.local';
      }),
    ).toEqual([
      `${VS}: spec.http[0].route[0].destination.host: host "web.other.svc.cluster.local" is neither a Service of this cluster nor a host of a ServiceEntry: Envoy would have no endpoints for it`,
    ]);
  });

  test('fails when a short name is written with its namespace: Istio does not expand it', () => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].route[1].destination.host = 'web.shop';
      }),
    ).toEqual([
      `${VS}: spec.http[0].route[1].destination.host: host "web.shop" is neither a Service of this cluster nor a host of a ServiceEntry: Envoy would have no endpoints for it`,
    ]);
  });

  test('fails when the ServiceEntry a route relies on is missing', () => {
    expect(problemsAfter((f) => f.remove('ServiceEntry', 'egress-payments'))).toEqual([
      `${EAST}/shop/web.yaml: VirtualService shop/payments: spec.tls[0].route[0].destination.host: host "api.payments.example.com" is neither a Service of this cluster nor a host of a ServiceEntry: Envoy would have no endpoints for it`,
    ]);
  });

  test('fails when a destination port is not a port of the Service', () => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].route[0].destination.port.number = 9090;
      }),
    ).toEqual([`${VS}: spec.http[0].route[0].destination.port.number: 9090 is not a port of Service shop/web (8080)`]);
  });

  test('fails when a routed subset is not defined by the DestinationRule', () => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].route[0].destination.subset = 'canary';
      }),
    ).toEqual([
      `${VS}: spec.http[0].route[0].destination.subset: "canary" is not a subset of DestinationRule "web" for host "web.shop.svc.cluster.local" (subsets: east, west)`,
    ]);
  });

  test('fails when subsets are routed to and no DestinationRule exists for the host', () => {
    expect(problemsAfter((f) => f.remove('DestinationRule', 'web'))).toEqual([
      `${VS}: spec.http[0].route[0].destination.subset: "east" needs a DestinationRule for host "web.shop.svc.cluster.local", and none is rendered`,
      `${VS}: spec.http[0].route[1].destination.subset: "west" needs a DestinationRule for host "web.shop.svc.cluster.local", and none is rendered`,
    ]);
  });

  test('fails when a DestinationRule names an unknown host', () => {
    expect(
      problemsAfter((f) => {
        f.get('DestinationRule', 'web').spec.host = 'webb';
        f.get('VirtualService', 'web').spec.http[0].route = [{ destination: { host: 'web' } }];
      }),
    ).toEqual([`${DR}: spec.host: host "webb" is neither a Service of this cluster nor a host of a ServiceEntry: Envoy would have no endpoints for it`]);
  });

  test('fails when a subset selects no pods in any region of the environment', () => {
    expect(problemsAfter((f) => f.removeCluster('west'))).toEqual([
      `${DR}: spec.subsets[1].labels: subset "west" (meridian.dev/region=west) selects no pods behind web.shop.svc.cluster.local in any cluster of ${GOOD}`,
    ]);
  });

  test('fails when a subset label matches pods that the Service does not select', () => {
    expect(
      problemsAfter((f) => {
        f.get('DestinationRule', 'web').spec.subsets[0].labels = { 'app.kubernetes.io/name': 'cache' };
      }),
    ).toEqual([
      `${DR}: spec.subsets[0].labels: subset "east" (app.kubernetes.io/name=cache) selects no pods behind web.shop.svc.cluster.local in any cluster of ${GOOD}`,
    ]);
  });
});

describe("Istio durations (the CRDs' CEL rule, run here)", () => {
  test.each(['1ms', '500ms', '5s', '1m30s', '1.5s', '2h'])('accepts %s', (d) => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].timeout = d;
      }),
    ).toEqual([]);
  });

  test.each([['5 s'], ['30'], ['0s'], ['500us'], ['-1s']])('fails when a timeout is %s', (d) => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].timeout = d;
      }),
    ).toEqual([`${VS}: spec.http[0].timeout: must be a duration of at least 1ms, such as 500ms, 5s or 1m30s (got "${d}")`]);
  });

  test('fails in every duration field the CRD marks: perTryTimeout, outlier interval, baseEjectionTime', () => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].retries.perTryTimeout = '1sec';
        f.get('DestinationRule', 'web').spec.trafficPolicy.outlierDetection.interval = '30';
        f.get('DestinationRule', 'web').spec.trafficPolicy.outlierDetection.baseEjectionTime = '0ms';
      }),
    ).toEqual([
      `${DR}: spec.trafficPolicy.outlierDetection.baseEjectionTime: must be a duration of at least 1ms, such as 500ms, 5s or 1m30s (got "0ms")`,
      `${DR}: spec.trafficPolicy.outlierDetection.interval: must be a duration of at least 1ms, such as 500ms, 5s or 1m30s (got "30")`,
      `${VS}: spec.http[0].retries.perTryTimeout: must be a duration of at least 1ms, such as 500ms, 5s or 1m30s (got "1sec")`,
    ]);
  });

  test('durationMillis reads CEL durations', () => {
    expect(durationMillis('1m30s')).toBe(90_000);
    expect(durationMillis('1.5s')).toBe(1500);
    expect(durationMillis('250us')).toBeCloseTo(0.25);
    expect(durationMillis('5 s')).toBeUndefined();
  });
});

describe('VirtualServices bound to a Gateway', () => {
  const gateway = (hosts: string[]) => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'shop-gateway', namespace: 'istio-ingress' },
    spec: {
      selector: { istio: 'ingressgateway' },
      servers: [{ name: 'https', port: { name: 'https', number: 443, protocol: 'HTTPS' }, hosts, tls: { mode: 'SIMPLE', credentialName: 'shop-tls' } }],
    },
  });
  const bind = (f: Fixture, hosts: string[]) => {
    const vs = f.get('VirtualService', 'web');
    vs.spec.hosts = hosts;
    vs.spec.gateways = ['istio-ingress/shop-gateway'];
  };

  test('passes when a server admits the namespace (exactly or "*") and the host (exactly, "*" or a wildcard suffix)', () => {
    for (const hosts of [['shop/*'], ['*/*'], ['shop/web.example.com'], ['*/*.example.com']]) {
      expect(
        problemsAfter((f) => {
          f.add(`${EAST}/istio-ingress/gateway.yaml`, gateway(hosts));
          bind(f, ['web.example.com']);
        }),
      ).toEqual([]);
    }
  });

  test("fails when no server of the Gateway admits the VirtualService's namespace or host", () => {
    expect(
      problemsAfter((f) => {
        f.add(`${EAST}/istio-ingress/gateway.yaml`, gateway(['other/*', '*/*.example.org']));
        bind(f, ['web.example.com']);
      }),
    ).toEqual([
      `${VS}: spec.hosts[0]: "web.example.com" is not admitted for namespace shop by Gateway istio-ingress/shop-gateway (hosts: other/*, */*.example.org): the gateway would not route it`,
    ]);
  });

  test('fails when the Gateway is missing from a namespace where the cluster renders Gateways', () => {
    expect(
      problemsAfter((f) => {
        f.add(`${EAST}/istio-ingress/gateway.yaml`, gateway(['*/*']));
        bind(f, ['web.example.com']);
        f.get('VirtualService', 'web').spec.gateways = ['istio-ingress/shop-gw'];
      }),
    ).toEqual([`${VS}: spec.gateways[0]: Gateway istio-ingress/shop-gw is not rendered in this cluster`]);
  });
});

describe('every host a Gateway routes in one region, it routes in every region', () => {
  const gateway = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'shop-gateway', namespace: 'istio-ingress' },
    spec: {
      selector: { istio: 'ingressgateway' },
      servers: [
        { name: 'https', port: { name: 'https', number: 443, protocol: 'HTTPS' }, hosts: ['shop/*'], tls: { mode: 'SIMPLE', credentialName: 'shop-tls' } },
      ],
    },
  };
  const withGateways = (f: Fixture) => {
    f.add(`${EAST}/istio-ingress/gateway.yaml`, structuredClone(gateway));
    f.add(`${WEST}/istio-ingress/gateway.yaml`, structuredClone(gateway));
    const vs = f.get('VirtualService', 'web');
    vs.spec.hosts = ['web.example.com'];
    vs.spec.gateways = ['istio-ingress/shop-gateway'];
  };

  test('fails when another region of the environment routes a host this region does not (404 for the clients sent here)', () => {
    expect(problemsAfter(withGateways)).toEqual([
      `${WEST}/istio-ingress/gateway.yaml: Gateway istio-ingress/shop-gateway: spec.servers: no VirtualService bound to this Gateway routes host "web.example.com", which it routes in east: the global load balancer sends clients of every host to the nearest healthy region, where this gateway would answer 404`,
    ]);
  });

  test('passes when every region routes the host', () => {
    expect(
      problemsAfter((f) => {
        withGateways(f);
        const copy = structuredClone(f.get('VirtualService', 'web'));
        copy.spec.http = [{ route: [{ destination: { host: 'web.shop.svc.cluster.local' } }] }];
        f.add(`${WEST}/shop/web-ingress.yaml`, copy);
      }),
    ).toEqual([]);
  });
});

describe('regexes Envoy evaluates compile in RE2', () => {
  test('fails when a VirtualService header match is not RE2 (a backreference); a valid uri regex passes', () => {
    expect(
      problemsAfter((f) => {
        f.get('VirtualService', 'web').spec.http[0].match = [{ headers: { 'x-client-region': { regex: '(DE)\\1' } }, uri: { regex: '/api/[0-9]+' } }];
      }),
    ).toEqual([
      `${VS}: spec.http[0].match[0].headers.x-client-region.regex: "(DE)\\\\1" is not a regex RE2 (Envoy's engine) accepts: invalid escape sequence: \\1`,
    ]);
  });

  test("fails when an EnvoyFilter's safe_regex is not RE2 (a lookahead)", () => {
    const filter = {
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'EnvoyFilter',
      metadata: { name: 'f', namespace: 'istio-ingress' },
      spec: { configPatches: [{ patch: { value: { headers: [{ name: ':path', string_match: { safe_regex: { regex: '/a(?=b)' } } }] } } }] },
    };
    expect(regexProblems(filter)).toEqual([
      {
        path: 'spec.configPatches[0].patch.value.headers[0].string_match.safe_regex.regex',
        message: '"/a(?=b)" is not a regex RE2 (Envoy\'s engine) accepts: invalid perl operator: (?=',
      },
    ]);
  });
});
