/**
 * The `meridian` command: its arguments, and which command runs. The commands are in their
 * own files (synth, validate, diff, promote, promote-env), sharing `io.ts`. User mistakes (a bad spec, invalid output, unusable input) are
 * printed as one line per problem with a non-zero exit, never as a stack trace.
 */
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { runDiff } from './diff';
import { Io, ROOT, stdio } from './io';
import { runPromote } from './promote';
import { runFlows } from './flows';
import { runPromoteEnv } from './promote-env';
import { runSynth } from './synth';
import { runValidate } from './validate';

export function main(argv: string[], io: Io = stdio): number {
  let code = 0;
  const program = new Command('meridian')
    .description('Render typed platform specs into the Kubernetes manifests of every region cluster')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('synth')
    .description('render every (or the chosen) platform × env × region into dist/, validate, swap in atomically')
    .option('-p, --platform <name>', 'only this platform')
    .option('-e, --env <name>', 'only this environment')
    .option('--dist <dir>', 'output folder', path.join(ROOT, 'dist'))
    .action((o: { platform?: string; env?: string; dist: string }) => {
      code = runSynth({ platform: o.platform, env: o.env, dist: path.resolve(o.dist) }, io).code;
    });

  program
    .command('validate')
    .description('strict schema, cross-reference and security-baseline checks on rendered YAML')
    .argument('[dir]', 'folder of YAML files', path.join(ROOT, 'dist'))
    .action((dir: string) => {
      code = runValidate(path.resolve(dir), io);
    });

  program
    .command('promote')
    .description('make REGION the primary of PLATFORM in ENV: edit its overlay, re-render, print what changed per cluster')
    .argument('<platform>')
    .argument('<env>')
    .argument('<region>')
    .option('--keep-weights', "leave routing.weights as they are (default: the new primary takes the old primary's weight)")
    .option('--dist <dir>', 'output folder', path.join(ROOT, 'dist'))
    .action((platform: string, env: string, region: string, o: { keepWeights?: boolean; dist: string }) => {
      code = runPromote({ root: ROOT, dist: path.resolve(o.dist), platform, env, region, keepWeights: o.keepWeights }, io);
    });

  program
    .command('flows')
    .description(
      'the intended flows of each region cluster and the objects that allow or deny each; 1 when one is denied or something unintended crosses a namespace, a cluster or the edge',
    )
    .argument('[platform]')
    .argument('[env]')
    .option('-q, --quiet', 'only the summary and the problems')
    .option('--dist <dir>', 'rendered folder', path.join(ROOT, 'dist'))
    .action((platform: string | undefined, env: string | undefined, o: { quiet?: boolean; dist: string }) => {
      code = runFlows({ root: ROOT, dist: path.resolve(o.dist), platform, env, quiet: o.quiet }, io);
    });

  program
    .command('promote-env')
    .description("move ENV's branch to what the environment it promotes from runs (fast-forward only), printing what changes per cluster")
    .argument('<platform>')
    .argument('<env>')
    .option('--revision <rev>', "a commit of the source environment's history (default: its head)")
    .option('--dry-run', 'print what would change; move nothing')
    .action((platform: string, env: string, o: { revision?: string; dryRun?: boolean }) => {
      code = runPromoteEnv({ root: ROOT, platform, env, revision: o.revision, dryRun: o.dryRun }, io);
    });

  program
    .command('diff')
    .description('render to a temporary folder and compare with dist/ as committed at a git revision, per cluster (0 no change, 1 changes, 2 error)')
    .option('--base <ref>', 'git revision whose committed dist/ is the base', 'HEAD')
    .action((o: { base: string }) => {
      code = runDiff({ root: ROOT, base: o.base }, io);
    });

  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  return code;
}
