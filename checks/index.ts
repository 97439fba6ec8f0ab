/**
 * Checks on rendered objects, run by every synth before `dist/` is swapped and by
 * `meridian validate` on any folder of YAML. One problem per line:
 * `file: Kind namespace/name: field.path: message`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { autoscalingProblems } from '../features/autoscaling/checks';
import { kedaClusterProblems, scaledObjectProblems } from '../features/autoscaling/keda-checks';
import { Cluster, groupClusters, KObject } from './objects';
import { objectProblem, ProblemError, type Problem } from '../kernel/problems';
import { namespaceBaselineProblems, policyReferenceProblems } from '../features/access/checks';
import { policyProblems } from './policy';
import { podSecurityProblems } from '../features/workloads/pod-security';
import { regexProblems, routingProblems } from '../features/traffic/checks';
import { secretProblems } from '../features/secrets/checks';
import { blindRuleProblems, doubleIngestionProblems, promqlProblems } from '../features/observability/checks';
import { SchemaValidator } from './schema';
import { workloadProblems } from '../features/workloads/checks';

export { formatProblem, ProblemError, type Problem } from '../kernel/problems';

export interface ObjectFile {
  /** Where the object is (or will be) written, as shown in problems. */
  readonly file: string;
  readonly manifest: Record<string, unknown>;
}

/** Input that cannot be checked at all (unreadable, or not YAML): a ProblemError of source `input`. */
function unusable(file: string, message: string): ProblemError {
  return new ProblemError('input', [{ file, path: '', message }]);
}

let shared: SchemaValidator | undefined;

/**
 * Every problem of the objects: each against its schema and the per-object rules, then each
 * cluster folder's objects against each other.
 * @param context objects read only for cross-references (other region clusters of the same
 *   environment); their own problems are not reported
 * @param passed objects (by file) known to pass the per-object checks: the same text passed
 *   them under the same code (the synth cache); only the checks across objects run on them
 */
export function validateObjects(
  objects: readonly ObjectFile[],
  validator?: SchemaValidator,
  context: readonly ObjectFile[] = [],
  passed: ReadonlySet<string> = new Set(),
): Problem[] {
  const problems: Problem[] = [];
  const malformed = new Set<string>();
  for (const { file, manifest } of objects) {
    if (passed.has(file)) continue;
    validator ??= shared ??= new SchemaValidator();
    const id = objectProblem(file, { kind: manifest.kind ?? '?', metadata: manifest.metadata }, '', '');
    const schema = validator.validate(manifest);
    for (const p of schema) problems.push({ ...id, ...p });
    if (schema.length > 0) malformed.add(file);
    for (const p of policyProblems(manifest)) problems.push({ ...id, ...p });
    for (const p of shielded(() => podSecurityProblems(manifest), schema.length > 0)) problems.push({ ...id, ...p });
    if (manifest.kind === 'ScaledObject') for (const p of shielded(() => scaledObjectProblems(manifest), schema.length > 0)) problems.push({ ...id, ...p });
    for (const p of promqlProblems(manifest)) problems.push({ ...id, ...p });
    for (const p of regexProblems(manifest)) problems.push({ ...id, ...p });
    for (const p of secretProblems(manifest)) problems.push({ ...id, ...p });
  }
  problems.push(...kedaProblemsAcross(objects));
  const reported = new Set(objects.map((o) => o.file));
  const located = [...objects, ...context]
    .filter((o) => typeof o.manifest.kind === 'string' && typeof (o.manifest.metadata as { name?: unknown } | undefined)?.name === 'string')
    .map((o) => ({ file: o.file, obj: o.manifest as unknown as KObject }));
  for (const cluster of groupClusters(located)) {
    const shaky = cluster.environment.some((c) => c.objects.some((o) => malformed.has(o.file) || !reported.has(o.file)));
    problems.push(...shielded(() => crossReferenceProblems(cluster), shaky).filter((p) => reported.has(p.file)));
  }
  // Stable: the problems of one file stay together, in the order they were found.
  return problems
    .map((p, i) => [p, i] as const)
    .sort(([a, i], [b, j]) => (a.file < b.file ? -1 : a.file > b.file ? 1 : i - j))
    .map(([p]) => p);
}

