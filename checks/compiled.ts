/**
 * Compiling the Kubernetes and CRD schemas is most of a small synth's time (about 60 ms per
 * kind: ajv generates and optimizes a validator for the whole PodSpec tree). The generated
 * code depends only on the schema, ajv's version and its options, so it is kept as ajv
 * "standalone" code under `node_modules/.cache/meridian/ajv/`, keyed by a hash of all three,
 * and later runs load it instead of compiling. The cache is an optimization only: when it
 * cannot be read or written, the schema is compiled as usual.
 *
 * Parsing that code (23 MB for the repository's kinds) took about 0.25 s of every synth, so
 * each entry also keeps V8's code cache for it (`<key>.v8`, made on the first load): V8
 * checks that it was made by the same V8 with the same flags for a source of the same
 * length, and otherwise rejects it, and then the code is parsed as before and the cache made again.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import type Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSIONS = ['ajv', 'ajv-formats'].map((p) => `${p}@${(require(`${p}/package.json`) as { version: string }).version}`).join(' ');

export class ValidatorCache {
  /** What, besides the schema, decides the generated code: versions, options, formats, keywords. */
  private setup?: string;
  /** Validators compiled by ajv, loaded from the cache, and of those loaded with V8's code cache. */
  readonly counts = { compiled: 0, loaded: 0, codeCached: 0 };

  /** @param dir where compiled validators are kept; `undefined` compiles every time */
  constructor(
    private readonly ajv: Ajv,
    private readonly dir: string | undefined,
  ) {}

  /**
   * The validator of `schema`. `refs` stands for the schemas it refers to (e.g. a hash of
   * their text) and must change whenever they do; `prepare` is called before ajv compiles
   * (not when the validator is loaded from the cache), to add the schemas referred to.
   */
  compile(schema: object, refs = '', prepare?: () => void): ValidateFunction {
    if (!this.dir) {
      prepare?.();
      return this.ajv.compile(schema);
    }
    this.setup ??= JSON.stringify([VERSIONS, this.ajv.opts, this.ajv.formats, Object.keys(this.ajv.RULES.keywords)], sourceReplacer());
    const key = createHash('sha256')
      .update(`${this.setup}\n${JSON.stringify(schema)}\n${refs}`)
      .digest('hex')
      .slice(0, 32);
    const file = path.join(this.dir, `${key}.js`);
    const cached = this.load(file);
    if (cached) return cached;
    prepare?.();
    const validate = this.ajv.compile(schema);
    this.counts.compiled++;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      write(file, standaloneCode(this.ajv, validate));
    } catch {
      // A read-only checkout: the compiled validator serves this run only.
    }
    return validate;
  }

  private load(file: string): ValidateFunction | undefined {
    let code: string;
    try {
      code = fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    const codeCache = file.replace(/\.js$/, '.v8');
    let cachedData: Buffer | undefined;
    try {
      cachedData = fs.readFileSync(codeCache);
    } catch {
      cachedData = undefined;
    }
    const mod: { exports: { default?: ValidateFunction } } = { exports: {} };
    let script: vm.Script;
    try {
      // Standalone code is a CommonJS module requiring only ajv's runtime and ajv-formats.
      script = new vm.Script(`(function (require, module, exports) {${code}\n})`, { filename: file, cachedData });
      (script.runInThisContext() as (r: NodeJS.Require, m: typeof mod, e: typeof mod.exports) => void)(require, mod, mod.exports);
    } catch {
      return undefined;
    }
    if (typeof mod.exports.default !== 'function') return undefined;
    this.counts.loaded++;
    if (cachedData && !script.cachedDataRejected) this.counts.codeCached++;
    else write(codeCache, script.createCachedData());
    return mod.exports.default;
  }
}

/** The hash of a file's content, for `identity`. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Written beside and renamed: concurrent synths (jest workers) never read half a file. */
function write(file: string, data: string | Buffer): void {
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch {
    // A read-only checkout: the next run parses the code again.
  }
}

/** Options and formats hold functions and regular expressions (their source is part of the key) and modules that refer to themselves. */
function sourceReplacer(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (_key, value) => {
    if (typeof value === 'function' || value instanceof RegExp) return String(value);
    if (value && typeof value === 'object') {
      if (seen.has(value)) return '(seen)';
      seen.add(value);
    }
    return value;
  };
}
