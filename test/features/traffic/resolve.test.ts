import * as fs from 'node:fs';
import * as path from 'node:path';
import { apportion } from '../../../features/traffic/resolve';
import { loadAll, loadEnvironments, PlatformInput } from '../../../model';
import { Manifest, render, RenderedFile } from '../../../synth/render';
import { ROOT, tempDir } from '../../helpers';

type Any = any;

/** A three-region platform: Belgium primary, the Netherlands and South Carolina secondary. */
function shop(): PlatformInput {
  return {
    name: 'shop',
    project: 'shop-project',
    environments: ['prod'],
    regions: {
      'europe-west1': { role: 'primary', zones: ['europe-west1-b'], geo: ['DE', 'FR'] },
      'europe-west4': { role: 'secondary', zones: ['europe-west4-a'], geo: ['NL'] },
      'us-east1': { role: 'secondary', zones: ['us-east1-b'], geo: ['US', 'CA'] },
    },
    namespaces: { web: {} },
    routing: {
      weights: { 'europe-west1': 60, 'europe-west4': 30, 'us-east1': 10 },
      traffic: { timeout: '5s', retries: { attempts: 2, perTryTimeout: '500ms' } },
    },
    services: {
      api: {
        namespace: 'web',
        image: { repository: 'us-docker.pkg.dev/shop/web/api', tag: '1.0.0' },
        ports: [{ name: 'http', port: 8080 }],
        probes: { readiness: { path: '/ready' } },
        autoscaling: { min: 3, max: 12, cpuUtilization: 70 },
        expose: { paths: ['/api'] },
        traffic: { splitByRegion: true },
      },
      feed: {
        namespace: 'web',
        image: { repository: 'us-docker.pkg.dev/shop/web/feed', tag: '1.0.0' },
        ports: [{ name: 'ws', port: 8081, protocol: 'websocket' }],
        probes: { readiness: { path: '/ready' } },
        expose: { paths: ['/feed'] },
      },
      search: {
        namespace: 'web',
        image: { repository: 'us-docker.pkg.dev/shop/web/search', tag: '1.0.0' },
        ports: [{ name: 'http', port: 8080 }],
        probes: { readiness: { path: '/ready' } },
        traffic: { localityFailover: false },
      },
    },
    ingress: { hosts: ['shop.example.com'], tlsCredential: 'shop-tls', securityPolicy: 'shop-edge' },
    gitops: { repoURL: 'https://example.com/fleet.git' },
  };
}

const roots: string[] = [];
afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

/** Renders a platform (with an optional prod overlay) the way synth does. */
function renderShop(input: PlatformInput = shop(), overlay?: string): RenderedFile[] {
  const root = tempDir();
  roots.push(root);
  if (overlay !== undefined) {
    fs.mkdirSync(path.join(root, 'overlays', 'shop'), { recursive: true });
    fs.writeFileSync(path.join(root, 'overlays', 'shop', 'prod.yaml'), overlay);
  }
  return [...render(loadEnvironments({ file: 'platforms/shop.ts', input }, root)).files];
}

/** The object rendered at `<scope>/<region>/<namespace>/<kind>-<name>.yaml`. */
function object(files: RenderedFile[], region: string, file: string): Any {
  const found = files.find((f) => f.path.split('/').slice(2).join('/') === `${region}/${file}`);
  if (!found) throw new Error(`not rendered: ${region}/${file}`);
  return found.manifest;
}

function clusters(files: RenderedFile[]): string[] {
  return [...new Set(files.map((f) => f.path.split('/').slice(0, 3).join('/')))].filter((c) => !c.endsWith('/argocd'));
}

/**
 * The rules every rendered cluster must keep: each route's weights sum to 100; every
 * subset a route names is declared by the DestinationRule of its host and selects pods of a
 * Deployment there that the host's Service also selects; failover never goes without
 * outlier detection; failover, failoverPriority and distribute never share a setting.
 */
