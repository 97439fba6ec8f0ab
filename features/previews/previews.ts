/**
 * Environments per pull request (docs/previews.md).
 *
 * The preview environment is rendered once, as a template, into the namespace
 * `<namespace>-pr-template`. For every pull request ArgoCD's pull-request generator creates an
 * Application that syncs that folder from the pull request's head commit through kustomize,
 * passing only the pull request's namespace. The folder's own kustomization.yaml, rendered
 * from the same commit as the objects, holds the relocation: kustomize's namespace transformer
 * and replacements that rewrite every other string naming the template namespace (Istio hosts,
 * mTLS principals, the pull request's hosts). The replacements are derived from the rendered
 * objects, so whatever a construct renders is relocated without the construct knowing about
 * previews.
 */
import type { ClusterPlan } from '../../model/plan';
import type { Platform, ServiceSpec } from '../../model/schema';
import { previewBaseNamespace, previewNamespace } from './schema';

export { previewBaseNamespace, previewNamespace, previewTemplateNamespace, TEMPLATE_NUMBER } from './schema';

/** A host of a pull request: `<first label>-<namespace>.<domain>`, one label under the wildcard certificate. */
export function previewHost(host: string, namespace: string, domain: string): string {
  return `${host.split('.')[0]}-${namespace}.${domain}`;
}

/**
 * The preview environment's cluster as pull request `number` runs it: its namespace renamed
 * and every exposed host moved under `previews.domain`, the gateway serving `*.<domain>` with
 * the wildcard certificate. `number` is TEMPLATE_NUMBER for the template.
 */
export function previewCluster(c: ClusterPlan, number: string): ClusterPlan {
  const previews = c.platform.previews;
  if (!previews) throw new Error(`${c.platform.name} has no previews`);
  const base = previewBaseNamespace(c.platform);
  const ns = previewNamespace(base, number);
  const ingress = c.platform.ingress;
  const move = <T extends { namespace: string }>(o: T): T => ({ ...o, namespace: o.namespace === base ? ns : o.namespace });
  const service = <S extends ServiceSpec>(svc: S): S => {
    const moved = move(svc);
    if (!svc.expose || !ingress) return moved;
    const hosts = (svc.expose.hosts ?? ingress.hosts).map((h) => previewHost(h, ns, previews.domain));
    return { ...moved, expose: { ...svc.expose, hosts } };
  };
  const each = <T>(record: Readonly<Record<string, T>>, f: (v: T) => T): Record<string, T> =>
    Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
  const platform: Platform = {
    ...c.platform,
    namespaces: Object.fromEntries(Object.entries(c.platform.namespaces).map(([k, v]) => [k === base ? ns : k, v])),
    services: each(c.platform.services, service),
    redis: each(c.platform.redis, move),
    jobs: each(c.platform.jobs, move),
    ingress: ingress && { ...ingress, hosts: [`*.${previews.domain}`], tlsCredential: previews.tlsCredential },
  };
  return { ...c, platform, services: each(c.services, service), redis: each(c.redis, move), jobs: each(c.jobs, move) };
}

interface RelocatableObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

/** Kustomize's `options` of a replacement: the value is split at `delimiter` and part `index` replaced (past the end: appended; negative: prepended). */
interface SplitOptions {
  readonly delimiter: string;
  readonly index: number;
}

/** One kustomize replacement: a value read from one object, written into fields of others. */
export interface Replacement {
  readonly source: { kind: string; name?: string; fieldPath: string; options?: SplitOptions };
  readonly targets: { select: { group?: string; version: string; kind: string; name: string }; fieldPaths: string[]; options?: SplitOptions }[];
}

/** What the template's own kustomization.yaml holds besides its resources. */
export interface Relocation {
  /** Values assembled from the pull request's number (a ConfigMap kustomize builds and drops: `config.kubernetes.io/local-config`). */
  readonly scratch: Record<string, string>;
  readonly replacements: Replacement[];
  /** What cannot be relocated by replacing values: `<Kind>/<name>: <field>: <why>`. */
  readonly problems: string[];
}

/** The scratch ConfigMap's name: local to the build, never applied. */
export const RELOCATION_SCRATCH = 'meridian-relocation';
/** Delimiters around a namespace inside a value: FQDNs, principals, label matchers, lists. */
const DELIMITERS = ['.', '/', '"', ':', ',', '=', ' ', "'", '@', '|', ';', '\n'];
/** An index past any split of a value: kustomize then appends. */
const APPEND = 1_000_000;

