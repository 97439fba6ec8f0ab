/**
 * Running the real `promtool` (Debian package `prometheus`) from tests: found on PATH,
 * run bounded in time. Locally the tests skip loudly when it is missing; under CI=true
 * they fail instead.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { announceSkip, onPath } from './programs';

export const PROMTOOL_TIMEOUT_MS = 300_000;

/** The promtool binary, or undefined (after a loud warning) when it is missing outside CI. */
export function findPromtool(): string | undefined {
  const found = process.env.PROMTOOL ?? onPath('promtool');
  // Under CI nothing skips: a missing promtool fails every suite that needs it.
  if (!found && process.env.CI === 'true') throw new Error('promtool not found and CI=true: .ci/run installs it (apt-get install -y prometheus)');
  if (!found) {
    announceSkip('the promtool tests', 'promtool NOT FOUND', 'Install it (apt-get install -y prometheus) to run them.');
  }
  return found;
}

export interface PromtoolResult {
  readonly code: number | null;
  readonly output: string;
}

/**
 * Runs promtool in `cwd`; a run over the time limit is killed and reported. Its stdout and
 * stderr share one file, so each test file's failures stay under its "Unit Testing:" line.
 */
export function runPromtool(binary: string, args: string[], cwd: string): PromtoolResult {
  const log = logFile(cwd);
  const fd = fs.openSync(log, 'w');
  try {
    const r = spawnSync(binary, args, { cwd, stdio: ['ignore', fd, fd], timeout: PROMTOOL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    return report(log, args, { code: r.status, error: r.error?.message });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(log, { force: true });
  }
}

/** runPromtool without blocking, so that runs can overlap. */
export async function runPromtoolAsync(binary: string, args: string[], cwd: string): Promise<PromtoolResult> {
  const log = logFile(cwd);
  const fd = fs.openSync(log, 'w');
  try {
    const outcome = await new Promise<Outcome>((resolve) => {
      const child = spawn(binary, args, { cwd, stdio: ['ignore', fd, fd], timeout: PROMTOOL_TIMEOUT_MS, killSignal: 'SIGKILL' });
      child.on('error', (e) => resolve({ code: null, error: e.message }));
      child.on('exit', (code, signal) => resolve(signal ? { code: null, error: `killed by ${signal} (over ${PROMTOOL_TIMEOUT_MS / 1000} s?)` } : { code }));
    });
    return report(log, args, outcome);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(log, { force: true });
  }
}

interface Outcome {
  readonly code: number | null;
  readonly error?: string;
}

/** A log file of its own for one run (runs overlap). */
function logFile(cwd: string): string {
  return path.join(cwd, `.promtool-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
}

/** What a run printed, with the reason it did not finish if it did not. */
function report(log: string, args: string[], outcome: Outcome): PromtoolResult {
  const output = fs.readFileSync(log, 'utf8');
  return outcome.error ? { code: null, output: `${output}\npromtool ${args.join(' ')}: ${outcome.error}` } : { code: outcome.code, output };
}

/** Runs `jobs` with at most `limit` at once; the results in the jobs' order. */
export async function inParallel<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, lane));
  return results;
}
