import { formatProblem, loadAll, ProblemError } from '../../model';
import { nearest, nearestAll } from '../../kernel/did-you-mean';
import { GCP_REGION_NAMES, gcpZones, notGcpRegion } from '../../kernel/gcp-regions';
import { fixtureRepo, shopPlatform } from './fixtures';
import { render } from '../../synth/render';
import { validateObjects } from '../../checks';

function problems(input: unknown, overlays: Record<string, string> = {}): string[] {
  try {
    loadAll(fixtureRepo(input, overlays));
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

describe('spec mistakes, named precisely', () => {
  test('fails on a YAML syntax error with the line and a caret, and stops there for that environment', () => {
    // The base leaves the tag to the overlays: before, the broken overlay was skipped and the
    // platform file was blamed for the missing tag, after three lines of cut-off YAML errors.
    const p = shopPlatform() as any;
    delete p.services.api.image.tag;
    const out = problems(p, {
      staging: 'services:\n  api:\n    image: { tag: "1.0.0" }\n',
      prod: 'services:\n  api:\n    image:\n      tag: "2.0.0"\n  worker: [unclosed\n    replicas: 3\n',
    });
    expect(out).toEqual([
      'overlays/shop/prod.yaml: line 5, column 12: not valid YAML: Implicit keys of flow sequence pairs need to be on a single line\n  worker: [unclosed\n           ^',
    ]);
  });

  test('fails on a misspelt field with a did-you-mean', () => {
    const p = shopPlatform() as any;
    p.services.worker.replcias = 3;
    expect(problems(p)[0]).toMatch(
      /^platforms\/shop\.ts: services\.worker\.replcias: unknown field \(did you mean "replicas"\?\) \(allowed: namespace, image, /,
    );
  });

  test('suggests only near misses', () => {
    expect(nearest('replcias', ['replicas', 'regions'])).toBe('replicas');
    expect(nearest('imagee', ['image', 'args'])).toBe('image');
    expect(nearest('colour', ['namespace', 'image'])).toBeUndefined();
    expect(nearest('asia-south9', ['asia-south1', 'asia-south2', 'us-east1'])).toBe('asia-south1');
    expect(nearestAll('asia-south9', ['asia-south1', 'asia-south2', 'us-east1'])).toEqual(['asia-south1', 'asia-south2']);
  });
});

describe('region and zone names, checked against the GCP list (kernel/gcp-regions.ts) where they are written', () => {
  test('fails when a region key is misspelt, at the key, with every near miss', () => {
    // Before: three lines blaming regions.<each>.failover ("the location of asia-south9 is unknown").
    const p = shopPlatform() as any;
    p.regions['asia-south9'] = { role: 'secondary', zones: ['asia-south9-a'] };
    p.routing.weights = { 'us-east1': 50, 'europe-west1': 30, 'asia-south9': 20 };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.asia-south9: is not a GCP region (did you mean "asia-south1" or "asia-south2"?) (got "asia-south9")',
    ]);
  });

  test('fails when a misspelt region has explicit failover lists (rendered with exit 0 before)', () => {
    const p = shopPlatform() as any;
    p.regions['asia-south9'] = { role: 'secondary', zones: ['asia-south9-a'], failover: ['us-east1', 'europe-west1'] };
    p.regions['us-east1'].failover = ['europe-west1', 'asia-south9'];
    p.regions['europe-west1'].failover = ['us-east1', 'asia-south9'];
    p.routing.weights = { 'us-east1': 50, 'europe-west1': 30, 'asia-south9': 20 };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.asia-south9: is not a GCP region (did you mean "asia-south1" or "asia-south2"?) (got "asia-south9")',
    ]);
  });

  test('fails when a failover entry names no region of the platform, saying it is no GCP region either', () => {
    const p = shopPlatform() as any;
    p.regions['us-east1'].failover = ['europe-west1', 'asia-south9'];
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.us-east1.failover[1]: must be another region of the platform (europe-west1); asia-south9 is not a GCP region (did you mean "asia-south1" or "asia-south2"?) (got "asia-south9")',
    ]);
  });

  test('fails when a failover entry is a near miss of a region of the platform', () => {
    const p = shopPlatform() as any;
    p.regions['us-east1'].failover = ['europe-wes1'];
    expect(problems(p)[0]).toBe(
      'platforms/shop.ts: regions.us-east1.failover[0]: must be another region of the platform (did you mean "europe-west1"?) (europe-west1); europe-wes1 is not a GCP region (did you mean "europe-west1"?) (got "europe-wes1")',
    );
  });

  test("fails when an overlay misspells a region: the key is named, not a new region's role and zones", () => {
    // Before: regions.europe-wst1.role: Invalid option ..., regions.europe-wst1.zones: is required.
    expect(problems(shopPlatform(), { prod: 'regions:\n  europe-wst1:\n    services:\n      api: { autoscaling: { min: 3 } }\n' })).toEqual([
      'overlays/shop/prod.yaml: regions.europe-wst1: is not a GCP region (did you mean "europe-west1"?) (got "europe-wst1")',
    ]);
  });

  test('fails when a zone is not a zone of its region, naming the zones', () => {
    // Before: accepted (us-east1 has no zone a).
    const p = shopPlatform() as any;
    p.regions['us-east1'].zones = ['us-east1-b', 'us-east1-a'];
    p.regions['europe-west1'].zones = ['europe-wset1-b'];
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.us-east1.zones[1]: is not a zone of us-east1 (zones: us-east1-b, us-east1-c, us-east1-d) (got "us-east1-a")',
      'platforms/shop.ts: regions.europe-west1.zones[0]: is not a zone of europe-west1 (did you mean "europe-west1-b"?) (zones: europe-west1-b, europe-west1-c, europe-west1-d) (got "europe-wset1-b")',
    ]);
  });

  test('fails when a region named otherwise than its GCP region has a wrong gcpRegion, or none', () => {
    const p = shopPlatform() as any;
    p.regions = {
      us: { role: 'primary', gcpRegion: 'us-east1', zones: ['us-east1-b'] },
      eu: { role: 'secondary', gcpRegion: 'europe-wets1', zones: ['europe-west1-b'] },
    };
    p.routing.weights = { us: 60, eu: 40 };
    expect(problems(p)).toEqual(['platforms/shop.ts: regions.eu.gcpRegion: is not a GCP region (did you mean "europe-west1"?) (got "europe-wets1")']);
    p.regions.eu.gcpRegion = 'europe-west1';
    delete p.regions.us.gcpRegion;
    expect(problems(p)).toEqual([
      'platforms/shop.ts: regions.us.gcpRegion: is required: the key us is not a GCP region name, so the region it runs in must be given',
    ]);
  });

  test('fails when a name is far from every region: the regions of its area, or the areas', () => {
    expect(notGcpRegion('asia-polar1')).toBe(
      'is not a GCP region (asia-*: asia-east1, asia-east2, asia-northeast1, asia-northeast2, asia-northeast3, asia-south1, asia-south2, asia-southeast1, asia-southeast2)',
    );
    expect(notGcpRegion('mars-north1')).toBe(
      'is not a GCP region (areas: africa, asia, australia, europe, me, northamerica, southamerica, us; every region in kernel/gcp-regions.ts)',
    );
    expect(notGcpRegion('me-central2')).toBeUndefined();
  });

  test('every region of the seed platforms is in the list with its zones', () => {
    for (const [region, zones] of Object.entries({
      'africa-south1': 'abc',
      'europe-west6': 'abc',
      'me-west1': 'abc',
      'me-central2': 'abc',
      'us-east1': 'bcd',
      'us-central1': 'abcf',
      'europe-west1': 'bcd',
      'asia-south1': 'abc',
      'asia-south2': 'abc',
    })) {
      expect(gcpZones(region)).toEqual([...zones].map((z) => `${region}-${z}`));
    }
    expect(GCP_REGION_NAMES).toHaveLength(42);
  });
});

