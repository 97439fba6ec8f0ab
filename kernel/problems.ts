/**
 * The one shape of a problem, from spec input to rendered output, and the one error that
 * carries problems. A problem is reported in the reader's terms:
 * - in a platform or overlay file: `file: field.path: message`
 *   (`overlays/ggen/prod.yaml: services.api.autoscaling.max: must be >= min (4) (got 2)`);
 * - in a rendered object: `file: Kind namespace/name: field.path: message`
 *   (`dist/ggen/prod/us-east1/marketplace/deployment-api.yaml: Deployment marketplace/api: spec.replicas: ...`).
 */

/** A rendered Kubernetes object, as a problem names it: `Kind namespace/name`. */
export interface ObjectRef {
  readonly kind: string;
  /** @default - a cluster-scoped object */
  readonly namespace?: string;
  readonly name: string;
}

export interface Problem {
  /** The file the problem is in: a platform file, an overlay, a rendered object's file, a folder or an argument given. */
  readonly file: string;
  /** The rendered object it is in. @default - spec input or a whole file: no object */
  readonly object?: ObjectRef;
  /** The field, as written in the file (`services.api.ports[0].name`, `spec.rules[0]`); '' for the whole file or object. */
  readonly path: string;
  readonly message: string;
}

/** A problem at a field of an object not yet placed in a file: what a check of one object finds. */
export type FieldProblem = Pick<Problem, 'path' | 'message'>;

/** The problem's one line. */
export function formatProblem(p: Problem): string {
  if (p.object) {
    const { kind, namespace, name } = p.object;
    return `${p.file}: ${kind} ${namespace ? `${namespace}/` : ''}${name}: ${p.path || '(object)'}: ${p.message}`;
  }
  return p.path ? `${p.file}: ${p.path}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** A problem at a field of a rendered object (a manifest, or a file's parsed YAML). */
export function objectProblem(file: string, obj: { kind?: unknown; metadata?: unknown }, path: string, message: string): Problem {
  const meta = (obj.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : undefined;
  return { file, object: { kind: String(obj.kind), namespace, name: typeof meta.name === 'string' ? meta.name : '?' }, path, message };
}

/**
 * Where problems stopped the work: the platform spec (nothing was rendered), the rendered
 * objects (nothing was written), or input that cannot be used at all (a folder that is not
 * there, a file that is not YAML, a git revision that does not exist).
 */
export type ProblemSource = 'spec' | 'output' | 'input';

/** Every problem found at one stage; what the commands print, one line each, never a stack trace. */
export class ProblemError extends Error {
  constructor(
    public readonly source: ProblemSource,
    public readonly problems: readonly Problem[],
  ) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ProblemError';
  }
}
