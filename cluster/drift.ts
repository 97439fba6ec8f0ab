/**
 * `meridian drift`: how the live objects of each region cluster differ from dist/, field by
 * field, in the format of `meridian diff` (dist/ → live), read-only.
 *
 * What is compared: every field dist/ renders, against the live value, whoever set it (a
 * field someone changed by hand is named with the manager that owns it now, from
 * `metadata.managedFields`). Fields only the live object has are the server's or a
 * controller's (defaults, `status`, an autoscaler's `replicas`) and are left out, unless a
 * person set them: a manager named `kubectl…` (kubectl edit, patch, apply, set, label,
 * annotate). `spec.replicas` of a workload a rendered ScaledObject scales belongs to KEDA.
 * Plus: live objects labelled `app.kubernetes.io/managed-by: meridian`, of the kinds the
 * environment renders, that dist/ no longer has (objects a controller made are skipped).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { fieldChanges, formatFieldPath, namedItem, type FieldChange } from '../cli/diff';
import { allInOrder, ClusterClient, ClusterError, type LiveObject } from './kube';
import { objectLabel, type RegionTarget, type RenderedObject } from './fleet';
import { ownersOf } from './managed-fields';

/** A field that differs, with the managers that own its live value. */
export interface DriftField extends FieldChange {
  readonly managers?: readonly string[];
}

export interface DriftObject {
  /** `Deployment marketplace/api` */
  readonly label: string;
  /** Its file in dist/ (none for a live object dist/ does not have). */
  readonly file?: string;
  readonly fields: readonly DriftField[];
}

export interface RegionDrift {
  readonly platform: string;
  readonly env: string;
  readonly region: string;
  readonly context: string;
  /** Why the cluster could not be read. */
  readonly error?: string;
  /** Objects compared. */
  readonly checked: number;
  readonly changed: readonly DriftObject[];
  /** In dist/, not in the cluster. */
  readonly missing: readonly DriftObject[];
  /** Labelled as Meridian's in the cluster, not in dist/. */
  readonly extra: readonly DriftObject[];
}

export interface FleetDrift {
  readonly regions: readonly RegionDrift[];
  /** 0 no drift, 1 drift, 2 a cluster did not answer. */
  readonly exitCode: 0 | 1 | 2;
}

export const MANAGED_BY = 'app.kubernetes.io/managed-by=meridian';

/** A person's field manager: kubectl's commands name themselves `kubectl-<command>` (or `kubectl`). */
const BY_HAND = /^kubectl(-|$)/;

/** Set by the server or by kubectl on every object; never part of what is rendered. */
const IGNORED_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration', 'deployment.kubernetes.io/revision']);

export async function readDrift(targets: readonly RegionTarget[], opts: { kubeconfig: KubeConfig; timeoutMs: number }): Promise<FleetDrift> {
  const regions = await Promise.all(targets.map((t) => regionDrift(t, targets, opts)));
  const exitCode = regions.some((r) => r.error) ? 2 : regions.some((r) => r.changed.length + r.missing.length + r.extra.length > 0) ? 1 : 0;
  return { regions, exitCode };
}

