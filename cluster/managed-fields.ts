/**
 * Who owns a field of a live object, read from its `metadata.managedFields` (server-side
 * apply's field sets, format FieldsV1). Upstream: kubernetes/apimachinery
 * pkg/apis/meta/v1/types.go (ManagedFieldsEntry, FieldsV1) and sigs.k8s.io/structured-merge-diff
 * fieldpath/serialize-pe.go, where a path element is written as
 *   `f:<field>`          a field of a map,
 *   `k:{"name":"api"}`   an item of a list keyed by its merge key(s),
 *   `v:<json>`           an item of a set (a list of scalars),
 *   `i:<index>`          an item of an atomic list by position,
 * and `.` marks the item itself as owned.
 */

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  readonly manager?: string;
  readonly operation?: string;
  readonly subresource?: string;
  readonly fieldsV1?: Record<string, unknown>;
}

type FieldSet = Record<string, unknown>;

/** The managers whose field set holds `path` (object keys and list indexes into `object`). */
export function ownersOf(object: Record<string, unknown>, path: readonly (string | number)[]): string[] {
  const entries = ((object.metadata as { managedFields?: ManagedFieldsEntry[] } | undefined)?.managedFields ?? []).filter((e) => e.fieldsV1);
  return entries.filter((e) => holds(e.fieldsV1 as FieldSet, object, path)).map((e) => e.manager ?? '(unnamed)');
}

function holds(set: FieldSet, object: unknown, path: readonly (string | number)[]): boolean {
  let node: FieldSet | undefined = set;
  let value: unknown = object;
  for (const step of path) {
    if (node === undefined) return false;
    // An empty set below a field: the field is owned as a whole (a leaf or an atomic value).
    if (Object.keys(node).length === 0) return true;
    let next: unknown;
    if (typeof step === 'number') {
      const item = Array.isArray(value) ? value[step] : undefined;
      next = node[`i:${step}`] ?? node[`v:${JSON.stringify(item)}`] ?? keyedItem(node, item);
      value = item;
    } else {
      next = node[`f:${step}`];
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[step] : undefined;
    }
    node = next && typeof next === 'object' ? (next as FieldSet) : undefined;
  }
  return node !== undefined;
}

/** The `k:{...}` element whose key fields all equal the item's. */
function keyedItem(node: FieldSet, item: unknown): unknown {
  if (!item || typeof item !== 'object') return undefined;
  for (const [k, v] of Object.entries(node)) {
    if (!k.startsWith('k:')) continue;
    let key: Record<string, unknown>;
    try {
      key = JSON.parse(k.slice(2)) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (Object.entries(key).every(([f, want]) => JSON.stringify((item as Record<string, unknown>)[f]) === JSON.stringify(want))) return v;
  }
  return undefined;
}
