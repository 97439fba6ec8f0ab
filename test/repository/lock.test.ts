/**
 * The committed package-lock.json is one `npm ci` accepts on every platform a developer or CI
 * uses, and that `npm install` leaves as it is. npm refuses a lock (`npm ci`: "Missing:
 * @swc/core-darwin-arm64@1.16.22 from lock file") when a locked package's optional dependency
 * (the other platforms' native binaries of @swc/core, esbuild, ...) has no entry of its own; a
 * lock written by an npm that pruned them is rewritten by the next `npm install` elsewhere.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers';

interface LockEntry {
  version?: string;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
interface Lock {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

/** Where Node (and npm) find `name` from the package at `from`: its own node_modules, then each parent's. */
function locate(lock: Lock, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** Every optional dependency of a locked package that has no entry npm could install from. */
function missingOptionalEntries(lock: Lock): string[] {
  const missing: string[] = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (entry.link) continue;
    for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
      if (!locate(lock, where, name)) missing.push(`${where || '(root)'} -> ${name}@${range}`);
    }
  }
  return missing;
}

const read = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));

describe('package-lock.json', () => {
  const lock: Lock = read('package-lock.json');
  const pkg = read('package.json');

  test('locks every optional native binary of every platform, so npm ci accepts it on Linux and macOS', () => {
    expect(lock.lockfileVersion).toBe(3);
    expect(missingOptionalEntries(lock)).toEqual([]);
    for (const binary of ['@swc/core-darwin-arm64', '@swc/core-linux-x64-gnu', '@esbuild/darwin-arm64', '@esbuild/linux-x64']) {
      expect(lock.packages[`node_modules/${binary}`]).toBeDefined();
    }
  });

  test('fails when a platform binary is pruned (the lock npm ci refused before)', () => {
    const pruned: Lock = JSON.parse(JSON.stringify(lock));
    delete pruned.packages['node_modules/@swc/core-darwin-arm64'];
    expect(missingOptionalEntries(pruned)).toEqual([
      `node_modules/@swc/core -> @swc/core-darwin-arm64@${lock.packages['node_modules/@swc/core'].optionalDependencies!['@swc/core-darwin-arm64']}`,
    ]);
  });

  test("records package.json's exact versions, so npm install has nothing to change", () => {
    const root = lock.packages[''];
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
    for (const [name, version] of Object.entries<string>({ ...pkg.dependencies, ...pkg.devDependencies })) {
      const entry = lock.packages[`node_modules/${name}`];
      if (version.startsWith('file:')) expect(entry).toEqual({ resolved: version.slice('file:'.length), link: true });
      else expect(`${name}@${entry?.version}`).toBe(`${name}@${version}`);
    }
  });

  test('every install script a dependency carries is decided in allowScripts (npm warns on each install otherwise)', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([where, e]) => where && (e as { hasInstallScript?: boolean }).hasInstallScript)
      .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    expect([...new Set(withScripts)].sort()).toEqual(Object.keys(pkg.allowScripts).sort());
  });
});
