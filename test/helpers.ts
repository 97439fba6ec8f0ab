import { App, Chart } from 'cdk8s';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A chart with explicit names, as the region charts use. Its App is never synthesized (tests read
 * `chart.toJson()`), so it gets no output folder: cdk8s's Testing.app() makes one in the
 * temporary folder per call and leaves it there.
 */
export function testChart(): Chart {
  return new Chart(new App({ outdir: '/nonexistent' }), 'test', { disableResourceNameHashes: true });
}

type Manifest = { kind: string; metadata: { name: string; namespace?: string; [k: string]: any }; [k: string]: any };

/** The chart's objects, resolved, as plain JSON. */
export function manifests(chart: Chart): Manifest[] {
  return chart.toJson() as Manifest[];
}

/** The one object of `kind` (and `name`, when given); fails the test when there is not exactly one. */
export function only(chart: Chart, kind: string, name?: string): Manifest {
  const found = manifests(chart).filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
}

const tempDirs: string[] = [];

/** A throw-away folder, removed after the test file (test/after-each-file.ts). */
export function tempDir(prefix = 'meridian-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every folder tempDir made in this test file. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export const ROOT = path.resolve(__dirname, '..');

/**
 * The output the README shows for a command: the lines after `$ npx <command>` in a ```console
 * block, up to the block's end, so the README's examples are checked against what is printed.
 */
export function readmeExample(command: string): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\`\`\`console\n$ npx ${command}\n`);
  if (start < 0) throw new Error(`README.md has no \`\`\`console block starting with "$ npx ${command}"`);
  const body = readme.slice(start + `\`\`\`console\n$ npx ${command}\n`.length);
  // A block inside the example (drift prints ```diff) is indented by four spaces in the README.
  const end = body.search(/^```$/m);
  return body
    .slice(0, end)
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => l.replace(/^ {4}(?=```)/, ''))
    .join('\n');
}

/** path → sha256 of every file under dir. */
export function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else
        out[p] = crypto
          .createHash('sha256')
          .update(fs.readFileSync(path.join(dir, p)))
          .digest('hex');
    }
  };
  walk('');
  return out;
}
