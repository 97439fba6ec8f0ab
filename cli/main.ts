/**
 * The `meridian` command: its arguments, and which command runs. The commands are in their
 * own files (synth, validate, diff, promote, promote-env), sharing `io.ts`. User mistakes (a bad spec, invalid output, unusable input) are
 * printed as one line per problem with a non-zero exit, never as a stack trace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { runDiff } from './diff';
import { Io, ROOT, stdio } from './io';
import { runPromote } from './promote';
import { runFlows } from './flows';
import { runPromoteEnv } from './promote-env';
import { type ClusterCommandOptions, runDrift, runStatus } from './status';
import { runSynth } from './synth';
import { runValidate } from './validate';

/** The package's version (package.json). */
const VERSION: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

/** The exit code; a promise for the commands that read clusters (status, drift). */
export function main(argv: string[], io: Io = stdio): number | Promise<number> {
  let code: number | Promise<number> = 0;
  const program = new Command('meridian')
    .description('Render typed platform specs into the Kubernetes manifests of every region cluster')
    .version(VERSION, '-V, --version', 'print the version of meridian')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  npx cdk8s synth                                 render every platform into dist/ (the same as meridian synth)',
        '  npx meridian synth --platform ggen --env prod   only ggen/prod/; the other folders of dist/ stay as they are',
        '  npx meridian validate dist/ggen/prod            check one environment (or any folder of YAML)',
        '  npx meridian diff --base origin/main            what a change renders differently, per cluster',
        '  npx meridian promote ggen prod us-east1         make us-east1 the primary region of ggen in prod',
        '  npx meridian status ggen prod                   what each region cluster runs now (read-only)',
        '  npx meridian drift ggen prod                    live objects that differ from dist/ (read-only)',
        '',
        'Run meridian help <command> for its options, output and exit codes.',
      ].join('\n'),
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('synth')
    .description('render every (or the chosen) platform × env × region into dist/, validate, swap in atomically')
    .option('-p, --platform <name>', 'only this platform')
    .option('-e, --env <name>', 'only this environment')
    .option('--dist <dir>', 'output folder', path.join(ROOT, 'dist'))
    .addHelpText(
      'after',
      [
        '',
        'Output: one line per environment with its object count, then a summary line. A spec mistake',
        'is one line per problem on stderr: <file>: <field.path>: <message>.',
        '',
        'Exit codes: 0 rendered and valid; 1 invalid spec or output (dist/ untouched); 2 bad usage.',
      ].join('\n'),
    )
    .action((o: { platform?: string; env?: string; dist: string }) => {
      code = runSynth({ platform: o.platform, env: o.env, dist: path.resolve(o.dist) }, io).code;
    });

  program
    .command('validate')
    .description('strict schema, cross-reference and security-baseline checks on rendered YAML')
    .argument('[dir]', 'folder of YAML files', path.join(ROOT, 'dist'))
    .addHelpText(
      'after',
      [
        '',
        'Output: one line per problem on stdout, then a count on stderr:',
        '  <file>: <Kind> <namespace>/<name>: <field.path>: <message>',
        '  dist/ggen/prod/us-east1/marketplace/deployment-api.yaml: Deployment marketplace/api: spec.template.spec.containers[0].env[2].value: looks like a credential (...)',
        'A clean folder prints "validate: N objects, no problems".',
        '',
        'Exit codes: 0 no problems; 1 problems found; 2 unusable input (not a folder, unreadable, not YAML).',
      ].join('\n'),
    )
    .action((dir: string) => {
      code = runValidate(path.resolve(dir), io);
    });

  program
    .command('promote')
    .description(
      'make REGION the primary of PLATFORM in ENV in two steps (1 fence, 2 move: each run does the next one and refuses another): edit its overlay, re-render, print what changed per cluster',
    )
    .argument('<platform>')
    .argument('<env>')
    .argument('<region>')
    .option('--step <n>', 'the step you expect to run (1 fence, 2 move); refused unless it is the next one')
    .option('--primary-lost', 'the primary region is gone: move the master now, without fence or check (loses what REGION had not received)')
    .option('--kubeconfig <file>', "kubeconfig for step 2's check (kubectl exec into the Redis pods; default $KUBECONFIG)")
    .option('--keep-weights', "leave routing.weights as they are (default: the new primary takes the old primary's weight)")
    .option('--dist <dir>', 'output folder', path.join(ROOT, 'dist'))
    .action(
      (
        platform: string,
        env: string,
        region: string,
        o: { keepWeights?: boolean; dist: string; step?: string; primaryLost?: boolean; kubeconfig?: string },
      ) => {
        const step = o.step === undefined ? undefined : Number(o.step);
        if (step !== undefined && step !== 1 && step !== 2) {
          io.err(`--step: must be 1 (fence) or 2 (move) (got ${JSON.stringify(o.step)})`);
          code = 2;
          return;
        }
        code = runPromote(
          {
            root: ROOT,
            dist: path.resolve(o.dist),
            platform,
            env,
            region,
            keepWeights: o.keepWeights,
            step,
            primaryLost: o.primaryLost,
            kubeconfig: o.kubeconfig,
          },
          io,
        );
      },
    );

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

  const clusterCommand = (name: 'status' | 'drift', description: string, exits: string, run: typeof runStatus) =>
    program
      .command(name)
      .description(description)
      .argument('[platform]')
      .argument('[env]')
      .option('--kubeconfig <file>', 'kubeconfig to read contexts from (default: $KUBECONFIG, else ~/.kube/config)')
      .option('--argocd-context <name>', 'kubeconfig context of the cluster ArgoCD runs in', 'argocd')
      .option('--timeout <seconds>', 'how long one request to a cluster may take', '10')
      .option('-o, --output <format>', 'table (for people) or json (for scripts)', 'table')
      .option('--dist <dir>', 'rendered folder', path.join(ROOT, 'dist'))
      .addHelpText(
        'after',
        [
          '',
          'Each region cluster is reached through the kubeconfig context named as ArgoCD names the',
          "cluster (<platform>-<env>-<region>, or the spec's regions.<region>.cluster). Read-only: it",
          'gets and lists objects and reads pod logs; clusters are read in parallel, and those that do',
          'not answer are listed with the reason.',
          '',
          `Exit codes: ${exits}`,
        ].join('\n'),
      )
      .action(
        (
          platform: string | undefined,
          env: string | undefined,
          o: { kubeconfig?: string; argocdContext: string; timeout: string; output: string; dist: string },
        ) => {
          const opts: ClusterCommandOptions = {
            root: ROOT,
            dist: path.resolve(o.dist),
            platform,
            env,
            kubeconfig: o.kubeconfig,
            argocdContext: o.argocdContext,
            timeout: Number(o.timeout),
            output: o.output as ClusterCommandOptions['output'],
          };
          code = run(opts, io);
        },
      );
  clusterCommand(
    'status',
    'per region: the ArgoCD Application, replicas and images against dist/, KEDA, the Redis master, failing pods (read-only)',
    '0 healthy; 1 degraded; 2 a cluster or ArgoCD did not answer, or bad input.',
    runStatus,
  );
  clusterCommand(
    'drift',
    'live objects of each region cluster that differ from dist/, field by field, and Meridian objects dist/ no longer has (read-only)',
    '0 no drift; 1 drift; 2 a cluster did not answer, or bad input.',
    runDrift,
  );

  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  return code;
}
