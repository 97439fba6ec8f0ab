import { ProblemError } from '../../../kernel/problems';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatProblem, loadEnvironments, Platform, PlatformInput } from '../../../model';
import { healthCheckPaths } from '../../../features/rate-limit/rules';
import { tempDir } from '../../helpers';

const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

type RateLimit = NonNullable<NonNullable<PlatformInput['ingress']>['rateLimit']>;

function platform(rateLimit: RateLimit): PlatformInput {
  return {
    name: 'shop',
    project: 'shop-project',
    environments: ['prod'],
    regions: { 'us-east1': { role: 'primary', zones: ['us-east1-b'] } },
    namespaces: { shop: {} },
    services: {
      web: {
        namespace: 'shop',
        image: { repository: 'us-docker.pkg.dev/shop/web', tag: '1.0.0' },
        ports: [{ name: 'http', port: 8080 }],
        probes: { readiness: { path: '/ready' }, liveness: { path: '/live' } },
        expose: { paths: ['/'] },
      },
    },
    ingress: { hosts: ['shop.example.com', 'api.example.com'], tlsCredential: 'shop-tls', rateLimit },
    gitops: { repoURL: 'https://example.com/fleet.git' },
  };
}

/** Loads with an optional prod overlay; returns the parsed platform or the problems. */
function load(input: PlatformInput, overlay?: string): Platform | string[] {
  const root = tempDir();
  made.push(root);
  fs.mkdirSync(path.join(root, 'overlays/shop'), { recursive: true });
  if (overlay) fs.writeFileSync(path.join(root, 'overlays/shop/prod.yaml'), overlay);
  try {
    return loadEnvironments({ file: 'platforms/shop.ts', input }, root)[0].platform;
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
}

describe('ingress.rateLimit', () => {
  test("defaults: every host and path, 1s refill, the GCP load balancer's 2 trusted hops, 10000 clients, enforced", () => {
    const p = load(platform({ requests: 20 })) as Platform;
    expect(p.ingress!.rateLimit).toEqual({
      requests: 20,
      interval: '1s',
      paths: ['/'],
      overrides: {},
      exemptPaths: [],
      client: { trustedHops: 2, ipv4PrefixLength: 32, ipv6PrefixLength: 64 },
      maxClients: 10000,
      enforce: true,
      headers: true,
    });
  });

  test('an overlay changes one override by name, the rest stays', () => {
    const p = load(
      platform({ requests: 20, overrides: { api: { hosts: ['api.example.com'], requests: 5 } } }),
      'ingress: { rateLimit: { overrides: { api: { requests: 8 } }, enforce: false } }\n',
    ) as Platform;
    expect(p.ingress!.rateLimit!.overrides.api).toEqual({ hosts: ['api.example.com'], requests: 8, interval: '1s', paths: ['/'] });
    expect(p.ingress!.rateLimit!.enforce).toBe(false);
  });

  test("an override may take the base limit's prefix on its hosts", () => {
    expect(Array.isArray(load(platform({ requests: 20, overrides: { api: { hosts: ['api.example.com'], requests: 5 } } })))).toBe(false);
  });

  test("health-check paths: the load balancer's and the exposed services' probes", () => {
    expect(healthCheckPaths(load(platform({ requests: 20 })) as Platform)).toEqual(['/healthz/ready', '/live', '/ready']);
  });

  test('fails when a host is not an ingress host', () => {
    expect(load(platform({ requests: 20, hosts: ['shop.example.com', 'www.example.com'] }))).toEqual([
      'platforms/shop.ts: ingress.rateLimit.hosts[1]: must be one of ingress.hosts (shop.example.com, api.example.com) (got "www.example.com")',
    ]);
  });

  test("fails when an override's host is not an ingress host", () => {
    expect(load(platform({ requests: 20, overrides: { api: { hosts: ['api.example.org'], requests: 5 } } }))).toEqual([
      'platforms/shop.ts: ingress.rateLimit.overrides.api.hosts[0]: must be one of ingress.hosts (shop.example.com, api.example.com) (got "api.example.org")',
    ]);
  });

  test('fails when burst is below requests', () => {
    expect(load(platform({ requests: 20, burst: 10 }))).toEqual([
      'platforms/shop.ts: ingress.rateLimit.burst: must be >= requests (20): the bucket holds at most burst tokens, so a larger refill would be cut to burst (got 10)',
    ]);
  });

  test('fails when the interval is not whole seconds, naming the overlay that set it', () => {
    expect(load(platform({ requests: 20 }), 'ingress: { rateLimit: { interval: 500ms } }\n')).toEqual([
      'overlays/shop/prod.yaml: ingress.rateLimit.interval: must be whole seconds, at least 1s (e.g. 1s, 10s, 1m) (got "500ms")',
    ]);
  });

  test('fails when two overrides limit the same prefix on a host', () => {
    expect(
      load(
        platform({
          requests: 20,
          overrides: { api: { hosts: ['api.example.com'], requests: 5 }, all: { requests: 50, paths: ['/', '/bulk'] } },
        }),
      ),
    ).toEqual([
      'platforms/shop.ts: ingress.rateLimit.overrides.all.paths[0]: is also limited by override api on api.example.com: each request counts against one limit; give one a longer prefix or other hosts (got "/")',
    ]);
  });

  test('fails when a limited path is exempt', () => {
    expect(load(platform({ requests: 20, exemptPaths: ['/internal'], overrides: { batch: { paths: ['/internal/batch'], requests: 2 } } }))).toEqual([
      'platforms/shop.ts: ingress.rateLimit.overrides.batch.paths[0]: is exempt (exemptPaths has /internal): the limit would never apply (got "/internal/batch")',
    ]);
  });

  test('fails when no proxy is trusted or the client count is tiny', () => {
    expect(load(platform({ requests: 20, client: { trustedHops: 0 }, maxClients: 10 }))).toEqual([
      'platforms/shop.ts: ingress.rateLimit.client.trustedHops: Too small: expected number to be >=1 (got 0)',
      'platforms/shop.ts: ingress.rateLimit.maxClients: Too small: expected number to be >=100 (got 10)',
    ]);
  });
});
