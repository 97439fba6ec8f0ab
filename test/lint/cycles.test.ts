/**
 * `npm run cycles` (part of `npm run lint`) runs madge with the repository's `.madgerc`. It must
 * fail on an import cycle, including one closed by an `import type` (the cycle the CLI had:
 * cli/main.ts imported diff.ts, which imported main's `Io` type), and pass on the tree (CI's lint).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from '../helpers';

const madge = path.join(ROOT, 'node_modules/.bin/madge');

function cycles(files: Record<string, string>): { status: number | null; out: string } {
  const dir = tempDir('meridian-cycles-');
  try {
    fs.copyFileSync(path.join(ROOT, '.madgerc'), path.join(dir, '.madgerc'));
    fs.copyFileSync(path.join(ROOT, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    // npm's node-options preload (.npmrc) resolves from the repository, not from the scratch folder.
    const env = { ...process.env, NODE_OPTIONS: '' };
    const r = spawnSync(madge, ['--circular', '--no-spinner', '--no-color', '.'], { cwd: dir, env, timeout: 60_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the import cycle check', () => {
  test('fails when a type-only import closes a cycle', () => {
    const r = cycles({
      'cli/main.ts': "import { run } from './diff';\nexport interface Io { out: (l: string) => void }\nexport const main = () => run;\n",
      'cli/diff.ts': "import type { Io } from './main';\nexport function run(io: Io): void { io.out('x'); }\n",
    });
    expect(r.status).toBe(1);
    expect(r.out).toContain('cli/diff.ts > cli/main.ts');
  }, 60_000);

  test('passes when the shared type has its own module', () => {
    const r = cycles({
      'cli/io.ts': 'export interface Io { out: (l: string) => void }\n',
      'cli/main.ts': "import { run } from './diff';\nexport const main = () => run;\n",
      'cli/diff.ts': "import type { Io } from './io';\nexport function run(io: Io): void { io.out('x'); }\n",
    });
    expect(r.out).toContain('No circular dependency found');
    expect(r.status).toBe(0);
  }, 60_000);
});
