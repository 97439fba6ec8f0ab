/**
 * Regenerates everything under `imports/` from the pinned upstream API definitions:
 *
 * - TypeScript classes for the CRDs, through `cdk8s import` (offline: it reads local files);
 * - strict JSON Schemas (unknown fields rejected) for the Kubernetes 1.28 types and for
 *   every served version of every CRD, used by `checks/`.
 *
 * The upstream definitions live outside the project (`../shared` by default, or
 * `MERIDIAN_SHARED`); they are inputs, never copied in. Kubernetes core classes come
 * from cdk8s-plus-28 (`import { k8s } from 'cdk8s-plus-28'`), because `cdk8s import k8s`
 * downloads its schema.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CRD_SOURCES, IMPORTS_DIR, SCHEMAS_DIR } from '../checks/schema-files';

type Json = Record<string, unknown>;

const ROOT = path.resolve(__dirname, '..');
const SHARED = path.resolve(ROOT, process.env.MERIDIAN_SHARED ?? '../shared');

/** The Kubernetes schema cdk8s-cli would download for 1.28 (kubernetes-schemas/v1.28.0). */
const K8S_DEFINITIONS = 'schemas/k8s-v1.28.0-definitions.json';

function main(): void {
  const crdFiles = CRD_SOURCES.map((f) => path.join(SHARED, 'crds', f));
  const missing = [K8S_DEFINITIONS, ...CRD_SOURCES.map((f) => `crds/${f}`)].map((f) => path.join(SHARED, f)).filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    console.error(`import: missing upstream definitions (set MERIDIAN_SHARED to the folder holding crds/ and schemas/):\n  ${missing.join('\n  ')}`);
    process.exit(2);
  }

  const out = path.join(ROOT, IMPORTS_DIR);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });

  const cdk8s = path.join(ROOT, 'node_modules', '.bin', 'cdk8s');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-import-'));
  try {
    for (const unit of importUnits(crdFiles)) {
      let input = unit[0];
      if (unit.length > 1) {
        // cdk8s writes one module per API group: files sharing a group are imported as one.
        input = path.join(scratch, path.basename(unit[0]));
        fs.writeFileSync(input, unit.map((f) => fs.readFileSync(f, 'utf8').replace(/\n*$/, '\n')).join('---\n'));
      }
      console.log(`cdk8s import ${unit.map((f) => path.relative(ROOT, f)).join(' + ')}`);
      execFileSync(cdk8s, ['import', input, '--no-save', '--language', 'typescript', '--output', IMPORTS_DIR], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' },
      });
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  const schemas = path.join(ROOT, SCHEMAS_DIR);
  fs.mkdirSync(schemas, { recursive: true });
  writeJson(path.join(schemas, 'k8s-1.28.json'), strictK8sDefinitions(path.join(SHARED, K8S_DEFINITIONS)));
  let count = 0;
  for (const file of crdFiles) {
    for (const { group, kind, version, schema } of crdSchemas(file)) {
      writeJson(path.join(schemas, group, `${kind.toLowerCase()}_${version}.json`), schema);
      count++;
    }
  }
  console.log(`wrote ${IMPORTS_DIR}/*.ts and ${count + 1} strict schemas under ${SCHEMAS_DIR}/`);
}

/**
 * The CRD files in import order, files that define kinds of the same API group merged into
 * one unit (in the order listed): `cdk8s import` writes `<group>.ts` per file, so a second
 * file of a group would otherwise replace the first one's classes.
 */
function importUnits(files: readonly string[]): string[][] {
  const units: { files: string[]; groups: Set<string> }[] = [];
  for (const file of files) {
    const groups = new Set<string>();
    for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
      const crd = doc.toJSON() as Json | null;
      if (crd?.kind === 'CustomResourceDefinition') groups.add((crd.spec as { group: string }).group);
    }
    const unit = units.find((u) => [...groups].some((g) => u.groups.has(g)));
    if (unit) {
      unit.files.push(file);
      for (const g of groups) unit.groups.add(g);
    } else units.push({ files: [file], groups });
  }
  return units.map((u) => u.files);
}

/**
 * Adds `additionalProperties: false` to every object schema that lists its properties,
 * unless it declares free-form content: the same rule as kubeconform's openapi2jsonschema
 * `--strict`, so an unknown or misspelt field is an error rather than silently dropped.
 */
function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const obj: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    obj[key] =
      key === 'properties' || key === 'definitions' || key === 'patternProperties'
        ? Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, strict(v)]))
        : strict(value);
  }
  const freeForm = obj['x-kubernetes-preserve-unknown-fields'] === true;
  if (obj.properties && obj.additionalProperties === undefined && !freeForm) {
    obj.additionalProperties = false;
  }
  return obj;
}

function strictK8sDefinitions(file: string): Json {
  const defs = (JSON.parse(fs.readFileSync(file, 'utf8')) as { definitions: Json }).definitions;
  return { definitions: strict(defs) };
}

interface CrdSchema {
  group: string;
  kind: string;
  version: string;
  schema: Json;
}

function* crdSchemas(file: string): Generator<CrdSchema> {
  for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    const crd = doc.toJSON() as Json | null;
    if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
    const spec = crd.spec as { group: string; names: { kind: string }; versions: Json[] };
    for (const v of spec.versions) {
      const openApi = (v.schema as Json | undefined)?.openAPIV3Schema;
      if (!v.served || !openApi) continue;
      yield { group: spec.group, kind: spec.names.kind, version: v.name as string, schema: strict(withTypeMeta(openApi as Json)) as Json };
    }
  }
}

/**
 * Some CRDs (Istio's) describe only spec and status; the API server accepts apiVersion,
 * kind and metadata on every object, so the strict schema must too.
 */
function withTypeMeta(schema: Json): Json {
  const properties = (schema.properties ?? {}) as Json;
  return {
    ...schema,
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...properties },
  };
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value)}\n`);
}

main();
