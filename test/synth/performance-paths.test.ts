/**
 * The paths that make synth fast must not change what it renders or reports: YAML made in
 * worker threads is the same bytes as YAML made inline, a validator loaded from the cache
 * reports what a freshly compiled one does, and the benchmark's synthetic fleet is a valid
 * platform. (Speed itself is measured by `npm run bench`, never asserted here.)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { syntheticPlatform } from '../../scripts/synthetic-fleet';
import { loadEnvironments } from '../../model/load';
import { render } from '../../synth/render';
import { defaultWorkers, YamlPool } from '../../synth/yaml-pool';
import { formatProblem, validateObjects } from '../../checks';
import type { ValidatorCache } from '../../checks/compiled';
import { SchemaValidator } from '../../checks/schema';
import { tempDir } from '../helpers';

jest.setTimeout(120_000);

const OPTIONS = { keepUndefined: true, lineWidth: 0, version: '1.1', directives: false } as const;

describe('YamlPool', () => {
  const objects = Array.from({ length: 3100 }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `cm-${i}`, labels: { 'app.kubernetes.io/name': 'x', on: 'yes' } },
    data: { 'a.conf': `line ${i}\nsecond: line\n`, port: '0755', empty: '', flag: 'true' },
  }));

  test('worker threads give the same bytes, in the same order, as the main thread', () => {
    const pool = new YamlPool(OPTIONS, 2);
    objects.forEach((o, i) => expect(pool.add(o)).toBe(i));
    const out = pool.finish();
    // Past the first 2000 (made inline): by the workers, or by the main thread once it waits.
    expect(pool.offloaded + pool.stolen).toBe(1100);
    expect(pool.offloaded).toBeGreaterThan(0);
    expect(out).toHaveLength(objects.length);
    expect(out).toEqual(objects.map((o) => stringify(o, OPTIONS)));
    expect(out[2500]).toContain('"on": "yes"'); // YAML 1.1 quoting, made in a worker
  });

  test('with no workers everything is made inline', () => {
    const pool = new YamlPool(OPTIONS, 0);
    objects.forEach((o) => pool.add(o));
    expect(pool.finish()).toEqual(objects.map((o) => stringify(o, OPTIONS)));
    expect(pool.offloaded).toBe(0);
  });

  test('MERIDIAN_YAML_WORKERS sets the number of workers; anything but a count leaves the default', () => {
    expect(defaultWorkers({ MERIDIAN_YAML_WORKERS: '0' })).toBe(0);
    expect(defaultWorkers({ MERIDIAN_YAML_WORKERS: '2' })).toBe(2);
    expect(defaultWorkers({ MERIDIAN_YAML_WORKERS: 'many' })).toBe(defaultWorkers({}));
    expect(defaultWorkers({})).toBeLessThanOrEqual(3);
  });
});

describe('SchemaValidator cache', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'api', namespace: 'shop', labels: { x: 5 } },
    spec: { selector: {}, template: { spec: { containers: [{ name: 'api', image: 'a:1', ports: [{ containerPort: 'http' }] }] } }, bogus: true },
  };
  const scaledObject = { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 's', namespace: 'shop', extra: 1 }, spec: { triggers: 'no' } };
  // A CRD whose durations carry Istio's CEL rule (x-kubernetes-validations).
  const destinationRule = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'api', namespace: 'shop' },
    spec: { host: 'api', trafficPolicy: { outlierDetection: { interval: '0s', baseEjectionTime: '30s' } } },
  };

  test('a validator loaded from the cache reports exactly what a compiled one does', () => {
    const dir = tempDir('meridian-ajv-');
    const compiled = new SchemaValidator(undefined, null);
    const cold = new SchemaValidator(undefined, dir);
    const objects = [deployment, scaledObject, destinationRule];
    const expected = objects.map((o) => compiled.validate(o));
    expect(expected[0]).toEqual(
      expect.arrayContaining([
        { path: 'spec.bogus', message: 'unknown field' },
        { path: 'metadata.labels.x', message: 'must be string (got 5)' },
        { path: 'spec.template.spec.containers[0].ports[0].containerPort', message: 'must be integer (got "http")' },
      ]),
    );
    expect(expected[2]).toEqual([
      { path: 'spec.trafficPolicy.outlierDetection.interval', message: 'must be a duration of at least 1ms, such as 500ms, 5s or 1m30s (got "0s")' },
    ]);
    expect(objects.map((o) => cold.validate(o))).toEqual(expected);
    const files = fs.readdirSync(dir);
    // Deployment, ObjectMeta, ScaledObject and DestinationRule: the CEL duration rule is
    // generated code too, so a CRD carrying it is kept like any other.
    expect(files.filter((f) => f.endsWith('.js'))).toHaveLength(4);

    const warm = new SchemaValidator(undefined, dir);
    expect(objects.map((o) => warm.validate(o))).toEqual(expected);
    // The first load keeps V8's code cache beside each entry; the next load uses it.
    const withCodeCache = fs.readdirSync(dir);
    expect(withCodeCache).toEqual([...files, ...files.map((f) => f.replace(/\.js$/, '.v8'))].sort());
    const hot = new SchemaValidator(undefined, dir);
    expect(objects.map((o) => hot.validate(o))).toEqual(expected);
    expect(fs.readdirSync(dir)).toEqual(withCodeCache);
  });

  test('a different schema gets a different cache entry', () => {
    const dir = tempDir('meridian-ajv-');
    const schemas = tempDir('meridian-schemas-');
    fs.cpSync(path.join(__dirname, '../../imports/schemas'), schemas, { recursive: true });
    new SchemaValidator(schemas, dir).validate(deployment);
    const before = fs.readdirSync(dir);
    const file = path.join(schemas, 'k8s-1.28.json');
    const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    schema.definitions['io.k8s.api.apps.v1.DeploymentSpec'].properties.bogus = { type: 'boolean' };
    fs.writeFileSync(file, JSON.stringify(schema));
    const problems = new SchemaValidator(schemas, dir).validate(deployment);
    expect(problems).not.toContainEqual(expect.objectContaining({ path: 'spec.bogus' }));
    expect(fs.readdirSync(dir).length).toBeGreaterThan(before.length);
  });

  test('a corrupt cache entry is compiled again', () => {
    const dir = tempDir('meridian-ajv-');
    const expected = new SchemaValidator(undefined, dir).validate(deployment);
    for (const f of fs.readdirSync(dir)) fs.writeFileSync(path.join(dir, f), 'module.exports = {');
    expect(new SchemaValidator(undefined, dir).validate(deployment)).toEqual(expected);
  });
});

describe('ValidatorCache', () => {
  // Each load in its own process, as synths are: within one process V8 reuses the script it
  // already compiled and never reads the code cache.
  const ROOT = path.resolve(__dirname, '../..');
  const load = (dir: string) => {
    const script = `
      const Ajv = require('ajv').default;
      const { ValidatorCache } = require('./checks/compiled.ts');
      const cache = new ValidatorCache(new Ajv({ allErrors: true, code: { source: true } }), ${JSON.stringify(dir)});
      const validate = cache.compile({ type: 'object', properties: { port: { type: 'integer', minimum: 1 } }, additionalProperties: false });
      const results = [validate({ port: 80 }), validate({ port: 0, host: 'x' }) || validate.errors.length];
      process.stdout.write(JSON.stringify({ counts: cache.counts, results }));`;
    const r = spawnSync(process.execPath, ['-r', './bin/register.js', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as { counts: ValidatorCache['counts']; results: unknown[] };
  };

  test('compiles once, then loads the code, then loads it with the code cache of V8', () => {
    const dir = tempDir('meridian-ajv-');
    const runs = [load(dir), load(dir), load(dir)];
    expect(runs.map((r) => r.counts)).toEqual([
      { compiled: 1, loaded: 0, codeCached: 0 },
      { compiled: 0, loaded: 1, codeCached: 0 },
      { compiled: 0, loaded: 1, codeCached: 1 },
    ]);
    expect(runs.map((r) => r.results)).toEqual([
      [true, 2],
      [true, 2],
      [true, 2],
    ]);
  });

  test('a code cache V8 rejects is made again, and the validator still works', () => {
    const dir = tempDir('meridian-ajv-');
    load(dir);
    load(dir);
    const [v8] = fs.readdirSync(dir).filter((f) => f.endsWith('.v8'));
    fs.writeFileSync(path.join(dir, v8), 'not a code cache');
    expect(load(dir)).toEqual({ counts: { compiled: 0, loaded: 1, codeCached: 0 }, results: [true, 2] });
    expect(load(dir)).toEqual({ counts: { compiled: 0, loaded: 1, codeCached: 1 }, results: [true, 2] });
  });
});

describe('synthetic fleet of the benchmark', () => {
  test('renders 6 regions × 3 environments that pass every check', () => {
    const envs = loadEnvironments({ file: 'platforms/fleet.ts', input: syntheticPlatform(8) }, tempDir());
    expect(envs.map((e) => e.env)).toEqual(['dev', 'staging', 'prod']);
    expect(envs.every((e) => e.clusters.length === 6)).toBe(true);
    const rendering = render(envs);
    const problems = validateObjects(rendering.files.map((f) => ({ file: f.path, manifest: f.manifest })));
    expect(problems.map(formatProblem)).toEqual([]);
    const kinds = new Set(rendering.files.map((f) => f.manifest.kind));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['Deployment', 'ScaledObject', 'StatefulSet', 'VirtualService', 'ExternalSecret']));
  });
});