/**
 * The relocation of a pull request's template, derived from the template's own objects and
 * written into its own kustomization.yaml, so that it comes from the same commit as the objects
 * it moves (docs/previews.md). All it needs from outside is the pull request's namespace
 * `<base>-pr-<number>`, which the ApplicationSet sets (`kustomize.namespace`); kustomize's
 * namespace transformer then moves `metadata.namespace` and renames the Namespace, and these
 * replacements, which run after it, copy the new name into every other value naming `from`:
 * - where the namespace is a whole part of the value between delimiters (an FQDN, a principal,
 *   the value itself), straight from the Namespace's name, with kustomize's delimiter options;
 * - elsewhere (a preview host `<label>-<namespace>.<domain>`), from a scratch value assembled
 *   out of the pull request's number by appending and prepending parts, then copied whole.
 * Fields are addressed by their path in this template: the template and its kustomization are
 * rendered together, so positions cannot drift.
 *
 * Map keys and object names (but the Namespace's own) cannot be relocated: they are reported as
 * problems, as are values naming one of `others` (the platform's shared namespaces).
 * @param from the template namespace, `<base>-pr-<token>`
 */
export function relocation(objects: readonly RelocatableObject[], from: string, base: string, options: { others?: readonly string[] } = {}): Relocation {
  const problems: string[] = [];
  const prefix = `${base}-pr-`;
  if (!from.startsWith(prefix)) throw new Error(`the template namespace ${from} is not ${prefix}<number>`);
  const naming = new RegExp(`(?<![a-z0-9])${escapeRegExp(from)}(?![a-z0-9])`);
  const foreign = (options.others ?? []).map((ns) => ({ ns, re: foreignReference(ns) }));
  const namespaceSource = { kind: 'Namespace', fieldPath: 'metadata.name' };
  // The number is the part of the namespace after the last "-pr-" (the base may contain one).
  const numberSource = { ...namespaceSource, options: { delimiter: '-pr-', index: prefix.split('-pr-').length - 1 } };

  /** Targets by value: fields holding the same string relocate the same way. */
  const byValue = new Map<string, { select: Replacement['targets'][number]['select']; fieldPath: string }[]>();
  for (const obj of [...objects].sort((a, b) => key(a).localeCompare(key(b)))) {
    const where = `${obj.kind}/${obj.metadata.name}`;
    const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [undefined, obj.apiVersion];
    const select = { ...(group ? { group } : {}), version, kind: obj.kind, name: obj.metadata.name };
    const walk = (value: unknown, pointer: string[]) => {
      if (typeof value === 'string') {
        for (const { ns, re } of foreign) {
          if (re.test(value))
            problems.push(
              `${where}: ${pointer.join('.')}: names the namespace ${ns}, which a pull request's environment does not run in (got ${JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value)}); refer to services in the same namespace by their short name`,
            );
        }
        if (!naming.test(value)) return;
        const at = pointer.join('.');
        // Kustomize's namespace transformer moves these.
        if (at === 'metadata.namespace' || (at === 'metadata.name' && obj.kind === 'Namespace')) return;
        if (at === 'metadata.name') {
          problems.push(
            `${where}: metadata.name: names the template namespace ${from}: kustomize selects the objects to relocate by name, so an object's name cannot change per pull request`,
          );
          return;
        }
        const bad = pointer.find((k) => /[[\]=]/.test(k));
        if (bad !== undefined) {
          problems.push(`${where}: ${at}: the key ${JSON.stringify(bad)} cannot be written in a kustomize field path`);
          return;
        }
        const targets = byValue.get(value) ?? [];
        targets.push({ select, fieldPath: pointer.map((k) => (k.includes('.') ? `[${k}]` : k)).join('.') });
        byValue.set(value, targets);
        return;
      }
      if (Array.isArray(value)) {
        value.forEach((v, i) => walk(v, [...pointer, String(i)]));
        return;
      }
      if (value !== null && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (naming.test(k))
            problems.push(`${where}: ${[...pointer, k].join('.')}: a key names the template namespace ${from}: only values can be relocated per pull request`);
          walk(v, [...pointer, k]);
        }
      }
    };
    walk(obj, []);
  }

  const direct = new Map<string, Replacement>();
  const scratch: Record<string, string> = {};
  const appendNumber: Replacement['targets'] = [];
  const assemble: Replacement[] = [];
  const copies: Replacement[] = [];
  const scratchField = (k: string) => ({ select: { version: 'v1', kind: 'ConfigMap', name: RELOCATION_SCRATCH }, fieldPaths: [`data.${k}`] });
  const addDirect = (options: SplitOptions | undefined, t: { select: Replacement['targets'][number]['select']; fieldPath: string }[]) => {
    const id = JSON.stringify(options ?? null);
    const r: Replacement = direct.get(id) ?? { source: namespaceSource, targets: [] };
    for (const { select, fieldPath } of t) {
      const same = r.targets.find((x) => JSON.stringify(x.select) === JSON.stringify(select));
      if (same) same.fieldPaths.push(fieldPath);
      else r.targets.push({ select, fieldPaths: [fieldPath], ...(options ? { options } : {}) });
    }
    direct.set(id, r);
  };
  let n = 0;
  for (const [value, targets] of byValue) {
    if (value === from) {
      addDirect(undefined, targets);
      continue;
    }
    const delimiter = DELIMITERS.find((d) => value.split(d).every((part) => part === from || !naming.test(part)));
    if (delimiter !== undefined) {
      value.split(delimiter).forEach((part, index) => {
        if (part === from) addDirect({ delimiter, index }, targets);
      });
      continue;
    }
    // value = q0 N q1 N ... N qk with N the number and every q but the last ending in "-pr-":
    // assemble it left to right, appending N after a "-" and prepending what is built so far.
    const pieces = value.split(from);
    const q = pieces.map((p, i) => (i < pieces.length - 1 ? p + prefix : p));
    const id = `v${n++}`;
    let built = `${id}-0`;
    scratch[built] = q[0].slice(0, -1);
    appendNumber.push(scratchField(built));
    for (let i = 1; i < q.length; i++) {
      if (q[i] === '') break;
      const k = `${id}-${i}`;
      const last = i === q.length - 1;
      scratch[k] = last ? q[i].slice(1) : q[i].slice(1, -1);
      if (!last) appendNumber.push(scratchField(k));
      assemble.push({
        source: { kind: 'ConfigMap', name: RELOCATION_SCRATCH, fieldPath: `data.${built}` },
        targets: [{ ...scratchField(k), options: { delimiter: q[i][0], index: -1 } }],
      });
      built = k;
    }
    copies.push({
      source: { kind: 'ConfigMap', name: RELOCATION_SCRATCH, fieldPath: `data.${built}` },
      targets: groupTargets(targets),
    });
  }
  const replacements = [
    ...[...direct.values()],
    ...(appendNumber.length > 0 ? [{ source: numberSource, targets: appendNumber.map((t) => ({ ...t, options: { delimiter: '-', index: APPEND } })) }] : []),
    ...assemble,
    ...copies,
  ];
  return { scratch, replacements, problems };
}

