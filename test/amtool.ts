/**
 * Running the real `amtool` (Debian package `prometheus-alertmanager`) from tests, like
 * promtool: found on PATH, bounded in time; skipped loudly locally when missing, required
 * under CI=true.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const AMTOOL_TIMEOUT_MS = 60_000;

export function findAmtool(): string | undefined {
  const found =
    process.env.AMTOOL ??
    (process.env.PATH ?? '')
      .split(path.delimiter)
      .map((dir) => path.join(dir, 'amtool'))
      .find((candidate) => {
        try {
          fs.accessSync(candidate, fs.constants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
  if (!found && process.env.CI !== 'true') {
    process.stderr.write(
      '\n*** amtool NOT FOUND: the Alertmanager routing tests are SKIPPED (apt-get install -y prometheus-alertmanager). CI=true never skips. ***\n',
    );
  }
  return found;
}

/** `stdout` alone, `output` with stderr too (where amtool also warns about its own configuration file). */
export function runAmtool(binary: string, args: string[], cwd: string): { code: number | null; stdout: string; output: string } {
  const r = spawnSync(binary, args, { cwd, encoding: 'utf8', timeout: AMTOOL_TIMEOUT_MS, killSignal: 'SIGKILL' });
  if (r.error) return { code: null, stdout: r.stdout ?? '', output: `${r.stdout ?? ''}${r.stderr ?? ''}\namtool ${args.join(' ')}: ${r.error.message}` };
  return { code: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}