function assertRoutingConsistent(files: RenderedFile[]): void {
  for (const cluster of clusters(files)) {
    const objects = files.filter((f) => f.path.startsWith(`${cluster}/`)).map((f) => f.manifest as Any);
    const of = (kind: string) => objects.filter((o) => o.kind === kind);
    for (const dr of of('DestinationRule')) {
      const policies = [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((s: Any) => s.trafficPolicy).filter(Boolean)];
      for (const p of policies) {
        const locality = p.loadBalancer?.localityLbSetting ?? {};
        const modes = ['failover', 'failoverPriority', 'distribute'].filter((k) => locality[k] !== undefined);
        expect(modes.length).toBeLessThanOrEqual(1);
        if (modes.length > 0) expect(p.outlierDetection?.consecutive5xxErrors).toBeGreaterThan(0);
      }
    }
    for (const vs of of('VirtualService')) {
      for (const route of vs.spec.http) {
        if (route.route.length > 1 || route.route[0].weight !== undefined) {
          expect(route.route.reduce((s: number, d: Any) => s + d.weight, 0)).toBe(100);
        }
        for (const { destination } of route.route) {
          if (destination.subset === undefined) continue;
          const [name, namespace] = destination.host.split('.');
          const dr = of('DestinationRule').find((d) => d.spec.host === destination.host);
          const subset = dr?.spec.subsets.find((s: Any) => s.name === destination.subset);
          expect([vs.metadata.name, route.name, subset?.name]).toEqual([vs.metadata.name, route.name, destination.subset]);
          const service = of('Service').find((s) => s.metadata.name === name && s.metadata.namespace === namespace);
          const selects = (pod: Record<string, string>, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => pod[k] === v);
          const pods = of('Deployment')
            .filter((d) => d.metadata.namespace === namespace)
            .map((d) => d.spec.template.metadata.labels);
          expect([route.name, destination.subset, pods.some((p) => selects(p, subset.labels) && selects(p, service.spec.selector))]).toEqual([
            route.name,
            destination.subset,
            true,
          ]);
        }
      }
    }
  }
}

describe('locality failover', () => {
  const files = renderShop();

  test('each region fails over by the derived order: the primary to its nearest secondary, a secondary to the primary', () => {
    expect(object(files, 'europe-west1', 'web/destinationrule-api.yaml').spec.trafficPolicy.loadBalancer).toEqual({
      localityLbSetting: {
        enabled: true,
        failover: [
          { from: 'europe-west1', to: 'europe-west4' },
          { from: 'europe-west4', to: 'europe-west1' },
          { from: 'us-east1', to: 'europe-west1' },
        ],
      },
    });
  });

  test('an order given in the spec is used as written', () => {
    const input = shop();
    input.regions['us-east1'].failover = ['europe-west4', 'europe-west1'];
    const failover = object(renderShop(input), 'us-east1', 'web/destinationrule-api.yaml').spec.trafficPolicy.loadBalancer.localityLbSetting.failover;
    expect(failover).toContainEqual({ from: 'us-east1', to: 'europe-west4' });
  });

  test('failover names GCP regions, the localities Istio knows, whatever the region keys', () => {
    const input = shop();
    input.regions = {
      eu: { role: 'primary', gcpRegion: 'europe-west1', zones: ['europe-west1-b'] },
      us: { role: 'secondary', gcpRegion: 'us-east1', zones: ['us-east1-b'] },
    };
    input.routing!.weights = { eu: 70, us: 30 };
    const dr = object(renderShop(input), 'us', 'web/destinationrule-api.yaml');
    expect(dr.spec.trafficPolicy.loadBalancer.localityLbSetting.failover).toEqual([
      { from: 'europe-west1', to: 'us-east1' },
      { from: 'us-east1', to: 'europe-west1' },
    ]);
    expect(dr.spec.subsets.map((s: Any) => [s.name, s.trafficPolicy?.loadBalancer.localityLbSetting.failoverPriority])).toEqual([
      ['stable', undefined],
      ['eu', ['topology.kubernetes.io/region=europe-west1']],
      ['us', ['topology.kubernetes.io/region=us-east1']],
    ]);
  });

  test('a service running in some regions fails over to the nearest region that runs it', () => {
    const input = shop();
    input.services!.search.regions = ['europe-west1', 'us-east1'];
    input.services!.search.traffic = {};
    const failover = object(renderShop(input), 'europe-west1', 'web/destinationrule-search.yaml').spec.trafficPolicy.loadBalancer.localityLbSetting.failover;
    expect(failover).toEqual([
      { from: 'europe-west1', to: 'us-east1' },
      { from: 'europe-west4', to: 'europe-west1' },
      { from: 'us-east1', to: 'europe-west1' },
    ]);
  });

  test('outlier detection accompanies failover in every DestinationRule', () => {
    for (const f of files.filter((x) => x.manifest.kind === 'DestinationRule')) {
      const policy = (f.manifest as Any).spec.trafficPolicy;
      if (policy.loadBalancer.localityLbSetting.failover) expect(policy.outlierDetection).toMatchObject({ consecutive5xxErrors: 5, maxEjectionPercent: 100 });
    }
  });

  test('a service opting out sets localityLbSetting.enabled: false and no failover', () => {
    expect(object(files, 'us-east1', 'web/destinationrule-search.yaml').spec.trafficPolicy.loadBalancer).toEqual({ localityLbSetting: { enabled: false } });
  });

  test('the DestinationRules are the same in every region cluster', () => {
    for (const name of ['api', 'feed', 'search']) {
      const specs = ['europe-west1', 'europe-west4', 'us-east1'].map((r) => object(files, r, `web/destinationrule-${name}.yaml`).spec);
      expect(specs[1]).toEqual(specs[0]);
      expect(specs[2]).toEqual(specs[0]);
    }
  });

  test('every cluster keeps the routing rules', () => assertRoutingConsistent(files));
});

