import { ProblemError } from '../../../kernel/problems';
import * as fs from 'node:fs';
import { formatProblem, loadEnvironments, Platform, PlatformInput } from '../../../model';
import { regionDistanceKm } from '../../../kernel/gcp-regions';
import { failoverOrder } from '../../../features/traffic/rules';
import { tempDir } from '../../helpers';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function input(): PlatformInput {
  return {
    name: 'shop',
    project: 'shop-project',
    environments: ['prod'],
    regions: {
      'us-central1': { role: 'primary', zones: ['us-central1-a'] },
      'us-east1': { role: 'secondary', zones: ['us-east1-b'] },
      'europe-west1': { role: 'secondary', zones: ['europe-west1-b'] },
    },
    namespaces: { web: {} },
    services: {
      api: {
        namespace: 'web',
        image: { repository: 'us-docker.pkg.dev/shop/web/api', tag: '1.0.0' },
        ports: [{ name: 'http', port: 8080 }],
        probes: { readiness: { path: '/ready' } },
        expose: { paths: ['/api'] },
      },
    },
    ingress: { hosts: ['shop.example.com'], tlsCredential: 'shop-tls' },
    gitops: { repoURL: 'https://example.com/fleet.git' },
  };
}

function load(p: PlatformInput): Platform {
  return loadEnvironments({ file: 'platforms/shop.ts', input: p }, root)[0].platform;
}

function problems(p: PlatformInput): string[] {
  try {
    load(p);
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

describe('failover order', () => {
  test('derived for ggen: the primary to its nearest secondary, the secondaries to the primary, then by distance', () => {
    const p = load(input());
    expect(failoverOrder(p, 'us-central1')).toEqual(['us-east1', 'europe-west1']);
    expect(failoverOrder(p, 'us-east1')).toEqual(['us-central1', 'europe-west1']);
    expect(failoverOrder(p, 'europe-west1')).toEqual(['us-central1', 'us-east1']);
  });

  test("derived by distance: PushNchat's Johannesburg primary is nearer Tel Aviv than Zurich", () => {
    const p = input();
    p.regions = {
      'africa-south1': { role: 'primary', zones: ['africa-south1-a'] },
      'europe-west6': { role: 'secondary', zones: ['europe-west6-a'] },
      'me-west1': { role: 'secondary', zones: ['me-west1-a'] },
    };
    p.routing = {};
    p.services!.api.expose = undefined;
    p.ingress = undefined;
    const platform = load(p);
    expect(failoverOrder(platform, 'africa-south1')).toEqual(['me-west1', 'europe-west6']);
    expect(failoverOrder(platform, 'europe-west6')).toEqual(['africa-south1', 'me-west1']);
    expect(regionDistanceKm('africa-south1', 'me-west1')).toBeLessThan(regionDistanceKm('africa-south1', 'europe-west6'));
  });

  test('after a promotion the order follows the new primary', () => {
    const p = input();
    p.regions['us-central1'].role = 'secondary';
    p.regions['us-east1'].role = 'primary';
    const platform = load(p);
    expect(failoverOrder(platform, 'us-east1')).toEqual(['us-central1', 'europe-west1']);
    expect(failoverOrder(platform, 'europe-west1')).toEqual(['us-east1', 'us-central1']);
  });

  test('an explicit order wins', () => {
    const p = input();
    p.regions['europe-west1'].failover = ['us-east1', 'us-central1'];
    expect(failoverOrder(load(p), 'europe-west1')).toEqual(['us-east1', 'us-central1']);
  });

  test('fails when an explicit order misses a region', () => {
    const p = input();
    p.regions['europe-west1'].failover = ['us-east1'];
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.europe-west1.failover: must list every other region once: us-central1 missing (got ["us-east1"])',
    ]);
  });

  test('fails when an explicit order names the region itself or twice the same', () => {
    const p = input();
    p.regions['europe-west1'].failover = ['europe-west1', 'us-east1', 'us-east1'];
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.europe-west1.failover[0]: must be another region of the platform (us-central1, us-east1) (got "europe-west1")',
      'platforms/shop.ts: regions.europe-west1.failover[2]: is listed twice (got "us-east1")',
      'platforms/shop.ts: regions.europe-west1.failover: must list every other region once: us-central1 missing (got ["europe-west1","us-east1","us-east1"])',
    ]);
  });

  test('fails when a region is not a GCP region (its location would be unknown)', () => {
    const p = input();
    p.regions = {
      'us-central1': { role: 'primary', zones: ['us-central1-a'] },
      'mars-north1': { role: 'secondary', zones: ['mars-north1-a'], failover: ['us-central1'] },
    };
    p.routing = {};
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.mars-north1: is not a GCP region (areas: africa, asia, australia, europe, me, northamerica, southamerica, us; every region in kernel/gcp-regions.ts) (got "mars-north1")',
    ]);
  });
});

