/**
 * Rules every object must follow whatever its schema allows: no secret material in the
 * repository, images pinned.
 */
import { POD_SPEC_PATHS } from '../features/workloads/pod-security';
import type { FieldProblem } from '../kernel/problems';

type Obj = Record<string, unknown>;

export function policyProblems(manifest: Obj): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const kind = manifest.kind as string;
  if (kind === 'Secret') {
    for (const field of ['data', 'stringData']) {
      if (manifest[field] !== undefined) {
        problems.push({ path: field, message: 'secret values must not be committed: name the secret in Secret Manager and let External Secrets sync it' });
      }
    }
  }
  const specPath = POD_SPEC_PATHS[kind];
  const podSpec = specPath?.reduce<unknown>((o, k) => (o as Obj | undefined)?.[k], manifest) as Obj | undefined;
  if (podSpec) {
    const prefix = specPath.join('.');
    for (const field of ['initContainers', 'containers']) {
      ((podSpec[field] ?? []) as Obj[]).forEach((c, i) => {
        const image = String(c.image ?? '');
        if (!isPinned(image)) {
          problems.push({ path: `${prefix}.${field}[${i}].image`, message: `must be pinned by tag or digest, not "latest" or untagged (got "${image}")` });
        }
      });
    }
  }
  return problems;
}

/** `repo:tag` (not latest) or `repo@sha256:...`. */
export function isPinned(image: string): boolean {
  if (/@sha256:[a-f0-9]{64}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  return colon > 0 && lastSegment.slice(colon + 1) !== 'latest' && lastSegment.slice(colon + 1) !== '';
}
