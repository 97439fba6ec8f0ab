/**
 * No secret in a rendered object: every string of every object (env values, ConfigMap data,
 * annotations, args, ...) is scanned with the rules of ./scan, so YAML added by hand to a
 * folder `meridian validate` reads is held to what the spec is held to. A literal env value
 * whose name says it is a secret is refused too, unless the pod template lists the name in
 * its NOT_SECRET_ANNOTATION (what `notSecret:` in the spec renders). A Secret's data is not
 * scanned: checks/policy.ts refuses a Secret with data outright. Messages never contain the value.
 */
import { looksSecretName, NOT_SECRET_ANNOTATION, scanManyForSecrets, ScannedString } from './scan';

type Json = Record<string, unknown>;

interface Found extends ScannedString {
  readonly path: string;
}

const join = (base: string, key: string | number) => (typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key);

function strings(value: unknown, path: string, field: string | undefined, out: Found[]): void {
  if (typeof value === 'string') out.push({ value, field, path });
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, join(path, i), field, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) strings(v, join(path, k), k, out);
}

/** Where a kind keeps its pod template. */
const POD_TEMPLATE: Record<string, string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  Pod: [],
};

/** Env values of the pod template's containers: path of each `value` → the variable's name. */
function envValues(manifest: Json): { names: Map<string, string>; notSecret: Set<string> } {
  const names = new Map<string, string>();
  const at = POD_TEMPLATE[String(manifest.kind)];
  if (!at) return { names, notSecret: new Set() };
  const template = at.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), manifest) as Json | undefined;
  const annotation = ((template?.metadata as Json | undefined)?.annotations as Json | undefined)?.[NOT_SECRET_ANNOTATION];
  const notSecret = new Set(typeof annotation === 'string' ? annotation.split(',').map((s) => s.trim()) : []);
  const spec = template?.spec as Json | undefined;
  const base = [...at, 'spec'].reduce((p, k) => join(p, k), '');
  for (const list of ['initContainers', 'containers']) {
    const containers = spec?.[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((c: Json, i) => {
      if (!Array.isArray(c?.env)) return;
      (c.env as Json[]).forEach((e, j) => {
        if (typeof e?.name === 'string' && typeof e.value === 'string') names.set(join(join(join(join(base, list), i), 'env'), j) + '.value', e.name);
      });
    });
  }
  return { names, notSecret };
}

const ADVICE = 'rendered output is committed to Git: take it from Secret Manager (secrets: in the spec, docs/secrets.md)';

/** The secret-looking strings of one rendered object, at their field paths. */
export function secretProblems(manifest: Json): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const found: Found[] = [];
  strings(manifest, '', undefined, found);
  const { names, notSecret } = envValues(manifest);
  const isSecretData = (p: string) => manifest.kind === 'Secret' && /^(data|stringData)\./.test(p);
  const scanned = found.filter((f) => !notSecret.has(names.get(f.path) ?? '\u0000') && !isSecretData(f.path));
  const reported = new Set<string>();
  for (const { index, hit } of scanManyForSecrets(scanned)) {
    const path = scanned[index].path;
    if (reported.has(path)) continue;
    reported.add(path);
    const env = names.get(path);
    problems.push({
      path,
      message: `looks like a credential (${hit.reason}): ${ADVICE}${env ? `; if ${env} is not a secret, list it in the service's notSecret` : ''}`,
    });
  }
  for (const [path, name] of names) {
    if (reported.has(path) || notSecret.has(name) || !looksSecretName(name)) continue;
    const value = found.find((f) => f.path === path)?.value;
    if (!value) continue;
    problems.push({
      path,
      message: `${name} is named like a secret and holds a literal value: ${ADVICE}; if it is not a secret, list ${name} in the service's notSecret`,
    });
  }
  return problems;
}
