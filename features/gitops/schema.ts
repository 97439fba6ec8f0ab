/** GitOps: where ArgoCD reads the rendered manifests and how it syncs them. */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { dnsLabel } from '../../kernel/schema';

export const GitOps = z.strictObject({
  /** The repository ArgoCD reads `dist/` from. */
  repoURL: z.string().url(),
  targetRevision: z.string().default('main'),
  /** The folder of the rendered manifests in that repository. @default dist */
  path: z.string().default('dist'),
  /** Where the ArgoCD objects live. @default argocd */
  namespace: dnsLabel.default('argocd'),
  /** Sync on every commit (with prune and self-heal); false leaves syncing to an operator. @default true */
  automated: z.boolean().default(true),
});

/** Owner and name of a GitHub repository URL, if it is one. */
export function githubRepository(url: string): { owner: string; repo: string } | undefined {
  const m = /^https:\/\/github\.com\/([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+?)(\.git)?\/?$/.exec(url);
  return m ? { owner: m[1], repo: m[2] } : undefined;
}

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
