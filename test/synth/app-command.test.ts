/**
 * The app command of cdk8s.yaml as `npx cdk8s synth` runs it (bin/register.js's loader, the
 * synth cache, main.ts), in a copy of the repository: the edit loop gives byte for byte the
 * dist/ of a full render (`CI=true`), and a damaged entry of the loader's cache is not used.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir, tree } from '../helpers';

/** The repository's code and inputs, without dist/, Git or tool state; node_modules linked. */
function repoCopy(): string {
  const dir = tempDir('meridian-app-');
  for (const entry of fs.readdirSync(ROOT)) {
    if (['node_modules', 'dist', '.git', '.meridian', 'coverage'].includes(entry) || entry.startsWith('dist.')) continue;
    fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

const APP = /^app: (.+)$/m.exec(fs.readFileSync(path.join(ROOT, 'cdk8s.yaml'), 'utf8'))![1];

/** The app command in `dir` (as the cdk8s CLI runs it, without the CLI): its last stderr line. */
function app(dir: string, env: Record<string, string>): string {
  const r = spawnSync('sh', ['-c', APP], { cwd: dir, encoding: 'utf8', timeout: 180_000, env: { ...process.env, CDK8S_OUTDIR: '', ...env } });
  if (r.status !== 0) throw new Error(`${APP} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stderr.trim().split('\n').pop()!;
}

const cached = { CI: '', MERIDIAN_SYNTH_CACHE: 'on' };
const OVERLAY = 'overlays/ggen/staging.yaml';

function editTag(dir: string, tag: string): void {
  const file = path.join(dir, OVERLAY);
  const text = fs.readFileSync(file, 'utf8');
  const edited = text.replace(/tag: "[^"]*"/, `tag: "${tag}"`);
  expect(edited).not.toBe(text);
  fs.writeFileSync(file, edited);
}

test("the edit loop through cdk8s.yaml's app command writes the dist/ of a full render; a damaged loader cache entry is transformed again", () => {
  const dir = repoCopy();
  expect(app(dir, cached)).toMatch(/; \d+ environment\(s\) rendered, 0 unchanged from the synth cache$/);
  const transformed = path.join(dir, '.meridian', 'ts-cache');
  const entries = fs.readdirSync(transformed);
  expect(entries.length).toBeGreaterThan(50);

  editTag(dir, '9.9.1');
  expect(app(dir, cached)).toMatch(/; 1 environment\(s\) rendered, \d+ unchanged from the synth cache$/);
  const edited = tree(path.join(dir, 'dist'));
  expect(Object.values(edited).length).toBeGreaterThan(1000);

  // Damage entries of the loader's cache: cut one short, give another a different program.
  const main = entries.map((f) => path.join(transformed, f)).filter((f) => fs.readFileSync(f, 'utf8').includes('writeCdk8sSummary'));
  expect(main.length).toBeGreaterThan(0);
  for (const f of main) fs.writeFileSync(f, fs.readFileSync(f, 'utf8').slice(0, -20));
  editTag(dir, '9.9.2');
  expect(app(dir, cached)).toMatch(/; 1 environment\(s\) rendered, \d+ unchanged from the synth cache$/);
  for (const f of main) expect(fs.readFileSync(f, 'utf8')).toContain('writeCdk8sSummary');
  const again = tree(path.join(dir, 'dist'));

  // The same inputs, everything rendered as CI does.
  fs.rmSync(path.join(dir, 'dist'), { recursive: true });
  expect(app(dir, { CI: 'true' })).toMatch(/^rendered \d+ objects in \d+ folders \([\d.]+ s\)$/);
  const full = tree(path.join(dir, 'dist'));
  expect(again).toEqual(full);
  // The first edit's tag is gone from the full render: the two cached runs rendered different objects.
  expect(edited).not.toEqual(full);
});
