/**
 * `meridian status [PLATFORM [ENV]]` and `meridian drift [PLATFORM [ENV]]`: what the region
 * clusters run, read-only (cluster/). 0 healthy (no drift), 1 degraded (drift), 2 a cluster did
 * not answer or the input cannot be used.
 */
import { ClusterError, loadKubeConfig } from '../cluster/kube';
import { fleetTargets } from '../cluster/fleet';
import { formatStatus, readStatus } from '../cluster/status';
import { formatDrift, readDrift } from '../cluster/drift';
import { ProblemError } from '../kernel/problems';
import { type Io, reportFailure } from './io';

export interface ClusterCommandOptions {
  readonly root: string;
  readonly dist: string;
  readonly platform?: string;
  readonly env?: string;
  /** @default - $KUBECONFIG, else ~/.kube/config */
  readonly kubeconfig?: string;
  /** The kubeconfig context of the cluster ArgoCD runs in. */
  readonly argocdContext: string;
  /** Per request, in seconds. */
  readonly timeout: number;
  readonly output: 'table' | 'json';
}

/** A bad --timeout or --output is bad usage (2), said in the option's terms. */
function checkOptions(o: ClusterCommandOptions): void {
  if (!Number.isFinite(o.timeout) || o.timeout <= 0)
    throw new ProblemError('input', [
      { file: '--timeout', path: '', message: `must be a number of seconds above 0 (got ${JSON.stringify(String(o.timeout))})` },
    ]);
  if (o.output !== 'table' && o.output !== 'json')
    throw new ProblemError('input', [{ file: '--output', path: '', message: `must be table or json (got ${JSON.stringify(o.output)})` }]);
}

export async function runStatus(o: ClusterCommandOptions, io: Io): Promise<number> {
  try {
    checkOptions(o);
    const targets = fleetTargets(o.root, o.dist, { platform: o.platform, env: o.env });
    const status = await readStatus(targets, { kubeconfig: loadKubeConfig(o.kubeconfig), argocdContext: o.argocdContext, timeoutMs: o.timeout * 1000 });
    if (o.output === 'json') io.out(JSON.stringify(status, null, 2));
    else formatStatus(status).forEach((line) => io.out(line));
    return status.exitCode;
  } catch (e) {
    return reportFailure(io, 'status', e instanceof ClusterError ? new ProblemError('input', [{ file: e.context, path: '', message: e.message }]) : e, '', 2);
  }
}

export async function runDrift(o: ClusterCommandOptions, io: Io): Promise<number> {
  try {
    checkOptions(o);
    const targets = fleetTargets(o.root, o.dist, { platform: o.platform, env: o.env });
    const drift = await readDrift(targets, { kubeconfig: loadKubeConfig(o.kubeconfig), timeoutMs: o.timeout * 1000 });
    if (o.output === 'json') io.out(JSON.stringify(drift, null, 2));
    else formatDrift(drift).forEach((line) => io.out(line));
    return drift.exitCode;
  } catch (e) {
    return reportFailure(io, 'drift', e, '', 2);
  }
}