function key(o: RelocatableObject): string {
  return `${o.apiVersion} ${o.kind} ${o.metadata.name}`;
}

function groupTargets(targets: { select: Replacement['targets'][number]['select']; fieldPath: string }[]): Replacement['targets'] {
  const out: Replacement['targets'] = [];
  for (const { select, fieldPath } of targets) {
    const same = out.find((x) => JSON.stringify(x.select) === JSON.stringify(select));
    if (same) same.fieldPaths.push(fieldPath);
    else out.push({ select, fieldPaths: [fieldPath] });
  }
  return out;
}

/**
 * The template folder's kustomization.yaml: its resources, the template namespace (which the
 * ApplicationSet's `kustomize.namespace` replaces with the pull request's), the scratch values
 * and the replacements.
 */
export function templateKustomization(files: readonly string[], namespace: string, r: Relocation): Record<string, unknown> {
  const literal = (k: string, v: string) =>
    // Kustomize strips one pair of matching quotes around a literal's value: add one to keep them.
    `${k}=${v.length >= 2 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'") ? `"${v}"` : v}`;
  const scratch = Object.entries(r.scratch);
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace,
    resources: [...files].sort(),
    ...(scratch.length > 0
      ? {
          configMapGenerator: [
            {
              name: RELOCATION_SCRATCH,
              literals: scratch.map(([k, v]) => literal(k, v)),
              options: { disableNameSuffixHash: true, annotations: { 'config.kubernetes.io/local-config': 'true' } },
            },
          ],
        }
      : {}),
    ...(r.replacements.length > 0 ? { replacements: r.replacements } : {}),
  };
}

/** An FQDN, an mTLS principal or a label matcher that names namespace `ns`. */
function foreignReference(ns: string): RegExp {
  const n = escapeRegExp(ns);
  return new RegExp(`(?<![a-z0-9-])${n}\\.svc(\\.|$|:|/)|/ns/${n}/|namespace\\s*=~?\\s*"${n}"`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
