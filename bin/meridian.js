#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader (esbuild, no type-checking: `npm run typecheck` does that).
require('tsx/cjs');
Promise.resolve(require('../cli/main.ts').main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