describe('routing weights', () => {
  test('fails when no exposed service splits by region: the weights would route nothing', () => {
    // Before: accepted silently; every request stayed in the region the load balancer picked.
    const p = shopPlatform() as any;
    delete p.services.api.traffic;
    expect(problems(p)).toEqual([
      'platforms/shop.ts: routing.weights: split no traffic: no exposed service splits its ingress traffic by region; set traffic.splitByRegion on the services to split (or routing.traffic.splitByRegion for all), or remove routing.weights (to order the rollout waves, set rollout.waves) (got {"us-east1":60,"europe-west1":40})',
    ]);
    p.routing.traffic = { splitByRegion: true };
    expect(problems(p)).toEqual([]);
  });
});

describe('gRPC probes', () => {
  const grpcShop = () => {
    const p = shopPlatform() as any;
    p.services.api.ports = [
      { name: 'http', port: 8080 },
      { name: 'grpc', port: 9090, protocol: 'grpc' },
    ];
    p.services.api.probes = { readiness: { port: 'grpc', grpc: { service: 'shop.Api' } }, liveness: { port: 'grpc', grpc: {} } };
    return p;
  };

  test('render into the container probes and pass the strict Kubernetes 1.28 schema', () => {
    const envs = loadAll(fixtureRepo(grpcShop()));
    const files = render(envs).files;
    const deployments = files.filter((f) => f.manifest.kind === 'Deployment' && f.manifest.metadata.name === 'api');
    expect(deployments).toHaveLength(4); // staging and prod, two regions each
    for (const d of deployments) {
      const c = (d.manifest as any).spec.template.spec.containers.find((x: { name: string }) => x.name === 'api');
      expect([c.readinessProbe.grpc, c.livenessProbe.grpc]).toEqual([{ port: 9090, service: 'shop.Api' }, { port: 9090 }]);
    }
    expect(validateObjects(files.map((d) => ({ file: d.path, manifest: d.manifest }))).map(formatProblem)).toEqual([]);
  });

  test('fails when a gRPC probe is on a port that is not grpc, or sets path too', () => {
    const p = grpcShop();
    p.services.api.probes.readiness = { port: 'http', grpc: {} };
    p.services.api.probes.liveness = { port: 'grpc', path: '/live', grpc: {} };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.api.probes.readiness.grpc: needs a port of protocol grpc: port http is http (grpc.health.v1 is served by a gRPC server) (got {})',
      'platforms/shop.ts: services.api.probes.liveness.grpc: cannot be set together with path: a probe is an HTTP GET or a gRPC health check (got {})',
    ]);
  });

  test('fails when liveness is the readiness gRPC check', () => {
    const p = grpcShop();
    p.services.api.probes.liveness = { port: 'grpc', grpc: { service: 'shop.Api' } };
    expect(problems(p)).toEqual([
      'platforms/shop.ts: services.api.probes.liveness: must differ from readiness (the gRPC health check of "shop.Api" on port grpc): an overloaded pod would be restarted instead of taken out of rotation; give readiness an HTTP path, or liveness another path, gRPC service or port (got {"grpc":{"service":"shop.Api"},"port":"grpc","period":"10s","failureThreshold...)',
    ]);
  });

  test('fails when a gRPC probe misspells a field', () => {
    const p = grpcShop();
    p.services.api.probes.readiness.grpc = { servce: 'x' };
    p.services.api.probes.liveness.grpc = { service: 'live' };
    expect(problems(p)).toEqual(['platforms/shop.ts: services.api.probes.readiness.grpc.servce: unknown field (did you mean "service"?) (allowed: service)']);
  });
});
