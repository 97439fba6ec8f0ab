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
import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import type { Platform } from '../../model/schema';

/** A region key as the spec writes it. */
const regionKey = z.string().min(1);

/** An ArgoCD sync window on the environment's AppProject (argo-cd docs: "Sync Windows"). */
export const SyncWindow = z.strictObject({
  /** `allow`: automatic syncs only inside the window; `deny`: none inside it. */
  kind: z.enum(['allow', 'deny']),
  /** When the window opens: a five-field cron expression, e.g. `0 8 * * 1-5`. */
  schedule: z.string().refine(
    (s) => {
      if (s.trim().split(/\s+/).length !== 5) return false;
      try {
        CronExpressionParser.parse(s);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'must be a five-field cron expression such as "0 8 * * 1-5"' },
  ),
  /** How long the window stays open, e.g. `10h` or `90m`. */
  duration: z.string().regex(/^[0-9]+[hm]$/, { message: 'must be hours or minutes, such as 10h or 90m' }),
  /** The time zone of `schedule`. @default UTC */
  timeZone: z.string().default('UTC'),
  /** Whether an operator may still sync by hand when automatic syncs are held. @default true */
  manualSync: z.boolean().default(true),
});

export const Rollout = z.strictObject({
  /**
   * The environment whose running revision this one takes (`meridian promote-env`); `false`
   * tracks `gitops.targetRevision` (main) directly.
   * @default - the environment before it in `environments` (the preview environment skipped); the first tracks main
   */
  promotesFrom: z.union([z.string(), z.literal(false)]).optional(),
  /**
   * Regions in the order they sync, a list per wave; regions of one wave sync together.
   * `[]` syncs every region at once.
   * @default - each secondary alone, by ascending routing weight, the primary last; every region at once in the first environment and the preview environment
   */
  waves: z.array(z.array(regionKey).min(1)).optional(),
  /** ArgoCD sync windows on the environment's AppProject. @default - none */
  syncWindows: z.array(SyncWindow).default([]),
  /** Prefix of the environment branches. @default meridian/ */
  branchPrefix: z
    .string()
    .regex(/^[A-Za-z0-9._/-]*$/, { message: 'must be a Git branch prefix: letters, digits, ".", "_", "-", "/"' })
    .default('meridian/'),
});

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
