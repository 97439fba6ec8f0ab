/**
 * The check between the two steps of a promotion (`meridian promote`, docs/redis.md): before
 * the master moves, every Redis group of the old primary region must be fenced (every pod runs
 * the rendered fence, so its master refuses every write) and the new primary's first pod must
 * hold everything that master ever accepted (same replication id, an offset at least the
 * master's, read after the master's). Only then can the move lose nothing, whichever region's
 * Application syncs first.
 */
import { spawnSync } from 'node:child_process';
import { FENCE_MIN_REPLICAS } from '../features/redis/redis-sentinel';

/** Where one redis-cli command runs: a pod's redis container, in a cluster. */
export interface RedisTarget {
  readonly context: string;
  readonly namespace: string;
  readonly pod: string;
}

/** Runs `redis-cli <args>` in a pod's redis container and returns its output; throws when it cannot. */
export type RedisExec = (target: RedisTarget, args: readonly string[]) => string;

/** What the check reads: per group, the old primary's pods and the new primary's first pod. */
export interface FenceGroup {
  readonly name: string;
  readonly from: readonly RedisTarget[];
  readonly to: RedisTarget;
}

/** Through `kubectl exec` with the cluster's kubeconfig context; the password stays in the pod. */
export function kubectlExec(kubeconfig?: string): RedisExec {
  return (t, args) => {
    const argv = [
      ...(kubeconfig ? ['--kubeconfig', kubeconfig] : []),
      '--context',
      t.context,
      '-n',
      t.namespace,
      'exec',
      t.pod,
      '-c',
      'redis',
      '--',
      'sh',
      '-c',
      'REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli "$@"',
      'redis-cli',
      ...args,
    ];
    const r = spawnSync('kubectl', argv, { encoding: 'utf8', timeout: 20_000 });
    if (r.error) throw new Error(`kubectl: ${r.error.message}`);
    if (r.status !== 0) throw new Error((r.stderr || r.stdout).trim().split('\n').pop() ?? `kubectl exited ${r.status}`);
    return r.stdout;
  };
}

/** `INFO` output as field → value. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export interface FenceCheck {
  readonly ok: boolean;
  /** One line per group: what was found, and why it is not safe yet. */
  readonly lines: string[];
}

/** Whether every group is fenced and caught up; reads the old masters before the new primary's first pods. */
export function checkFence(groups: readonly FenceGroup[], exec: RedisExec): FenceCheck {
  const lines: string[] = [];
  let ok = true;
  const where = (t: RedisTarget) => `${t.context}/${t.pod}`;
  for (const g of groups) {
    const problem = (why: string) => {
      ok = false;
      lines.push(`redis ${g.name}: not yet: ${why}`);
    };
    try {
      const pods = g.from.map((t) => {
        const fence = exec(t, ['CONFIG', 'GET', 'min-replicas-to-write']).trim().split(/\s+/).pop();
        return { t, fenced: fence === String(FENCE_MIN_REPLICAS), info: parseInfo(exec(t, ['INFO', 'replication'])) };
      });
      const unfenced = pods.filter((p) => !p.fenced).map((p) => where(p.t));
      const masters = pods.filter((p) => p.info.role === 'master');
      if (unfenced.length > 0) {
        problem(`${unfenced.join(', ')} not fenced (step 1 not synced, or its rollout not finished)`);
        continue;
      }
      if (masters.length !== 1) {
        problem(`${masters.length} masters among ${pods.map((p) => where(p.t)).join(', ')} (a failover or rollout in progress)`);
        continue;
      }
      const master = masters[0];
      const offset = Number(master.info.master_repl_offset);
      const target = parseInfo(exec(g.to, ['INFO', 'replication']));
      const caughtUp = Number(target.master_repl_offset);
      if (target.role !== 'slave' || target.master_link_status !== 'up') {
        problem(`${where(g.to)} is ${target.role ?? 'unknown'} with link ${target.master_link_status ?? 'none'}, not a replica with its link up`);
      } else if (target.master_replid !== master.info.master_replid) {
        problem(`${where(g.to)} follows replication id ${target.master_replid}, the master ${where(master.t)} has ${master.info.master_replid} (resyncing)`);
      } else if (!(caughtUp >= offset)) {
        problem(`${where(g.to)} is at offset ${caughtUp}, the master ${where(master.t)} at ${offset}`);
      } else {
        lines.push(`redis ${g.name}: fenced (${where(master.t)} refuses writes at offset ${offset}); ${where(g.to)} holds it (offset ${caughtUp})`);
      }
    } catch (e) {
      problem(`cannot read: ${(e as Error).message}`);
    }
  }
  return { ok, lines };
}