describe('ingress routes', () => {
  const files = renderShop();
  const ingress = object(files, 'europe-west4', 'web/virtualservice-api-ingress.yaml');

  test('geo header routes send each client region to its region subset, then the weighted split', () => {
    expect(ingress.spec.http.map((r: Any) => [r.name, r.match, r.route.map((d: Any) => `${d.destination.subset}=${d.weight}`)])).toEqual([
      ['geo-europe-west1', [{ uri: { prefix: '/api' }, headers: { 'x-client-region': { regex: 'DE|FR' } } }], ['europe-west1=100']],
      ['geo-europe-west4', [{ uri: { prefix: '/api' }, headers: { 'x-client-region': { regex: 'NL' } } }], ['europe-west4=100']],
      ['geo-us-east1', [{ uri: { prefix: '/api' }, headers: { 'x-client-region': { regex: 'US|CA' } } }], ['us-east1=100']],
      ['weighted', [{ uri: { prefix: '/api' } }], ['europe-west1=60', 'europe-west4=30', 'us-east1=10']],
    ]);
  });

  test('a region subset prefers its region and fails over to the rest', () => {
    const subset = object(files, 'europe-west4', 'web/destinationrule-api.yaml').spec.subsets.find((s: Any) => s.name === 'us-east1');
    expect(subset).toEqual({
      name: 'us-east1',
      labels: { version: 'stable' },
      trafficPolicy: {
        loadBalancer: { localityLbSetting: { enabled: true, failoverPriority: ['topology.kubernetes.io/region=us-east1'] } },
        outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s', maxEjectionPercent: 100 },
      },
    });
  });

  test('ingress routes carry the retries and timeout of the service, on its port, through the gateway', () => {
    expect(ingress.spec.gateways).toEqual(['istio-ingress/shop-gateway']);
    expect(ingress.spec.hosts).toEqual(['shop.example.com']);
    for (const r of ingress.spec.http) {
      expect(r.timeout).toBe('5s');
      expect(r.retries).toEqual({ attempts: 2, perTryTimeout: '500ms', retryOn: 'connect-failure,refused-stream,unavailable,503' });
      for (const d of r.route) expect(d.destination.port).toEqual({ number: 8080 });
    }
  });

  test('calls inside the mesh stay local: the mesh route is the stable version only', () => {
    expect(object(files, 'us-east1', 'web/virtualservice-api.yaml').spec.http.map((r: Any) => [r.name, r.route])).toEqual([
      ['default', [{ destination: { host: 'api.web.svc.cluster.local', subset: 'stable' }, weight: 100 }]],
    ]);
  });

  test('a streaming service keeps no timeout, in the mesh and at the ingress, and the load balancer keeps sockets for an hour', () => {
    const routes = [
      ...object(files, 'us-east1', 'web/virtualservice-feed.yaml').spec.http,
      ...object(files, 'us-east1', 'web/virtualservice-feed-ingress.yaml').spec.http,
    ];
    expect(routes.map((r: Any) => r.timeout)).toEqual([undefined, undefined]);
    expect(object(files, 'us-east1', 'istio-ingress/backendconfig-shop-gateway.yaml').spec.timeoutSec).toBe(3600);
  });

  test('a service without splitByRegion is routed by path to its versions', () => {
    expect(
      object(files, 'us-east1', 'web/virtualservice-feed-ingress.yaml').spec.http.map((r: Any) => [
        r.name,
        r.match,
        r.route.map((d: Any) => d.destination.subset),
      ]),
    ).toEqual([['default', [{ uri: { prefix: '/feed' } }], ['stable']]]);
  });

  test('each cluster has the Gateway and the BackendConfig of the load balancer', () => {
    const gw = object(files, 'us-east1', 'istio-ingress/gateway-shop-gateway.yaml');
    expect(gw.spec.servers[0].hosts).toEqual(['web/*']);
    expect(gw.spec.servers[0].tls.credentialName).toBe('shop-tls');
    const backend = object(files, 'us-east1', 'istio-ingress/backendconfig-shop-gateway.yaml').spec;
    expect(backend.securityPolicy).toEqual({ name: 'shop-edge' });
    expect(backend.customRequestHeaders).toEqual({ headers: ['X-Client-Region:{client_region}', 'X-Client-Subdivision:{client_region_subdivision}'] });
  });

  test('a service not exposed gets no ingress routes', () => {
    expect(files.some((f) => f.path.endsWith('virtualservice-search-ingress.yaml'))).toBe(false);
  });
});

