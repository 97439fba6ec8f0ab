/**
 * The cdk8s app (`npx cdk8s synth`): renders every platform into dist/ exactly as
 * `npx meridian synth` does. cdk8s empties its own output folder before running the app,
 * so dist/ is written by Meridian's atomic writer and cdk8s's folder only gets a summary.
 * cdk8s keeps the app's stdout to itself, so progress goes to stderr.
 *
 * Outside CI it renders only the environments whose inputs or code changed since the last
 * synth and takes the others from the synth cache (synth/cache.ts, `.meridian/synth-cache/`);
 * when nothing needs rendering it does not even load the app. `CI=true` or
 * `MERIDIAN_SYNTH_CACHE=off` renders everything and neither reads nor writes the cache.
 */
import { reportFailure, ROOT } from './cli/io';
import { summaryLine, writeCdk8sSummary } from './cli/synth-output';
import { cacheWanted, SynthCache } from './synth/cache';
import { synthesizeCached } from './synth/cached';
import type { SynthResult } from './synth';

const toStderr = (line: string) => process.stderr.write(`${line}\n`);
const io = { out: toStderr, err: toStderr };

const cache = cacheWanted(process.env) ? new SynthCache(ROOT, { loadedModules: () => Object.keys(require.cache) }) : undefined;
let code: number;
let result: Pick<SynthResult, 'perCluster'> | undefined;
if (cache?.lookup().complete) {
  const started = process.hrtime.bigint();
  try {
    const cached = synthesizeCached(cache, undefined, (scope, n) => io.out(`  ${scope}: ${n} objects (unchanged: from the synth cache)`));
    io.out(summaryLine(cached, started));
    result = cached;
    code = 0;
  } catch (e) {
    code = reportFailure(io, 'synth', e, '; dist/ was not changed');
  }
} else {
  // Loaded only when something is to be rendered: cdk8s, the charts and the checks.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runSynth } = require('./cli/synth') as typeof import('./cli/synth');
  ({ code, result } = runSynth({ cache }, io));
}
const outdir = process.env.CDK8S_OUTDIR;
if (result && outdir) writeCdk8sSummary(outdir, result);
// Under `cdk8s synth`, a failed synth leaves cdk8s's folder uncreated: cdk8s then reports
// "synthesis failed" and exits 1 itself, instead of printing a stack trace for a spec mistake.
process.exitCode = outdir ? 0 : code;