async function regionDrift(t: RegionTarget, all: readonly RegionTarget[], opts: { kubeconfig: KubeConfig; timeoutMs: number }): Promise<RegionDrift> {
  const base = { platform: t.platform, env: t.env, region: t.region, context: t.context, checked: t.objects.length };
  try {
    const client = new ClusterClient(opts.kubeconfig, t.context, opts.timeoutMs);
    const scaled = new Set(
      t.objects
        .filter((o) => o.kind === 'ScaledObject')
        .map((o) => {
          const ref = (o.object.spec as { scaleTargetRef?: { kind?: string; name?: string } }).scaleTargetRef;
          return `${ref?.kind ?? 'Deployment'} ${o.namespace}/${ref?.name}`;
        }),
    );
    const compared = await allInOrder(t.objects.map(async (r) => ({ r, live: await client.get(r.apiVersion, r.kind, r.namespace, r.name) })));
    const changed: DriftObject[] = [];
    const missing: DriftObject[] = [];
    for (const { r, live } of compared) {
      const label = objectLabel(r);
      if (!live) {
        missing.push({ label, file: r.file, fields: [] });
        continue;
      }
      const fields = objectDrift(r, live, scaled.has(`${r.kind} ${r.namespace}/${r.name}`));
      if (fields.length > 0) changed.push({ label, file: r.file, fields });
    }
    const extra = await extraObjects(client, t, all);
    const byLabel = (a: DriftObject, b: DriftObject) => a.label.localeCompare(b.label);
    return { ...base, changed: changed.sort(byLabel), missing: missing.sort(byLabel), extra: extra.sort(byLabel) };
  } catch (e) {
    if (!(e instanceof ClusterError)) throw e;
    return { ...base, error: e.message, changed: [], missing: [], extra: [] };
  }
}

/** The rendered object's fields against the live object's (see the file's comment for what is left out). */
export function objectDrift(rendered: RenderedObject, live: LiveObject, autoscaled: boolean): DriftField[] {
  const paths = new Map<string, (string | number)[]>();
  const shown = project(live, rendered.object, [], [], live, paths) as Record<string, unknown>;
  delete shown.status;
  if (autoscaled) delete (shown.spec as { replicas?: unknown } | undefined)?.replicas;
  const want = { ...rendered.object };
  delete want.status;
  return fieldChanges(want, shown).map((f) => {
    const raw = paths.get(f.path.replace(/ line \d+$/, ''));
    const managers = f.after === undefined || !raw ? undefined : ownersOf(live, raw);
    return managers && managers.length > 0 ? { ...f, managers } : f;
  });
}

/**
 * The live value, cut down to what can be compared with `rendered`: the fields the rendered
 * value has, and live-only fields a person set. `paths` maps each kept field's printed path
 * (as `meridian diff` prints it) to its path in the live object, to look up its managers.
 */
function project(
  live: unknown,
  rendered: unknown,
  raw: (string | number)[],
  shown: (string | number)[],
  object: LiveObject,
  paths: Map<string, (string | number)[]>,
): unknown {
  paths.set(formatFieldPath(shown), raw);
  const byHand = (at: (string | number)[]) => ownersOf(object, at).some((m) => BY_HAND.test(m));
  if (isMap(live) && isMap(rendered)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(live)) {
      if (raw.length === 2 && raw[0] === 'metadata' && raw[1] === 'annotations' && IGNORED_ANNOTATIONS.has(k)) continue;
      if (k in rendered) out[k] = project(v, rendered[k], [...raw, k], [...shown, k], object, paths);
      else if (raw.length > 0 && byHand([...raw, k])) out[k] = project(v, undefined, [...raw, k], [...shown, k], object, paths);
    }
    return out;
  }
  if (Array.isArray(live) && Array.isArray(rendered)) {
    const names = live.map((v) => (isMap(v) && typeof v.name === 'string' ? v.name : undefined));
    const named = live.length > 0 && names.every((n) => n !== undefined) && new Set(names).size === names.length;
    if (named) {
      const want = new Map(rendered.filter(isMap).map((v) => [v.name, v]));
      return live.flatMap((v, i) => {
        const at = [...shown, namedItem(names[i]!)];
        if (want.has(names[i])) return [project(v, want.get(names[i]), [...raw, i], at, object, paths)];
        return byHand([...raw, i]) ? [project(v, undefined, [...raw, i], at, object, paths)] : [];
      });
    }
    if (live.length === rendered.length) return live.map((v, i) => project(v, rendered[i], [...raw, i], [...shown, i], object, paths));
  }
  if (isMap(live) || Array.isArray(live)) recordPaths(live, raw, shown, paths);
  return live;
}

