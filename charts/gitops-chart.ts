import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import { AppProject, Application, ApplicationSet } from '../imports/argoproj.io';
import type { EnvironmentPlan } from '../model/plan';
import { githubRepository } from '../features/gitops/schema';
import { addSyncWaves, LABEL_ENV, LABEL_PLATFORM } from '../kernel/labels';
import { parseDuration } from '../features';
import { previewBaseNamespace, previewNamespace } from '../features/previews/previews';
import type { RegionChart } from './region-chart';
import { k8s } from 'cdk8s-plus-28';
import { healthCustomizations } from '../features/gitops/health';
import { RegionApplication, syncWindows, wavesApplicationSet } from '../features/gitops/waves';

export interface GitOpsChartProps {
  readonly environment: EnvironmentPlan;
  /** The region charts of this environment, rendered to `<distPath>/<region>/`. */
  readonly regions: readonly RegionChart[];
  /** Path of the environment's folder in the GitOps repository, e.g. `dist/ggen/prod`. */
  readonly distPath: string;
}

interface GroupKind {
  group: string;
  kind: string;
}

/**
 * The ArgoCD objects of one environment: an AppProject that allows exactly the kinds the
 * region charts render, and one Application per region cluster syncing its folder.
 */
export class GitOpsChart extends Chart {
  constructor(scope: Construct, id: string, props: GitOpsChartProps) {
    const { platform, env } = props.environment;
    super(scope, id, { disableResourceNameHashes: true, labels: gitopsLabels(platform.name, env) });
    const gitops = platform.gitops;
    const projectName = `${platform.name}-${env}`;
    const all = props.regions.flatMap((chart) => chart.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject));
    // A preview environment: the template namespace is synced per pull request, the rest (the
    // gateway, the cluster's secret store) once, by the environment's own Application.
    const template = props.environment.preview?.templateNamespace;
    const inTemplate = (o: ApiObject) => template !== undefined && (o.metadata.namespace === template || (o.kind === 'Namespace' && o.name === template));
    const objects = all.filter((o) => !inTemplate(o));
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
        syncWindows: syncWindows(props.environment.rollout),
      },
    });

    const rollout = props.environment.rollout;
    const regionApps: RegionApplication[] = [];
    for (const chart of props.regions) {
      const c = chart.cluster;
      const autoscaled = Object.entries(c.services)
        .filter(([, s]) => s.autoscaled)
        .map(([name, s]) => ({ name, namespace: s.namespace }));
      regionApps.push({
        region: c.region,
        metadata: { name: `${platform.name}-${env}-${c.region}`, namespace: gitops.namespace },
        spec: {
          project: projectName,
          source: {
            repoUrl: gitops.repoURL,
            targetRevision: rollout.revision,
            path: `${props.distPath}/${c.region}`,
            directory: { recurse: true, exclude: template && `${template}/*` },
          },
          destination: { name: c.cluster },
          syncPolicy: {
            // Without automated sync, ArgoCD shows the diff and an operator syncs (a prod approval gate).
            automated: gitops.automated ? { prune: true, selfHeal: true } : undefined,
            syncOptions: ['ServerSideApply=true', 'PruneLast=true', ...(autoscaled.length > 0 ? ['RespectIgnoreDifferences=true'] : [])],
            retry: { limit: 5, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
          },
          // KEDA owns the replica count of autoscaled workloads.
          ignoreDifferences:
            autoscaled.length > 0
              ? autoscaled.map((w) => ({ group: 'apps', kind: 'Deployment', namespace: w.namespace, name: w.name, jsonPointers: ['/spec/replicas'] }))
              : undefined,
          revisionHistoryLimit: 10,
        },
      });
    }
    // Health ArgoCD cannot see by itself, for the kinds this environment renders: merged into
    // argocd-cm by `kubectl apply` (the keys only; the rest of argocd-cm is left as it is).
    const health = healthCustomizations(all.map((o) => `${o.apiGroup}/${o.kind}`));
    if (Object.keys(health).length > 0) {
      const cm = new k8s.KubeConfigMap(this, 'HealthChecks', {
        metadata: { name: 'argocd-cm', namespace: gitops.namespace, labels: { 'app.kubernetes.io/name': 'argocd-cm', 'app.kubernetes.io/part-of': 'argocd' } },
        data: health,
      });
      // Every platform and environment applies the same argocd-cm: it carries none of their labels.
      cm.addJsonPatch(
        JsonPatch.remove(`/metadata/labels/${LABEL_PLATFORM.replace('/', '~1')}`),
        JsonPatch.remove(`/metadata/labels/${LABEL_ENV.replace('/', '~1')}`),
      );
    }
    if (rollout.waves.length > 1) {
      // Regions in waves: ArgoCD's ApplicationSet controller generates the same Applications
      // and syncs wave n only once waves 1..n-1 are Synced and Healthy.
      new ApplicationSet(this, 'Rollout', {
        metadata: { name: `${platform.name}-${env}`, namespace: gitops.namespace },
        spec: wavesApplicationSet(regionApps, rollout.waves, gitopsLabels(platform.name, env)),
      });
    } else {
      for (const app of regionApps) new Application(this, `App-${app.region}`, { metadata: app.metadata, spec: app.spec });
    }
    if (template) this.addPullRequests(props, all.filter(inTemplate), template);
    addSyncWaves(this);
  }

  /**
   * The ApplicationSet that gives every labelled pull request its environment, and the
   * AppProject fencing those Applications into `<namespace>-pr-*` with the template's kinds.
   */
  private addPullRequests(props: GitOpsChartProps, objects: ApiObject[], template: string) {
    const { platform, env } = props.environment;
    const previews = platform.previews!;
    const gitops = platform.gitops;
    const base = previewBaseNamespace(platform);
    const cluster = props.regions[0].cluster;
    const projectName = `${platform.name}-${env}-pull-requests`;
    new AppProject(this, 'PullRequestProject', {
      metadata: { name: projectName, namespace: gitops.namespace },
      spec: {
        description: `${platform.name} pull request environments: rendered by Meridian`,
        sourceRepos: [gitops.repoURL],
        destinations: [{ name: cluster.cluster, namespace: previewNamespace(base, '*') }],
        // Only the pull requests' own namespaces (a name glob, ArgoCD >= 3.3): a pull request cannot
        // adopt, and on close delete, istio-ingress or any other namespace.
        clusterResourceWhitelist: [{ group: '', kind: 'Namespace', name: previewNamespace(base, '*') }],
        namespaceResourceWhitelist: uniqueKinds(objects.filter((o) => o.metadata.namespace)),
      },
    });
    const autoscaled = Object.entries(cluster.services)
      .filter(([, s]) => s.autoscaled)
      .map(([name]) => name);
    const namespace = previewNamespace(base, '{{.number}}');
    new ApplicationSet(this, 'PullRequests', {
      metadata: { name: `${platform.name}-pull-requests`, namespace: gitops.namespace },
      spec: {
        goTemplate: true,
        goTemplateOptions: ['missingkey=error'],
        generators: [
          {
            pullRequest: {
              github: {
                ...githubRepository(gitops.repoURL)!,
                labels: previews.github.labels ?? [`preview-${platform.name}`],
                tokenRef: { secretName: previews.github.tokenSecret, key: 'token' },
              },
              requeueAfterSeconds: parseDuration(previews.requeueAfter).toSeconds(),
            },
          },
        ],
        template: {
          metadata: {
            name: `${platform.name}-pr-{{.number}}`,
            labels: { [LABEL_PLATFORM]: platform.name, [LABEL_ENV]: env, 'meridian.dev/pull-request': '{{.number}}' },
            annotations: { 'meridian.dev/head-sha': '{{.head_sha}}' },
            // Deleting the Application (the pull request closed) deletes what it synced, namespace included.
            finalizers: ['resources-finalizer.argocd.argoproj.io'],
          },
          spec: {
            project: projectName,
            source: {
              repoUrl: gitops.repoURL,
              targetRevision: '{{.head_sha}}',
              path: `${props.distPath}/${cluster.region}/${template}`,
              // Only the number: the relocation is the template's own kustomization.yaml, from the same commit.
              kustomize: { namespace },
            },
            destination: { name: cluster.cluster, namespace },
            syncPolicy: {
              automated: { prune: true, selfHeal: true },
              syncOptions: ['ServerSideApply=true', 'PruneLast=true', ...(autoscaled.length > 0 ? ['RespectIgnoreDifferences=true'] : [])],
              retry: { limit: 5, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
            },
            ignoreDifferences:
              autoscaled.length > 0
                ? autoscaled.map((name) => ({ group: 'apps', kind: 'Deployment', namespace, name, jsonPointers: ['/spec/replicas'] }))
                : undefined,
            revisionHistoryLimit: 3,
          },
        },
      },
    });
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

/** The labels of every ArgoCD object of an environment, and of the Applications its ApplicationSets generate. */
function gitopsLabels(platform: string, env: string): Record<string, string> {
  return { 'app.kubernetes.io/part-of': platform, 'app.kubernetes.io/managed-by': 'meridian', [LABEL_PLATFORM]: platform, [LABEL_ENV]: env };
}
