/**
 * Running the real `promtool` (Debian package `prometheus`) from tests: found on PATH,
 * run bounded in time. Locally the tests skip loudly when it is missing; under CI=true
 * they fail instead.
 */
import { spawnSync } from 'node:child_process';
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
  const log = path.join(cwd, `.promtool-${process.pid}-${Date.now()}.log`);
  const fd = fs.openSync(log, 'w');
  try {
    const r = spawnSync(binary, args, { cwd, stdio: ['ignore', fd, fd], timeout: PROMTOOL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    const output = fs.readFileSync(log, 'utf8');
    if (r.error) return { code: null, output: `${output}\npromtool ${args.join(' ')}: ${r.error.message}` };
    return { code: r.status, output };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(log, { force: true });
  }
}
