// The app's TypeScript loader for `npx cdk8s synth` (cdk8s.yaml: `node -r ./bin/register.js main.ts`).
//
// Like tsx it strips types with esbuild and does not type-check (`npm run typecheck` does). Unlike
// tsx it keeps no source maps and does no resolution of its own: a profile of the edit loop put
// tsx's per-file work (hashing, cache lookups, path resolution hooks, decoding inline source maps
// for the 3.5 MB `imports/argoproj.io.ts`) at about 0.8 s of a 2.7 s synth.
//
// Each transformed file is kept in `.meridian/ts-cache/` (ignored by Git), named by the SHA-256
// of this transform's identity (esbuild's version, its options, tsconfig.json, node's version)
// and of the source text: a source that changes gets a new name, so an entry is never stale.
// An entry records its key and length; one that does not match is transformed again. Modules
// keep their own file names in `require.cache`, so the synth cache's check that every loaded
// module is part of its code key (synth/cache.ts `uncoveredModules`) sees the .ts files.
//
// A package that is an ES module (`"type": "module"`, such as the secretlint ruleset): node
// 20.19 and later require it themselves; earlier versions throw ERR_REQUIRE_ESM, and then, as
// tsx does, the file is transformed to CommonJS the same way.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const Module = require('node:module');
const { Buffer } = require('node:buffer');

const ROOT = path.resolve(__dirname, '..');
const CACHE = path.join(ROOT, '.meridian', 'ts-cache');
/** Bumped whenever what an entry holds changes. */
const FORMAT = 'meridian-ts-cache 1';

let esbuild;
let identity;
/** The options of the transform; esbuild takes the class-field semantics (and the rest) from tsconfig.json, as tsc and tsx do. */
function transformOptions(loader) {
  const tsconfig = fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8');
  return { loader, format: 'cjs', target: `node${process.versions.node}`, tsconfigRaw: tsconfig, supported: { 'dynamic-import': false } };
}
function transformIdentity() {
  if (identity) return identity;
  const version = require('esbuild/package.json').version;
  identity = `${FORMAT}\n${process.version}\nesbuild ${version}\n${JSON.stringify(transformOptions('ts'))}\n`;
  return identity;
}

/** The CommonJS text of a TypeScript (or ES module) file: from the cache, or transformed and stored. */
function compiled(filename, loader) {
  // Hashed as bytes: decoding the 3.5 MB imports/argoproj.io.ts to a string alone took 40-75 ms, and a hit never needs it.
  const bytes = fs.readFileSync(filename);
  const key = crypto.createHash('sha256').update(transformIdentity()).update(loader).update('\u0000').update(bytes).digest('hex');
  const entry = path.join(CACHE, key);
  const head = (length) => `//${key} ${length}\n`;
  try {
    const data = fs.readFileSync(entry);
    const nl = data.indexOf(0x0a);
    if (data.toString('latin1', 0, nl + 1) === head(data.length - nl - 1)) return data.toString('utf8', nl + 1);
  } catch {
    // Not there yet (or unreadable): transformed below.
  }
  esbuild ??= require('esbuild');
  const code = esbuild.transformSync(bytes.toString('utf8'), { ...transformOptions(loader), sourcefile: filename }).code;
  try {
    fs.mkdirSync(CACHE, { recursive: true });
    const tmp = `${entry}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, head(Buffer.byteLength(code)) + code);
    fs.renameSync(tmp, entry);
  } catch {
    // A read-only checkout: the next run transforms again.
  }
  return code;
}

Module._extensions['.ts'] = function (module, filename) {
  module._compile(compiled(filename, 'ts'), filename);
};

const loadJs = Module._extensions['.js'];
Module._extensions['.js'] = function (module, filename) {
  try {
    return loadJs(module, filename);
  } catch (e) {
    if (e.code !== 'ERR_REQUIRE_ESM') throw e;
  }
  module._compile(compiled(filename, 'js'), filename);
};
