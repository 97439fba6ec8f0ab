import * as fs from 'node:fs';
import * as path from 'node:path';
import { didYouMean } from '../kernel/did-you-mean';
import { ProblemError, type Problem } from './errors';
import { loadEnvironments } from './load';
import type { EnvironmentPlan } from './plan';
import type { PlatformInput } from './schema';

export * from './errors';
export * from './load';
export * from './plan';
export * from './schema';

/** Typed identity for platform files: `export default definePlatform({ ... })`. */
export function definePlatform(input: PlatformInput): PlatformInput {
  return input;
}

/** Platform files: `platforms/<name>.ts`; files starting with `_` are shared helpers. */
export function platformFiles(root: string): string[] {
  const dir = path.join(root, 'platforms');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => path.join('platforms', f));
}

/**
 * Loads every platform (or those named) with all their environments. Problems of all
 * platforms are gathered into one ProblemError (source spec).
 * @param only.files only these platform files (`platforms/<name>.ts`), e.g. those the synth cache cannot answer for
 */
export function loadAll(root: string, only?: { platform?: string; env?: string; files?: readonly string[] }): EnvironmentPlan[] {
  const problems: Problem[] = [];
  const out: EnvironmentPlan[] = [];
  let files = platformFiles(root);
  if (only?.platform) {
    const file = path.join('platforms', `${only.platform}.ts`);
    if (!files.includes(file)) {
      const names = files.map((f) => path.basename(f, '.ts'));
      // The folder, not the file that does not exist.
      throw new ProblemError('spec', [
        {
          file: 'platforms/',
          path: '',
          message: `has no platform "${only.platform}"${didYouMean(only.platform, names)} (platforms: ${names.join(', ') || 'none'})`,
        },
      ]);
    }
    files = [file];
  }
  if (only?.files) files = files.filter((f) => only.files!.includes(f));
  for (const file of files) {
    let input: PlatformInput;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(path.resolve(root, file)) as { default?: PlatformInput };
      if (!mod.default) throw new Error('has no default export: write `export default definePlatform({ ... })`');
      input = mod.default;
    } catch (e) {
      problems.push({ file, path: '', message: `cannot be loaded: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    try {
      const envs = loadEnvironments({ file, input }, root);
      if (only?.env && !envs.some((e) => e.env === only.env)) {
        problems.push({
          file,
          path: 'environments',
          message: `has no environment "${only.env}"${didYouMean(
            only.env,
            envs.map((e) => e.env),
          )} (allowed: ${envs.map((e) => e.env).join(', ')})`,
        });
      }
      out.push(...envs.filter((e) => !only?.env || e.env === only.env));
    } catch (e) {
      if (!(e instanceof ProblemError) || e.source !== 'spec') throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new ProblemError('spec', problems);
  return out;
}
