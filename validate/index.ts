/**
 * Checks on rendered objects, run by every synth before `dist/` is swapped and by
 * `meridian validate` on any folder of YAML. One problem per line:
 * `file: Kind namespace/name: field.path: message`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { policyProblems } from './policy';
import { promqlProblems } from './promql';
import { SchemaValidator } from './schema';

export interface ObjectFile {
  /** Where the object is (or will be) written, as shown in problems. */
  readonly file: string;
  readonly manifest: Record<string, unknown>;
}

export interface Problem {
  readonly file: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: Problem): string {
  const id = `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
  return `${p.file}: ${id}: ${p.path || '(object)'}: ${p.message}`;
}

/** Input that cannot be checked at all: unreadable, or not YAML. */
export class UnusableInputError extends Error {}

let shared: SchemaValidator | undefined;

export function validateObjects(objects: readonly ObjectFile[], validator: SchemaValidator = (shared ??= new SchemaValidator())): Problem[] {
  const problems: Problem[] = [];
  for (const { file, manifest } of objects) {
    const meta = (manifest.metadata ?? {}) as { name?: string; namespace?: string };
    const id = { file, kind: String(manifest.kind ?? '?'), namespace: meta.namespace, name: meta.name ?? '?' };
    for (const p of validator.validate(manifest)) problems.push({ ...id, ...p });
    for (const p of policyProblems(manifest)) problems.push({ ...id, ...p });
    for (const p of promqlProblems(manifest)) problems.push({ ...id, ...p });
  }
  return problems;
}

/** Every object in every `.yaml`/`.yml` file under `dir`, in path order. */
export function readObjects(dir: string): ObjectFile[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UnusableInputError(`${dir}: not a readable folder`);
  const objects: ObjectFile[] = [];
  for (const rel of listYaml(dir)) {
    const file = path.join(dir, rel);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new UnusableInputError(`${file}: cannot be read: ${(e as Error).message}`);
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new UnusableInputError(`${file}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
      const value = doc.toJS() as unknown;
      if (value === null || value === undefined) continue;
      if (typeof value !== 'object' || Array.isArray(value)) throw new UnusableInputError(`${file}: not a Kubernetes object (a YAML mapping is expected)`);
      objects.push({ file, manifest: value as Record<string, unknown> });
    }
  }
  return objects;
}

function listYaml(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) out.push(...listYaml(dir, rel));
    else if (/\.ya?ml$/.test(entry.name)) out.push(rel);
  }
  return out;
}
