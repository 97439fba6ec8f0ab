import { App } from 'cdk8s';
import { GitOpsChart } from '../../charts/gitops-chart';
import { RegionChart } from '../../charts/region-chart';
import { loadAll } from '../../model';
import { render } from '../../synth/render';
import { ROOT } from '../helpers';
import { fixtureRepo, shopPlatform } from '../model/fixtures';

const [staging] = loadAll(fixtureRepo(shopPlatform()));

function build() {
  const app = new App();
  const regions = staging.clusters.map((cluster) => new RegionChart(app, cluster.region, { cluster }));
  const gitops = new GitOpsChart(app, 'argocd', { environment: staging, regions, distPath: 'dist/shop/staging' });
  return { regions, gitops };
}

type M = { kind: string; metadata: any; spec?: any; [k: string]: any };
const objects = (chart: { toJson(): any[] }) => chart.toJson() as M[];
const find = (chart: { toJson(): any[] }, kind: string, name: string) => objects(chart).find((m) => m.kind === kind && m.metadata.name === name)!;

describe('RegionChart', () => {
  const { regions } = build();
  const [east, europe] = regions;

  test('renders the kinds of a cluster, each object labelled with platform, environment and region', () => {
    expect(
      objects(east)
        .map((m) => `${m.kind}/${m.metadata.name}`)
        .sort(),
    ).toMatchSnapshot();
    for (const m of objects(europe)) {
      expect(m.metadata.labels).toMatchObject({
        'app.kubernetes.io/part-of': 'shop',
        'app.kubernetes.io/managed-by': 'meridian',
        'meridian.dev/platform': 'shop',
        'meridian.dev/environment': 'staging',
        'meridian.dev/region': 'europe-west1',
      });
    }
  });

  test('the namespace is in the mesh and enforces restricted pod security', () => {
    expect(find(east, 'Namespace', 'shop').metadata.labels).toMatchObject({
      'istio-injection': 'enabled',
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
  });

  test('pods carry their region; requests from the ingress are split across regions by weight', () => {
    expect(find(europe, 'Deployment', 'api').spec.template.metadata.labels['meridian.dev/region']).toBe('europe-west1');
    const subsets = find(east, 'DestinationRule', 'api').spec.subsets.map((s: any) => s.name);
    expect(subsets).toEqual(expect.arrayContaining(['us-east1', 'europe-west1']));
    expect(
      find(east, 'VirtualService', 'api-ingress')
        .spec.http.at(-1)
        .route.map((r: any) => [r.destination.subset, r.weight]),
    ).toEqual([
      ['us-east1', 60],
      ['europe-west1', 40],
    ]);
  });

  test('secrets are synced from Secret Manager through one ClusterSecretStore', () => {
    expect(find(east, 'ClusterSecretStore', 'shop-secret-manager').spec).toEqual({
      provider: { gcpsm: { projectID: 'shop-project-1' } },
      conditions: [{ namespaces: ['shop'] }],
    });
    expect(find(east, 'ExternalSecret', 'api-secrets').spec.data).toEqual([
      { secretKey: 'DB_PASSWORD', remoteRef: { key: 'shop-db-password', version: 'latest' } },
    ]);
    expect(find(east, 'ExternalSecret', 'cache-redis-password').spec.secretStoreRef).toEqual({ kind: 'ClusterSecretStore', name: 'shop-secret-manager' });
  });

  test('the Workload Identity binding defaults to <service>@<project>', () => {
    expect(find(east, 'ServiceAccount', 'worker').metadata.annotations['iam.gke.io/gcp-service-account']).toBe('worker@shop-project-1.iam.gserviceaccount.com');
  });

  test('the autoscaler watches the Deployment of its own cluster only', () => {
    const so = find(europe, 'ScaledObject', 'api');
    expect(so.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' });
    expect(find(europe, 'Deployment', 'api').spec).not.toHaveProperty('replicas');
  });

  test('objects come in sync waves: namespaces, then config, then workloads, then routes', () => {
    const wave = (kind: string, name: string) => Number(find(east, kind, name).metadata.annotations['argocd.argoproj.io/sync-wave']);
    expect(wave('Namespace', 'shop')).toBeLessThan(wave('ServiceAccount', 'api'));
    expect(wave('ExternalSecret', 'api-secrets')).toBeLessThan(wave('Deployment', 'api'));
    expect(wave('Deployment', 'api')).toBeLessThan(wave('VirtualService', 'api'));
    expect(wave('DestinationRule', 'api')).toBeLessThan(wave('VirtualService', 'api'));
  });
});

describe('GitOpsChart', () => {
  const { gitops } = build();

  test('one Application per region cluster, syncing its folder with prune and self-heal', () => {
    const app = find(gitops, 'Application', 'shop-staging-europe-west1');
    expect(app.metadata.namespace).toBe('argocd');
    expect(app.spec).toMatchObject({
      project: 'shop-staging',
      source: { repoURL: 'https://git.example.com/fleet.git', targetRevision: 'main', path: 'dist/shop/staging/europe-west1', directory: { recurse: true } },
      destination: { name: 'shop-staging-europe-west1' },
      syncPolicy: {
        automated: { prune: true, selfHeal: true },
        // No CreateNamespace=true: without a destination namespace it does nothing (the Namespaces are rendered).
        syncOptions: ['ServerSideApply=true', 'PruneLast=true', 'RespectIgnoreDifferences=true'],
      },
    });
    expect(
      objects(gitops)
        .filter((m) => m.kind === 'Application')
        .map((m) => m.metadata.name),
    ).toEqual(['shop-staging-us-east1', 'shop-staging-europe-west1']);
  });

  test('replica counts of autoscaled Deployments are left to KEDA', () => {
    expect(find(gitops, 'Application', 'shop-staging-us-east1').spec.ignoreDifferences).toEqual([
      { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'api', jsonPointers: ['/spec/replicas'] },
    ]);
  });

  test("the AppProject allows exactly the kinds rendered, to the environment's clusters", () => {
    const project = find(gitops, 'AppProject', 'shop-staging');
    expect(project.spec.sourceRepos).toEqual(['https://git.example.com/fleet.git']);
    expect(project.spec.destinations).toEqual([
      { name: 'shop-staging-europe-west1', namespace: '*' },
      { name: 'shop-staging-us-east1', namespace: '*' },
    ]);
    expect(project.spec.clusterResourceWhitelist).toEqual([
      { group: '', kind: 'Namespace' },
      { group: 'external-secrets.io', kind: 'ClusterSecretStore' },
      // KEDA's operator, scraped for the ScaledObjects of every namespace.
      { group: 'monitoring.googleapis.com', kind: 'ClusterPodMonitoring' },
      { group: 'monitoring.googleapis.com', kind: 'ClusterRules' },
      // The environment's alerts over every region (in the primary region's cluster only).
      { group: 'monitoring.googleapis.com', kind: 'GlobalRules' },
    ]);
    const namespaced = project.spec.namespaceResourceWhitelist.map((gk: any) => `${gk.group}/${gk.kind}`);
    expect(namespaced).toEqual(
      expect.arrayContaining(['apps/Deployment', 'apps/StatefulSet', 'keda.sh/ScaledObject', 'networking.istio.io/VirtualService', '/Service']),
    );
    expect(namespaced).not.toContain('/Secret');
  });
});

describe('GitOps security on the seed platforms', () => {
  const files = render(loadAll(ROOT)).files;

  test('no Application asks ArgoCD to create a namespace it has no destination namespace for (a no-op)', () => {
    const apps = files.filter((f) => f.manifest.kind === 'Application').map((f) => f.manifest as any);
    expect(apps.length).toBeGreaterThan(10);
    expect(
      apps.filter((a) => !a.spec.destination.namespace && a.spec.syncPolicy.syncOptions.includes('CreateNamespace=true')).map((a) => a.metadata.name),
    ).toEqual([]);
  });

  test("every ClusterSecretStore admits only its platform's namespaces", () => {
    const stores = files.filter((f) => f.manifest.kind === 'ClusterSecretStore');
    expect(stores.length).toBeGreaterThan(10);
    for (const f of stores) {
      const [platform, env] = f.path.split('/');
      const conditions = (f.manifest.spec as any).conditions;
      expect({ [f.path]: conditions }).toEqual({
        [f.path]: env === 'preview' ? [{ namespaceRegexes: [`^${platform}-pr-[0-9]+$`] }] : [{ namespaces: expect.any(Array) }],
      });
      if (env !== 'preview') {
        const namespaces = files
          .filter((o) => o.path.startsWith(`${platform}/${env}/`) && o.manifest.kind === 'Namespace')
          .map((o) => o.manifest.metadata.name);
        expect(conditions[0].namespaces.every((n: string) => namespaces.includes(n))).toBe(true);
      }
    }
  });
});
