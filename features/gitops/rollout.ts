/**
 * How a change reaches an environment and its regions (docs/rollout.md).
 *
 * Environments in order: an environment that `promotesFrom` another syncs its own branch of the
 * GitOps repository, `<branchPrefix><platform>/<env>`, which `meridian promote-env` moves
 * (fast-forward only) to a revision the source environment runs. Plain Git: ArgoCD needs
 * nothing but the branch name.
 *
 * Regions in waves: an environment rolled out in waves renders one ApplicationSet whose
 * RollingSync strategy has a step per wave; ArgoCD syncs wave n only once every Application
 * of the waves before it is Synced and Healthy.
 */
import type { z } from 'zod';
import type { Rollout } from './schema';
import type { Platform } from '../../model/schema';

export type RolloutSpec = z.output<typeof Rollout>;

/** What the plan holds of an environment's rollout, resolved. */
export interface RolloutPlan {
  /** The environment it promotes from, if any. */
  readonly promotesFrom?: string;
  /** The Git revision its Applications sync: the environment branch, or the fleet's target revision. */
  readonly revision: string;
  /** Regions per wave, in order; one wave means every region at once. */
  readonly waves: readonly (readonly string[])[];
  readonly syncWindows: RolloutSpec['syncWindows'];
}

/** The branch an environment that promotes from another syncs. */
export function environmentBranch(platform: Pick<Platform, 'name' | 'rollout'>, env: string): string {
  return `${platform.rollout.branchPrefix}${platform.name}/${env}`;
}

/** The environment `env` promotes from: the spec's choice, else the one before it (the preview environment is never a source or a target). */
export function promotionSource(platform: Pick<Platform, 'environments' | 'previews' | 'rollout'>, env: string): string | undefined {
  if (platform.rollout.promotesFrom !== undefined) return platform.rollout.promotesFrom || undefined;
  const preview = platform.previews?.environment;
  if (env === preview) return undefined;
  const ordered = platform.environments.filter((e) => e !== preview);
  const i = ordered.indexOf(env);
  return i > 0 ? ordered[i - 1] : undefined;
}

/** The default waves: each secondary alone by ascending routing weight (then name), the primary last. */
export function defaultWaves(platform: Pick<Platform, 'regions' | 'routing'>): string[][] {
  const regions = Object.keys(platform.regions);
  const weight = (r: string) => platform.routing.weights?.[r] ?? 0;
  const secondaries = regions.filter((r) => platform.regions[r].role !== 'primary').sort((a, b) => weight(a) - weight(b) || a.localeCompare(b));
  const primary = regions.filter((r) => platform.regions[r].role === 'primary');
  return [...secondaries.map((r) => [r]), primary];
}

/** The rollout of `env`, resolved. */
export function resolveRollout(platform: Platform, env: string, trackedRevision: string): RolloutPlan {
  const promotesFrom = promotionSource(platform, env);
  const regions = Object.keys(platform.regions);
  const spec = platform.rollout.waves;
  // The first environment (dev) and the preview environment sync at once: changes land there first.
  const preview = platform.previews?.environment;
  const atOnce = env === preview || env === platform.environments.filter((e) => e !== preview)[0];
  const waves = spec !== undefined ? (spec.length === 0 ? [regions] : spec) : atOnce ? [regions] : defaultWaves(platform);
  return {
    promotesFrom,
    revision: promotesFrom ? environmentBranch(platform, env) : trackedRevision,
    waves: waves.filter((w) => w.length > 0),
    syncWindows: platform.rollout.syncWindows,
  };
}

/** A mistake in `rollout`, at its field path under the platform. */
export interface RolloutIssue {
  readonly path: (string | number)[];
  readonly message: string;
  readonly input: unknown;
}

/** The rules of `rollout` for environment `env`. */
export function rolloutIssues(platform: Platform, env: string): RolloutIssue[] {
  const issues: RolloutIssue[] = [];
  const r = platform.rollout;
  const preview = platform.previews?.environment;
  if (typeof r.promotesFrom === 'string') {
    const allowed = platform.environments.filter((e) => e !== env && e !== preview);
    if (!allowed.includes(r.promotesFrom)) {
      issues.push({
        path: ['rollout', 'promotesFrom'],
        message: `must name another environment of the platform that is not the preview environment (allowed: ${allowed.join(', ') || 'none'}; false tracks ${platform.gitops.targetRevision})`,
        input: r.promotesFrom,
      });
    }
    if (env === preview)
      issues.push({
        path: ['rollout', 'promotesFrom'],
        message: "must be false for the preview environment: it runs each pull request's own commit",
        input: r.promotesFrom,
      });
  }
  if (r.waves !== undefined && r.waves.length > 0) {
    const regions = Object.keys(platform.regions);
    const seen = new Map<string, number>();
    r.waves.forEach((wave, i) =>
      wave.forEach((region, j) => {
        if (!regions.includes(region)) {
          issues.push({ path: ['rollout', 'waves', i, j], message: `is not a region of this environment (regions: ${regions.join(', ')})`, input: region });
        } else if (seen.has(region)) {
          issues.push({
            path: ['rollout', 'waves', i, j],
            message: `is already in wave ${seen.get(region)! + 1}: every region rolls out exactly once`,
            input: region,
          });
        } else seen.set(region, i);
      }),
    );
    const missing = regions.filter((region) => !seen.has(region));
    if (missing.length > 0) issues.push({ path: ['rollout', 'waves'], message: `must name every region once; missing: ${missing.join(', ')}`, input: r.waves });
    const primary = regions.find((region) => platform.regions[region].role === 'primary');
    const first = r.waves[0];
    if (regions.length > 1 && first.length === 1 && first[0] === primary) {
      issues.push({
        path: ['rollout', 'waves', 0],
        message: `must not be the primary region alone: a bad change would reach the region that holds the master and most traffic first (put a secondary first)`,
        input: first,
      });
    }
  }
  return issues;
}
