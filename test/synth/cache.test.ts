/**
 * The synth cache (synth/cache.ts): after an edit only what the edit can affect is rendered
 * again, and the result is byte for byte what a full render writes.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSynth } from '../../cli/synth';
import { cacheWanted, SynthCache } from '../../synth/cache';
import { synthesizeCached } from '../../synth/cached';
import { fixtureRepo, shopPlatform } from '../model/fixtures';
import { ROOT, tempDir, tree } from '../helpers';

/** Two platforms (shop and mall), each with staging and prod, staging and prod overlays for shop. */
function twoPlatforms(): string {
  const root = fixtureRepo(shopPlatform(), {
    staging: 'services:\n  api:\n    image: { tag: "1.1.0" }\n',
    prod: 'services:\n  worker:\n    replicas: 3\n',
  });
  const mall = { ...shopPlatform(), name: 'mall', project: 'mall-project-1', namespaces: { mall: {} } } as ReturnType<typeof shopPlatform>;
  for (const svc of Object.values(mall.services ?? {})) svc.namespace = 'mall';
  mall.redis = { cache: { namespace: 'mall', passwordSecret: 'mall-redis-password' } };
  fs.writeFileSync(path.join(root, 'platforms', 'mall.ts'), `export default ${JSON.stringify(mall, null, 2)};\n`);
  return root;
}

function capture() {
  const lines: string[] = [];
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
}

/** A synth of `root` with the cache (this repository's code), into `dist`: its report lines and what it reused. */
function cachedSynth(root: string, dist: string, opts: { codeRoot?: string } = {}) {
  const cache = new SynthCache(root, { codeRoot: opts.codeRoot ?? ROOT });
  const { lines, io } = capture();
  const { code, result } = runSynth({ root, dist, cache }, io);
  return { code, lines, reuse: result?.reuse, rendered: lines.filter((l) => /^ {2}\S+: \d+ objects$/.test(l)).map((l) => l.trim().split(':')[0]) };
}

/** A full render (no cache) of `root`, into a fresh folder. */
function fullSynth(root: string): string {
  const dist = path.join(tempDir(), 'dist');
  expect(runSynth({ root, dist }, { out: () => undefined, err: () => undefined }).code).toBe(0);
  return dist;
}

const entries = (root: string) => fs.readdirSync(path.join(root, '.meridian', 'synth-cache')).filter((f) => /^[0-9a-f]{64}$/.test(f));

