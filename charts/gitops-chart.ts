import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { AppProject, Application } from '../imports/argoproj.io';
import type { EnvironmentSpec } from '../spec/load';
import { addSyncWaves, LABEL_ENV, LABEL_PLATFORM } from './labels';
import type { RegionChart } from './region-chart';

export interface GitOpsChartProps {
  readonly environment: EnvironmentSpec;
  /** The region charts of this environment, rendered to `<distPath>/<region>/`. */
  readonly regions: readonly RegionChart[];
  /** Path of the environment's folder in the GitOps repository, e.g. `dist/ggen/prod`. */
  readonly distPath: string;
}

interface GroupKind { group: string; kind: string }

/**
 * The ArgoCD objects of one environment: an AppProject that allows exactly the kinds the
 * region charts render, and one Application per region cluster syncing its folder.
 */
export class GitOpsChart extends Chart {
  constructor(scope: Construct, id: string, props: GitOpsChartProps) {
    const { platform, env } = props.environment;
    super(scope, id, {
      disableResourceNameHashes: true,
      labels: {
        'app.kubernetes.io/part-of': platform.name,
        'app.kubernetes.io/managed-by': 'meridian',
        [LABEL_PLATFORM]: platform.name,
        [LABEL_ENV]: env,
      },
    });
    const gitops = platform.gitops;
    const projectName = `${platform.name}-${env}`;
    const objects = props.regions.flatMap((chart) => chart.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject));
    const clusterScoped = uniqueKinds(objects.filter((o) => !o.metadata.namespace));
    const namespaced = uniqueKinds(objects.filter((o) => o.metadata.namespace));

    new AppProject(this, 'Project', {
      metadata: { name: projectName, namespace: gitops.namespace },
      spec: {
        description: `${platform.name} ${env}: rendered by Meridian`,
        sourceRepos: [gitops.repoURL],
        // Sorted: promoting a region (primary first in the environment) must not reorder them.
        destinations: props.regions.map((r) => ({ name: r.cluster.cluster, namespace: '*' })).sort((a, b) => a.name.localeCompare(b.name)),
        clusterResourceWhitelist: clusterScoped,
        namespaceResourceWhitelist: namespaced,
      },
    });

    for (const chart of props.regions) {
      const c = chart.cluster;
      const autoscaled = Object.entries(c.services).filter(([, s]) => s.autoscaling).map(([name, s]) => ({ name, namespace: s.namespace }));
      new Application(this, `App-${c.region}`, {
        metadata: { name: `${platform.name}-${env}-${c.region}`, namespace: gitops.namespace },
        spec: {
          project: projectName,
          source: {
            repoUrl: gitops.repoURL,
            targetRevision: gitops.targetRevision,
            path: `${props.distPath}/${c.region}`,
            directory: { recurse: true },
          },
          destination: { name: c.cluster },
          syncPolicy: {
            // Without automated sync, ArgoCD shows the diff and an operator syncs (a prod approval gate).
            automated: gitops.automated ? { prune: true, selfHeal: true } : undefined,
            syncOptions: [
              'CreateNamespace=true',
              'ServerSideApply=true',
              'PruneLast=true',
              ...(autoscaled.length > 0 ? ['RespectIgnoreDifferences=true'] : []),
            ],
            retry: { limit: 5, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
          },
          // KEDA owns the replica count of autoscaled workloads.
          ignoreDifferences: autoscaled.length > 0
            ? autoscaled.map((w) => ({ group: 'apps', kind: 'Deployment', namespace: w.namespace, name: w.name, jsonPointers: ['/spec/replicas'] }))
            : undefined,
          revisionHistoryLimit: 10,
        },
      });
    }
    addSyncWaves(this);
  }
}

function uniqueKinds(objects: ApiObject[]): GroupKind[] {
  const seen = new Map<string, GroupKind>();
  for (const o of objects) {
    const group = o.apiGroup === 'core' ? '' : o.apiGroup;
    seen.set(`${group}/${o.kind}`, { group, kind: o.kind });
  }
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, gk]) => gk);
}
