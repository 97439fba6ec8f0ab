import { ProblemError } from '../../kernel/problems';
import { formatProblem, loadAll } from '../../model';
import { fixtureRepo, shopPlatform } from './fixtures';
import { buildEnvironment } from '../../synth/render';

/** The problems loadAll reports for a fixture repository, formatted as the CLI prints them. */
function problems(input: unknown, overlays: Record<string, string> = {}): string[] {
  try {
    loadAll(fixtureRepo(input, overlays));
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error('expected a ProblemError of the spec');
}

function withService(patch: Record<string, unknown>) {
  const p = shopPlatform() as any;
  Object.assign(p.services.api, patch);
  return p;
}

/** The problems of building every environment (construct rules, reported at the spec field). */
function renderProblems(input: Parameters<typeof problems>[0], overlays: Parameters<typeof problems>[1] = {}): string[] {
  const out: string[] = [];
  for (const env of loadAll(fixtureRepo(input, overlays))) {
    try {
      buildEnvironment(env, `${env.platform.name}/${env.env}`);
    } catch (e) {
      if (!(e instanceof ProblemError)) throw e;
      out.push(...e.problems.map(formatProblem).filter((l) => !out.includes(l)));
    }
  }
  return out;
}

describe('loading a platform', () => {
  test('one environment per declared env, clusters primary first, defaults filled', () => {
    const envs = loadAll(fixtureRepo(shopPlatform()));
    expect(envs.map((e) => e.env)).toEqual(['staging', 'prod']);
    const [staging] = envs;
    expect(staging.clusters.map((c) => [c.region, c.role, c.cluster])).toEqual([
      ['us-east1', 'primary', 'shop-staging-us-east1'],
      ['europe-west1', 'secondary', 'shop-staging-europe-west1'],
    ]);
    const api = staging.clusters[0].services.api;
    expect(api.resources).toEqual({ cpu: '100m', memory: '128Mi', ephemeralStorage: '64Mi' });
    expect(api.ports[0].protocol).toBe('http');
    expect(staging.platform.redis.cache).toMatchObject({ replicas: 3, downAfter: '5s', minReplicasToWrite: 1 });
    expect(staging.files).toEqual(['platforms/shop.ts']);
  });

  test('an overlay is merged over the base: objects merge, arrays replace, null deletes', () => {
    const envs = loadAll(
      fixtureRepo(shopPlatform(), {
        prod: [
          '# prod differs only here',
          'project: shop-prod-1',
          'services:',
          '  api:',
          '    image: { tag: "2.0.0" }',
          '    ports: [{ name: web, port: 9090 }]',
          '    dependsOn: null',
        ].join('\n'),
      }),
    );
    const prod = envs.find((e) => e.env === 'prod')!;
    expect(prod.files).toEqual(['platforms/shop.ts', 'overlays/shop/prod.yaml']);
    expect(prod.platform.project).toBe('shop-prod-1');
    const api = prod.platform.services.api;
    expect(api.image).toEqual({ repository: 'us-docker.pkg.dev/shop/apps/api', tag: '2.0.0' });
    expect(api.ports).toEqual([{ name: 'web', port: 9090, protocol: 'http' }]);
    expect(api.dependsOn).toEqual([]);
    expect(envs.find((e) => e.env === 'staging')!.platform.services.api.image.tag).toBe('1.0.0');
  });

  test('a region may change a service in that region only', () => {
    const envs = loadAll(
      fixtureRepo(shopPlatform(), {
        prod: 'regions:\n  europe-west1:\n    services:\n      api:\n        autoscaling: { max: 3 }\n',
      }),
    );
    const prod = envs.find((e) => e.env === 'prod')!;
    expect(prod.clusters.map((c) => c.services.api.autoscaling?.max)).toEqual([6, 3]);
  });

  test('a service limited to some regions runs only there', () => {
    const p = shopPlatform() as any;
    p.services.worker.regions = ['us-east1'];
    const [staging] = loadAll(fixtureRepo(p));
    expect(staging.clusters.map((c) => Object.keys(c.services))).toEqual([['api', 'worker'], ['api']]);
  });
});

describe('spec errors name the file, the field, the value and what is allowed', () => {
  test('fails when an overlay misspells a field', () => {
    const lines = problems(shopPlatform(), { prod: 'services:\n  api:\n    imagee: { tag: "2" }\n' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^overlays\/shop\/prod\.yaml: services\.api\.imagee: unknown field \(did you mean "image"\?\) \(allowed: namespace, image, ports, command, args, writablePaths, resources, probes, env, notSecret, secrets, replicas, autoscaling, dependsOn, .*\)$/,
    );
  });

  test('fails when an overlay sets autoscaling max below min', () => {
    // KEDA's rule, checked once by the Autoscaler when the environment is built, reported at the spec field.
    expect(renderProblems(shopPlatform(), { prod: 'services:\n  api:\n    autoscaling: { min: 4, max: 2 }\n' })).toEqual([
      "overlays/shop/prod.yaml: services.api.autoscaling.min: (4) must be <= maxReplicaCount (2) (Autoscaler 'api-Autoscaler': minReplicas)",
    ]);
  });

  test('fails when the base has a bad enum value, once for all environments', () => {
    expect(problems(withService({ ports: [{ name: 'http', port: 8080, protocol: 'udp' }] }))).toEqual([
      'platforms/shop.ts: services.api.ports[0].protocol: Invalid option: expected one of "http"|"grpc"|"tcp"|"websocket"|"sse" (got "udp")',
    ]);
  });

  test('fails when a writable path is relative, or is /tmp (always writable)', () => {
    expect(problems(withService({ writablePaths: ['var/cache', '/tmp'] }))).toEqual([
      'platforms/shop.ts: services.api.writablePaths[0]: must be an absolute directory path such as /var/cache/app (got "var/cache")',
      'platforms/shop.ts: services.api.writablePaths[1]: /tmp is always writable: leave it out (got "/tmp")',
    ]);
  });

  test('fails when a required field is missing', () => {
    const p = shopPlatform() as any;
    delete p.services.worker.namespace;
    expect(problems(p)).toEqual(['platforms/shop.ts: services.worker.namespace: is required (expected string)']);
  });

  test('fails when a value has the wrong type', () => {
    expect(problems(shopPlatform(), { prod: 'services:\n  worker:\n    replicas: "two"\n' })).toEqual([
      'overlays/shop/prod.yaml: services.worker.replicas: must be number (got "two")',
    ]);
  });

  test('fails when an image is not pinned', () => {
    expect(problems(shopPlatform(), { staging: 'services:\n  api:\n    image: { tag: latest }\n' })).toEqual([
      'overlays/shop/staging.yaml: services.api.image.tag: must pin a version: "latest" is not allowed (got "latest")',
    ]);
  });

  test('fails when a dependency names nothing the platform has', () => {
    expect(problems(withService({ dependsOn: ['redis:sessions'] }))).toEqual([
      'platforms/shop.ts: services.api.dependsOn[0]: must name another service or a redis group (allowed: worker, redis:cache) (got "redis:sessions")',
    ]);
  });

  test('fails when region weights do not sum to 100', () => {
    expect(problems(shopPlatform(), { prod: 'routing:\n  weights: { us-east1: 50 }\n' })).toEqual([
      'overlays/shop/prod.yaml: routing.weights: must sum to 100 (they sum to 90) (got {"us-east1":50,"europe-west1":40})',
    ]);
  });

  test('fails when no region or two regions are primary', () => {
    expect(problems(shopPlatform(), { prod: 'regions:\n  europe-west1: { role: primary }\n' })).toEqual([
      'overlays/shop/prod.yaml: regions: needs exactly one region with role primary, found 2 (us-east1, europe-west1) (got ["us-east1","europe-west1"])',
    ]);
  });

  test('fails when a promotion names the primary or no region (meridian promote, step 1)', () => {
    expect(problems(shopPlatform(), { prod: 'promotion:\n  to: us-east1\n' })).toEqual([
      'overlays/shop/prod.yaml: promotion.to: must be a secondary region, the one the master moves to (allowed: europe-west1) (got "us-east1")',
    ]);
    expect(problems(shopPlatform(), { prod: 'promotion:\n  to: asia-east1\n' })).toEqual([
      'overlays/shop/prod.yaml: promotion.to: must be a secondary region, the one the master moves to (allowed: europe-west1) (got "asia-east1")',
    ]);
  });

  test('fails when a region-specific difference is invalid, naming the region path', () => {
    expect(renderProblems(shopPlatform(), { prod: 'regions:\n  europe-west1:\n    services:\n      api:\n        autoscaling: { min: 3, max: 1 }\n' })).toEqual(
      [
        "overlays/shop/prod.yaml: regions.europe-west1.services.api.autoscaling.min: (3) must be <= maxReplicaCount (1) (Autoscaler 'api-Autoscaler': minReplicas)",
      ],
    );
  });

  test('fails when an overlay names an environment the platform does not have', () => {
    expect(problems(shopPlatform(), { qa: 'project: shop-qa-1\n' })).toEqual([
      'overlays/shop/qa.yaml: names no environment of the platform (allowed: staging, prod); add "qa" to environments or rename the file',
    ]);
  });

  test('fails when an overlay is not valid YAML', () => {
    const [line] = problems(shopPlatform(), { prod: 'services:\n  api: [unclosed\n' });
    expect(line).toMatch(/^overlays\/shop\/prod\.yaml: line \d+, column \d+: not valid YAML: /);
  });

  test('fails when an overlay tries to change the environments', () => {
    expect(problems(shopPlatform(), { prod: 'environments: [prod]\n' })).toEqual([
      'overlays/shop/prod.yaml: environments: cannot be changed by an overlay: it is set in the platform file (got ["prod"])',
    ]);
  });

  test('fails when the platform name does not match its file', () => {
    expect(problems({ ...shopPlatform(), name: 'store' })).toEqual(['platforms/shop.ts: name: must match the file name "shop" (got "store")']);
  });

  test("a base value broken by one environment's overlay is blamed on that overlay", () => {
    const p = shopPlatform() as any;
    p.namespaces.web = {};
    expect(problems(p, { prod: 'namespaces:\n  shop: null\n' })).toEqual([
      'overlays/shop/prod.yaml: services.api.namespace: must be one of the platform\'s namespaces (web) (got "shop") (the value is from platforms/shop.ts)',
      'overlays/shop/prod.yaml: services.worker.namespace: must be one of the platform\'s namespaces (web) (got "shop") (the value is from platforms/shop.ts)',
      'overlays/shop/prod.yaml: redis.cache.namespace: must be one of the platform\'s namespaces (web) (got "shop") (the value is from platforms/shop.ts)',
    ]);
  });

  test('reports every problem, not just the first', () => {
    const lines = problems(withService({ replicas: 3, ports: [{ name: 'http', port: 70000 }] }), {
      prod: 'services:\n  worker:\n    namespace: missing\n',
    });
    expect(lines).toEqual([
      'platforms/shop.ts: services.api.ports[0].port: Too big: expected number to be <=65535 (got 70000)',
      'platforms/shop.ts: services.api.replicas: cannot be set together with autoscaling: remove one (got 3)',
      'overlays/shop/prod.yaml: services.worker.namespace: must be one of the platform\'s namespaces (shop) (got "missing")',
    ]);
  });
});

describe('scheduled jobs', () => {
  const withJob = (job: Record<string, unknown>) => ({
    ...shopPlatform(),
    jobs: { cleanup: { namespace: 'shop', image: { repository: 'us-docker.pkg.dev/shop/apps/cleanup', tag: '1.0.0' }, schedule: '0 3 * * *', ...job } },
  });

  test('run in the primary region only unless regions are given', () => {
    const [staging] = loadAll(fixtureRepo(withJob({})));
    expect(staging.clusters.map((c) => Object.keys(c.jobs))).toEqual([['cleanup'], []]);
    const [again] = loadAll(fixtureRepo(withJob({ regions: ['europe-west1'] })));
    expect(again.clusters.map((c) => Object.keys(c.jobs))).toEqual([[], ['cleanup']]);
    expect(staging.platform.jobs.cleanup).toMatchObject({ timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid', deadline: '30m' });
  });

  test('fails when the schedule is not a cron schedule', () => {
    expect(problems(withJob({ schedule: '61 * * * *' }))).toEqual([
      'platforms/shop.ts: jobs.cleanup.schedule: is not a valid cron schedule: Constraint error, got value 61 expected range 0-59 (got "61 * * * *")',
    ]);
    expect(problems(withJob({ schedule: '0 0 3 * * *' }))).toEqual([
      'platforms/shop.ts: jobs.cleanup.schedule: must be a cron schedule of five fields (minute hour day month weekday) or a macro such as @daily (got "0 0 3 * * *")',
    ]);
  });

  test('fails when the time zone is unknown', () => {
    expect(problems(withJob({ timeZone: 'Mars/Olympus' }))).toEqual([
      'platforms/shop.ts: jobs.cleanup.timeZone: must be an IANA time zone such as Etc/UTC or Europe/Zurich (got "Mars/Olympus")',
    ]);
  });

  test('fails when a job is named like a service', () => {
    const p = withJob({}) as any;
    p.jobs.api = p.jobs.cleanup;
    expect(problems(p)).toEqual(['platforms/shop.ts: jobs.api: has the name of a service: names become Kubernetes objects and must differ (got "api")']);
  });
});
