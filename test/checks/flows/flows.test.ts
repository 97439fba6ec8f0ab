/**
 * Flows proven on every platform × environment × region as rendered now, and each defect of
 * issue 14 put back into the rendered objects (or the spec) as a fixture: the check reports it.
 * Each fixture is the shape the committed dist/ had before the fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkFlows, FlowReport } from '../../../checks/flows';
import type { Located } from '../../../checks/objects';
import { runFlows } from '../../../cli/flows';
import { runSynth } from '../../../cli/synth';
import { EnvironmentPlan, loadAll } from '../../../model';
import { render } from '../../../synth/render';
import { fixtureRepo, shopPlatform } from '../../model/fixtures';
import { ROOT, tempDir } from '../../helpers';
import { stringify } from 'yaml';
import { formatProblem, type Problem } from '../../../kernel/problems';

/** The report's problems, one printed line each. */
const lines = (r: { problems: readonly Problem[] }) => r.problems.map(formatProblem);

const envs = loadAll(ROOT);
const rendering = render(envs);
const env = (p: string, e: string) => envs.find((x) => x.platform.name === p && x.env === e)!;

/** The environment's rendered objects (deep copies, free to edit), as files under dist/. */
function objects(plan: EnvironmentPlan, files = rendering.files): Located[] {
  const scope = `${plan.platform.name}/${plan.env}/`;
  return files
    .filter((f) => f.path.startsWith(scope) && !f.path.startsWith(`${scope}argocd/`))
    .map((f) => ({ file: path.join('dist', f.path), obj: structuredClone(f.manifest) as unknown as Located['obj'] }));
}
const find = (list: Located[], region: string, kind: string, ns: string, name: string) => {
  const o = list.find((x) => x.file.includes(`/${region}/`) && x.obj.kind === kind && x.obj.metadata.namespace === ns && x.obj.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${ns}/${name} in ${region}`);
  return o;
};
const without = (list: Located[], o: Located) => list.filter((x) => x !== o);
/** Drops the peers of a NetworkPolicy (both directions) that `drop` matches, and rules left without peers. */
function dropPeers(np: Located, drop: (peer: any) => boolean): void {
  for (const [dir, side] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    const rules = (np.obj.spec[dir] ?? []).map((r: any) => ({ ...r, [side]: r[side].filter((p: any) => !drop(p)) })).filter((r: any) => r[side].length > 0);
    np.obj.spec[dir] = rules;
  }
}
const isEastWest = (p: any) => p.podSelector?.matchLabels?.istio === 'eastwestgateway';
const is15443 = (np: Located) => {
  np.obj.spec.egress = (np.obj.spec.egress ?? []).filter((r: any) => !(r.ports ?? []).some((p: any) => p.port === 15443));
};

describe('flows of the committed platforms', () => {
  const reports = envs.map((e) => checkFlows(e, objects(e)));

  it('allows every intended flow of every platform × environment × region, and nothing unintended crosses a namespace, a cluster or the edge', () => {
    expect(reports.flatMap(lines)).toEqual([]);
    for (const r of reports) expect(r.intended.length).toBeGreaterThan(20);
  });

  it('proves the paths issue 14 is about', () => {
    const flows = (r: FlowReport) =>
      r.intended.map(
        (v) =>
          `${v.flow.kind} ${v.flow.from.kind === 'external' ? '' : v.flow.from.region}>${v.flow.to.kind === 'external' ? v.flow.to.name : v.flow.to.region}:${v.flow.port}`,
      );
    const ggen = flows(reports[envs.indexOf(env('ggen', 'prod'))]);
    expect(ggen).toEqual(expect.arrayContaining(['replication us-east1>us-central1:6379', 'replication europe-west1>us-central1:6379']));
    const pushnchat = flows(reports[envs.indexOf(env('pushnchat', 'prod'))]);
    expect(pushnchat).toEqual(expect.arrayContaining(['failover europe-west6>africa-south1:6432', 'failover me-west1>europe-west6:8080']));
    const virtuoso = reports[envs.indexOf(env('virtuoso', 'prod'))].intended.filter(
      (v) => v.flow.from.kind === 'workload' && v.flow.from.name === 'cleanup-results',
    );
    expect(virtuoso.map((v) => `${v.flow.to.kind === 'external' ? v.flow.to.name : ''}:${v.flow.port}`)).toEqual(
      expect.arrayContaining(['GKE metadata server:80', 'GKE metadata server (988):988', 'firestore.googleapis.com:443', 'storage.googleapis.com:443']),
    );
  });
});

describe('Redis backups (issue 15 item 5): the backup container of the primary region', () => {
  const plan = env('ggen', 'prod');
  const backupFlows = (r: FlowReport) =>
    r.intended
      .filter(
        (v) =>
          (v.flow.from.kind === 'workload' && v.flow.from.name === 'cache') ||
          (v.flow.to.kind === 'workload' && v.flow.to.name === 'cache' && v.flow.port === 9122),
      )
      .filter((v) => v.flow.kind === 'metadata' || v.flow.kind === 'egress' || v.flow.kind === 'scrape')
      .map(
        (v) =>
          `${v.allowed ? 'allowed' : 'denied'} ${v.flow.from.kind === 'workload' ? v.flow.from.region : 'gmp'} > ${v.flow.to.kind === 'external' ? v.flow.to.name : v.flow.to.region}:${v.flow.port}`,
      );

  it('gets a token from the metadata server and uploads to Cloud Storage, Managed Prometheus reads its metrics; the secondaries have no backup', () => {
    expect(backupFlows(checkFlows(plan, objects(plan)))).toEqual([
      'allowed us-central1 > GKE metadata server:80',
      'allowed us-central1 > GKE metadata server (988):988',
      'allowed us-central1 > storage.googleapis.com:443',
      'allowed gmp > us-central1:9122',
    ]);
  });

  it('fails when the NetworkPolicy does not let the snapshot out, or Managed Prometheus in', () => {
    const list = objects(plan);
    const np = find(list, 'us-central1', 'NetworkPolicy', 'marketplace', 'cache');
    np.obj.spec.egress = np.obj.spec.egress.filter((r: any) => !r.ports.some((p: any) => p.port === 443));
    const scrape = find(list, 'us-central1', 'NetworkPolicy', 'marketplace', 'cache-redis-scrape');
    scrape.obj.spec.ingress[0].ports = scrape.obj.spec.ingress[0].ports.filter((p: any) => p.port !== 9122);
    const report = checkFlows(plan, list);
    expect(backupFlows(report)).toEqual([
      'allowed us-central1 > GKE metadata server:80',
      'allowed us-central1 > GKE metadata server (988):988',
      'denied us-central1 > storage.googleapis.com:443',
      'denied gmp > us-central1:9122',
    ]);
    expect(lines(report)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          'flow us-central1/marketplace/cache → storage.googleapis.com:443 denied by NetworkPolicy egress [NetworkPolicy marketplace/cache, NetworkPolicy marketplace/default-deny',
        ),
      ]),
    );
  });
});

describe('the six defects of issue 14, put back', () => {
  it('1. cross-region Redis replication: fails when the primary does not admit the east-west gateway', () => {
    const plan = env('ggen', 'prod');
    const list = objects(plan);
    dropPeers(find(list, 'us-central1', 'NetworkPolicy', 'marketplace', 'cache'), isEastWest);
    expect(lines(checkFlows(plan, list))).toContain(
      'dist/ggen/prod/us-central1/marketplace/networkpolicy-cache.yaml: NetworkPolicy marketplace/cache: (object): flow us-east1/marketplace/cache → us-central1/marketplace/cache:6379 denied by NetworkPolicy ingress [NetworkPolicy marketplace/cache, NetworkPolicy marketplace/default-deny, NetworkPolicy marketplace/allow-metrics-scraping, NetworkPolicy marketplace/cache-redis-scrape]: ingress of us-central1/marketplace/cache:6379 through the east-west gateway (intended: redis:cache replicates from a replica of the primary region us-central1 (cache-us-central1-0))',
    );
  });

  it('1. cross-region Redis replication: fails through a multi-cluster Service name, which the mesh passes through as plain TCP', () => {
    const plan = env('ggen', 'prod');
    const mcs: EnvironmentPlan = {
      ...plan,
      clusters: plan.clusters.map((c) => ({
        ...c,
        redis: Object.fromEntries(
          Object.entries(c.redis).map(([n, r]) => [n, { ...r, upstreams: r.upstreams?.map((u) => u.replace('.svc.cluster.local', '.svc.clusterset.local')) }]),
        ),
      })),
    };
    const problems = lines(checkFlows(mcs, objects(mcs, render([mcs]).files)));
    expect(problems.filter((p) => p.includes('replicates from a replica of the primary'))).toEqual([
      ...[0, 1, 2].map((i) =>
        expect.stringContaining(
          `flow us-east1/marketplace/cache → us-central1/marketplace/cache:6379 denied by the source sidecar [Sidecar marketplace/cache]: REGISTRY_ONLY and the mesh knows no service cache-us-central1-${i}.marketplace.svc.clusterset.local`,
        ),
      ),
      ...[0, 1, 2].map((i) =>
        expect.stringContaining(
          `flow europe-west1/marketplace/cache → us-central1/marketplace/cache:6379 denied by the source sidecar [Sidecar marketplace/cache]: REGISTRY_ONLY and the mesh knows no service cache-us-central1-${i}.`,
        ),
      ),
    ]);
  });

  it('2. failover to another region: fails when the target does not admit the east-west gateway, or the callers cannot reach 15443', () => {
    const plan = env('pushnchat', 'prod');
    const list = objects(plan);
    dropPeers(find(list, 'europe-west6', 'NetworkPolicy', 'pushnchat', 'pgbouncer'), isEastWest);
    is15443(find(list, 'me-west1', 'NetworkPolicy', 'pushnchat', 'listing'));
    const problems = lines(checkFlows(plan, list));
    expect(problems).toContain(
      'dist/pushnchat/prod/europe-west6/pushnchat/networkpolicy-pgbouncer.yaml: NetworkPolicy pushnchat/pgbouncer: (object): flow africa-south1/pushnchat/user → europe-west6/pushnchat/pgbouncer:6432 denied by NetworkPolicy ingress [NetworkPolicy pushnchat/pgbouncer, NetworkPolicy pushnchat/default-deny, NetworkPolicy pushnchat/allow-metrics-scraping]: ingress of europe-west6/pushnchat/pgbouncer:6432 through the east-west gateway (intended: service user depends on pgbouncer, which the DestinationRule fails over to europe-west6)',
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^dist\/pushnchat\/prod\/me-west1\/pushnchat\/networkpolicy-listing.yaml: NetworkPolicy pushnchat\/listing: \(object\): flow me-west1\/pushnchat\/listing → africa-south1\/pushnchat\/pgbouncer:6432 denied by NetworkPolicy egress/,
        ),
      ]),
    );
  });

  it('3. cleanup jobs: fail when no policy opens the metadata server and the APIs to their pods', () => {
    const plan = env('virtuoso', 'prod');
    const list = objects(plan);
    const problems = lines(checkFlows(plan, without(list, find(list, 'us-central1', 'NetworkPolicy', 'virtuoso', 'cleanup-results'))));
    expect(problems).toEqual(
      expect.arrayContaining([
        'dist/virtuoso/prod/us-central1/virtuoso/networkpolicy-default-deny.yaml: NetworkPolicy virtuoso/default-deny: (object): flow us-central1/virtuoso/cleanup-results → GKE metadata server:80 denied by NetworkPolicy egress [NetworkPolicy virtuoso/default-deny, NetworkPolicy virtuoso/allow-dns, NetworkPolicy virtuoso/allow-istiod]: egress of us-central1/virtuoso/cleanup-results to 169.254.169.254:80 (intended: job cleanup-results gets Google credentials (Workload Identity))',
        expect.stringContaining('flow us-central1/virtuoso/cleanup-results → GKE metadata server (988):988 denied by NetworkPolicy egress'),
        expect.stringContaining('flow us-central1/virtuoso/cleanup-results → storage.googleapis.com:443 denied by NetworkPolicy egress'),
      ]),
    );
  });

  it('4. metrics: fails when /metrics of an exposed service answers the internet', () => {
    const plan = env('ggen', 'prod');
    const list = objects(plan);
    const problems = lines(checkFlows(plan, without(list, find(list, 'us-east1', 'AuthorizationPolicy', 'marketplace', 'api-metrics-not-public'))));
    expect(problems).toContain(
      'dist/ggen/prod/us-east1/marketplace/authorizationpolicy-api-from-ingress-gateway.yaml: AuthorizationPolicy marketplace/api-from-ingress-gateway: (object): flow us-east1/ingress-gateway → us-east1/marketplace/api:8080 GET /metrics is allowed but not intended: it crosses the internet edge (the ingress routes [VirtualService marketplace/api-ingress]: routed to api; NetworkPolicy egress: egress of us-east1/ingress-gateway to us-east1/marketplace/api:8080; NetworkPolicy ingress [NetworkPolicy marketplace/api]: ingress of us-east1/marketplace/api:8080; AuthorizationPolicy [AuthorizationPolicy marketplace/api-from-ingress-gateway, AuthorizationPolicy marketplace/api-scrape]: allow (principal cluster.local/ns/istio-ingress/sa/istio-ingressgateway))',
    );
  });

  const cloudDns = (plan: EnvironmentPlan, dns: { provider: 'kube-dns' | 'cloud-dns'; nodeLocalCache: boolean }): EnvironmentPlan => {
    const platform = { ...plan.platform, regions: Object.fromEntries(Object.entries(plan.platform.regions).map(([r, v]) => [r, { ...v, dns }])) };
    return { ...plan, platform, clusters: plan.clusters.map((c) => ({ ...c, platform })) };
  };

  it.each([
    ['Cloud DNS', { provider: 'cloud-dns' as const, nodeLocalCache: false }, 'Cloud DNS 169.254.169.254:53'],
    ['NodeLocal DNSCache', { provider: 'kube-dns' as const, nodeLocalCache: true }, 'NodeLocal DNSCache 169.254.20.10:53'],
  ])('5. DNS under %s: fails when allow-dns admits only the kube-dns pods, passes with regions.<r>.dns', (_name, dns, target) => {
    const plan = cloudDns(env('bytspot', 'prod'), dns);
    const kubeDnsOnly = lines(checkFlows(plan, objects(plan)));
    expect(kubeDnsOnly).toEqual(
      expect.arrayContaining([
        `dist/bytspot/prod/us-east1/bytspot/networkpolicy-bytspot-api.yaml: NetworkPolicy bytspot/bytspot-api: (object): flow us-east1/bytspot/bytspot-api → ${target}/udp denied by NetworkPolicy egress [NetworkPolicy bytspot/bytspot-api, NetworkPolicy bytspot/default-deny, NetworkPolicy bytspot/allow-dns, NetworkPolicy bytspot/allow-istiod]: egress of us-east1/bytspot/bytspot-api to ${target.split(' ').pop()!.split(':')[0]}:53 (intended: service bytspot-api resolves names)`,
      ]),
    );
    expect(lines(checkFlows(plan, objects(plan, render([plan]).files)))).toEqual([]);
  });

  it('6. REGISTRY_ONLY: fails when no ServiceEntry declares the metadata server', () => {
    const plan = env('ggen', 'prod');
    const list = objects(plan);
    const problems = lines(checkFlows(plan, without(list, find(list, 'us-east1', 'ServiceEntry', 'marketplace', 'egress-metadata.google.internal'))));
    expect(problems).toEqual(
      expect.arrayContaining([
        'dist/ggen/prod/us-east1/marketplace/sidecar-api.yaml: Sidecar marketplace/api: (object): flow us-east1/marketplace/api → GKE metadata server:80 denied by the source sidecar [Sidecar marketplace/api]: REGISTRY_ONLY and no ServiceEntry imported by the Sidecar declares 169.254.169.254:80 (intended: service api gets Google credentials (Workload Identity))',
      ]),
    );
  });

  it('6. REGISTRY_ONLY: fails when the Cloud SQL address is not declared to the mesh', () => {
    const plan = env('bytspot', 'prod');
    const list = objects(plan);
    const problems = lines(checkFlows(plan, without(list, find(list, 'us-east1', 'ServiceEntry', 'bytspot', 'egress-10-20-0-0-24.cidr.meridian.internal'))));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          'flow us-east1/bytspot/bytspot-api → 10.20.0.0/24:3307 denied by the source sidecar [Sidecar bytspot/bytspot-api]: REGISTRY_ONLY',
        ),
      ]),
    );
  });
});

describe('the defects put back into dist/, through the command', () => {
  /** Writes the environment's objects after `mutate` as dist/ files and runs `meridian flows` on them. */
  function flowsOn(platform: string, envName: string, mutate: (list: Located[]) => Located[]) {
    const plan = env(platform, envName);
    const dist = path.join(tempDir(), 'dist');
    const write = (rel: string, content: string) => {
      fs.mkdirSync(path.join(dist, path.dirname(rel)), { recursive: true });
      fs.writeFileSync(path.join(dist, rel), content);
    };
    for (const f of rendering.files.filter((x) => x.path.startsWith(`${platform}/${envName}/argocd/`))) write(f.path, f.content);
    for (const o of mutate(objects(plan))) write(path.relative('dist', o.file), stringify(o.obj));
    const out: string[] = [];
    const code = runFlows({ root: ROOT, dist, platform, env: envName, quiet: true }, { out: (l) => out.push(l), err: (l) => out.push(l) });
    fs.rmSync(path.dirname(dist), { recursive: true });
    return { code, out: out.join('\n') };
  }

  it('exits 0 on the environments as rendered', () => {
    for (const [p, e] of [
      ['ggen', 'prod'],
      ['pushnchat', 'prod'],
      ['virtuoso', 'prod'],
      ['bytspot', 'prod'],
    ])
      expect(flowsOn(p, e, (list) => list).code).toBe(0);
  });

  it.each([
    [
      '1 (the primary does not admit the east-west gateway)',
      'ggen',
      (list: Located[]) => {
        dropPeers(find(list, 'us-central1', 'NetworkPolicy', 'marketplace', 'cache'), isEastWest);
        return list;
      },
      'flow us-east1/marketplace/cache → us-central1/marketplace/cache:6379 denied by NetworkPolicy ingress',
    ],
    [
      '2 (failover target closed to the east-west gateway)',
      'pushnchat',
      (list: Located[]) => {
        dropPeers(find(list, 'europe-west6', 'NetworkPolicy', 'pushnchat', 'pgbouncer'), isEastWest);
        return list;
      },
      'flow africa-south1/pushnchat/user → europe-west6/pushnchat/pgbouncer:6432 denied by NetworkPolicy ingress',
    ],
    [
      '2 (callers cannot reach 15443)',
      'pushnchat',
      (list: Located[]) => {
        is15443(find(list, 'me-west1', 'NetworkPolicy', 'pushnchat', 'listing'));
        return list;
      },
      'flow me-west1/pushnchat/listing → africa-south1/pushnchat/pgbouncer:6432 denied by NetworkPolicy egress',
    ],
    [
      '3 (no policy opens the metadata server to the cleanup job)',
      'virtuoso',
      (list: Located[]) => without(list, find(list, 'us-central1', 'NetworkPolicy', 'virtuoso', 'cleanup-results')),
      'flow us-central1/virtuoso/cleanup-results → GKE metadata server:80 denied by NetworkPolicy egress',
    ],
    [
      '4 (/metrics answers the internet)',
      'ggen',
      (list: Located[]) => without(list, find(list, 'us-east1', 'AuthorizationPolicy', 'marketplace', 'api-metrics-not-public')),
      'GET /metrics is allowed but not intended',
    ],
    [
      '6 (no ServiceEntry for the metadata server)',
      'ggen',
      (list: Located[]) => without(list, find(list, 'us-east1', 'ServiceEntry', 'marketplace', 'egress-metadata.google.internal')),
      'flow us-east1/marketplace/api → GKE metadata server:80 denied by the source sidecar',
    ],
    [
      '6 (the Cloud SQL range not declared to the mesh)',
      'bytspot',
      (list: Located[]) => without(list, find(list, 'us-east1', 'ServiceEntry', 'bytspot', 'egress-10-20-0-0-24.cidr.meridian.internal')),
      'flow us-east1/bytspot/bytspot-api → 10.20.0.0/24:3307 denied by the source sidecar',
    ],
  ])('defect %s: meridian flows exits 1 and names the flow', (_name, platform, mutate, expected) => {
    const r = flowsOn(platform, 'prod', mutate);
    expect(r.out).toContain(expected);
    expect(r.code).toBe(1);
  });
});

describe('meridian flows and synth', () => {
  const quiet = () => {
    const lines: string[] = [];
    return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
  };

  it('exits 0 on a rendered environment, 1 when a defect is put back, and prints the matrix per cluster', () => {
    const dist = path.join(tempDir(), 'dist');
    for (const f of rendering.files.filter((x) => x.path.startsWith('ggen/prod/'))) {
      fs.mkdirSync(path.join(dist, path.dirname(f.path)), { recursive: true });
      fs.writeFileSync(path.join(dist, f.path), f.content);
    }
    const ok = quiet();
    expect(runFlows({ root: ROOT, dist, platform: 'ggen', env: 'prod' }, ok.io)).toBe(0);
    expect(ok.lines).toEqual(expect.arrayContaining([expect.stringMatching(/^ggen\/prod\/us-east1: \d+ intended flows from this cluster, all allowed$/)]));
    expect(ok.lines.some((l) => /^ {2}us-east1\/marketplace\/cache → us-central1\/marketplace\/cache:6379 +allowed +Sidecar marketplace\/cache/.test(l))).toBe(
      true,
    );
    fs.rmSync(path.join(dist, 'ggen/prod/europe-west1/marketplace/authorizationpolicy-api-metrics-not-public.yaml'));
    const bad = quiet();
    expect(runFlows({ root: ROOT, dist, platform: 'ggen', env: 'prod', quiet: true }, bad.io)).toBe(1);
    expect(bad.lines.filter((l) => l.includes('GET /metrics is allowed but not intended'))).toHaveLength(3);
    fs.rmSync(path.dirname(dist), { recursive: true });
  });

  it('exits 2 for an environment that is not rendered', () => {
    const out = quiet();
    expect(runFlows({ root: ROOT, dist: path.join(tempDir(), 'none'), platform: 'ggen', env: 'prod' }, out.io)).toBe(2);
    expect(out.lines[0]).toMatch(/^flows: .*ggen\/prod does not exist: run npx cdk8s synth$/);
  });

  it('synth refuses to swap dist/ when an intended flow is denied', () => {
    const input = shopPlatform() as any;
    input.services.api.metrics = { port: 'http' };
    input.services.api.expose = { paths: ['/metrics'] };
    const root = fixtureRepo(input);
    const dist = path.join(tempDir(), 'dist');
    const out = quiet();
    expect(runSynth({ root, dist }, out.io).code).toBe(1);
    expect(out.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /dist\/shop\/prod\/us-east1\/shop\/authorizationpolicy-api-metrics-not-public.yaml: AuthorizationPolicy shop\/api-metrics-not-public: \(object\): flow us-east1\/ingress-gateway → us-east1\/shop\/api:8080 GET \/metrics denied by AuthorizationPolicy \[AuthorizationPolicy shop\/api-metrics-not-public\]: deny/,
        ),
      ]),
    );
    expect(fs.existsSync(dist)).toBe(false);
  });
});
