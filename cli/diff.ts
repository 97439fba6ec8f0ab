/**
 * `meridian diff [--base REF]`: what committing a synth would change, per cluster.
 *
 * The work tree's platforms are rendered (and validated) into a temporary folder; dist/ is
 * neither read nor written. The base is dist/ as committed at REF, read from git's object
 * store, so the work tree may be clean or dirty and nothing is fetched. Objects are matched
 * by identity (API group, kind, namespace, name), not by file name, and each changed object
 * gets one line per changed field: `path: old → new`. The output is Markdown, with a
 * ```diff block per cluster, to paste into a pull request.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import microdiff from 'microdiff';
import { parseAllDocuments } from 'yaml';
import { ProblemError } from '../kernel/problems';
import { synthesize } from '../synth';
import { type Io, reportFailure } from './io';

/** git is missing, REF is unknown, the base holds something that is not YAML: input that cannot be used. */
function unusable(file: string, message: string): ProblemError {
  return new ProblemError('input', [{ file, path: '', message }]);
}

/** The files of a dist/ folder: path relative to dist/ → text. */
export type DistTree = ReadonlyMap<string, string>;

export interface FieldChange {
  /** `spec.template.spec.containers[name=api].image` */
  readonly path: string;
  /** `undefined` when the field is new. */
  readonly before?: unknown;
  /** `undefined` when the field was removed. */
  readonly after?: unknown;
}

export interface ObjectDiff {
  /** `Deployment marketplace/api` */
  readonly label: string;
  /** Path in dist/ (after the change; before, for removed objects). */
  readonly file: string;
  /** Set when the object moved to another file. */
  readonly fileBefore?: string;
  readonly fields: readonly FieldChange[];
}

export interface ClusterDiff {
  /** `<platform>/<env>/<region|argocd>` */
  readonly cluster: string;
  /** The folder it had at the base, when its platform was renamed. */
  readonly was?: string;
  /** Only at the base, or only now, or in both. */
  readonly state: 'removed' | 'added' | 'changed';
  readonly added: readonly ObjectDiff[];
  readonly removed: readonly ObjectDiff[];
  readonly changed: readonly ObjectDiff[];
  /** Files whose objects are equal but whose text is not (comments, formatting). */
  readonly textOnly: readonly string[];
}

export interface DistDiff {
  /** Clusters with a difference, in folder order. */
  readonly clusters: readonly ClusterDiff[];
  /** Clusters in both trees without any difference. */
  readonly unchanged: number;
  /** Platform folders renamed: [base, now]. */
  readonly renamedPlatforms: readonly (readonly [string, string])[];
}

/** `meridian diff`: 0 no change, 1 changes, 2 error. Progress on stderr, the report on stdout. */
export function runDiff(opts: { root: string; base?: string }, io: Io): number {
  const ref = opts.base ?? 'HEAD';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-diff-'));
  try {
    const base = readCommittedDist(opts.root, ref);
    io.err(`diff: rendering the work tree into ${tmp} (dist/ is left as it is)`);
    const now = renderTree(opts.root, path.join(tmp, 'dist'), io);
    const diff = compareTrees(base.files, now);
    formatDiff(diff, `dist/ at ${ref} (${base.commit.slice(0, 12)})`).forEach((line) => io.out(line));
    return diff.clusters.length > 0 ? 1 : 0;
  } catch (e) {
    return reportFailure(io, 'diff', e, ': nothing to compare', 2);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The files of `<root>/dist` as committed at `ref`, read from git objects (offline, work tree untouched). */
export function readCommittedDist(root: string, ref: string): { commit: string; files: DistTree } {
  const top = git(root, ['rev-parse', '--show-toplevel']).toString().trim();
  const commitOut = spawnSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root });
  if (commitOut.status !== 0) throw unusable(`--base ${ref}`, `not a commit of the repository at ${top}`);
  const commit = commitOut.stdout.toString().trim();
  const prefix = path
    .relative(top, path.join(fs.realpathSync(root), 'dist'))
    .split(path.sep)
    .join('/');

  const blobs: { sha: string; file: string }[] = [];
  for (const entry of git(top, ['ls-tree', '-r', '-z', commit, '--', `${prefix}/`])
    .toString()
    .split('\0')) {
    const m = /^\d+ blob ([0-9a-f]+)\t(.*)$/s.exec(entry);
    if (m && /\.ya?ml$/.test(m[2]) && !/(^|\/)kustomization\.ya?ml$/.test(m[2])) blobs.push({ sha: m[1], file: m[2].slice(prefix.length + 1) });
  }
  const files = new Map<string, string>();
  if (blobs.length === 0) return { commit, files };
  // One git process for every blob: `<sha> blob <size>\n<content>\n` each.
  const out = git(top, ['cat-file', '--batch'], blobs.map((b) => b.sha).join('\n') + '\n');
  let at = 0;
  for (const { file } of blobs) {
    const eol = out.indexOf(0x0a, at);
    const size = Number(out.subarray(at, eol).toString().split(' ')[2]);
    files.set(file, out.subarray(eol + 1, eol + 1 + size).toString('utf8'));
    at = eol + 1 + size + 1;
  }
  return { commit, files };
}

