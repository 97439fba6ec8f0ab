/**
 * `npm run bench`: how synth scales, and what the app command costs.
 *
 * 1. A synthetic platform (scripts/synthetic-fleet.ts) at growing sizes, each size in its own
 *    child process so that its peak RSS is its own: spec parsing, rendering, strict
 *    validation and the atomic write (into `.meridian/bench-*`, on the file system of dist/,
 *    removed afterwards), through the functions `synthesize` calls.
 * 2. The repository's own platforms (a copy of it, so dist/ is not touched) through
 *    `npx cdk8s synth` with this repository's app command (bin/register.js: esbuild, no type-checking) and with
 *    the app command `cdk8s init` writes (`npx ts-node main.ts`, which type-checks).
 *
 * Timings depend on the machine and on what else runs on it: read the ratios, not the
 * seconds. Nothing here asserts a time.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { defaultWorkers } from '../synth/yaml-pool';
import { HELM_KINDS, runHelm, unpackHelm, type HelmRun } from './helm-fleet';

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_SIZES = '21,42,84,168,336';

interface SizeResult {
  services: number;
  clusters: number;
  objects: number;
  /** Seconds per phase. */
  modules: number;
  spec: number;
  render: number;
  validate: number;
  write: number;
  /** Everything after process start: modules, spec, render, validate, write (not the clean-up). */
  total: number;
  /** The same from the start of the child process (node, tsx): what a user waits for, as Helm is timed. */
  process: number;
  /** CPU seconds of the child, all threads: below `total`, it waited for a core. */
  cpu: number;
  /** Peak resident set size of the child, in MiB. */
  peakRss: number;
}

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** One size, in this (child) process; prints its result as JSON on stdout. */
function child(services: number): void {
  const started = process.hrtime.bigint();
  let t = started;
  const lap = () => {
    const s = seconds(t);
    t = process.hrtime.bigint();
    return s;
  };
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { loadEnvironments } = require('../model/load') as typeof import('../model/load');
  const { render } = require('../synth/render') as typeof import('../synth/render');
  const { writeDist } = require('../synth/write') as typeof import('../synth/write');
  const { formatProblem, validateObjects } = require('../checks') as typeof import('../checks');
  const { syntheticPlatform } = require('./synthetic-fleet') as typeof import('./synthetic-fleet');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const modules = lap();

  const envs = loadEnvironments({ file: 'platforms/fleet.ts', input: syntheticPlatform(services) }, os.tmpdir());
  const spec = lap();
  const renderStarted = process.hrtime.bigint();
  const rendering = render(envs, (scope, n) => log(`    ${scope}: ${n} objects rendered (${seconds(renderStarted).toFixed(1)} s)`));
  const rendered = lap();
  const problems = validateObjects(rendering.files.map((f) => ({ file: path.join('dist', f.path), manifest: f.manifest })));
  const validated = lap();
  if (problems.length > 0) {
    problems.slice(0, 10).forEach((p) => log(formatProblem(p)));
    throw new Error(`the synthetic platform has ${problems.length} validation problem(s)`);
  }
  log(`    ${rendering.files.length} objects validated (${validated.toFixed(1)} s)`);
  // Beside the repository (same file system as dist/), removed after the clock stops.
  fs.mkdirSync(path.join(ROOT, '.meridian'), { recursive: true });
  const out = fs.mkdtempSync(path.join(ROOT, '.meridian', 'bench-'));
  let write: number;
  let total: number;
  let wholeProcess: number;
  let cpu: NodeJS.CpuUsage;
  try {
    writeDist(path.join(out, 'dist'), rendering, { full: true });
    write = lap();
    total = seconds(started);
    wholeProcess = process.uptime();
    cpu = process.cpuUsage();
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  const result: SizeResult = {
    services,
    clusters: envs.reduce((n, e) => n + e.clusters.length, 0),
    objects: rendering.files.length,
    modules,
    spec,
    render: rendered,
    validate: validated,
    write,
    total,
    process: wholeProcess,
    cpu: (cpu.user + cpu.system) / 1e6,
    peakRss: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runSize(services: number): SizeResult {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', String(services)], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`bench child for ${services} services failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as SizeResult;
}

/** A copy of the repository to synthesize in (same node_modules), so dist/ stays as it is. */
function repoCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-repo-'));
  const skip = new Set(['node_modules', 'dist', '.git', '.meridian', 'coverage']);
  for (const entry of fs.readdirSync(ROOT)) {
    if (skip.has(entry) || entry.startsWith('dist.')) continue;
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

/** sha256 over every file path and content of a folder: to show both app commands render the same. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else
        h.update(`${p}\0`)
          .update(fs.readFileSync(path.join(dir, p)))
          .update('\0');
    }
  };
  walk('');
  return h.digest('hex').slice(0, 16);
}

interface AppCommand {
  label: string;
  args: string[];
  /** Whether it writes dist/ (the CLI floor renders nothing). */
  renders: boolean;
  /** Added to the environment (e.g. `MERIDIAN_SYNTH_CACHE=off` for a full render). */
  env?: Record<string, string>;
  /** Run before each run, untimed (the edit loop edits an overlay); dist/ is then kept from the previous run. */
  before?: (dir: string, run: number) => void;
}

interface AppRun {
  label: string;
  command: string;
  seconds: number[];
  /** CPU seconds (user + system) of each run's process tree, where /proc tells them. */
  cpu: number[];
  objects: number;
  tree: string;
}

/** Each command `runs` times, alternated (a, b, a, b…) so that a noisy machine weighs on all alike. */
function runApps(dir: string, commands: AppCommand[], runs: number): AppRun[] {
  const results: AppRun[] = commands.map((c) => ({ label: c.label, command: `npx ${c.args.join(' ')}`, seconds: [], cpu: [], objects: 0, tree: '' }));
  for (let i = 0; i < runs; i++) {
    commands.forEach((c, k) => {
      if (c.before) c.before(dir, i);
      else fs.rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
      log(`  ${c.label}: run ${i + 1}/${runs}: npx ${c.args.join(' ')}`);
      const started = process.hrtime.bigint();
      const cpuBefore = childrenCpu();
      const r = spawnSync('npx', c.args, { cwd: dir, encoding: 'utf8', env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', ...c.env } });
      const s = seconds(started);
      const cpuAfter = childrenCpu();
      if (cpuBefore !== undefined && cpuAfter !== undefined) results[k].cpu.push(cpuAfter - cpuBefore);
      if (r.status !== 0) throw new Error(`npx ${c.args.join(' ')} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
      results[k].seconds.push(s);
      log(`    ${s.toFixed(2)} s`);
      if (!c.renders) return;
      const summary = fs.readFileSync(path.join(dir, '.meridian/cdk8s-out/meridian-summary.yaml'), 'utf8');
      results[k].objects = [...summary.matchAll(/: (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      results[k].tree = treeHash(path.join(dir, 'dist'));
    });
  }
  return results;
}

/**
 * CPU seconds used so far by this process's finished children and their descendants (Linux
 * /proc: cutime + cstime), or undefined elsewhere. On a shared machine a run's CPU time varies
 * far less than its wall time.
 */
function childrenCpu(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    // Fields 16 and 17 of stat(5), counted from the state (field 3) here.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

/** The overlay the edit loop edits, and the value it changes run by run (an image tag: objects change, not only the overlay's text). */
const EDITED_OVERLAY = 'overlays/ggen/staging.yaml';

function editOverlay(dir: string, run: number): void {
  const file = path.join(dir, EDITED_OVERLAY);
  const text = fs.readFileSync(file, 'utf8');
  const edited = text.replace(/tag: "[^"]*"/, `tag: "9.9.${run}"`);
  if (edited === text) throw new Error(`${EDITED_OVERLAY}: no \`tag: "..."\` to edit for the edit loop`);
  fs.writeFileSync(file, edited);
}

/**
 * The edit loop: with the synth cache (as `npx cdk8s synth` runs outside CI), one overlay
 * edited before each run, against a run with nothing edited and the CLI's floor, alternated.
 * Then a full render of the same inputs must give the same dist/.
 */
function editLoop(dir: string, runs: number, out: string[]): void {
  log(`edit loop: ${EDITED_OVERLAY} edited before each run, the synth cache on, alternated with an unchanged run and the CLI floor`);
  const cacheOn = { MERIDIAN_SYNTH_CACHE: 'on', CI: '' };
  // The cache is filled once (a cold synth), as after a checkout.
  const cold = spawnSync('npx', ['cdk8s', 'synth'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', ...cacheOn } });
  if (cold.status !== 0) throw new Error(`npx cdk8s synth failed (exit ${cold.status}):\n${cold.stdout}${cold.stderr}`);
  const [edited, unchanged, floor] = runApps(
    dir,
    [
      { label: 'one overlay edited', args: ['cdk8s', 'synth'], renders: true, env: cacheOn, before: editOverlay },
      { label: 'nothing edited', args: ['cdk8s', 'synth'], renders: true, env: cacheOn, before: () => undefined },
      { label: 'the CLI floor', args: ['cdk8s', 'synth', '--app', FLOOR_APP], renders: false, before: () => undefined },
    ],
    runs,
  );
  const cachedTree = treeHash(path.join(dir, 'dist'));
  fs.rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
  const full = spawnSync('npx', ['cdk8s', 'synth'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', MERIDIAN_SYNTH_CACHE: 'off' },
  });
  if (full.status !== 0) throw new Error(`npx cdk8s synth failed (exit ${full.status}):\n${full.stdout}${full.stderr}`);
  const fullTree = treeHash(path.join(dir, 'dist'));
  out.push('', `Edit loop: \`${EDITED_OVERLAY}\` edited (an image tag) before each run, the synth cache on, median of ${runs} run(s), alternated`, '');
  out.push(
    table(
      ['run', 'wall s (median)', 'runs', 'above the floor s (median)', 'CPU s (median)', 'CPU above the floor s (median)'],
      [edited, unchanged, floor].map((a) => [
        a.label,
        median(a.seconds).toFixed(2),
        a.seconds.map((s) => s.toFixed(2)).join(', '),
        a === floor ? '–' : (median(a.seconds) - median(floor.seconds)).toFixed(2),
        a.cpu.length > 0 ? median(a.cpu).toFixed(2) : '–',
        a === floor || a.cpu.length === 0 ? '–' : (median(a.cpu) - median(floor.cpu)).toFixed(2),
      ]),
    ),
  );
  out.push('', `dist/ after the edit loop ${cachedTree === fullTree ? 'is byte-identical to' : 'DIFFERS FROM'} a full render of the same inputs (${fullTree})`);
}

const FLOOR_APP = `node -e "require('fs').mkdirSync(process.env.CDK8S_OUTDIR,{recursive:true})"`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function table(head: string[], rows: string[][]): string {
  const lines = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function main(argv: string[]): void {
  const program = new Command('bench')
    .option('--sizes <list>', 'services per synthetic platform, comma-separated', DEFAULT_SIZES)
    .option('--runs <n>', 'runs of each app command (the median is shown)', '3')
    .option('--no-repo', 'skip the app command comparison on the repository')
    .option('--no-helm', 'skip helm template of the fleet chart')
    .option('--ts-node', 'also run the repository through the ts-node app command cdk8s init writes')
    .option('--no-fleet', 'skip the synthetic fleet')
    .option('--no-full-render', "skip the repository's full render vs the floor (the edit loop still runs)")
    .option('--child <services>', 'internal: run one size in this process')
    .parse(argv, { from: 'user' });
  const o = program.opts<{
    sizes: string;
    runs: string;
    repo: boolean;
    fleet: boolean;
    helm: boolean;
    fullRender: boolean;
    tsNode?: boolean;
    child?: string;
  }>();
  if (o.child) return child(Number(o.child));

  const out: string[] = [
    `Meridian bench on ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`,
  ];
  if (o.fleet) {
    const sizes = o.sizes.split(',').map(Number);
    const results: SizeResult[] = [];
    const helmRuns: HelmRun[] = [];
    const helmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-helm-'));
    let helmVersion: string;
    try {
      const { helm, version } = o.helm ? unpackHelm(helmDir) : { helm: '', version: '' };
      helmVersion = version;
      sizes.forEach((n, i) => {
        log(`[${i + 1}/${sizes.length}] synthetic platform: ${n} services × 6 regions × 3 environments`);
        const r = runSize(n);
        results.push(r);
        log(`  ${r.objects} objects in ${r.total.toFixed(2)} s, peak RSS ${r.peakRss.toFixed(0)} MiB`);
        if (!o.helm) return;
        const h = runHelm(helm, helmDir, n, r.objects);
        helmRuns.push(h);
        log(`  helm template: ${h.objects} objects in ${h.seconds.toFixed(2)} s, peak RSS ${h.peakRss.toFixed(0)} MiB`);
      });
    } finally {
      fs.rmSync(helmDir, { recursive: true, force: true });
    }
    out.push('', `Synthetic fleet: spec → render → strict validation → atomic write, one process per size (YAML worker threads: ${defaultWorkers()})`, '');
    out.push(
      table(
        [
          'services',
          'clusters',
          'objects',
          'modules s',
          'spec s',
          'render s',
          'validate s',
          'render + validate s',
          'write s',
          'wall s',
          'CPU s',
          'objects/s',
          'peak RSS MiB',
          '× time (wall, render + validate) for × objects',
        ],
        results.map((r, i) => {
          const prev = results[i - 1];
          const rv = (x: SizeResult) => x.render + x.validate;
          const ratio = prev ? `${(r.total / prev.total).toFixed(2)}, ${(rv(r) / rv(prev)).toFixed(2)} for ${(r.objects / prev.objects).toFixed(2)}` : '';
          return [
            r.services,
            r.clusters,
            r.objects,
            r.modules.toFixed(2),
            r.spec.toFixed(2),
            r.render.toFixed(2),
            r.validate.toFixed(2),
            rv(r).toFixed(2),
            r.write.toFixed(2),
            r.total.toFixed(2),
            r.cpu.toFixed(2),
            (r.objects / r.total).toFixed(0),
            r.peakRss.toFixed(0),
            ratio,
          ].map(String);
        }),
      ),
    );
    if (helmRuns.length > 0) {
      out.push(
        '',
        `Meridian (the whole child process: node and tsx start, modules, spec → render → strict validation → atomic write of one file per object) vs \`helm template --output-dir\` (${helmVersion}, scripts/bench-chart: ${HELM_KINDS.join(', ')} per service and cluster, no validation), same sizes, run one after the other`,
        '',
      );
      out.push(
        table(
          [
            'objects',
            'Meridian s',
            'Meridian objects/s',
            'Meridian peak RSS MiB',
            'Helm objects',
            'Helm s',
            'Helm objects/s',
            'Helm peak RSS MiB',
            'throughput Meridian / Helm',
            'peak RSS Meridian / Helm',
          ],
          results.map((r, i) => {
            const h = helmRuns[i];
            const wall = r.process;
            return [
              r.objects,
              wall.toFixed(2),
              (r.objects / wall).toFixed(0),
              r.peakRss.toFixed(0),
              h.objects,
              h.seconds.toFixed(2),
              (h.objects / h.seconds).toFixed(0),
              h.peakRss.toFixed(0),
              `${(r.objects / wall / (h.objects / h.seconds)).toFixed(2)}×`,
              `${(r.peakRss / h.peakRss).toFixed(2)}×`,
            ].map(String);
          }),
        ),
      );
    }
    const scaling = results.slice(1).map((r, i) => `${(r.total / results[i].total).toFixed(2)}× for ${(r.objects / results[i].objects).toFixed(2)}×`);
    if (scaling.length > 0) out.push('', `Scaling (Meridian wall time for the objects of the previous size): ${scaling.join(', ')}`);
  }
  if (o.repo) {
    const runs = Math.max(1, Number(o.runs));
    log('repository platforms: npx cdk8s synth vs the cdk8s CLI alone (in a copy of the repository), runs alternated');
    const dir = repoCopy();
    try {
      if (o.fullRender) fullRender(dir, runs, o.tsNode === true, out);
      editLoop(dir, runs, out);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

/** The repository rendered whole by `npx cdk8s synth` (the cache off, as CI), alternated with the floor. */
function fullRender(dir: string, runs: number, withTsNode: boolean, out: string[]): void {
  const commands: AppCommand[] = [
    // A full render: the synth cache off (it is what CI runs, CI=true).
    { label: 'cdk8s.yaml app', args: ['cdk8s', 'synth'], renders: true, env: { MERIDIAN_SYNTH_CACHE: 'off' } },
    // `node -e 0` alone: cdk8s then fails ("app expected to create" its output folder); the
    // smallest app the CLI accepts makes that folder and nothing else.
    { label: 'the CLI floor', args: ['cdk8s', 'synth', '--app', FLOOR_APP], renders: false },
  ];
  if (withTsNode) commands.push({ label: 'ts-node (cdk8s default)', args: ['cdk8s', 'synth', '--app', 'npx ts-node main.ts'], renders: true });
  const [tsx, floor, tsNode] = runApps(dir, commands, runs);
  out.push('', `Repository platforms (${tsx.objects} objects), npx cdk8s synth, median of ${runs} run(s), the commands alternated run by run`, '');
  out.push(
    table(
      ['app command', 'wall s (median)', 'runs', 'CPU s (median)', 'CPU runs', 'dist/ sha256'],
      [tsx, floor, ...(tsNode ? [tsNode] : [])].map((a) => [
        `\`${a.command}\``,
        median(a.seconds).toFixed(2),
        a.seconds.map((s) => s.toFixed(2)).join(', '),
        a.cpu.length > 0 ? median(a.cpu).toFixed(2) : '–',
        a.cpu.map((s) => s.toFixed(2)).join(', ') || '–',
        a.tree || '–',
      ]),
    ),
  );
  const cpuAbove = tsx.cpu.length > 0 && floor.cpu.length > 0 ? `, ${(median(tsx.cpu) - median(floor.cpu)).toFixed(2)} CPU s` : '';
  out.push('', `synth − the CLI's floor: ${(median(tsx.seconds) - median(floor.seconds)).toFixed(2)} s (median)${cpuAbove}, Meridian's app alone`);
  if (tsNode)
    out.push(
      '',
      `cdk8s.yaml app / ts-node: ${(median(tsx.seconds) / median(tsNode.seconds)).toFixed(2)}×${tsx.tree === tsNode.tree ? '; both render the same dist/' : '; THE TWO RENDER DIFFERENT dist/ TREES'}`,
    );
}

main(process.argv.slice(2));
