/** `meridian synth` (and `npx cdk8s synth`, through main.ts): render, validate, swap into dist/. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { synthesize, SynthResult } from '../synth';
import { Io, reportFailure, ROOT, stdio } from './io';

/** `meridian synth`: 0 ok, 1 invalid spec or output (dist/ untouched). */
export function runSynth(opts: { root?: string; dist?: string; platform?: string; env?: string }, io: Io = stdio): { code: number; result?: SynthResult } {
  const root = opts.root ?? ROOT;
  const started = process.hrtime.bigint();
  try {
    const result = synthesize({
      root,
      dist: opts.dist,
      platform: opts.platform,
      env: opts.env,
      onEnvironment: (scope, n) => io.out(`  ${scope}: ${n} objects`),
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    io.out(`rendered ${result.rendering.files.length} objects in ${result.perCluster.size} folders (${seconds.toFixed(2)} s)`);
    return { code: 0, result };
  } catch (e) {
    return { code: reportFailure(io, 'synth', e, '; dist/ was not changed') };
  }
}

/** Writes what `cdk8s synth` lists: a summary of the synth into cdk8s's own output folder. */
export function writeCdk8sSummary(outdir: string, result: SynthResult): void {
  fs.mkdirSync(outdir, { recursive: true });
  const lines = ['# Meridian renders into dist/; this file only summarises that synth for `cdk8s synth`.', 'clusters:'];
  for (const [cluster, n] of [...result.perCluster].sort()) lines.push(`  ${cluster}: ${n}`);
  fs.writeFileSync(path.join(outdir, 'meridian-summary.yaml'), `${lines.join('\n')}\n`);
}
