/**
 * Strict schema validation of rendered objects: Kubernetes 1.28 types and the pinned CRDs,
 * with unknown fields rejected. The schemas are generated into `imports/schemas/` by
 * `npm run import`; nothing is fetched.
 */
import type { FieldProblem } from '../kernel/problems';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { _, ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { contentHash, ValidatorCache } from './compiled';
import { addCelDurationRule } from './durations';
import { SCHEMAS_DIR } from './schema-files';

const ROOT = path.resolve(__dirname, '..');
const K8S_ID = 'k8s';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

export type { FieldProblem } from '../kernel/problems';

interface Gvk {
  group: string;
  version: string;
  kind: string;
}

/** Validates objects by apiVersion and kind; compiles each schema once, on first use. */
export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly k8sKinds = new Map<string, string>();
  private readonly compiled = new Map<string, ValidateFunction | null>();
  private metaValidator?: ValidateFunction;
  private readonly cache: ValidatorCache;
  private readonly k8sHash: string;
  /**
   * Adds the Kubernetes schema to ajv, once, before the first validator that is compiled
   * rather than loaded from the cache: adding it (ajv walks all 875 KB) took 0.1-0.17 s of an
   * edit-loop synth whose validators all came from the cache.
   */
  private readonly addK8s: () => void;

  /** @param cacheDir where compiled validators are kept between runs; `null` for none */
  constructor(
    private readonly schemasDir = path.join(ROOT, SCHEMAS_DIR),
    cacheDir: string | null = path.join(ROOT, 'node_modules/.cache/meridian/ajv'),
  ) {
    // verbose: errors carry the offending value, shown as "(got ...)".
    this.ajv = new Ajv({
      allErrors: true,
      strict: false,
      validateFormats: true,
      verbose: true,
      code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` },
    });
    addFormats(this.ajv);
    addCelDurationRule(this.ajv);
    // Formats the Kubernetes schema names that JSON Schema has no checker for.
    for (const f of ['int-or-string', 'quantity', 'date-time-rfc3339']) this.ajv.addFormat(f, true);
    // `format: duration` in Kubernetes schemas is Go's duration syntax (`30s`, `1h30m`; kube-openapi
    // also takes `d` and `w`), not ajv-formats' ISO 8601 one (`PT30S`).
    this.ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w))+$/);
    const k8sText = fs.readFileSync(path.join(schemasDir, 'k8s-1.28.json'), 'utf8');
    this.k8sHash = contentHash(k8sText);
    this.cache = new ValidatorCache(this.ajv, cacheDir ?? undefined);
    const k8s = JSON.parse(k8sText) as { definitions: Record<string, { 'x-kubernetes-group-version-kind'?: Gvk[] }> };
    let added = false;
    this.addK8s = () => {
      if (!added) this.ajv.addSchema(k8s, K8S_ID);
      added = true;
    };
    for (const [name, def] of Object.entries(k8s.definitions)) {
      for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
        this.k8sKinds.set(gvkKey(gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version, gvk.kind), name);
      }
    }
  }

  /** Problems of one object; an unknown apiVersion/kind is itself a problem. */
  validate(obj: { apiVersion?: unknown; kind?: unknown; metadata?: unknown }): FieldProblem[] {
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
      return [{ path: '', message: 'apiVersion and kind are required strings' }];
    }
    const validator = this.validatorFor(obj.apiVersion, obj.kind);
    if (!validator) {
      return [{ path: 'apiVersion', message: `no schema for ${obj.apiVersion} ${obj.kind}: not a Kubernetes 1.28 type nor a pinned CRD version` }];
    }
    const problems = validator(obj) ? [] : toProblems(validator.errors ?? []);
    // CRD schemas leave metadata open; hold it to ObjectMeta like the API server does.
    if (!this.k8sKinds.has(gvkKey(obj.apiVersion, obj.kind))) {
      this.metaValidator ??= this.cache.compile({ $ref: `${K8S_ID}#/definitions/${OBJECT_META}` }, this.k8sHash, this.addK8s);
      if (!this.metaValidator(obj.metadata)) problems.push(...toProblems(this.metaValidator.errors ?? [], 'metadata'));
    }
    return problems;
  }

  private validatorFor(apiVersion: string, kind: string): ValidateFunction | undefined {
    const key = gvkKey(apiVersion, kind);
    if (!this.compiled.has(key)) this.compiled.set(key, this.compile(apiVersion, kind));
    return this.compiled.get(key) ?? undefined;
  }

  private compile(apiVersion: string, kind: string): ValidateFunction | null {
    const def = this.k8sKinds.get(gvkKey(apiVersion, kind));
    if (def) return this.cache.compile({ $ref: `${K8S_ID}#/definitions/${def}` }, this.k8sHash, this.addK8s);
    const [group, version] = apiVersion.split('/');
    if (!version) return null;
    const file = path.join(this.schemasDir, group, `${kind.toLowerCase()}_${version}.json`);
    if (!fs.existsSync(file)) return null;
    return this.cache.compile(JSON.parse(fs.readFileSync(file, 'utf8')), '', this.addK8s);
  }
}

function gvkKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

/** `/spec/ports/0/name` → `spec.ports[0].name` */
export function pointerToPath(pointer: string, prefix = ''): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(part) ? `[${part}]` : `${out ? '.' : ''}${part}`;
  }
  return out;
}

function toProblems(errors: ErrorObject[], prefix = ''): FieldProblem[] {
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  for (const e of errors) {
    let p: FieldProblem;
    if (e.keyword === 'additionalProperties') {
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      p = { path: pointerToPath(`${e.instancePath}/${field.replace(/~/g, '~0').replace(/\//g, '~1')}`, prefix), message: 'unknown field' };
    } else if (e.keyword === 'enum') {
      p = {
        path: pointerToPath(e.instancePath, prefix),
        message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(e.data)})`,
      };
    } else if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') {
      continue; // the branch errors say what is wrong
    } else {
      p = {
        path: pointerToPath(e.instancePath, prefix),
        message: `${e.message ?? e.keyword}${e.data !== undefined && typeof e.data !== 'object' ? ` (got ${JSON.stringify(e.data)})` : ''}`,
      };
    }
    const key = `${p.path}\u0000${p.message}`;
    if (!seen.has(key)) problems.push(p);
    seen.add(key);
  }
  return problems;
}
