import { ProblemError } from '../../kernel/problems';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatProblem, loadEnvironments, PlatformInput } from '../../model';
import { tempDir } from '../helpers';

const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function platform(services: PlatformInput['services'], extra: Partial<PlatformInput> = {}): PlatformInput {
  return {
    name: 'shop',
    project: 'shop-project',
    environments: ['dev', 'prod'],
    regions: {
      'us-east1': { role: 'primary', zones: ['us-east1-b'] },
      'europe-west1': { role: 'secondary', zones: ['europe-west1-b'] },
    },
    namespaces: { shop: {} },
    services,
    gitops: { repoURL: 'https://example.com/fleet.git' },
    ...extra,
  };
}

const web = (extra: Record<string, unknown> = {}) => ({
  namespace: 'shop',
  image: { repository: 'us-docker.pkg.dev/shop/web', tag: '1.0.0' },
  ports: [{ name: 'http', port: 8080 }],
  probes: { readiness: { path: '/ready' } },
  ...extra,
});

/** The problems of loading a platform with overlays (file name → YAML). */
function problems(input: PlatformInput, overlays: Record<string, string> = {}): string[] {
  const root = tempDir();
  made.push(root);
  fs.mkdirSync(path.join(root, 'overlays/shop'), { recursive: true });
  for (const [env, text] of Object.entries(overlays)) fs.writeFileSync(path.join(root, 'overlays/shop', `${env}.yaml`), text);
  try {
    loadEnvironments({ file: 'platforms/shop.ts', input }, root);
    return [];
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
}

describe('probes of a serving service', () => {
  test('passes with a readiness path: liveness and startup default to the port', () => {
    expect(problems(platform({ web: web() }))).toEqual([]);
  });

  test('fails when a service with ports has no readiness probe', () => {
    expect(problems(platform({ web: web({ probes: {} }) }))).toEqual([
      'platforms/shop.ts: services.web.probes.readiness: is required for a service with ports: give the HTTP path that answers when it can take traffic (leave path out for a TCP check)',
    ]);
  });

  test('fails when liveness is the readiness check', () => {
    expect(problems(platform({ web: web({ probes: { readiness: { path: '/health' }, liveness: { path: '/health', period: '30s' } } }) }))).toEqual([
      'platforms/shop.ts: services.web.probes.liveness: must differ from readiness (GET /health on port http): an overloaded pod would be restarted instead of taken out of rotation; give readiness an HTTP path, or liveness another path, gRPC service or port (got {"path":"/health","period":"30s","failureThreshold":3,"timeout":"1s"})',
    ]);
  });

  test('passes when readiness is a TCP check: a TCP-only server has no other check to offer', () => {
    expect(problems(platform({ web: web({ probes: { readiness: {} } }) }))).toEqual([]);
  });
});

describe('policy.minReplicas, per environment', () => {
  const prod = 'policy: { minReplicas: 2 }\n';

  test('passes when every service keeps at least the minimum', () => {
    expect(problems(platform({ web: web({ autoscaling: { min: 2, max: 4, cpuUtilization: 70 } }) }), { prod })).toEqual([]);
  });

  test('fails when a fixed replica count is below it, naming the file that set it', () => {
    expect(problems(platform({ web: web({ replicas: 1 }) }), { prod })).toEqual([
      'overlays/shop/prod.yaml: services.web.replicas: must be >= policy.minReplicas (2) in this environment: one pod down would take the service down (got 1) (the value is from platforms/shop.ts)',
    ]);
    expect(problems(platform({ web: web() }), { prod: `${prod}services: { web: { replicas: 1 } }\n` })).toEqual([
      'overlays/shop/prod.yaml: services.web.replicas: must be >= policy.minReplicas (2) in this environment: one pod down would take the service down (got 1)',
    ]);
  });

  test('fails when a region lowers the autoscaler minimum below it', () => {
    const input = platform({ web: web({ autoscaling: { min: 2, max: 4, cpuUtilization: 70 } }) });
    expect(problems(input, { prod: `${prod}regions: { europe-west1: { services: { web: { autoscaling: { min: 1 } } } } }\n` })).toEqual([
      'overlays/shop/prod.yaml: regions.europe-west1.services.web.autoscaling.min: must be >= policy.minReplicas (2) in this environment: one pod down would take the service down (got 1)',
    ]);
  });

  test('allows one replica where the environment does not ask for more', () => {
    expect(problems(platform({ web: web({ replicas: 1 }) }), { dev: 'services: { web: { replicas: 1 } }\n' })).toEqual([]);
  });
});

describe('egress and exposure', () => {
  test('passes with hosts and CIDRs', () => {
    const ingress = { hosts: ['shop.example.com'], tlsCredential: 'shop-tls' };
    expect(
      problems(
        platform(
          {
            web: web({
              expose: { paths: ['/'] },
              egress: [
                { host: 'firestore.googleapis.com', port: 443 },
                { cidr: '10.20.0.3/32', port: 5432, protocol: 'tcp' },
              ],
            }),
          },
          { ingress },
        ),
      ),
    ).toEqual([]);
  });

  test('fails when a service without ports is exposed', () => {
    const ingress = { hosts: ['shop.example.com'], tlsCredential: 'shop-tls' };
    expect(
      problems(
        platform(
          { worker: { namespace: 'shop', image: { repository: 'us-docker.pkg.dev/shop/worker', tag: '1.0.0' }, expose: { paths: ['/'] } } },
          { ingress },
        ),
      ),
    ).toEqual(
      expect.arrayContaining([
        'platforms/shop.ts: services.worker.expose: needs a port: the ingress gateway has nothing to call on a service without ports (got {"paths":["/"]})',
      ]),
    );
  });

  test('fails when an egress names both or neither of host and cidr', () => {
    expect(problems(platform({ web: web({ egress: [{ host: 'sql.example.com', cidr: '10.0.0.1/32', port: 5432 }, { port: 443 }] }) }))).toEqual([
      'platforms/shop.ts: services.web.egress[0]: needs exactly one of host or cidr (got {"host":"sql.example.com","cidr":"10.0.0.1/32","port":5432,"protocol":"tls"})',
      'platforms/shop.ts: services.web.egress[1]: needs exactly one of host or cidr (got {"port":443,"protocol":"tls"})',
    ]);
  });

  test('fails on a malformed host or cidr', () => {
    expect(
      problems(
        platform({
          web: web({
            egress: [
              { host: 'https://x.example.com', port: 443 },
              { cidr: '10.0.0.1', port: 5432 },
            ],
          }),
        }),
      ),
    ).toEqual([
      'platforms/shop.ts: services.web.egress[0].host: must be a DNS name such as sqladmin.googleapis.com (got "https://x.example.com")',
      'platforms/shop.ts: services.web.egress[1].cidr: must be an IPv4 CIDR such as 10.20.0.3/32 (got "10.0.0.1")',
    ]);
  });
});
