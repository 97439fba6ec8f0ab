/**
 * What the `meridian` commands share: where they print, the repository they run in, and the
 * one way a command reports the problems that stopped it.
 */
import * as path from 'node:path';
import { formatProblem, ProblemError } from '../kernel/problems';

/** The repository root: `platforms/`, `overlays/` and `dist/` are read and written there. */
export const ROOT = path.resolve(__dirname, '..');

/** Where a command prints: its report on `out`, progress and problems on `err`. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Prints the problems that stopped `command`, one line each, never a stack trace: for the
 * platform spec or the rendered objects, then `<command>: <n> problem(s) in ...<outcome>`
 * and `exitCode` (1 unless the command says otherwise); for input that cannot be used, the
 * problems alone and exit 2. Anything but a ProblemError is a bug and is rethrown.
 */
export function reportFailure(io: Io, command: string, e: unknown, outcome: string, exitCode = 1): number {
  if (!(e instanceof ProblemError)) throw e;
  e.problems.forEach((p) => io.err(formatProblem(p)));
  if (e.source === 'input') return 2;
  io.err(`${command}: ${e.problems.length} problem(s) in ${e.source === 'spec' ? 'the platform spec' : 'the rendered objects'}${outcome}`);
  return exitCode;
}
