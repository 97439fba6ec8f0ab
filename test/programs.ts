/**
 * The real programs some tests drive (promtool, redis-server and redis-sentinel): found on
 * PATH. Outside CI a missing program skips its tests with the same boxed banner on stderr,
 * whichever program it is; under CI=true nothing skips (the suites fail instead).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The executable `program` on PATH, or undefined. */
export function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** The banner for tests skipped because `why` (e.g. "promtool NOT FOUND"), with how to fix it. */
export function skipBanner(what: string, why: string, fix: string): string {
  const lines = [`${why}: ${what} are SKIPPED.`, fix, 'CI=true never skips.'];
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const rule = '*'.repeat(width);
  return ['', rule, ...lines.map((l) => `* ${l.padEnd(width - 4)} *`), rule, ''].join('\n');
}

/** Writes the banner straight to stderr (not through jest's console, which buffers and may fold it). */
export function announceSkip(what: string, why: string, fix: string): void {
  process.stderr.write(`${skipBanner(what, why, fix)}\n`);
}