describe('geo, ingress and canary rules', () => {
  test('fails when a client region is routed to two regions', () => {
    const p = input();
    p.regions['us-central1'].geo = ['US'];
    p.regions['us-east1'].geo = ['USNY', 'US'];
    expect(problems(p)).toEqual(['platforms/shop.ts: regions.us-east1.geo[1]: is already routed to region us-central1 (got "US")']);
  });

  test('fails when a geo code is not a CLDR code', () => {
    const p = input();
    p.regions['us-east1'].geo = ['us-ny'];
    expect(problems(p)[0]).toBe(
      'platforms/shop.ts: regions.us-east1.geo[0]: must be a CLDR country code (DE) or country + subdivision code (USNY), upper case (got "us-ny")',
    );
  });

  test('fails when a service is exposed without an ingress', () => {
    const p = input();
    p.ingress = undefined;
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.api.expose: needs the platform\'s ingress: set ingress.hosts and ingress.tlsCredential (got {"paths":["/api"]})',
    ]);
  });

  test('fails when an ingress exposes nothing', () => {
    const p = input();
    p.services!.api.expose = undefined;
    expect(problems(p)).toEqual(['platforms/shop.ts: ingress: routes nothing: no service sets expose (got ["shop.example.com"])']);
  });

  test('fails when a service is exposed on a host the ingress does not serve', () => {
    const p = input();
    p.services!.api.expose = { paths: ['/api'], hosts: ['other.example.com'] };
    expect(problems(p)).toEqual(['platforms/shop.ts: services.api.expose.hosts[0]: must be one of ingress.hosts (shop.example.com) (got "other.example.com")']);
  });

  test('fails when two services expose overlapping paths on one host', () => {
    const p = input();
    p.services!.users = { ...p.services!.api, expose: { paths: ['/api/users'] } };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.users.expose.paths[0]: overlaps /api of service api on shop.example.com: the gateway would route by whichever was created first (got "/api/users")',
    ]);
  });

  test('fails when a TCP-only service is exposed', () => {
    const p = input();
    p.services!.api.ports = [{ name: 'tcp-db', port: 5432, protocol: 'tcp' }];
    expect(problems(p)).toEqual(['platforms/shop.ts: services.api.expose: needs a port that is not tcp: the gateway routes HTTP (got {"paths":["/api"]})']);
  });

  test('fails when a service splits by region without being exposed', () => {
    const p = input();
    p.services!.api.expose = undefined;
    p.services!.api.traffic = { splitByRegion: true };
    p.ingress = undefined;
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.api.traffic.splitByRegion: applies to requests entering through the ingress: add expose, or remove splitByRegion (got true)',
    ]);
  });

  test('fails when a service splits by region without weights', () => {
    const p = input();
    p.routing = {};
    p.services!.api.traffic = { splitByRegion: true };
    expect(problems(p)).toEqual(['platforms/shop.ts: routing.weights: is required: service api splits its ingress traffic by region']);
  });

  test('fails when splitting by region with locality failover off', () => {
    const p = input();
    p.services!.api.traffic = { splitByRegion: true, localityFailover: false };
    p.routing = { weights: { 'us-central1': 50, 'us-east1': 35, 'europe-west1': 15 } };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.api.traffic.localityFailover: cannot be false with splitByRegion: each region subset fails over to the other regions by locality (got false)',
    ]);
  });

  test("fails when the canary runs the service's own image", () => {
    const p = input();
    p.services!.api.canary = { image: { tag: '1.0.0' }, weight: 10 };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.api.canary.image: is the service\'s own image: give the canary another tag or digest (got {"tag":"1.0.0"})',
    ]);
  });

  test('fails when the canary weight is out of range', () => {
    const p = input();
    p.services!.api.canary = { image: { tag: '1.1.0' }, weight: 120 };
    expect(problems(p)[0]).toMatch(/^platforms\/shop\.ts: services\.api\.canary\.weight: Too big: expected number to be <=100 \(got 120\)$/);
  });

  test('fails when a digest-only canary has no version', () => {
    const p = input();
    p.services!.api.canary = { image: { digest: `sha256:${'a'.repeat(64)}` }, weight: 10 };
    expect(problems(p)).toEqual(['platforms/shop.ts: services.api.canary.version: is required: the canary image has no tag usable as a label value']);
  });

  test('fails when a canary has no HTTP port to split', () => {
    const p = input();
    p.services!.worker = {
      namespace: 'web',
      image: { repository: 'us-docker.pkg.dev/shop/web/worker', tag: '1.0.0' },
      canary: { image: { tag: '1.1.0' }, weight: 10 },
    };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.worker.canary: needs a port that is not tcp: the mesh splits HTTP requests between the versions (got {"image":{"tag":"1.1.0"},"weight":10})',
    ]);
  });
});
