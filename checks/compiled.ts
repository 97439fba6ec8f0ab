/**
 * Compiling the Kubernetes and CRD schemas is most of a small synth's time (about 60 ms per
 * kind: ajv generates and optimizes a validator for the whole PodSpec tree). The generated
 * code depends only on the schema, ajv's version and its options, so it is kept as ajv
 * "standalone" code under `node_modules/.cache/meridian/ajv/`, keyed by a hash of all three,
 * and later runs load it instead of compiling. The cache is an optimization only: when it
 * cannot be read or written, the schema is compiled as usual.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSIONS = ['ajv', 'ajv-formats'].map((p) => `${p}@${(require(`${p}/package.json`) as { version: string }).version}`).join(' ');

export class ValidatorCache {
  /** What, besides the schema, decides the generated code: versions, options, formats, keywords. */
  private setup?: string;

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
    const cached = load(file);
    if (cached) return cached;
    prepare?.();
    const validate = this.ajv.compile(schema);
    try {
      const code = standaloneCode(this.ajv, validate);
      fs.mkdirSync(this.dir, { recursive: true });
      // Written beside and renamed: concurrent synths (jest workers) never read half a file.
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, file);
    } catch {
      // A read-only checkout: keep the compiled validator for this run only.
    }
    return validate;
  }
}

/** The hash of a file's content, for `identity`. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function load(file: string): ValidateFunction | undefined {
  let code: string;
  try {
    code = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const mod: { exports: { default?: ValidateFunction } } = { exports: {} };
  try {
    // Standalone code is a CommonJS module requiring only ajv's runtime and ajv-formats.
    new Function('require', 'module', 'exports', code)(require, mod, mod.exports);
  } catch {
    return undefined;
  }
  return typeof mod.exports.default === 'function' ? mod.exports.default : undefined;
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
