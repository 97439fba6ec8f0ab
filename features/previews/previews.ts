/**
 * Environments per pull request (docs/previews.md).
 *
 * The preview environment is rendered once, as a template, into the namespace
 * `<namespace>-pr-template`. For every pull request ArgoCD's pull-request generator creates an
 * Application that syncs that folder from the pull request's head commit through kustomize,
 * with kustomize's namespace transformer and JSON patches (RFC 6902) that rewrite every other
 * string naming the template namespace to `<namespace>-pr-<number>`: Istio hosts, mTLS
 * principals, label selectors, queries alike.
 * The patches are derived from the rendered objects, so whatever a construct renders is
 * relocated without the construct knowing about previews.
 */
import type { ClusterPlan } from '../../model/plan';
import type { Platform, ServiceSpec } from '../../model/schema';

/** What stands for the pull request's number in the template. */
export const TEMPLATE_NUMBER = 'template';

/** The namespace a pull request's environment runs in. */
export function previewNamespace(namespace: string, number: string): string {
  return `${namespace}-pr-${number}`;
}

/** The one namespace of the preview environment (load.ts checks there is exactly one). */
export function previewBaseNamespace(platform: Platform): string {
  return Object.keys(platform.namespaces)[0];
}

/** The namespace of the pull request template, when `env` is the platform's preview environment. */
export function previewTemplateNamespace(platform: Platform, env: string): string | undefined {
  return platform.previews?.environment === env ? previewNamespace(previewBaseNamespace(platform), TEMPLATE_NUMBER) : undefined;
}

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

/** A kustomize patch as an ArgoCD Application's `source.kustomize.patches` holds it. */
export interface KustomizePatch {
  readonly target: { group?: string; version: string; kind: string; name: string };
  /** RFC 6902 operations, as JSON. */
  readonly patch: string;
}

interface RelocatableObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

export interface Relocation {
  readonly patches: KustomizePatch[];
  /** What cannot be relocated by replacing values: `<Kind>/<name>: <field>: <why>`. */
  readonly problems: string[];
}

/**
 * The patches that move the template's objects from namespace `from` to `to`: one replace per
 * string that names `from`, but `metadata.namespace` and the Namespace's name, which kustomize's
 * namespace transformer sets (`kustomize.namespace` of the Application). With `goTemplate`, `to` is an ArgoCD ApplicationSet expression and
 * any `{{` already in a value is escaped so the ApplicationSet prints it unchanged.
 *
 * Map keys and object names (but the Namespace's own) cannot be patched by value: they are
 * reported as problems.
 * @param others namespaces the template must not name (the platform's shared namespaces): a
 *   pull request's pods would call into them
 */
export function relocationPatches(
  objects: readonly RelocatableObject[],
  from: string,
  to: string,
  options: { goTemplate?: boolean; others?: readonly string[] } = {},
): Relocation {
  const patches: KustomizePatch[] = [];
  const problems: string[] = [];
  // Within a DNS label too: a pull request's hosts are `<label>-<namespace>.<domain>`.
  const naming = new RegExp(`(?<![a-z0-9])${escapeRegExp(from)}(?![a-z0-9])`);
  const everyNaming = new RegExp(naming.source, 'g');
  const foreign = (options.others ?? []).map((ns) => ({ ns, re: foreignReference(ns) }));
  const escape = (s: string) => (options.goTemplate ? s.replace(/\{\{/g, '{{`{{`}}') : s);
  for (const obj of objects) {
    const ops: { op: 'replace'; path: string; value: string }[] = [];
    const where = `${obj.kind}/${obj.metadata.name}`;
    const walk = (value: unknown, pointer: string[]) => {
      if (typeof value === 'string') {
        for (const { ns, re } of foreign) {
          if (re.test(value))
            problems.push(
              `${where}: ${pointer.join('.')}: names the namespace ${ns}, which a pull request's environment does not run in (got ${JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value)}); refer to services in the same namespace by their short name`,
            );
        }
        if (!naming.test(value)) return;
        const at = pointer.join('/');
        // Kustomize's namespace transformer moves these (the Application's kustomize.namespace).
        if (at === 'metadata/namespace' || (at === 'metadata/name' && obj.kind === 'Namespace')) return;
        if (at === 'metadata/name') {
          problems.push(
            `${where}: metadata.name: names the template namespace ${from}: ArgoCD targets the patches by name, so an object's name cannot change per pull request`,
          );
          return;
        }
        ops.push({ op: 'replace', path: `/${pointer.map(escapePointer).join('/')}`, value: escape(value).replace(everyNaming, to) });
        return;
      }
      if (Array.isArray(value)) {
        value.forEach((v, i) => walk(v, [...pointer, String(i)]));
        return;
      }
      if (value !== null && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (naming.test(k))
            problems.push(`${where}: ${[...pointer, k].join('.')}: a key names the template namespace ${from}: only values can be patched per pull request`);
          walk(v, [...pointer, k]);
        }
      }
    };
    walk(obj, []);
    if (ops.length === 0) continue;
    const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [undefined, obj.apiVersion];
    patches.push({ target: { ...(group ? { group } : {}), version, kind: obj.kind, name: obj.metadata.name }, patch: JSON.stringify(ops) });
  }
  return { patches, problems };
}

/** An FQDN, an mTLS principal or a label matcher that names namespace `ns`. */
function foreignReference(ns: string): RegExp {
  const n = escapeRegExp(ns);
  return new RegExp(`(?<![a-z0-9-])${n}\\.svc(\\.|$|:|/)|/ns/${n}/|namespace\\s*=~?\\s*"${n}"`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