/** Renders every platform of the work tree into `dist` (a temporary folder) and returns its files. */
export function renderTree(root: string, dist: string, io: Io): DistTree {
  const result = synthesize({ root, dist, onEnvironment: (scope, n) => io.err(`  ${scope}: ${n} objects`) });
  return new Map(result.rendering.files.map((f) => [f.path, f.content]));
}

interface Found {
  key: string;
  label: string;
  file: string;
  text: string;
  object: Record<string, unknown>;
}

/** Both trees, cluster by cluster. */
export function compareTrees(base: DistTree, now: DistTree): DistDiff {
  const baseClusters = groupByCluster(base);
  const nowClusters = groupByCluster(now);
  const renamedPlatforms = pairRenamedPlatforms([...baseClusters.keys()], [...nowClusters.keys()]);
  const renamed = new Map(renamedPlatforms);
  const wasOf = (cluster: string) => {
    const [platform, ...rest] = cluster.split('/');
    const old = [...renamed].find(([, to]) => to === platform)?.[0];
    return old === undefined ? undefined : [old, ...rest].join('/');
  };

  const clusters: ClusterDiff[] = [];
  let unchanged = 0;
  const pairedBase = new Set<string>();
  for (const cluster of nowClusters.keys()) {
    const was = wasOf(cluster) ?? (baseClusters.has(cluster) ? cluster : undefined);
    if (was !== undefined) pairedBase.add(was);
    const d = compareCluster(cluster, was === cluster ? undefined : was, was === undefined ? undefined : baseClusters.get(was), nowClusters.get(cluster)!);
    if (d) clusters.push(d);
    else unchanged++;
  }
  for (const [cluster, files] of baseClusters) {
    if (!pairedBase.has(cluster)) clusters.push(compareCluster(cluster, undefined, files, undefined)!);
  }
  clusters.sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  return { clusters, unchanged, renamedPlatforms };
}

function compareCluster(
  cluster: string,
  was: string | undefined,
  base: Map<string, string> | undefined,
  now: Map<string, string> | undefined,
): ClusterDiff | undefined {
  const strip = (file: string, folder: string) => file.slice(folder.length + 1);
  // Files with the same place and text hold the same objects: only the others are parsed.
  const baseFolder = was ?? cluster;
  const differing = (files: Map<string, string> | undefined, folder: string, other: Map<string, string> | undefined, otherFolder: string) =>
    new Map([...(files ?? [])].filter(([file, text]) => other?.get(`${otherFolder}/${strip(file, folder)}`) !== text));
  const before = objectsOf(differing(base, baseFolder, now, cluster));
  const after = objectsOf(differing(now, cluster, base, baseFolder));

  const added: ObjectDiff[] = [];
  const removed: ObjectDiff[] = [];
  const changed: ObjectDiff[] = [];
  const textOnly: string[] = [];
  for (const [key, o] of after) {
    const b = before.get(key);
    if (!b) {
      added.push({ label: o.label, file: o.file, fields: [] });
      continue;
    }
    const fields = fieldChanges(b.object, o.object);
    const moved = strip(b.file, baseFolder) !== strip(o.file, cluster);
    if (fields.length > 0 || moved) changed.push({ label: o.label, file: o.file, fileBefore: moved ? b.file : undefined, fields });
    else if (b.text !== o.text) textOnly.push(o.file);
  }
  for (const [key, b] of before) if (!after.has(key)) removed.push({ label: b.label, file: b.file, fields: [] });
  if (added.length + removed.length + changed.length + textOnly.length === 0) return undefined;
  const byLabel = (x: ObjectDiff, y: ObjectDiff) => (x.label < y.label ? -1 : x.label > y.label ? 1 : 0);
  return {
    cluster,
    was,
    state: !now ? 'removed' : !base ? 'added' : 'changed',
    added: added.sort(byLabel),
    removed: removed.sort(byLabel),
    changed: changed.sort(byLabel),
    textOnly: [...new Set(textOnly)].sort(),
  };
}

