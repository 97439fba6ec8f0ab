/**
 * JSON Merge Patch (RFC 7386) that remembers which file set each value, so that an error
 * found after merging can name the file the bad value came from. Objects merge key by key,
 * `null` deletes a key, anything else (arrays included) replaces.
 */

export type FieldPath = readonly (string | number)[];

/** Where each merged value came from: path → file. Paths not listed came from the base. */
export class Origins {
  private readonly byPath = new Map<string, string>();

  constructor(public readonly baseFile: string) {}

  set(path: FieldPath, file: string): void {
    this.byPath.set(key(path), file);
  }

  /**
   * The file that set `path` or the closest enclosing value; failing that, a patch that set
   * something inside `path` (a rule on a whole object is most likely broken by what changed in it).
   */
  fileOf(path: FieldPath): string {
    const own = this.setBy(path);
    if (own !== undefined) return own;
    const prefix = path.length === 0 ? '' : `${key(path)}\u0000`;
    for (const [k, file] of this.byPath) {
      if (k.startsWith(prefix)) return file;
    }
    return this.baseFile;
  }

  /** Like `fileOf`, but `undefined` when nothing along `path` was set by a patch. */
  setBy(path: FieldPath): string | undefined {
    for (let n = path.length; n >= 0; n--) {
      const file = this.byPath.get(key(path.slice(0, n)));
      if (file !== undefined) return file;
    }
    return undefined;
  }
}

function key(path: FieldPath): string {
  return path.join('\u0000');
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies `patch` (from `file`) over `target`; returns a new value, leaves both inputs alone. */
export function mergePatch(target: unknown, patch: unknown, file: string, origins: Origins, path: FieldPath = []): unknown {
  if (!isPlainObject(patch)) {
    origins.set(path, file);
    return structuredClone(patch);
  }
  if (!isPlainObject(target)) origins.set(path, file);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete result[k];
      origins.set([...path, k], file);
    } else {
      result[k] = mergePatch(result[k], v, file, origins, [...path, k]);
    }
  }
  return result;
}
