/**
 * `meridian promote <platform> <env> <region>`: makes a region the primary of an environment
 * the GitOps way, in two steps, each a commit whose rendered state is safe however ArgoCD
 * orders the regions' syncs (docs/redis.md, "Runbook: promote a region"):
 * 1. fence: `promotion.to` in the overlay; the old primary's Redis masters refuse every write.
 * 2. move: after a check that every group is fenced and the new primary holds all it took,
 *    the region roles (and weights) swap and `promotion` goes.
 * Each run does the next step and refuses any other. It edits the environment's overlay (YAML
 * Document API: comments and layout stay), renders and validates through the normal synth
 * (dist/ swapped in atomically, the overlay restored on any failure), and prints per region
 * cluster what changed, from a diff of the rendered objects before and after.
 */
import * as fs from 'node:fs';
import { fieldChanges } from './diff';
import * as path from 'node:path';
import { Document, isMap, isScalar, Pair, parseDocument, Scalar } from 'yaml';
import { ANNOTATION_REDIS_FENCED, ANNOTATION_REDIS_MASTER } from '../features/traffic/resolve';
import { loadAll } from '../model';
import type { EnvironmentPlan } from '../model/plan';
import type { PlatformInput } from '../model/schema';
import { render, synthesize } from '../synth';
import type { Manifest } from '../synth/render';
import { type Io, reportFailure } from './io';
import { checkFence, type FenceGroup, kubectlExec, type RedisExec } from './promote-check';

export interface PromoteOptions {
  /** Repository root holding `platforms/` and `overlays/`. */
  readonly root: string;
  /** Output folder. @default `<root>/dist` */
  readonly dist?: string;
  readonly platform: string;
  readonly env: string;
  /** The region to make primary. */
  readonly region: string;
  /** Leave `routing.weights` alone; by default the new primary takes the old primary's weight and vice versa. */
  readonly keepWeights?: boolean;
  /** The step the operator expects to run; any other is refused. @default - the next step */
  readonly step?: number;
  /** The old primary region is gone: move the master at once, without the fence or its check (loses what the new primary had not received). */
  readonly primaryLost?: boolean;
  /** How the check reads Redis in the clusters. @default - `kubectl exec` with each cluster's context */
  readonly exec?: RedisExec;
  /** @default - $KUBECONFIG, else ~/.kube/config */
  readonly kubeconfig?: string;
}

/** The steps of a planned promotion, as `promote` prints them. */
export const PROMOTION_STEPS = [
  "fence: the old primary's Redis masters refuse every write (overlay: promotion.to); sync it and let its Redis rollout finish",
  "move: once every group is fenced and the new primary's first pod holds all the master took (promote checks), the region roles swap; the regions may sync in any order",
] as const;

type Key = string | number;
type Json = unknown;

/** What the check reads: each group's pods in the old primary and first pod in the new one. */
function fenceGroups(environment: EnvironmentPlan, from: string, to: string): FenceGroup[] {
  const cluster = (region: string) => environment.clusters.find((c) => c.region === region)!;
  const old = cluster(from);
  const next = cluster(to);
  return Object.entries(old.redis).map(([name, r]) => ({
    name,
    from: Array.from({ length: r.replicas }, (_, i) => ({ context: old.cluster, namespace: r.namespace, pod: `${name}-${i}` })),
    to: { context: next.cluster, namespace: r.namespace, pod: `${name}-0` },
  }));
}