/** `<platform>/<env>/<region|argocd>` → its files. */
function groupByCluster(tree: DistTree): Map<string, Map<string, string>> {
  const clusters = new Map<string, Map<string, string>>();
  for (const [file, text] of tree) {
    const parts = file.split('/');
    const cluster = parts.slice(0, Math.min(3, parts.length - 1)).join('/') || '.';
    if (!clusters.has(cluster)) clusters.set(cluster, new Map());
    clusters.get(cluster)!.set(file, text);
  }
  return clusters;
}

/**
 * A platform folder that disappeared and one that appeared with exactly the same
 * `<env>/<cluster>` folders are taken for a rename, so their objects are compared field by
 * field instead of being listed as all removed and all added.
 */
function pairRenamedPlatforms(baseClusters: string[], nowClusters: string[]): [string, string][] {
  const layout = (clusters: string[]) => {
    const byPlatform = new Map<string, string[]>();
    for (const c of clusters) {
      const [platform, ...rest] = c.split('/');
      byPlatform.set(platform, [...(byPlatform.get(platform) ?? []), rest.join('/')]);
    }
    return new Map([...byPlatform].map(([p, rest]) => [p, rest.sort().join('\n')]));
  };
  const before = layout(baseClusters);
  const after = layout(nowClusters);
  const gone = [...before].filter(([p]) => !after.has(p));
  const appeared = [...after].filter(([p]) => !before.has(p));
  const pairs: [string, string][] = [];
  for (const [old, shape] of gone) {
    const candidates = appeared.filter(([, s]) => s === shape);
    const rivals = gone.filter(([, s]) => s === shape);
    if (candidates.length === 1 && rivals.length === 1) pairs.push([old, candidates[0][0]]);
  }
  return pairs;
}

