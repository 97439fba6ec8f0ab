/**
 * An environment's region Applications as one ApplicationSet rolled out in waves (RollingSync),
 * and its sync windows. The Applications the ApplicationSet generates are the ones Meridian
 * renders for an environment synced all at once, but for their automated sync policy, which
 * ArgoCD's progressive sync turns off and replaces with its own ordered syncs
 * (docs/rollout.md; test/features/gitops/waves.test.ts proves the equivalence).
 */
import type { ApplicationSetSpec, ApplicationSpec, AppProjectSpecSyncWindows } from '../../imports/argoproj.io';
import type { RolloutPlan } from './rollout';

/** The label that puts a generated Application into its wave. */
export const LABEL_WAVE = 'meridian.dev/wave';
export const LABEL_ROLLOUT_REGION = 'meridian.dev/region';

/** One region's Application, as rendered for an environment synced all at once. */
export interface RegionApplication {
  readonly region: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels?: Record<string, string> };
  readonly spec: ApplicationSpec;
}

/** The values that differ between the regions' Applications; everything else is shared. */
interface Element {
  readonly name: string;
  readonly region: string;
  readonly wave: string;
  readonly cluster: string;
  readonly path: string;
  readonly syncOptions: readonly string[];
  readonly ignoreDifferences: readonly unknown[];
}

/** What an Application looks like once its per-region values are taken out (the template). */
function templateSpec(spec: ApplicationSpec): ApplicationSpec {
  const { ignoreDifferences: _ignored, ...rest } = spec;
  const { syncOptions: _options, automated: _automated, ...syncPolicy } = spec.syncPolicy ?? {};
  return {
    ...rest,
    source: { ...spec.source!, path: '{{.path}}' },
    destination: { ...spec.destination, name: '{{.cluster}}' },
    syncPolicy,
  };
}

/**
 * The ApplicationSet that generates `apps`, with one RollingSync step per wave.
 * @param labels labels every generated Application carries (the chart's)
 */
export function wavesApplicationSet(
  apps: readonly RegionApplication[],
  waves: readonly (readonly string[])[],
  labels: Record<string, string>,
): ApplicationSetSpec {
  const waveOf = new Map(waves.flatMap((w, i) => w.map((r) => [r, i + 1] as const)));
  const elements: Element[] = apps.map((a) => ({
    name: a.metadata.name,
    region: a.region,
    wave: String(waveOf.get(a.region)),
    cluster: a.spec.destination.name!,
    path: a.spec.source!.path!,
    syncOptions: a.spec.syncPolicy?.syncOptions ?? [],
    ignoreDifferences: a.spec.ignoreDifferences ?? [],
  }));
  const shared = JSON.stringify(templateSpec(apps[0].spec));
  for (const a of apps) {
    // Anything else that differs between regions would be lost in the template: refuse it.
    if (JSON.stringify(templateSpec(a.spec)) !== shared)
      throw new Error(`${a.metadata.name}: its Application differs from ${apps[0].metadata.name} in more than the per-region values`);
    if (!waveOf.has(a.region)) throw new Error(`region ${a.region} is in no wave`);
  }
  return {
    goTemplate: true,
    goTemplateOptions: ['missingkey=error'],
    generators: [{ list: { elements: elements.map((e) => ({ ...e })) } }],
    strategy: {
      type: 'RollingSync',
      rollingSync: { steps: waves.map((_, i) => ({ matchExpressions: [{ key: LABEL_WAVE, operator: 'In', values: [String(i + 1)] }] })) },
    },
    template: {
      metadata: {
        name: '{{.name}}',
        namespace: apps[0].metadata.namespace,
        labels: { ...labels, [LABEL_ROLLOUT_REGION]: '{{.region}}', [LABEL_WAVE]: '{{.wave}}' },
      },
      spec: templateSpec(apps[0].spec),
    },
    // Arrays cannot be templated in `template`: the per-region lists come as a patch.
    templatePatch: ['spec:', '  ignoreDifferences: {{ toJson .ignoreDifferences }}', '  syncPolicy:', '    syncOptions: {{ toJson .syncOptions }}', ''].join(
      '\n',
    ),
    // Deleting the ApplicationSet leaves the clusters' objects in place, as deleting an Application does.
    syncPolicy: { preserveResourcesOnDeletion: true },
  };
}

/** The environment's sync windows as its AppProject holds them; none renders nothing. */
export function syncWindows(rollout: RolloutPlan): AppProjectSpecSyncWindows[] | undefined {
  if (rollout.syncWindows.length === 0) return undefined;
  return rollout.syncWindows.map((w) => ({
    kind: w.kind,
    schedule: w.schedule,
    duration: w.duration,
    timeZone: w.timeZone,
    manualSync: w.manualSync,
    applications: ['*'],
  }));
}
