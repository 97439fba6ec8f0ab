import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Rendering } from './render';

/**
 * Replaces the folders the rendering owns inside `distDir` and nothing else, all at once:
 * the new tree is built beside it and swapped in with renames, so a failure at any point
 * leaves the old tree in place, and files no longer rendered disappear.
 */
export function writeDist(distDir: string, rendering: Rendering, opts: { full: boolean }): void {
  const staging = `${distDir}.tmp-${process.pid}`;
  const old = `${distDir}.old-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    if (!opts.full && fs.existsSync(distDir)) {
      fs.cpSync(distDir, staging, { recursive: true });
      for (const scope of rendering.scopes) fs.rmSync(path.join(staging, scope), { recursive: true, force: true });
    } else {
      fs.mkdirSync(staging, { recursive: true });
    }
    const all = [...rendering.files, ...rendering.documents];
    const dirs = new Set(all.map((f) => path.dirname(path.join(staging, f.path))));
    for (const dir of dirs) fs.mkdirSync(dir, { recursive: true });
    for (const f of all) fs.writeFileSync(path.join(staging, f.path), f.content);
    pruneEmptyDirs(staging);

    const hadDist = fs.existsSync(distDir);
    if (hadDist) fs.renameSync(distDir, old);
    try {
      fs.renameSync(staging, distDir);
    } catch (e) {
      if (hadDist) fs.renameSync(old, distDir);
      throw e;
    }
    fs.rmSync(old, { recursive: true, force: true });
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function pruneEmptyDirs(dir: string): boolean {
  let empty = true;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && pruneEmptyDirs(path.join(dir, entry.name))) fs.rmdirSync(path.join(dir, entry.name));
    else empty = false;
  }
  return empty;
}