function objectsOf(files: Map<string, string>): Map<string, Found> {
  const found = new Map<string, Found>();
  for (const [file, text] of files) {
    for (const doc of parseAllDocuments(text, { version: '1.1' })) {
      if (doc.errors.length > 0) throw unusable(file, `not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
      const object = doc.toJS() as unknown;
      if (object === null || typeof object !== 'object' || Array.isArray(object)) continue;
      const o = object as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } };
      const group = String(o.apiVersion ?? '').includes('/') ? String(o.apiVersion).split('/')[0] : '';
      const ns = o.metadata?.namespace;
      const label = `${o.kind ?? '?'} ${ns ? `${ns}/` : ''}${o.metadata?.name ?? '?'}`;
      found.set(`${group} ${label}`, { key: `${group} ${label}`, label, file, text, object: object as Record<string, unknown> });
    }
  }
  return found;
}

// Lists of named items (containers, env, ports, volumes) are compared by name, as Kubernetes
// merges them: a variable added at the top is one new item, not every later item changed.
const NAMED = '\u0000';

/** The path element of a list item matched by name, for formatFieldPath: `[name=api]`. */
export const namedItem = (name: string): string => `${NAMED}${name}`;

function keyedByName(value: unknown): unknown {
  if (Array.isArray(value)) {
    const names = value.map((v) =>
      v && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string' ? (v as { name: string }).name : undefined,
    );
    if (value.length > 0 && names.every((n) => n !== undefined) && new Set(names).size === names.length) {
      return Object.fromEntries(value.map((v, i) => [`${NAMED}${names[i]}`, keyedByName(v)]));
    }
    return value.map(keyedByName);
  }
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, keyedByName(v)]));
  return value;
}

function unkeyed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unkeyed);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length > 0 && entries.every(([k]) => k.startsWith(NAMED))) return entries.map(([, v]) => unkeyed(v));
    return Object.fromEntries(entries.map(([k, v]) => [k, unkeyed(v)]));
  }
  return value;
}

/**
 * Field-level differences of two versions of an object (microdiff on name-keyed lists). A
 * multi-line string (a config file in a ConfigMap) is compared line by line.
 */
export function fieldChanges(before: Record<string, unknown>, after: Record<string, unknown>): FieldChange[] {
  return microdiff(keyedByName(before) as Record<string, unknown>, keyedByName(after) as Record<string, unknown>).flatMap((d): FieldChange[] => {
    const at = formatFieldPath(d.path);
    if (d.type === 'CHANGE' && typeof d.value === 'string' && typeof d.oldValue === 'string' && d.value.includes('\n') && d.oldValue.includes('\n')) {
      return microdiff(d.oldValue.split('\n'), d.value.split('\n')).map((l) => ({
        path: `${at} line ${Number(l.path[0]) + 1}`,
        before: l.type === 'CREATE' ? undefined : l.oldValue,
        after: l.type === 'REMOVE' ? undefined : l.value,
      }));
    }
    return [{ path: at, before: d.type === 'CREATE' ? undefined : unkeyed(d.oldValue), after: d.type === 'REMOVE' ? undefined : unkeyed(d.value) }];
  });
}

/** `['metadata', 'labels', 'app.kubernetes.io/name']` → `metadata.labels["app.kubernetes.io/name"]` */
export function formatFieldPath(parts: readonly (string | number)[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (p.startsWith(NAMED)) out += `[name=${p.slice(1)}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(p)) out += `${out ? '.' : ''}${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));

/** The report: a summary line, then per changed cluster a heading and a ```diff block. */
export function formatDiff(diff: DistDiff, baseLabel: string, targetLabel = 'work tree'): string[] {
  const lines: string[] = [];
  const total = (k: 'added' | 'removed' | 'changed') => diff.clusters.reduce((n, c) => n + c[k].length, 0);
  if (diff.clusters.length === 0) {
    return [`No changes: ${targetLabel === 'work tree' ? 'the work tree renders' : `${targetLabel} holds`} exactly ${baseLabel} (${diff.unchanged} clusters).`];
  }
  lines.push(`### meridian diff: ${baseLabel} → ${targetLabel}`, '');
  lines.push(
    `${diff.clusters.length} of ${diff.clusters.length + diff.unchanged} clusters differ: ${total('added')} objects added, ${total('removed')} removed, ${total('changed')} changed.`,
  );
  for (const [from, to] of diff.renamedPlatforms)
    lines.push(`Platform folder renamed: \`${from}/\` → \`${to}/\` (its objects are compared with their old selves).`);
  for (const c of diff.clusters) {
    const counts = [
      c.added.length && `${c.added.length} added`,
      c.removed.length && `${c.removed.length} removed`,
      c.changed.length && `${c.changed.length} changed`,
      c.textOnly.length && `${c.textOnly.length} text only`,
    ]
      .filter(Boolean)
      .join(', ');
    const state = c.state === 'added' ? 'new cluster folder, ' : c.state === 'removed' ? 'cluster folder removed, ' : '';
    lines.push('', `#### \`${c.cluster}\`${c.was ? ` (was \`${c.was}\`)` : ''}: ${state}${counts}`, '', '```diff');
    for (const o of c.added) lines.push(`+ ${o.label}`);
    for (const o of c.removed) lines.push(`- ${o.label}`);
    for (const o of c.changed) {
      lines.push(`~ ${o.label}`);
      if (o.fileBefore) lines.push(`    file: ${o.fileBefore} → ${o.file}`);
      for (const f of o.fields) lines.push(`    ${f.path}: ${show(f.before)} → ${show(f.after)}`);
    }
    if (c.textOnly.length > 0) lines.push(`  ${c.textOnly.length} files differ only in comments or formatting`);
    lines.push('```');
  }
  return lines;
}

function git(cwd: string, args: string[], input?: string): Buffer {
  const r = spawnSync('git', args, { cwd, input, maxBuffer: 2 ** 32 });
  if (r.error) throw unusable(cwd, `cannot run git: ${r.error.message}`);
  if (r.status !== 0) throw unusable(cwd, `git ${args[0]} failed: ${r.stderr.toString().trim().split('\n')[0]}`);
  return r.stdout;
}