describe('canary and rollback', () => {
  const canary = 'services:\n  api:\n    canary: { image: { tag: "1.1.0" }, weight: 10 }\n';
  const before = renderShop();
  const during = renderShop(shop(), canary);

  test('the canary runs as a second Deployment api-canary, labelled version: canary, with the canary image', () => {
    const dep = object(during, 'europe-west4', 'web/deployment-api-canary.yaml');
    expect(dep.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'api', version: 'canary', 'app.kubernetes.io/version': '1.1.0' });
    expect(dep.spec.template.spec.containers[0].image).toBe('us-docker.pkg.dev/shop/web/api:1.1.0');
    expect(dep.spec.template.spec.serviceAccountName).toBe('api');
    expect(dep.spec.replicas).toBe(3);
    expect(object(during, 'europe-west4', 'web/deployment-api.yaml').spec.template.metadata.labels.version).toBe('stable');
  });

  test('the canary takes its weight of the mesh calls', () => {
    expect(object(during, 'us-east1', 'web/virtualservice-api.yaml').spec.http[0].route.map((d: Any) => [d.destination.subset, d.weight])).toEqual([
      ['stable', 90],
      ['canary', 10],
    ]);
  });

  test('at the ingress, the canary takes its weight of every route and the regions share the rest', () => {
    const http = object(during, 'us-east1', 'web/virtualservice-api-ingress.yaml').spec.http;
    expect(http.map((r: Any) => [r.name, r.route.map((d: Any) => `${d.destination.subset}=${d.weight}`)])).toEqual([
      ['geo-europe-west1', ['europe-west1=90', 'canary=10']],
      ['geo-europe-west4', ['europe-west4=90', 'canary=10']],
      ['geo-us-east1', ['us-east1=90', 'canary=10']],
      ['weighted', ['europe-west1=54', 'europe-west4=27', 'us-east1=9', 'canary=10']],
    ]);
  });

  test('adding the canary leaves the stable Deployment and Service as they were, and adds only the canary subset', () => {
    for (const file of ['web/deployment-api.yaml', 'web/service-api.yaml']) {
      expect(object(during, 'us-east1', file)).toEqual(object(before, 'us-east1', file));
    }
    const subsets = (f: Any[]) => object(f, 'us-east1', 'web/destinationrule-api.yaml').spec.subsets;
    expect(subsets(during)).toEqual([subsets(before)[0], { name: 'canary', labels: { version: 'canary' } }, ...subsets(before).slice(1)]);
  });

  test('weight 0 sends nothing to the canary but keeps it running (the blue-green switch back)', () => {
    const idle = renderShop(shop(), canary.replace('weight: 10', 'weight: 0'));
    expect(object(idle, 'us-east1', 'web/deployment-api-canary.yaml').spec.replicas).toBe(3);
    const subsets = idle
      .filter((f) => f.manifest.kind === 'VirtualService')
      .flatMap((f) => (f.manifest as Any).spec.http.flatMap((r: Any) => r.route.map((d: Any) => d.destination.subset)));
    expect(subsets).not.toContain('canary');
    assertRoutingConsistent(idle);
  });

  test('weight 100 sends everything to the canary (blue-green)', () => {
    const green = renderShop(shop(), canary.replace('weight: 10', 'weight: 100'));
    expect(object(green, 'us-east1', 'web/virtualservice-api.yaml').spec.http[0].route.map((d: Any) => [d.destination.subset, d.weight])).toEqual([
      ['canary', 100],
    ]);
    assertRoutingConsistent(green);
  });

  test('rollback: removing the canary from the overlay renders exactly what was there before it', () => {
    const rolledBack = renderShop(shop(), '# canary removed\n');
    expect(rolledBack.map((f) => [f.path, f.manifest])).toEqual(before.map((f) => [f.path, f.manifest]));
    expect(rolledBack.some((f) => f.path.includes('api-canary'))).toBe(false);
  });

  test('a canary declared in one region runs and is routed there only', () => {
    const files = renderShop(shop(), 'regions:\n  europe-west4:\n    services:\n      api:\n        canary: { image: { tag: "1.1.0" }, weight: 20 }\n');
    expect(files.filter((f) => f.path.includes('deployment-api-canary')).map((f) => f.path.split('/')[2])).toEqual(['europe-west4']);
    expect(object(files, 'europe-west4', 'web/virtualservice-api.yaml').spec.http[0].route.map((d: Any) => d.weight)).toEqual([80, 20]);
    expect(object(files, 'us-east1', 'web/virtualservice-api.yaml').spec.http[0].route.map((d: Any) => d.weight)).toEqual([100]);
    assertRoutingConsistent(files);
  });

  test('every cluster keeps the routing rules during the canary', () => assertRoutingConsistent(during));

  test('the rules catch a route to a subset whose pods are not there', () => {
    expect(() => assertRoutingConsistent(during.filter((f) => !f.path.endsWith('us-east1/web/deployment-api-canary.yaml')))).toThrow();
  });
});