/** 0: promoted (or already primary), 1: refused, nothing changed. */
export function runPromote(opts: PromoteOptions, io: Io): number {
  const refuse = (line: string) => {
    io.err(line);
    io.err('promote: nothing was changed');
    return 1;
  };
  const refused = (e: unknown) => reportFailure(io, 'promote', e, '; nothing was changed');

  let envs: EnvironmentPlan[];
  try {
    envs = loadAll(opts.root, { platform: opts.platform, env: opts.env });
  } catch (e) {
    return refused(e);
  }
  const environment = envs[0];
  const platform = environment.platform;
  const regions = Object.keys(platform.regions);
  if (!regions.includes(opts.region)) {
    return refuse(`promote: ${platform.name} has no region "${opts.region}" (regions: ${regions.join(', ')})`);
  }
  const oldPrimary = environment.primaryRegion;
  const scope = `${platform.name}/${environment.env}`;
  const underway = platform.promotion?.to;
  if (oldPrimary === opts.region) {
    io.out(`promote: ${opts.region} is already the primary region of ${scope}; nothing to do`);
    return 0;
  }
  if (underway !== undefined && underway !== opts.region)
    return refuse(
      `promote: a promotion of ${underway} is under way in ${scope} (step 1 done): finish it (\`promote ${platform.name} ${environment.env} ${underway}\`), or abort it by removing promotion from the overlay`,
    );
  const groups = Object.keys(platform.redis);
  // Without Redis there is nothing to fence: the move is the only step.
  const next = groups.length === 0 || opts.primaryLost ? 2 : underway === undefined ? 1 : 2;
  if (opts.step !== undefined && opts.step !== next) {
    const why =
      next === 1 ? `step 1 (fence) comes first: no promotion is under way in the overlay` : `step 1 (fence) is already in the overlay; step 2 (move) is next`;
    return refuse(`promote: refusing step ${opts.step}: ${why}`);
  }

  const edits: { path: Key[]; before: Json; after: Json }[] = [];
  if (next === 1) {
    edits.push({ path: ['promotion', 'to'], before: undefined, after: opts.region });
  } else {
    if (underway !== undefined && !opts.primaryLost) {
      const fence = checkFence(fenceGroups(environment, oldPrimary, opts.region), opts.exec ?? kubectlExec(opts.kubeconfig));
      fence.lines.forEach((l) => io.out(`check: ${l}`));
      if (!fence.ok)
        return refuse(
          `promote: refusing step 2 (move): the check did not pass; sync step 1 to ${oldPrimary}, wait for its Redis rollout, and run promote again`,
        );
    }
    // What the overlay must say: roles swapped, and the primary's share of the weighted split
    // moved with it (the old primary is likely the region in trouble).
    edits.push(
      { path: ['regions', opts.region, 'role'], before: 'secondary', after: 'primary' },
      { path: ['regions', oldPrimary, 'role'], before: 'primary', after: 'secondary' },
    );
    const weights = platform.routing.weights;
    if (weights && !opts.keepWeights && weights[opts.region] !== weights[oldPrimary]) {
      edits.push({ path: ['routing', 'weights', opts.region], before: weights[opts.region], after: weights[oldPrimary] });
      edits.push({ path: ['routing', 'weights', oldPrimary], before: weights[oldPrimary], after: weights[opts.region] });
    }
    if (underway !== undefined) edits.push({ path: ['promotion', 'to'], before: underway, after: undefined });
  }

  const baseFile = environment.files[0];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const base = (require(path.resolve(opts.root, baseFile)) as { default: PlatformInput }).default;
  const overlayFile = environment.files[1] ?? path.join('overlays', platform.name, `${environment.env}.yaml`);
  const overlayPath = path.join(opts.root, overlayFile);
  const original = fs.existsSync(overlayPath) ? fs.readFileSync(overlayPath, 'utf8') : undefined;
  const edited = editOverlay(original ?? `# ${platform.name}, ${environment.env}: only what differs from ${baseFile}.\n`, edits, base);

  let before: Map<string, Manifest>;
  try {
    before = byFile(render(envs).files);
  } catch (e) {
    return refused(e);
  }
  writeAtomically(overlayPath, edited);
  let after: Map<string, Manifest>;
  try {
    const result = synthesize({ root: opts.root, dist: opts.dist, platform: platform.name, env: environment.env });
    after = byFile(result.rendering.files);
  } catch (e) {
    if (original === undefined) fs.rmSync(overlayPath, { force: true });
    else writeAtomically(overlayPath, original);
    return refused(e);
  }

  if (groups.length === 0) io.out(`promote ${scope}: ${opts.region} becomes the primary region (was ${oldPrimary}); no Redis group, nothing to fence`);
  else if (opts.primaryLost)
    io.out(
      `promote ${scope}: ${opts.region} becomes the primary region (was ${oldPrimary}), unplanned (--primary-lost): no fence; what ${opts.region} had not received from ${oldPrimary} is lost`,
    );
  else {
    io.out(
      `promote ${scope}: step ${next} of 2: ${next === 1 ? `fence ${oldPrimary} for the move to ${opts.region}` : `${opts.region} becomes the primary region (was ${oldPrimary})`}`,
    );
    PROMOTION_STEPS.forEach((s, i) => io.out(`  ${i + 1}. ${i + 1 < next ? '[done] ' : i + 1 === next ? '[this run] ' : ''}${s}`));
    io.out(
      next === 1
        ? `next: commit and sync; when ${oldPrimary}'s Redis pods have rolled, run \`meridian promote ${platform.name} ${environment.env} ${opts.region} --step 2\` (it checks the fence first)`
        : `next: commit; the regions may sync in any order (one master takes writes at any time)`,
    );
  }
  io.out(`${overlayFile}:`);
  for (const e of edits) io.out(`  ${e.path.join('.')}: ${show(e.before)} → ${show(e.after)}`);
  io.out(`rendered and validated ${after.size} objects into ${path.relative(opts.root, opts.dist ?? path.join(opts.root, 'dist')) || '.'}/${scope}`);
  for (const cluster of environment.clusters) {
    const wasPrimary = cluster.region === oldPrimary;
    const isPrimary = cluster.region === opts.region;
    const role = next === 2 && (wasPrimary || isPrimary) ? `: ${wasPrimary ? 'primary → secondary' : 'secondary → primary'}` : '';
    io.out('');
    io.out(`${cluster.region} (cluster ${cluster.cluster})${role}`);
    reportCluster(`${scope}/${cluster.region}/`, cluster.gcpRegion, before, after).forEach((l) => io.out(`  ${l}`));
  }
  const gitops = objectChanges(`${scope}/argocd/`, before, after);
  io.out('');
  io.out(`argocd${gitops.length === 0 ? ': no change' : ''}`);
  gitops.forEach((l) => io.out(`  ${l}`));
  return 0;
}