describe('synth cache', () => {
  test('a synth from the cache writes the same bytes as a full render, and after an overlay edit renders only that environment', () => {
    const root = twoPlatforms();
    const dist = path.join(tempDir(), 'dist');

    const cold = cachedSynth(root, dist);
    expect(cold.code).toBe(0);
    expect(cold.rendered).toEqual(['mall/staging', 'mall/prod', 'shop/staging', 'shop/prod']);
    expect(entries(root)).toHaveLength(4);
    expect(tree(dist)).toEqual(tree(fullSynth(root)));

    // Nothing changed: nothing rendered, and the app-free path gives the same tree.
    const warm = cachedSynth(root, dist);
    expect(warm.rendered).toEqual([]);
    expect(warm.reuse).toMatchObject({ rendered: 0, cached: 4 });
    fs.rmSync(dist, { recursive: true });
    const cache = new SynthCache(root, { codeRoot: ROOT });
    expect(cache.lookup().complete).toBe(true);
    synthesizeCached(cache, dist);
    expect(tree(dist)).toEqual(tree(fullSynth(root)));

    // One overlay: that environment only; the other files of dist/ are not rewritten.
    const before = tree(dist);
    const untouched = path.join(dist, 'mall/prod/us-east1/mall');
    const inode = fs.statSync(fs.readdirSync(untouched).map((f) => path.join(untouched, f))[0]).ino;
    fs.writeFileSync(path.join(root, 'overlays/shop/prod.yaml'), 'services:\n  worker:\n    replicas: 4\n');
    const edit = cachedSynth(root, dist);
    expect(edit.code).toBe(0);
    expect(edit.rendered).toEqual(['shop/prod']);
    const after = tree(dist);
    expect(after).toEqual(tree(fullSynth(root)));
    const changed = Object.keys(after).filter((f) => after[f] !== before[f]);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((f) => f.startsWith('shop/prod/') || f === 'shop/ARCHITECTURE.md')).toBe(true);
    expect(fs.statSync(fs.readdirSync(untouched).map((f) => path.join(untouched, f))[0]).ino).toBe(inode);
    // Entries of the old inputs are dropped: one per environment.
    expect(entries(root)).toHaveLength(4);
  });

  test('dist/ by difference: only the files that differ are rewritten, and a hand edit is found even with its size and times put back', () => {
    const root = twoPlatforms();
    const dist = path.join(tempDir(), 'dist');
    expect(cachedSynth(root, dist).code).toBe(0);
    // Past the racy window (synth/file-hashes.ts): the next synth records the files as trusted.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
    expect(cachedSynth(root, dist).rendered).toEqual([]);

    // A hand edit of the same size, its modification time put back: stat still tells (ctime).
    const file = path.join(dist, 'mall/prod/us-east1/mall/deployment-api.yaml');
    const text = fs.readFileSync(file, 'utf8');
    const stamp = path.join(tempDir(), 'stamp');
    fs.writeFileSync(stamp, '');
    expect(spawnSync('touch', ['-r', file, stamp]).status).toBe(0);
    fs.writeFileSync(file, text.replace('name: tmp', 'name: tmq'));
    // touch -r copies the times to the nanosecond; node's utimes would round them.
    expect(spawnSync('touch', ['-r', stamp, file]).status).toBe(0);
    expect(fs.statSync(file, { bigint: true }).mtimeNs).toBe(fs.statSync(stamp, { bigint: true }).mtimeNs);
    expect(fs.readFileSync(file, 'utf8')).not.toBe(text);
    expect(fs.statSync(file).size).toBe(Buffer.byteLength(text));

    // An overlay edit in shop/prod: its changed files are rewritten, the others keep their inode.
    const dir = path.join(dist, 'shop/prod/us-east1/shop');
    const inodes = new Map(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f)).ino]));
    const before = tree(dist);
    fs.writeFileSync(path.join(root, 'overlays/shop/prod.yaml'), 'services:\n  worker:\n    replicas: 4\n');
    expect(cachedSynth(root, dist).rendered).toEqual(['shop/prod']);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    const after = tree(dist);
    expect(after).toEqual(tree(fullSynth(root)));
    const rewritten = [...inodes].filter(([f, ino]) => fs.statSync(path.join(dir, f)).ino !== ino).map(([f]) => f);
    const changed = [...inodes.keys()].filter((f) => after[`shop/prod/us-east1/shop/${f}`] !== before[`shop/prod/us-east1/shop/${f}`]);
    expect(changed.length).toBeGreaterThan(0);
    expect(rewritten).toEqual(changed);
  });

  test('what decides an environment: its platform file re-renders the platform, a new overlay file the platform, another platform nothing of it', () => {
    const root = twoPlatforms();
    const dist = path.join(tempDir(), 'dist');
    cachedSynth(root, dist);

    const shop = path.join(root, 'platforms/shop.ts');
    fs.writeFileSync(shop, fs.readFileSync(shop, 'utf8').replace('"1.0.0"', '"1.0.1"'));
    expect(cachedSynth(root, dist).rendered).toEqual(['shop/staging', 'shop/prod']);

    // Which overlays exist is the platform's (an overlay naming no environment fails the platform).
    fs.writeFileSync(path.join(root, 'overlays/shop/qa.yaml'), 'project: x\n');
    const refused = cachedSynth(root, dist);
    expect(refused.code).toBe(1);
    expect(refused.lines).toContain(
      'overlays/shop/qa.yaml: names no environment of the platform (allowed: staging, prod); add "qa" to environments or rename the file',
    );
    fs.rmSync(path.join(root, 'overlays/shop/qa.yaml'));
    expect(cachedSynth(root, dist).rendered).toEqual([]);

    // A first overlay for mall/prod: which overlays exist is in mall's key, so all of mall.
    fs.mkdirSync(path.join(root, 'overlays/mall'));
    fs.writeFileSync(path.join(root, 'overlays/mall/prod.yaml'), 'services:\n  worker:\n    replicas: 5\n');
    expect(cachedSynth(root, dist).rendered).toEqual(['mall/staging', 'mall/prod']);
    // Then editing it: mall/prod only.
    fs.writeFileSync(path.join(root, 'overlays/mall/prod.yaml'), 'services:\n  worker:\n    replicas: 6\n');
    expect(cachedSynth(root, dist).rendered).toEqual(['mall/prod']);
    expect(tree(dist)).toEqual(tree(fullSynth(root)));

    // A helper beside the platforms is in every platform's key.
    fs.writeFileSync(path.join(root, 'platforms/_notes.ts'), 'export const notes = 1;\n');
    expect(cachedSynth(root, dist).rendered).toEqual(['mall/staging', 'mall/prod', 'shop/staging', 'shop/prod']);
  });

  test('a change in the code invalidates every environment', () => {
    const root = twoPlatforms();
    const dist = path.join(tempDir(), 'dist');
    // A stand-in for the code folder, so the test can edit "code" (the modules jest loaded are this repository's).
    const code = tempDir();
    for (const f of [
      'synth/render.ts',
      'imports/schemas/k8s-1.28.json',
      'package-lock.json',
      'node_modules/.package-lock.json',
      'dist/a.yaml',
      'docs/x.md',
      'test/x.test.ts',
    ]) {
      fs.mkdirSync(path.dirname(path.join(code, f)), { recursive: true });
      fs.writeFileSync(path.join(code, f), `${f}\n`);
    }
    const key = () => new SynthCache(root, { codeRoot: code }).codeState().key;
    const first = key();
    // Outputs, docs and tests are not code.
    for (const f of ['dist/a.yaml', 'docs/x.md', 'test/x.test.ts']) fs.appendFileSync(path.join(code, f), 'more\n');
    expect(key()).toBe(first);
    const keys = new Set([first]);
    for (const f of ['synth/render.ts', 'imports/schemas/k8s-1.28.json', 'package-lock.json', 'node_modules/.package-lock.json']) {
      fs.appendFileSync(path.join(code, f), 'changed\n');
      keys.add(key());
    }
    expect(keys.size).toBe(5);
    fs.writeFileSync(path.join(code, 'features.ts'), 'export {};\n');
    expect(key()).not.toBe([...keys].pop());

    // End to end: the cache stored under one code, then that code edited.
    expect(cachedSynth(root, dist, { codeRoot: code }).rendered).toHaveLength(4);
    expect(cachedSynth(root, dist, { codeRoot: code }).rendered).toEqual([]);
    fs.appendFileSync(path.join(code, 'synth/render.ts'), '// edited\n');
    expect(cachedSynth(root, dist, { codeRoot: code }).rendered).toEqual(['mall/staging', 'mall/prod', 'shop/staging', 'shop/prod']);
  });

  test('a module the key does not cover stops the cache from being stored', () => {
    const root = twoPlatforms();
    const cache = new SynthCache(root, { codeRoot: ROOT });
    expect(
      cache.uncoveredModules([path.join(ROOT, 'synth/render.ts'), path.join(ROOT, 'node_modules/cdk8s/lib/index.js'), path.join(root, 'platforms/shop.ts')]),
    ).toEqual([]);
    expect(cache.uncoveredModules([path.join(ROOT, 'scripts/bench.ts'), path.join(root, 'platforms/lib/x.ts')])).toEqual([
      path.join(ROOT, 'scripts/bench.ts'),
      path.join(root, 'platforms/lib/x.ts'),
    ]);
    // The repository's own synth: the code is where the platforms are; its node_modules stand behind the lock.
    const own = new SynthCache(ROOT);
    expect(
      own.uncoveredModules([path.join(ROOT, 'node_modules/cdk8s/lib/index.js'), path.join(ROOT, 'synth/render.ts'), path.join(ROOT, 'platforms/ggen.ts')]),
    ).toEqual([]);
    expect(own.uncoveredModules([path.join(ROOT, 'test/helpers.ts')])).toEqual([path.join(ROOT, 'test/helpers.ts')]);
  });

  test('a corrupt, partial or misplaced entry is ignored: that environment is rendered again, the output is the same', () => {
    const root = twoPlatforms();
    const dist = path.join(tempDir(), 'dist');
    cachedSynth(root, dist);
    const dir = path.join(root, '.meridian', 'synth-cache');
    const keyOf = new Map<string, string>();
    for (const f of entries(root)) {
      const head = fs.readFileSync(path.join(dir, f), 'utf8').split('\n')[1];
      keyOf.set((JSON.parse(head) as { scope: string }).scope, f);
    }
    const expected = tree(fullSynth(root));

    // One byte changed inside a file's text (the seal still says the old length and hash).
    const a = path.join(dir, keyOf.get('shop/prod')!);
    const bytes = fs.readFileSync(a);
    bytes[bytes.length - 10] ^= 1;
    fs.writeFileSync(a, bytes);
    // Cut short, as by a crash during a write that was not atomic.
    const b = path.join(dir, keyOf.get('mall/staging')!);
    fs.writeFileSync(b, fs.readFileSync(b).subarray(0, 5000));
    expect(cachedSynth(root, dist).rendered).toEqual(['mall/staging', 'shop/prod']);
    expect(tree(dist)).toEqual(expected);

    // A whole, well-sealed entry under another environment's key.
    fs.copyFileSync(path.join(dir, keyOf.get('shop/staging')!), path.join(dir, keyOf.get('mall/prod')!));
    // The index and the list of checked objects unreadable.
    fs.writeFileSync(path.join(dir, 'passed'), 'garbage');
    expect(cachedSynth(root, dist).rendered).toEqual(['mall/prod']);
    expect(tree(dist)).toEqual(expected);
    fs.writeFileSync(path.join(dir, 'index'), '{"format":');
    expect(cachedSynth(root, dist).rendered).toEqual(['mall/staging', 'mall/prod', 'shop/staging', 'shop/prod']);
    expect(tree(dist)).toEqual(expected);
    // Nothing temporary left beside the entries.
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('checks still run on what changed: a new problem fails the synth as without the cache, and dist/ stays', () => {
    const root = twoPlatforms();
    const dist = path.join(tempDir(), 'dist');
    cachedSynth(root, dist);
    const before = tree(dist);
    fs.writeFileSync(path.join(root, 'overlays/shop/prod.yaml'), 'services:\n  api:\n    autoscaling: { min: 9 }\n');
    const withCache = cachedSynth(root, dist);
    const { lines, io } = capture();
    expect(runSynth({ root, dist: path.join(tempDir(), 'dist') }, io).code).toBe(1);
    expect(withCache.code).toBe(1);
    expect(withCache.lines.filter((l) => !l.startsWith('  '))).toEqual(lines.filter((l) => !l.startsWith('  ')));
    expect(tree(dist)).toEqual(before);
  });

  test('two environments placing one object in one cluster are refused when one of them comes from the cache', () => {
    const root = twoPlatforms();
    const dist = path.join(tempDir(), 'dist');
    cachedSynth(root, dist);
    const before = tree(dist);
    fs.writeFileSync(path.join(root, 'overlays/shop/prod.yaml'), 'regions: { us-east1: { cluster: shop-staging-us-east1 } }\n');
    const run = cachedSynth(root, dist);
    expect(run.rendered).toEqual(['shop/prod']);
    expect(run.code).toBe(1);
    expect(run.lines.some((l) => /^shop\/prod: renders \d+ object\(s\) that shop\/staging also renders into cluster shop-staging-us-east1 /.test(l))).toBe(
      true,
    );
    expect(tree(dist)).toEqual(before);
  });

  test('CI and MERIDIAN_SYNTH_CACHE=off render everything', () => {
    expect(cacheWanted({})).toBe(true);
    expect(cacheWanted({ CI: 'true' })).toBe(false);
    expect(cacheWanted({ CI: '1' })).toBe(false);
    expect(cacheWanted({ CI: 'false' })).toBe(true);
    expect(cacheWanted({ MERIDIAN_SYNTH_CACHE: 'off' })).toBe(false);
  });
});
