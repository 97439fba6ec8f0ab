/**
 * Spec problems in the reader's terms: zod issues turned into `file: field.path: message`
 * lines (kernel/problems.ts), the file being the platform or overlay file the value came from.
 * Every problem of a spec is thrown at once as a ProblemError of source `spec`.
 */
import type { z } from 'zod';
import type { Problem } from '../kernel/problems';
import type { FieldPath } from './merge';
import { didYouMean } from '../kernel/did-you-mean';
import { looksSecretName, maskSecret, scanForSecrets } from '../features/secrets/scan';

export { formatProblem, ProblemError, type Problem } from '../kernel/problems';

/** `services.api.ports[0].name` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${part}`;
  }
  return out;
}

/**
 * A value as a message may show it: masked when its field is or looks secret (under
 * `secrets`, a name like `DB_PASSWORD`) or the value itself looks like a credential.
 */
export function showValueAt(path: FieldPath, value: unknown): string {
  const secretField = path.some((p) => typeof p === 'string' && p !== 'notSecret' && (p === 'secrets' || looksSecretName(p)));
  if (secretField || (typeof value === 'string' && scanForSecrets(value).length > 0)) return maskSecret(value);
  return showValue(value);
}

export function showValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

type ZodSchema = z.core.$ZodType;

/** The schema of the value at `path` inside `schema`, seen through optional/default wrappers. */
function schemaAt(schema: ZodSchema, path: FieldPath): ZodSchema | undefined {
  let current: ZodSchema | undefined = schema;
  for (const part of [...path, undefined]) {
    while (current) {
      const def = current._zod.def as { type: string; innerType?: ZodSchema; in?: ZodSchema };
      if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') current = def.innerType;
      else if (def.type === 'pipe') current = def.in;
      else break;
    }
    if (part === undefined || !current) return current;
    const def = current._zod.def as { type: string; shape?: Record<string, ZodSchema>; valueType?: ZodSchema; element?: ZodSchema };
    if (def.type === 'object') current = def.shape?.[String(part)];
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'array') current = def.element;
    else return undefined;
  }
  return current;
}

function allowedKeys(schema: ZodSchema, path: FieldPath, input?: unknown): string[] {
  const at = schemaAt(schema, path);
  const def = at?._zod.def as { type: string; shape?: Record<string, unknown>; options?: ZodSchema[] } | undefined;
  if (def?.type === 'union' && def.options) return unionKeys(def.options, input);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** Keys of the union member the input chose by its literal fields (e.g. `type: cron`), or of all members. */
function unionKeys(options: ZodSchema[], input: unknown): string[] {
  const shapes = options
    .map((o) => o._zod.def as { type: string; shape?: Record<string, ZodSchema> })
    .filter((d) => d.type === 'object' && d.shape)
    .map((d) => d.shape!);
  const value = (input ?? {}) as Record<string, unknown>;
  const chosen = shapes.find((shape) =>
    Object.entries(shape).some(([k, f]) => {
      const fd = f._zod.def as { type: string; values?: unknown[] };
      return fd.type === 'literal' && fd.values?.includes(value[k]);
    }),
  );
  return chosen ? Object.keys(chosen) : [...new Set(shapes.flatMap((shape) => Object.keys(shape)))];
}

/**
 * Turns zod issues into problems naming the field and the value received; `locate` maps a
 * field path to the file (and the path as written there) the value came from.
 */
export function problemsFromZod(
  issues: readonly z.core.$ZodIssue[],
  schema: ZodSchema,
  locate: (path: FieldPath, rule: boolean) => { file: string; path: FieldPath; note?: string },
): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schema, path, (issue as { input?: unknown }).input);
      for (const k of issue.keys) {
        const where = locate([...path, k], false);
        problems.push({
          file: where.file,
          path: formatPath(where.path),
          message: `unknown field${didYouMean(k, allowed)} (allowed: ${allowed.join(', ')})${where.note ?? ''}`,
        });
      }
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      problems.push(...problemsFromZod(issue.errors.flat(), schema, locate));
      continue;
    }
    const where = locate(path, issue.code === 'custom');
    const input = (issue as { input?: unknown }).input;
    // A key refused by the record's key schema (a misspelt region under regions:): its own reasons.
    let message = issue.code === 'invalid_key' ? issue.issues.map((i) => i.message).join('; ') : issue.message;
    if (issue.code === 'invalid_type') {
      message = input === undefined ? `is required (expected ${issue.expected})` : `must be ${issue.expected} (got ${showValueAt(path, input)})`;
    } else if (input !== undefined) {
      message = `${message} (got ${showValueAt(path, input)})`;
    }
    problems.push({ file: where.file, path: formatPath(where.path), message: message + (where.note ?? '') });
  }
  return problems;
}