/** Paths of a value kept whole (its fields may show in the diff one by one). */
function recordPaths(value: unknown, raw: (string | number)[], shown: (string | number)[], paths: Map<string, (string | number)[]>): void {
  paths.set(formatFieldPath(shown), raw);
  if (isMap(value)) for (const [k, v] of Object.entries(value)) recordPaths(v, [...raw, k], [...shown, k], paths);
  if (Array.isArray(value)) value.forEach((v, i) => recordPaths(v, [...raw, i], [...shown, i], paths));
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Live objects labelled as Meridian's, of the kinds the environment renders, that this region's dist/ does not have. */
async function extraObjects(client: ClusterClient, t: RegionTarget, all: readonly RegionTarget[]): Promise<DriftObject[]> {
  const kinds = new Map<string, { apiVersion: string; kind: string }>();
  for (const other of all.filter((o) => o.platform === t.platform && o.env === t.env))
    for (const o of other.objects) kinds.set(`${o.apiVersion} ${o.kind}`, { apiVersion: o.apiVersion, kind: o.kind });
  const rendered = new Set(t.objects.map((o) => `${group(o.apiVersion)} ${objectLabel(o)}`));
  const lists = await allInOrder(
    [...kinds.values()]
      .sort((a, b) => `${a.apiVersion} ${a.kind}`.localeCompare(`${b.apiVersion} ${b.kind}`))
      .map((k) => client.list(k.apiVersion, k.kind, { labelSelector: MANAGED_BY })),
  );
  const out: DriftObject[] = [];
  for (const live of lists.flat()) {
    const meta = live.metadata ?? {};
    if (Array.isArray(meta.ownerReferences) && meta.ownerReferences.length > 0) continue;
    const label = objectLabel({ kind: live.kind, namespace: meta.namespace, name: meta.name });
    if (!rendered.has(`${group(live.apiVersion ?? '')} ${label}`)) out.push({ label, fields: [] });
  }
  return out;
}

const group = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));

/** The report: per region a heading and a ```diff block (`~` changed, `-` missing from the cluster, `+` only in the cluster). */
export function formatDrift(drift: FleetDrift): string[] {
  const lines: string[] = [];
  const drifted = drift.regions.filter((r) => r.changed.length + r.missing.length + r.extra.length > 0);
  const silent = drift.regions.filter((r) => r.error);
  lines.push('### meridian drift: dist/ → live', '');
  lines.push(
    `${drifted.length} of ${drift.regions.length} clusters drift: ${sum(drift, 'changed')} objects changed, ${sum(drift, 'missing')} missing from the cluster, ${sum(drift, 'extra')} only in the cluster.`,
  );
  for (const r of drift.regions) {
    if (r.error) {
      lines.push('', `#### \`${r.platform}/${r.env}/${r.region}\` (context ${r.context}): did not answer`, '', `    ${r.error}`);
      continue;
    }
    if (r.changed.length + r.missing.length + r.extra.length === 0) continue;
    const counts = [
      r.changed.length && `${r.changed.length} changed`,
      r.missing.length && `${r.missing.length} missing`,
      r.extra.length && `${r.extra.length} only live`,
    ]
      .filter(Boolean)
      .join(', ');
    lines.push('', `#### \`${r.platform}/${r.env}/${r.region}\` (context ${r.context}): ${counts} of ${r.checked} objects`, '', '```diff');
    for (const o of r.missing) lines.push(`- ${o.label}`);
    for (const o of r.extra) lines.push(`+ ${o.label}`);
    for (const o of r.changed) {
      lines.push(`~ ${o.label}`);
      for (const f of o.fields) lines.push(`    ${f.path}: ${show(f.before)} → ${show(f.after)}${f.managers ? ` (set by ${f.managers.join(', ')})` : ''}`);
    }
    lines.push('```');
  }
  if (silent.length > 0) lines.push('', `partial: no answer from ${silent.map((r) => `${r.platform}/${r.env}/${r.region}`).join(', ')}`);
  return lines;
}

const sum = (d: FleetDrift, k: 'changed' | 'missing' | 'extra') => d.regions.reduce((n, r) => n + r[k].length, 0);
