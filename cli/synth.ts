/** `meridian synth` (and `npx cdk8s synth`, through main.ts): render, validate, swap into dist/. */
import { synthesize, SynthResult } from '../synth';
import type { SynthCache } from '../synth/cache';
import { Io, reportFailure, ROOT, stdio } from './io';
import { summaryLine } from './synth-output';

export { writeCdk8sSummary } from './synth-output';

/** `meridian synth`: 0 ok, 1 invalid spec or output (dist/ untouched). */
export function runSynth(
  opts: { root?: string; dist?: string; platform?: string; env?: string; cache?: SynthCache },
  io: Io = stdio,
): { code: number; result?: SynthResult } {
  const root = opts.root ?? ROOT;
  const started = process.hrtime.bigint();
  try {
    const result = synthesize({
      root,
      dist: opts.dist,
      platform: opts.platform,
      env: opts.env,
      cache: opts.cache,
      onEnvironment: (scope, n, cached) => io.out(`  ${scope}: ${n} objects${cached ? ' (unchanged: from the synth cache)' : ''}`),
    });
    io.out(summaryLine(result, started));
    return { code: 0, result };
  } catch (e) {
    return { code: reportFailure(io, 'synth', e, '; dist/ was not changed') };
  }
}
