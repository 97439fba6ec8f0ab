/**
 * Flows proven end to end (docs/flows.md): every connection an environment's spec intends is
 * allowed by every layer of the rendered objects, across its region clusters, and nothing
 * that nobody intends crosses a namespace, a cluster or the internet edge.
 */
import * as path from 'node:path';
import { previewCluster, TEMPLATE_NUMBER } from '../../features/previews/previews';
import { objectProblem, Problem } from '../../kernel/problems';
import type { EnvironmentPlan } from '../../model/plan';
import type { Located } from '../objects';
import { EnvironmentWorld, FlowVerdict, LayerVerdict } from './evaluate';
import { Flow, partyName } from './intent';

export type { Flow, Party } from './intent';
export type { FlowVerdict, LayerVerdict } from './evaluate';
export { EnvironmentWorld } from './evaluate';
export { intendedFlows } from './intent';

export interface FlowReport {
  /** `<platform>/<env>` */
  readonly scope: string;
  readonly intended: readonly FlowVerdict[];
  /** Allowed connections nobody intends that cross a namespace, a cluster or the edge. */
  readonly unintended: readonly FlowVerdict[];
  /** One per denied intended flow and per unintended allowed one, at the object that decides it (or the cluster's folder). */
  readonly problems: readonly Problem[];
}

/** The plan as it was rendered: the preview environment renders as its pull-request template. */
export function renderedPlan(env: EnvironmentPlan): EnvironmentPlan {
  return env.preview === undefined ? env : { ...env, clusters: env.clusters.map((c) => previewCluster(c, TEMPLATE_NUMBER)) };
}

/**
 * @param files the environment's rendered objects, at `<dist>/<platform>/<env>/<region>/<namespace>/<file>`
 */
export function checkFlows(env: EnvironmentPlan, files: readonly Located[]): FlowReport {
  const plan = renderedPlan(env);
  const scope = `${plan.platform.name}/${plan.env}`;
  const byRegion = new Map<string, Located[]>();
  for (const f of files) {
    const region = path.basename(path.dirname(path.dirname(f.file)));
    byRegion.set(region, [...(byRegion.get(region) ?? []), f]);
  }
  const world = new EnvironmentWorld(plan, byRegion);
  const intended = world.intended();
  const unintended = world.unintendedAllowed(intended.map((v) => v.flow));
  const problems: Problem[] = [];
  const envFolder = files.length > 0 ? path.dirname(path.dirname(path.dirname(files[0].file))) : scope;
  const at = (region: string | undefined, refs: readonly string[], message: string): Problem => {
    const w = region === undefined ? undefined : world.clusters.get(region);
    const o = refs.map((r) => w?.byRef.get(r)).find((x) => x !== undefined);
    return o ? objectProblem(o.file, o.obj, '', message) : { file: region ? path.join(envFolder, region) : envFolder, path: '', message };
  };
  for (const v of intended) {
    if (v.allowed) continue;
    const d = v.deniedBy!;
    const region = d.layer === 'sidecar' || d.layer === 'egress' ? regionOf(v.flow.from) : regionOf(v.flow.to);
    problems.push(at(region, d.by, `flow ${describeFlow(v.flow)} denied by ${describeLayer(d)} (intended: ${v.flow.why})`));
  }
  for (const v of unintended) {
    const admit = [...v.layers].reverse().find((l) => l.layer === 'authorization' || l.layer === 'ingress' || l.layer === 'egress');
    const crossing = crossingOf(v.flow);
    problems.push(
      at(
        regionOf(v.flow.to),
        admit?.by ?? [],
        `flow ${describeFlow(v.flow)} is allowed but not intended: it crosses ${crossing} (${v.layers.map(describeLayer).join('; ')})`,
      ),
    );
  }
  return { scope, intended, unintended, problems };
}

function regionOf(p: Flow['from']): string | undefined {
  return p.kind === 'external' ? undefined : p.region;
}

function crossingOf(f: Flow): string {
  if (f.from.kind === 'system' && f.from.role === 'ingress-gateway') return 'the internet edge';
  if (f.from.kind !== 'external' && f.to.kind !== 'external' && f.from.region !== f.to.region) return 'a cluster';
  return 'a namespace';
}

export function describeFlow(f: Flow): string {
  const req = f.http ? ` ${f.http.method} ${f.http.path}` : '';
  return `${partyName(f.from)} → ${partyName(f.to)}:${f.port}${f.protocol === 'UDP' ? '/udp' : ''}${req}`;
}

export function describeLayer(l: LayerVerdict): string {
  const names: Record<LayerVerdict['layer'], string> = {
    route: 'the ingress routes',
    sidecar: 'the source sidecar',
    egress: 'NetworkPolicy egress',
    ingress: 'NetworkPolicy ingress',
    mtls: 'PeerAuthentication',
    authorization: 'AuthorizationPolicy',
  };
  return `${names[l.layer]}${l.by.length ? ` [${l.by.join(', ')}]` : ''}: ${l.detail}`;
}