/**
 * The overlay text with each edit applied: set where it differs from the base, removed
 * where the base already says it. Edits are spliced into the text at the ranges the YAML
 * parser reports, so every other byte (comments, quoting, flow style, spacing) stays.
 */
export function editOverlay(text: string, edits: readonly { path: Key[]; after: Json }[], base: unknown): string {
  let out = text;
  for (const { path: at, after } of edits) out = valueAt(base, at) === after ? removeIn(out, at) : setIn(out, at, after);
  return out;
}

type Range = [number, number, number];
/** `key:` with nothing after it parses as a null scalar. */
const isEmptyValue = (v: unknown) => v === null || v === undefined || (isScalar(v) && v.value === null);
const rangeOf = (node: unknown): Range => (node as { range: Range }).range;

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** Just past the newline ending the line that holds `pos`. */
function lineEnd(text: string, pos: number): number {
  const nl = text.indexOf('\n', pos);
  return nl === -1 ? text.length : nl + 1;
}

function yamlKey(k: Key): string {
  return typeof k === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(k) ? k : JSON.stringify(k);
}

function yamlScalar(v: Json, like?: Scalar): string {
  if (typeof v === 'string') {
    if (like?.type === 'QUOTE_DOUBLE' || !/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(v) || /^(true|false|null|~|[0-9.]+)$/i.test(v)) return JSON.stringify(v);
    return like?.type === 'QUOTE_SINGLE' ? `'${v}'` : v;
  }
  return JSON.stringify(v);
}

