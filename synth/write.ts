import * as fs from 'node:fs';
import * as path from 'node:path';
import { contentHash, type FileHashes } from './file-hashes';
import type { Rendering } from './types';

/**
 * Makes `distDir` hold the rendering, touching only what differs, all or nothing.
 *
 * The rendering owns the folder of each of its environments (`<platform>/<env>`) and each of
 * its other files (a platform's ARCHITECTURE.md). The current `distDir` is read and compared
 * byte for byte (never trusted: it may have been edited or checked out): files that already
 * hold exactly what was rendered are left alone. The others are written into a folder beside
 * `distDir`, then swapped in by renames: old file out, new file in; files and folders of an
 * owned environment that it no longer renders go out. Any failure before or during the swap
 * puts back every rename already done, so `distDir` is as it was; the only window is a crash
 * between two renames. With `full`, anything in `distDir` that the rendering does not hold (a
 * removed platform, a stray file, an empty folder) goes too.
 * When `distDir` does not exist, the whole tree is built beside it and renamed into place.
 *
 * With `hashes` (the synth cache's edit loop), a file is compared by its SHA-256, taken from
 * the record of the last synth when `stat` shows the file untouched since (synth/file-hashes.ts)
 * and read otherwise; the record is then brought up to date with what was written.
 */
export function writeDist(distDir: string, rendering: Rendering, opts: { full: boolean; hashes?: FileHashes }): void {
  const staging = `${distDir}.tmp-${process.pid}`;
  const old = `${distDir}.old-${process.pid}`;
  const all = [...rendering.files, ...rendering.documents];
  fs.rmSync(staging, { recursive: true, force: true });
  fs.rmSync(old, { recursive: true, force: true });
  try {
    if (!isDirectory(distDir)) {
      writeFiles(staging, all);
      fs.rmSync(distDir, { force: true });
      fs.renameSync(staging, distDir);
      if (opts.hashes) {
        for (const f of all) opts.hashes.wrote(path.join(distDir, f.path), contentHash(f));
        opts.hashes.save();
      }
      return;
    }
    const scopes = new Set(rendering.scopes);
    /** The owned environment folder a path lies in, if any. */
    const scopeOf = (rel: string): string | undefined => {
      const second = rel.indexOf('/', rel.indexOf('/') + 1);
      const scope = second < 0 ? rel : rel.slice(0, second);
      return scopes.has(scope) && rel.length > scope.length ? scope : undefined;
    };
    const expected = new Map(all.map((f) => [f.path, f]));
    const hashes = opts.hashes;
    type Wanted = (typeof all)[number];
    const same = hashes
      ? (abs: string, want: Wanted) => hashes.hash(abs) === contentHash(want)
      : (abs: string, want: Wanted) => fs.readFileSync(abs).equals(Buffer.from(want.content));
    /** Files to write (new or different). */
    const dirty = new Set<string>();
    /** Files and folders to remove. */
    const gone = new Set<string>();
    const seen = new Set<string>();
    // Folders holding an owned file: looked into even when not `full`.
    const above = new Set<string>();
    for (const p of [...scopes, ...expected.keys()]) for (let d = path.posix.dirname(p); d !== '.'; d = path.posix.dirname(d)) above.add(d);
    // What is there now: every file of the owned folders and files (all of distDir when full).
    const visit = (rel: string): boolean => {
      const entries = fs.readdirSync(path.join(distDir, rel), { withFileTypes: true });
      let kept = 0;
      for (const e of entries) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        const owned = scopeOf(child) !== undefined || expected.has(child);
        if (e.isDirectory() && (opts.full || owned || above.has(child))) {
          if (visit(child)) kept++;
          else if (owned || opts.full) gone.add(child);
          continue;
        }
        if (!owned) {
          if (opts.full) gone.add(child);
          else kept++;
          continue;
        }
        const want = expected.get(child);
        // A file an owned environment no longer renders.
        if (want === undefined) {
          gone.add(child);
          continue;
        }
        kept++;
        seen.add(child);
        if (!e.isFile() || !same(path.join(distDir, child), want)) dirty.add(child);
      }
      return kept > 0;
    };
    visit('');
    for (const p of expected.keys()) if (!seen.has(p)) dirty.add(p);
    // An owned environment that now renders nothing: its folder goes.
    const rendered = new Set(all.map((f) => scopeOf(f.path)));
    for (const s of scopes) if (!rendered.has(s) && fs.existsSync(path.join(distDir, s))) gone.add(s);
    if (dirty.size === 0 && gone.size === 0) {
      hashes?.save();
      return;
    }

    const written = all.filter((f) => dirty.has(f.path));
    writeFiles(staging, written);
    swap(distDir, staging, old, [...dirty].sort(), [...gone].sort());
    if (hashes) {
      for (const unit of [...dirty, ...gone]) hashes.forget(path.join(distDir, unit));
      for (const f of written) hashes.wrote(path.join(distDir, f.path), contentHash(f));
      hashes.save();
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(old, { recursive: true, force: true });
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function writeFiles(dir: string, files: readonly { path: string; content: string }[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const dirs = new Set(files.map((f) => path.dirname(path.join(dir, f.path))));
  for (const d of dirs) fs.mkdirSync(d, { recursive: true });
  for (const f of files) fs.writeFileSync(path.join(dir, f.path), f.content);
}

/**
 * Moves each unit of `distDir` out to `old` and its new version (if any) in from `staging`;
 * on any failure, undoes every move done so far, in reverse, and rethrows.
 */
function swap(distDir: string, staging: string, old: string, units: readonly string[], gone: readonly string[]): void {
  const done: [from: string, to: string][] = [];
  const move = (from: string, to: string) => {
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(from, to);
    done.push([from, to]);
  };
  try {
    // What goes first: a file may replace a folder that goes, or the reverse.
    for (const unit of [...gone, ...units]) {
      if (fs.existsSync(path.join(distDir, unit))) move(path.join(distDir, unit), path.join(old, unit));
      if (fs.existsSync(path.join(staging, unit))) move(path.join(staging, unit), path.join(distDir, unit));
    }
  } catch (e) {
    for (const [from, to] of done.reverse()) fs.renameSync(to, from);
    throw e;
  }
  // Folders that held only what went (a removed environment's platform folder).
  for (const unit of [...units, ...gone]) {
    for (let dir = path.dirname(unit); dir !== '.'; dir = path.dirname(dir)) {
      const abs = path.join(distDir, dir);
      if (!fs.existsSync(abs) || fs.readdirSync(abs).length > 0) break;
      fs.rmdirSync(abs);
    }
  }
}
