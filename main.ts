/**
 * The cdk8s app (`npx cdk8s synth`): renders every platform into dist/ exactly as
 * `npx meridian synth` does. cdk8s empties its own output folder before running the app,
 * so dist/ is written by Meridian's atomic writer and cdk8s's folder only gets a summary.
 * cdk8s keeps the app's stdout to itself, so progress goes to stderr.
 */
import { runSynth, writeCdk8sSummary } from './cli/synth';

const toStderr = (line: string) => process.stderr.write(`${line}\n`);
const { code, result } = runSynth({}, { out: toStderr, err: toStderr });
const outdir = process.env.CDK8S_OUTDIR;
if (result && outdir) writeCdk8sSummary(outdir, result);
// Under `cdk8s synth`, a failed synth leaves cdk8s's folder uncreated: cdk8s then reports
// "synthesis failed" and exits 1 itself, instead of printing a stack trace for a spec mistake.
process.exitCode = outdir ? 0 : code;