/** The pairs along `at` as far as they exist, and what holds the first missing key. */
function locate(doc: Document, at: readonly Key[]): { pairs: Pair[]; holder: unknown } {
  const pairs: Pair[] = [];
  let node: unknown = doc.contents;
  for (const k of at) {
    if (!isMap(node)) break;
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === k);
    if (!pair) break;
    pairs.push(pair);
    node = pair.value;
  }
  return { pairs, holder: pairs.length === 0 ? doc.contents : node };
}

/** Falls back to re-serialising: only for flow mappings, which have no lines to splice. */
function viaDocument(text: string, edit: (doc: Document) => void): string {
  const doc = parseDocument(text);
  edit(doc);
  return doc.toString({ lineWidth: 0 });
}

function setIn(text: string, at: readonly Key[], after: Json): string {
  const doc = parseDocument(text);
  const { pairs, holder } = locate(doc, at);
  if (pairs.length === at.length) {
    const value = pairs[pairs.length - 1].value;
    if (!isScalar(value)) throw new Error(`${at.join('.')}: is not a single value in the overlay; edit it by hand`);
    const [start, end] = rangeOf(value);
    return text.slice(0, start) + yamlScalar(after, value) + text.slice(end);
  }
  if (isMap(holder) && holder.flow) return viaDocument(text, (d) => d.setIn(at, after));
  if (!isEmptyValue(holder) && !isMap(holder)) throw new Error(`${at.slice(0, pairs.length).join('.')}: is not a mapping in the overlay; edit it by hand`);

  // Where the new lines go, and at which indentation.
  let pos: number;
  let indent: number;
  const items = isMap(holder) ? holder.items : [];
  if (items.length > 0) {
    const firstKey = rangeOf(items[0].key)[0];
    indent = firstKey - lineStart(text, firstKey);
    const last = items[items.length - 1];
    pos = lineEnd(text, rangeOf(isEmptyValue(last.value) ? last.key : last.value)[1] - 1);
  } else if (pairs.length > 0) {
    const key = rangeOf(pairs[pairs.length - 1].key)[0];
    indent = key - lineStart(text, key) + 2;
    pos = lineEnd(text, key);
  } else {
    indent = 0;
    pos = text.length;
  }
  const rest = at.slice(pairs.length);
  const lines = rest.map((k, i) => `${' '.repeat(indent + 2 * i)}${yamlKey(k)}:${i === rest.length - 1 ? ` ${yamlScalar(after)}` : ''}\n`).join('');
  const head = text.slice(0, pos);
  return (head === '' || head.endsWith('\n') ? head : `${head}\n`) + lines + text.slice(pos);
}

function removeIn(text: string, at: readonly Key[]): string {
  let out = text;
  // The key itself, then each mapping along the path that this leaves empty.
  for (let n = at.length; n > 0; n--) {
    const doc = parseDocument(out);
    const { pairs } = locate(doc, at.slice(0, n));
    if (pairs.length < n) return out;
    const pair = pairs[n - 1];
    const empty = isEmptyValue(pair.value) || (isMap(pair.value) && pair.value.items.length === 0);
    if (n < at.length && !empty) return out;
    const holder = n === 1 ? doc.contents : pairs[n - 2].value;
    if (isMap(holder) && holder.flow) return viaDocument(out, (d) => d.deleteIn(at.slice(0, n)));
    const start = lineStart(out, rangeOf(pair.key)[0]);
    const end = lineEnd(out, rangeOf(isEmptyValue(pair.value) ? pair.key : pair.value)[1] - 1);
    out = out.slice(0, start) + out.slice(end);
  }
  return out;
}

function valueAt(value: unknown, at: readonly Key[]): unknown {
  return at.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), value);
}

function writeAtomically(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function byFile(files: readonly { path: string; manifest: Manifest }[]): Map<string, Manifest> {
  return new Map(files.map((f) => [f.path, f.manifest]));
}

function show(v: unknown): string {
  return v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v);
}

