/**
 * `meridian flows [PLATFORM [ENV]]`: the intended flows of each region cluster and the objects
 * that allow or deny each, read from the rendered `dist/`; then the allowed connections that
 * nobody intends. 0: every intended flow allowed and nothing else; 1: otherwise; 2: unusable input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAll } from '../model';
import { readObjects } from '../checks';
import { checkFlows, describeFlow, FlowReport, FlowVerdict } from '../checks/flows';
import type { Located } from '../checks/objects';
import { formatProblem } from '../kernel/problems';
import { type Io, reportFailure } from './io';

export interface FlowsOptions {
  readonly root: string;
  readonly dist: string;
  readonly platform?: string;
  readonly env?: string;
  /** Print only the summary and the problems. @default false */
  readonly quiet?: boolean;
}

export function runFlows(opts: FlowsOptions, io: Io): number {
  let envs;
  try {
    envs = loadAll(opts.root, { platform: opts.platform, env: opts.env });
  } catch (e) {
    return reportFailure(io, 'flows', e, '', 2);
  }
  if (envs.length === 0) {
    io.err(`flows: no environment matches ${[opts.platform, opts.env].filter(Boolean).join(' ')}`);
    return 2;
  }
  const distName = path.relative(process.cwd(), opts.dist) || opts.dist;
  let problems = 0;
  let proven = 0;
  for (const env of envs) {
    const folder = path.join(opts.dist, env.platform.name, env.env);
    if (!fs.existsSync(folder)) {
      io.err(`flows: ${path.join(distName, env.platform.name, env.env)} does not exist: run npx cdk8s synth`);
      return 2;
    }
    let objects: Located[];
    try {
      objects = readObjects(folder).map((o) => ({ file: path.join(distName, path.relative(opts.dist, o.file)), obj: o.manifest as unknown as Located['obj'] }));
    } catch (e) {
      return reportFailure(io, 'flows', e, '', 2);
    }
    const report = checkFlows(
      env,
      objects.filter((o) => path.basename(path.dirname(path.dirname(o.file))) !== 'argocd'),
    );
    if (!opts.quiet) printMatrix(report, io);
    report.problems.forEach((p) => io.out(formatProblem(p)));
    problems += report.problems.length;
    proven += report.intended.filter((v) => v.allowed).length;
  }
  if (problems > 0) {
    io.err(`flows: ${problems} problem(s); ${proven} intended flows allowed`);
    return 1;
  }
  io.out(`flows: ${proven} intended flows allowed in ${envs.length} environment(s), nothing unintended crosses a namespace, a cluster or the edge`);
  return 0;
}

function printMatrix(report: FlowReport, io: Io): void {
  const byCluster = new Map<string, FlowVerdict[]>();
  for (const v of report.intended) {
    const from = v.flow.from;
    const region = from.kind === 'external' ? '?' : from.region;
    byCluster.set(region, [...(byCluster.get(region) ?? []), v]);
  }
  for (const [region, verdicts] of [...byCluster].sort(([a], [b]) => a.localeCompare(b))) {
    const denied = verdicts.filter((v) => !v.allowed).length;
    io.out(`${report.scope}/${region}: ${verdicts.length} intended flows from this cluster, ${denied === 0 ? 'all allowed' : `${denied} denied`}`);
    const rows = verdicts.map((v) => [
      describeFlow(v.flow),
      v.allowed ? 'allowed' : 'DENIED',
      v.allowed
        ? v.layers
            .flatMap((l) => l.by)
            .filter((b, i, a) => a.indexOf(b) === i)
            .join(', ') || '(no policy applies)'
        : `${v.deniedBy!.layer}: ${v.deniedBy!.detail}`,
    ]);
    const width = Math.max(...rows.map((r) => r[0].length));
    for (const r of rows) io.out(`  ${r[0].padEnd(width)}  ${r[1].padEnd(7)}  ${r[2]}`);
  }
  const unintended = report.unintended.length;
  io.out(`${report.scope}: ${unintended === 0 ? 'nothing unintended crosses a namespace, a cluster or the edge' : `${unintended} unintended flow(s) allowed`}`);
}
