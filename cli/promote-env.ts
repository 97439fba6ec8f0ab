/**
 * `meridian promote-env PLATFORM ENV [--revision REV] [--dry-run]`: move an environment's branch
 * to a revision the environment it promotes from runs (docs/rollout.md).
 *
 * An environment with `rollout.promotesFrom` syncs its own branch, `meridian/<platform>/<env>`.
 * Promotion fast-forwards that branch to the source environment's revision (its branch, or the
 * tracked revision when the source tracks main), printing per cluster what the target
 * environment's `dist/` will change. It refuses a revision the source does not run and any move
 * that is not a fast-forward: prod never runs a commit staging did not. Only the local branch
 * moves; pushing it (`git push origin <branch>`) is the deploy, which CI does after ArgoCD
 * reports the source environment Synced and Healthy at that revision.
 */
import { spawnSync } from 'node:child_process';
import { loadAll } from '../model';
import type { EnvironmentPlan } from '../model/plan';
import { compareTrees, DistTree, formatDiff, readCommittedDist } from './diff';
import { type Io, reportFailure } from './io';

export interface PromoteEnvOptions {
  readonly root: string;
  readonly platform: string;
  readonly env: string;
  /** A revision of the source environment's history to promote. @default - the source's head */
  readonly revision?: string;
  /** Print what would change; move nothing. */
  readonly dryRun?: boolean;
}

function git(root: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, out: (r.stdout ?? '').trim(), err: (r.stderr ?? '').trim() };
}

const commitOf = (root: string, ref: string) => {
  const r = git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return r.ok ? r.out : undefined;
};
const isAncestor = (root: string, a: string, b: string) => git(root, ['merge-base', '--is-ancestor', a, b]).ok;

/** The environment's files of `dist/` at a commit, keyed as `meridian diff` keys them. */
function envTree(root: string, commit: string | undefined, env: EnvironmentPlan): DistTree {
  if (!commit) return new Map();
  const prefix = `${env.platform.name}/${env.env}/`;
  return new Map([...readCommittedDist(root, commit).files].filter(([file]) => file.startsWith(prefix)));
}

export function runPromoteEnv(opts: PromoteEnvOptions, io: Io): number {
  const refuse = (message: string) => {
    io.err(`promote-env: ${message}; nothing was changed`);
    return 1;
  };
  let envs: EnvironmentPlan[];
  try {
    envs = loadAll(opts.root, { platform: opts.platform });
  } catch (e) {
    return reportFailure(io, 'promote-env', e, '; nothing was changed');
  }
  const target = envs.find((e) => e.env === opts.env);
  if (!target) return refuse(`${opts.platform} has no environment "${opts.env}" (environments: ${envs.map((e) => e.env).join(', ')})`);
  const sourceName = target.rollout.promotesFrom;
  if (!sourceName) {
    return refuse(`${opts.platform}/${opts.env} tracks ${target.rollout.revision} directly (rollout.promotesFrom is not set): every commit there reaches it`);
  }
  const source = envs.find((e) => e.env === sourceName)!;
  const sourceHead = commitOf(opts.root, source.rollout.revision);
  if (!sourceHead)
    return refuse(
      `the source ${opts.platform}/${sourceName} syncs ${source.rollout.revision}, which does not exist here (promote ${sourceName} first, or fetch it)`,
    );
  let commit = sourceHead;
  if (opts.revision !== undefined) {
    const wanted = commitOf(opts.root, opts.revision);
    if (!wanted) return refuse(`--revision ${opts.revision}: not a commit of this repository`);
    if (!isAncestor(opts.root, wanted, sourceHead)) {
      return refuse(
        `--revision ${opts.revision} (${wanted.slice(0, 12)}) is not in the history ${opts.platform}/${sourceName} runs (${source.rollout.revision})`,
      );
    }
    commit = wanted;
  }
  const branch = target.rollout.revision;
  const current = commitOf(opts.root, `refs/heads/${branch}`);
  if (current === commit) {
    io.out(`promote-env: ${branch} is already at ${commit.slice(0, 12)}, what ${sourceName} runs; nothing to do`);
    return 0;
  }
  if (current && !isAncestor(opts.root, current, commit)) {
    return refuse(
      `${branch} (${current.slice(0, 12)}) has commits ${sourceName} never ran: moving it to ${commit.slice(0, 12)} is not a fast-forward (bring them through ${sourceName} first)`,
    );
  }
  const diff = compareTrees(envTree(opts.root, current, target), envTree(opts.root, commit, target));
  for (const line of formatDiff(
    diff,
    current ? `${branch} (${current.slice(0, 12)})` : `${branch} (new)`,
    `${source.rollout.revision} (${commit.slice(0, 12)})`,
  )) {
    io.out(line);
  }
  if (opts.dryRun) {
    io.out(`promote-env: dry run; ${branch} stays at ${current?.slice(0, 12) ?? 'nothing'}`);
    return 0;
  }
  const moved = git(opts.root, ['update-ref', '-m', `meridian promote-env ${opts.platform} ${opts.env}`, `refs/heads/${branch}`, commit, current ?? '']);
  if (!moved.ok) return refuse(`git update-ref ${branch} failed: ${moved.err}`);
  io.out(`promote-env: ${branch} → ${commit.slice(0, 12)} (what ${sourceName} runs). Deploy it: git push origin ${branch}`);
  if (target.rollout.waves.length > 1) io.out(`  ArgoCD then rolls it out in waves: ${target.rollout.waves.map((w) => w.join(' + ')).join(' → ')}`);
  return 0;
}