function describe(m: Manifest): string {
  return `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
}

/** Added, removed and changed objects under a folder, with their changed fields. */
function objectChanges(prefix: string, before: Map<string, Manifest>, after: Map<string, Manifest>): string[] {
  const files = [...new Set([...before.keys(), ...after.keys()])].filter((f) => f.startsWith(prefix)).sort();
  const lines: string[] = [];
  for (const f of files) {
    const a = before.get(f);
    const b = after.get(f);
    if (!a) lines.push(`added ${describe(b!)}`);
    else if (!b) lines.push(`removed ${describe(a)}`);
    else {
      const changes = fieldChanges(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>);
      if (changes.length === 0) continue;
      lines.push(`changed ${describe(a)}`);
      changes.forEach((c) => lines.push(`  ${c.path}: ${show(c.before)} → ${show(c.after)}`));
    }
  }
  return lines;
}

/** What a region cluster's operators need to know first: Redis master, failover, weights; then every changed field. */
function reportCluster(prefix: string, gcpRegion: string, before: Map<string, Manifest>, after: Map<string, Manifest>): string[] {
  const lines: string[] = [];
  const inCluster = (m: Map<string, Manifest>, kind: string) => [...m].filter(([f, o]) => f.startsWith(prefix) && o.kind === kind);
  // The two fields read below, as Istio's DestinationRule and VirtualService define them.
  type RoutingSpec = {
    trafficPolicy?: { loadBalancer?: { localityLbSetting?: { failover?: { from: string; to: string }[] } } };
    http?: { name: string; route: { destination: { subset?: string }; weight?: number }[] }[];
  };
  const spec = (o: Manifest | undefined) => (o?.spec ?? {}) as RoutingSpec;

  for (const [file, sts] of inCluster(after, 'StatefulSet')) {
    const now = (sts.metadata.annotations as Record<string, string> | undefined)?.[ANNOTATION_REDIS_MASTER];
    if (now === undefined) continue;
    const was = (before.get(file)?.metadata.annotations as Record<string, string> | undefined)?.[ANNOTATION_REDIS_MASTER];
    const fenced = (sts.metadata.annotations as Record<string, string> | undefined)?.[ANNOTATION_REDIS_FENCED];
    lines.push(
      `Redis ${sts.metadata.name}: master in ${now}${was === now ? ' (unchanged)' : ` (was ${was ?? 'none'})`}${fenced ? `, fenced: refuses every write until the move to ${fenced}` : ''}`,
    );
  }
  for (const [file, dr] of inCluster(after, 'DestinationRule')) {
    const target = (o: Manifest | undefined) => spec(o).trafficPolicy?.loadBalancer?.localityLbSetting?.failover?.find((f) => f.from === gcpRegion)?.to;
    const now = target(dr);
    if (now === undefined) continue;
    const was = target(before.get(file));
    lines.push(
      `failover ${dr.metadata.name}: calls from ${gcpRegion} fail over to ${now}, then the rest${was === now ? ' (unchanged)' : ` (was ${was ?? 'none'})`}`,
    );
  }
  for (const [file, vs] of inCluster(after, 'VirtualService')) {
    const shares = (o: Manifest | undefined) =>
      new Map(
        (spec(o).http ?? [])
          .filter((r) => r.route.length > 1)
          .map((r) => [r.name, r.route.map((d) => [d.destination.subset ?? '-', d.weight ?? 0] as [string, number])]),
      );
    const was = shares(before.get(file));
    for (const [route, now] of shares(vs)) {
      const old = new Map(was.get(route) ?? []);
      const changed = now.some(([s, w]) => old.get(s) !== w) || old.size !== now.length;
      const parts = now.map(([s, w]) => (old.get(s) === w ? `${s} ${w}` : `${s} ${old.get(s) ?? 0} → ${w}`));
      lines.push(`weights ${vs.metadata.name} (route ${route}): ${parts.join(', ')}${changed ? '' : ' (unchanged)'}`);
    }
  }
  const changes = objectChanges(prefix, before, after);
  lines.push(changes.length === 0 ? 'objects: no change' : 'objects:');
  changes.forEach((l) => lines.push(`  ${l}`));
  return lines;
}