/**
 * Runs a check that reads fields as the schemas define them. On objects whose schema
 * problems are already reported (or that were only read for context) a field of the wrong
 * type can break it: then it has nothing to add, and the schema problems say what to fix.
 */
function shielded<T>(check: () => T[], malformedInput: boolean): T[] {
  try {
    return check();
  } catch (e) {
    if (malformedInput) return [];
    throw e;
  }
}

/**
 * When `dir` is one region cluster of Meridian's layout (`<platform>/<env>/<cluster>/`, the
 * environment holding an `argocd/` folder), the other clusters of the environment: the
 * DestinationRule subsets of one region select pods of the others.
 */
export function readEnvironmentContext(dir: string, objects: readonly ObjectFile[]): ObjectFile[] {
  const root = path.resolve(dir);
  // The environment folder, written as the object files are (relative or absolute alike).
  const envs = [...new Set(objects.map((o) => path.dirname(path.dirname(path.dirname(o.file)))))];
  const context: ObjectFile[] = [];
  for (const env of envs) {
    const abs = path.resolve(env);
    if (!root.startsWith(`${abs}${path.sep}`) || !isDirectory(path.join(env, 'argocd'))) continue;
    for (const entry of fs.readdirSync(env, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const sibling = path.join(abs, entry.name);
      if (!entry.isDirectory() || root === sibling || root.startsWith(`${sibling}${path.sep}`)) continue;
      context.push(...readObjects(path.join(env, entry.name)));
    }
  }
  return context;
}

function isDirectory(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isDirectory();
}

/**
 * The checks that look across the objects of one cluster folder (and, for DestinationRule
 * subsets, across the region clusters of its environment).
 */
export const CLUSTER_CHECKS: readonly ((cluster: Cluster) => Problem[])[] = [
  routingProblems,
  autoscalingProblems,
  workloadProblems,
  policyReferenceProblems,
  namespaceBaselineProblems,
  blindRuleProblems,
  doubleIngestionProblems,
];

export function crossReferenceProblems(cluster: Cluster): Problem[] {
  return CLUSTER_CHECKS.flatMap((check) => check(cluster));
}

/** KEDA's cross-object rules, per cluster folder (`<platform>/<env>/<region>/<namespace>/<file>`). */
function kedaProblemsAcross(objects: readonly ObjectFile[]): Problem[] {
  const fileOf = new Map(objects.map((o) => [o.manifest, o.file]));
  const clusters = objects.map((o) => ({ cluster: path.dirname(path.dirname(o.file)), manifest: o.manifest }));
  return kedaClusterProblems(clusters, { requireTargets: true }).map(({ manifest, path: field, message }) =>
    objectProblem(fileOf.get(manifest)!, manifest, field, message),
  );
}

/** Every object in every `.yaml`/`.yml` file under `dir`, in path order. */
export function readObjects(dir: string): ObjectFile[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw unusable(dir, 'not a readable folder');
  const objects: ObjectFile[] = [];
  for (const rel of listYaml(dir)) {
    const file = path.join(dir, rel);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw unusable(file, `cannot be read: ${(e as Error).message}`);
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw unusable(file, `not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
      const value = doc.toJS() as unknown;
      if (value === null || value === undefined) continue;
      if (typeof value !== 'object' || Array.isArray(value)) throw unusable(file, 'not a Kubernetes object (a YAML mapping is expected)');
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
    // A kustomization (a preview template's) is a build input, not an object of the cluster.
    else if (/\.ya?ml$/.test(entry.name) && !/^kustomization\.ya?ml$/.test(entry.name)) out.push(rel);
  }
  return out;
}
