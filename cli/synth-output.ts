/**
 * What a synth prints and leaves for cdk8s. Kept apart from `synth.ts` so that main.ts can
 * report a synth answered entirely by the synth cache without loading the app.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SynthResult } from '../synth';

/** `rendered N objects in M folders (S s)`, and with a cache, how many environments it answered for. */
export function summaryLine(result: Pick<SynthResult, 'rendering' | 'perCluster' | 'reuse'>, started: bigint): string {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const line = `rendered ${result.rendering.files.length} objects in ${result.perCluster.size} folders (${seconds.toFixed(2)} s)`;
  const reuse = result.reuse;
  if (!reuse) return line;
  const uncovered = reuse.uncovered?.length ? `; synth cache not written: the app loaded ${reuse.uncovered.join(', ')}, outside its key` : '';
  return `${line}; ${reuse.rendered} environment(s) rendered, ${reuse.cached} unchanged from the synth cache${uncovered}`;
}

/** Writes what `cdk8s synth` lists: a summary of the synth into cdk8s's own output folder. */
export function writeCdk8sSummary(outdir: string, result: Pick<SynthResult, 'perCluster'>): void {
  fs.mkdirSync(outdir, { recursive: true });
  const lines = ['# Meridian renders into dist/; this file only summarises that synth for `cdk8s synth`.', 'clusters:'];
  for (const [cluster, n] of [...result.perCluster].sort()) lines.push(`  ${cluster}: ${n}`);
  fs.writeFileSync(path.join(outdir, 'meridian-summary.yaml'), `${lines.join('\n')}\n`);
}