describe('apportion', () => {
  test('integer shares that always add up, ties to the first listed', () => {
    const parts = [
      { subset: 'a', weight: 60 },
      { subset: 'b', weight: 30 },
      { subset: 'c', weight: 10 },
    ];
    for (let total = 0; total <= 100; total++) {
      expect(apportion(parts, total).reduce((s, d) => s + d.weight, 0)).toBe(total);
    }
    expect(
      apportion(
        [
          { subset: 'a', weight: 50 },
          { subset: 'b', weight: 35 },
          { subset: 'c', weight: 15 },
        ],
        90,
      ),
    ).toEqual([
      { subset: 'a', weight: 45 },
      { subset: 'b', weight: 32 },
      { subset: 'c', weight: 13 },
    ]);
  });
});

describe('ggen, as seed 004 describes it', () => {
  const envs = loadAll(ROOT, { platform: 'ggen' });
  const files = [...render(envs).files];
  const prod = files.filter((f) => f.path.startsWith('ggen/prod/'));
  const regions = ['us-central1', 'us-east1', 'europe-west1'];

  test('us-central1 fails over to us-east1 (seed §3.3); the secondaries to the primary', () => {
    for (const r of regions) {
      expect(object(prod, r, 'marketplace/destinationrule-api.yaml').spec.trafficPolicy.loadBalancer.localityLbSetting.failover).toEqual([
        { from: 'us-central1', to: 'us-east1' },
        { from: 'us-east1', to: 'us-central1' },
        { from: 'europe-west1', to: 'us-central1' },
      ]);
    }
  });

  test('circuit breaking of seed §4.3', () => {
    expect(object(prod, 'us-east1', 'marketplace/destinationrule-api.yaml').spec.trafficPolicy).toMatchObject({
      connectionPool: { tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 100, maxRequestsPerConnection: 2 } },
      outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s', maxEjectionPercent: 100 },
    });
  });

  test('geographic affinity first, US states before the US, then 50/35/15 with 5s timeout and 3 tries of 1s (seed §4.2)', () => {
    const http = object(prod, 'europe-west1', 'marketplace/virtualservice-api-ingress.yaml').spec.http;
    expect(http.map((r: Any) => r.name)).toEqual(['geo-us-east1-subdivision', 'geo-us-central1', 'geo-us-east1', 'geo-europe-west1', 'weighted']);
    expect(http[0].match[0].headers['x-client-subdivision'].regex.split('|')).toContain('USNY');
    expect(http[1].match[0].headers['x-client-region'].regex).toBe('US|CA|MX');
    expect(http[4].route.map((d: Any) => [d.destination.subset, d.weight])).toEqual([
      ['us-central1', 50],
      ['us-east1', 35],
      ['europe-west1', 15],
    ]);
    for (const r of http) {
      expect(r.timeout).toBe('5s');
      expect(r.retries).toMatchObject({ attempts: 3, perTryTimeout: '1s' });
    }
  });

  test('the API is served on its host in each environment', () => {
    const hosts = (env: string) =>
      (files.find((f) => f.path === `ggen/${env}/us-east1/marketplace/virtualservice-api-ingress.yaml`)!.manifest as Any).spec.hosts;
    expect(hosts('prod')).toEqual(['api.ggen-marketplace.example.com']);
    expect(hosts('staging')).toEqual(['api.staging.ggen-marketplace.example.com']);
    expect(hosts('dev')).toEqual(['api.dev.ggen-marketplace.example.com']);
  });

  test('the Redis master is marked in the primary region in every cluster', () => {
    for (const r of regions) {
      expect((object(prod, r, 'marketplace/statefulset-cache.yaml') as Manifest).metadata.annotations).toMatchObject({
        'meridian.dev/redis-master-region': 'us-central1',
      });
    }
  });

  test('every cluster of every environment keeps the routing rules', () => assertRoutingConsistent(files));
});

