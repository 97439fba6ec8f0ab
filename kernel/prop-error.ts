/**
 * A construct's refusal of one of its props, typed so that whoever built the props from a
 * spec can say which spec field the value came from (the region chart does, through the
 * plan's provenance): each rule is written once, in the construct, and still reported in the
 * reader's terms (`overlays/ggen/prod.yaml: redis.cache: ...`).
 */
export class PropError extends Error {
  constructor(
    /** The construct's class, e.g. `RedisSentinel`. */
    public readonly construct: string,
    /** The construct's id. */
    public readonly id: string,
    /** The prop refused, as a path into the props: `name`, `triggers[1].query`. */
    public readonly prop: string,
    /** The value refused (never a secret's: constructs receive secrets by reference); undefined when `allowed` shows it. */
    public readonly value: unknown,
    /** Why it is refused and what is allowed. */
    public readonly allowed: string,
  ) {
    super(value === undefined ? `${construct} '${id}': ${prop}: ${allowed}` : `${construct} '${id}': ${prop} (${show(value)}) ${allowed}`);
    this.name = 'PropError';
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** `triggers[1].query` → `['triggers', 1, 'query']`. */
export function propPath(prop: string): (string | number)[] {
  return [...prop.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
}