describe('pools and retries by protocol, on the seed platforms', () => {
  const all = render(loadAll(ROOT)).files;
  const at = (p: string) => all.find((f) => f.path === p)!.manifest as Any;

  test("PushNchat's WebSocket service keeps Istio's unlimited pool: 100 connections per gateway pod capped its streams", () => {
    expect(at('pushnchat/prod/africa-south1/pushnchat/destinationrule-messaging.yaml').spec.trafficPolicy.connectionPool).toBeUndefined();
  });

  test("ggen's pool stays as its seed sets it (§4.3)", () => {
    expect(at('ggen/prod/us-central1/marketplace/destinationrule-api.yaml').spec.trafficPolicy.connectionPool).toEqual({
      tcp: { maxConnections: 100 },
      http: { http1MaxPendingRequests: 100, maxRequestsPerConnection: 2 },
    });
  });

  test('no rendered route retries on a condition after which a service may have acted (a POST to ggen payments twice)', () => {
    const routes = all
      .filter((f) => f.manifest.kind === 'VirtualService')
      .flatMap((f) => ((f.manifest as Any).spec.http ?? []).map((r: Any) => [f.path, r.retries?.retryOn] as const))
      .filter(([, on]) => on !== undefined);
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter(([, on]) => /(^|,)(5xx|gateway-error|reset|cancelled|retriable-4xx)(,|$)/.test(on))).toEqual([]);
    expect(at('ggen/prod/us-central1/marketplace/virtualservice-api.yaml').spec.http[0].retries.retryOn).toBe('connect-failure,refused-stream,unavailable,503');
  });
});
