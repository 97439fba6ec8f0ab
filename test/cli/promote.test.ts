import * as fs from 'node:fs';
import * as path from 'node:path';
import { editOverlay, runPromote, type PromoteOptions } from '../../cli/promote';
import type { RedisExec, RedisTarget } from '../../cli/promote-check';
import { synthesize } from '../../synth';
import { ROOT, tempDir } from '../helpers';

const GOLDEN = path.join(__dirname, 'golden');

/** A copy of the repository's layout (platforms/, overlays/) with a rendered dist/. */
function repoCopy(): string {
  const root = tempDir('meridian-promote-');
  fs.cpSync(path.join(ROOT, 'platforms'), path.join(root, 'platforms'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'overlays'), path.join(root, 'overlays'), { recursive: true });
  // Platform files import the model helpers (`../model`), which import the packages.
  fs.symlinkSync(path.join(ROOT, 'model'), path.join(root, 'model'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  synthesize({ root });
  return root;
}

/** Every file under the copy (but the links), path → content. */
function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(root, p), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return out;
}

function changedFiles(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((f) => a.get(f) !== b.get(f)).sort();
}

type Extra = Partial<Pick<PromoteOptions, 'keepWeights' | 'dist' | 'step' | 'primaryLost' | 'exec'>>;

/**
 * What redis-cli answers in the clusters during a promotion, as redis 7 prints it: the old
 * primary's pods with `fence` as min-replicas-to-write, pod 0 its master at offset 5000; the
 * new primary's pod 0 a replica at `caughtUp`. Every command it was asked is in `asked`.
 * (test/features/redis/promotion.test.ts runs the same check on real redis-server.)
 */
function clusters(oldContext: string, opts: { fence: string; caughtUp: number }): RedisExec & { asked: string[] } {
  const asked: string[] = [];
  const exec = (t: RedisTarget, args: readonly string[]) => {
    asked.push(`${t.context} ${t.namespace}/${t.pod}: ${args.join(' ')}`);
    if (args[0] === 'CONFIG') return `min-replicas-to-write\n${opts.fence}\n`;
    const replid = 'replid:8c3f1c2f35a1e0b37f3ab8e1f0b1f0e2d5c6a7b8';
    if (t.context === oldContext && t.pod.endsWith('-0'))
      return `# Replication\r\nrole:master\r\nconnected_slaves:3\r\nmaster_${replid}\r\nmaster_repl_offset:5000\r\n`;
    return `# Replication\r\nrole:slave\r\nmaster_link_status:up\r\nmaster_${replid}\r\nmaster_repl_offset:${t.context === oldContext ? 5000 : opts.caughtUp}\r\n`;
  };
  return Object.assign(exec, { asked });
}

function promote(root: string, platform: string, env: string, region: string, extra: Extra = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runPromote({ root, platform, env, region, ...extra }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Both steps, the check passing. */
function promoteFully(root: string, platform: string, env: string, region: string, primary: string, extra: Extra = {}) {
  const first = promote(root, platform, env, region, { ...extra, step: 1 });
  if (first.code !== 0) return first;
  return promote(root, platform, env, region, { ...extra, step: 2, exec: clusters(`${platform}-${env}-${primary}`, { fence: '2147483647', caughtUp: 5000 }) });
}

const roots: string[] = [];
afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

describe('meridian promote', () => {
  const root = repoCopy();
  roots.push(root);
  const initial = tree(root);

  test('step 1 fences the old primary only: its Redis config, nothing in any other cluster', () => {
    const result = promote(root, 'ggen', 'prod', 'us-east1');
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const after = tree(root);
    expect(changedFiles(initial, after)).toEqual([
      'dist/ggen/prod/us-central1/marketplace/configmap-cache-config.yaml',
      // The checksum of the config rolls the pods: the master hands over to a fenced replica.
      'dist/ggen/prod/us-central1/marketplace/statefulset-cache.yaml',
      'overlays/ggen/prod.yaml',
    ]);
    expect(after.get('overlays/ggen/prod.yaml')).toBe(`${initial.get('overlays/ggen/prod.yaml')}promotion:\n  to: us-east1\n`);
    expect(after.get('dist/ggen/prod/us-central1/marketplace/configmap-cache-config.yaml')).toContain('min-replicas-to-write 2147483647');
    expect(`${result.out.replace(/validated [0-9]+ objects/, 'validated N objects')}\n`).toBe(
      fs.readFileSync(path.join(GOLDEN, 'promote-ggen-prod-us-east1-step1.txt'), 'utf8'),
    );
  });

  test('fails when a step is skipped or repeated, or another region is promoted meanwhile: exit 1, nothing touched', () => {
    const now = tree(root);
    expect(promote(root, 'ggen', 'prod', 'us-east1', { step: 1 })).toEqual({
      code: 1,
      out: '',
      err: 'promote: refusing step 1: step 1 (fence) is already in the overlay; step 2 (move) is next\npromote: nothing was changed',
    });
    expect(promote(root, 'ggen', 'prod', 'europe-west1')).toEqual({
      code: 1,
      out: '',
      err: 'promote: a promotion of us-east1 is under way in ggen/prod (step 1 done): finish it (`promote ggen prod us-east1`), or abort it by removing promotion from the overlay\npromote: nothing was changed',
    });
    expect(promote(root, 'ggen', 'staging', 'us-east1', { step: 2 })).toEqual({
      code: 1,
      out: '',
      err: 'promote: refusing step 2: step 1 (fence) comes first: no promotion is under way in the overlay\npromote: nothing was changed',
    });
    expect(changedFiles(now, tree(root))).toEqual([]);
  });

  test('fails when the check does not pass: old primary not fenced, or the new primary behind; exit 1, nothing touched', () => {
    const now = tree(root);
    const unfenced = clusters('ggen-prod-us-central1', { fence: '1', caughtUp: 5000 });
    const r1 = promote(root, 'ggen', 'prod', 'us-east1', { exec: unfenced });
    expect(r1.code).toBe(1);
    expect(r1.out).toBe(
      'check: redis cache: not yet: ggen-prod-us-central1/cache-0, ggen-prod-us-central1/cache-1, ggen-prod-us-central1/cache-2 not fenced (step 1 not synced, or its rollout not finished)',
    );
    expect(r1.err).toBe(
      'promote: refusing step 2 (move): the check did not pass; sync step 1 to us-central1, wait for its Redis rollout, and run promote again\npromote: nothing was changed',
    );
    const behind = clusters('ggen-prod-us-central1', { fence: '2147483647', caughtUp: 4990 });
    expect(promote(root, 'ggen', 'prod', 'us-east1', { exec: behind }).out).toBe(
      'check: redis cache: not yet: ggen-prod-us-east1/cache-0 is at offset 4990, the master ggen-prod-us-central1/cache-0 at 5000',
    );
    // The master is read before the new primary's first pod: its offset bounds what that pod must hold.
    expect(behind.asked).toEqual([
      ...[0, 1, 2].flatMap((i) => [
        `ggen-prod-us-central1 marketplace/cache-${i}: CONFIG GET min-replicas-to-write`,
        `ggen-prod-us-central1 marketplace/cache-${i}: INFO replication`,
      ]),
      'ggen-prod-us-east1 marketplace/cache-0: INFO replication',
    ]);
    expect(changedFiles(now, tree(root))).toEqual([]);
  });

  test('step 2 moves the master once the check passes, and changes exactly the expected objects', () => {
    const result = promote(root, 'ggen', 'prod', 'us-east1', { exec: clusters('ggen-prod-us-central1', { fence: '2147483647', caughtUp: 5000 }) });
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const after = tree(root);
    const regions = ['europe-west1', 'us-central1', 'us-east1'];
    expect(changedFiles(initial, after)).toEqual([
      // The diagram shows which region is primary.
      'dist/ggen/ARCHITECTURE.md',
      // The waves follow the roles: the new primary rolls out last.
      'dist/ggen/prod/argocd/argocd/applicationset-ggen-prod.yaml',
      ...regions.flatMap((r) => [
        // The environment's GlobalRules are evaluated in the primary region's cluster: they move with it.
        ...(r === 'europe-west1' ? [] : [`dist/ggen/prod/${r}/_cluster/globalrules-ggen-prod-global.yaml`]),
        // The Redis backups (docs/redis.md, "Backups to Cloud Storage") are the primary's: its script, scrape and egress move with it.
        ...(r === 'europe-west1'
          ? []
          : [`dist/ggen/prod/${r}/marketplace/authorizationpolicy-cache-redis-scrape.yaml`, `dist/ggen/prod/${r}/marketplace/configmap-cache-config.yaml`]),
        // Redis clients follow their region's role (docs/redis.md): the old and the new primary change.
        ...(r === 'europe-west1'
          ? []
          : [`dist/ggen/prod/${r}/marketplace/deployment-api.yaml`, `dist/ggen/prod/${r}/marketplace/deployment-replication-worker.yaml`]),
        `dist/ggen/prod/${r}/marketplace/destinationrule-api.yaml`,
        // The old and the new primary: which one admits replication through the east-west gateway (and lets the backups out).
        ...(r === 'europe-west1'
          ? []
          : [
              `dist/ggen/prod/${r}/marketplace/networkpolicy-cache-redis-scrape.yaml`,
              `dist/ggen/prod/${r}/marketplace/networkpolicy-cache.yaml`,
              `dist/ggen/prod/${r}/marketplace/peerauthentication-cache-redis-scrape.yaml`,
              `dist/ggen/prod/${r}/marketplace/podmonitoring-cache-redis-backup.yaml`,
            ]),
        // Redis alerts follow the region's role; the backup's Workload Identity and Cloud Storage move with the primary.
        ...(r === 'europe-west1'
          ? []
          : [
              `dist/ggen/prod/${r}/marketplace/rules-cache-redis.yaml`,
              `dist/ggen/prod/${r}/marketplace/serviceaccount-cache.yaml`,
              `dist/ggen/prod/${r}/marketplace/serviceentry-egress-storage.googleapis.com.yaml`,
            ]),
        // The Sidecars of the Redis pods import the new primary's Service.
        `dist/ggen/prod/${r}/marketplace/sidecar-cache.yaml`,
        `dist/ggen/prod/${r}/marketplace/sidecar-default.yaml`,
        `dist/ggen/prod/${r}/marketplace/statefulset-cache.yaml`,
        `dist/ggen/prod/${r}/marketplace/virtualservice-api-ingress.yaml`,
      ]),
      'overlays/ggen/prod.yaml',
    ]);
    expect(after.get('overlays/ggen/prod.yaml')).toBe(fs.readFileSync(path.join(GOLDEN, 'prod-promoted-us-east1.yaml'), 'utf8'));
    // The object count follows whatever the platform renders; the golden holds the rest, and
    // docs/traffic.md's example shows the count of today's render (it said 73 when 231 rendered).
    const count = /validated ([0-9]+) objects into dist\/ggen\/prod/.exec(result.out)?.[1];
    const documented = /rendered and validated ([0-9]+) objects into dist\/ggen\/prod/.exec(fs.readFileSync(path.join(ROOT, 'docs/traffic.md'), 'utf8'))?.[1];
    expect([count, documented]).toEqual([count, count]);
    expect(`${result.out.replace(/validated [0-9]+ objects/, 'validated N objects')}\n`).toBe(
      fs.readFileSync(path.join(GOLDEN, 'promote-ggen-prod-us-east1.txt'), 'utf8'),
    );
  });

  test('dist/ after promote is what a fresh synth of the edited overlay renders', () => {
    const fresh = tempDir('meridian-promote-dist-');
    roots.push(fresh);
    synthesize({ root, dist: fresh, platform: 'ggen', env: 'prod' });
    const rendered = tree(fresh);
    for (const [file, content] of rendered) expect(fs.readFileSync(path.join(root, 'dist', file), 'utf8')).toBe(content);
  });

  test('promoting back restores the overlay and dist/ byte for byte', () => {
    const result = promoteFully(root, 'ggen', 'prod', 'us-central1', 'us-east1');
    expect(result.code).toBe(0);
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });

  test('the region that is already primary: a message, exit 0, nothing changes', () => {
    const result = promote(root, 'ggen', 'prod', 'us-central1');
    expect(result).toEqual({ code: 0, out: 'promote: us-central1 is already the primary region of ggen/prod; nothing to do', err: '' });
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });

  test('fails when the region is unknown: exit 1, nothing touched', () => {
    expect(promote(root, 'ggen', 'prod', 'asia-east1')).toEqual({
      code: 1,
      out: '',
      err: 'promote: ggen has no region "asia-east1" (regions: us-central1, us-east1, europe-west1)\npromote: nothing was changed',
    });
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });

  test('fails when the environment is unknown: exit 1, nothing touched', () => {
    expect(promote(root, 'ggen', 'qa', 'us-east1')).toEqual({
      code: 1,
      out: '',
      err: 'platforms/ggen.ts: environments: has no environment "qa" (allowed: dev, staging, prod)\npromote: 1 problem(s) in the platform spec; nothing was changed',
    });
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });

  test('fails when the platform is unknown: exit 1, nothing touched', () => {
    const result = promote(root, 'nosuch', 'prod', 'us-east1');
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toMatch(
      /^platforms\/: has no platform "nosuch" \(platforms: [a-z, ]*ggen[a-z, ]*\)\npromote: 1 problem\(s\) in the platform spec; nothing was changed$/,
    );
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });

  test('--keep-weights changes only the roles', () => {
    expect(promoteFully(root, 'ggen', 'staging', 'europe-west1', 'us-central1', { keepWeights: true }).code).toBe(0);
    const after = tree(root);
    expect(changedFiles(initial, after).filter((f) => f.includes('virtualservice'))).toEqual([]);
    expect(after.get('overlays/ggen/staging.yaml')).toBe(
      `${initial.get('overlays/ggen/staging.yaml')}regions:\n  europe-west1:\n    role: primary\n  us-central1:\n    role: secondary\n`,
    );
    expect(promoteFully(root, 'ggen', 'staging', 'us-central1', 'europe-west1', { keepWeights: true }).code).toBe(0);
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });

  test('--primary-lost moves the master in one step, without fence or check', () => {
    const result = promote(root, 'ggen', 'dev', 'us-east1', { primaryLost: true });
    expect(result.code).toBe(0);
    expect(result.out.split('\n')[0]).toBe(
      'promote ggen/dev: us-east1 becomes the primary region (was us-central1), unplanned (--primary-lost): no fence; what us-east1 had not received from us-central1 is lost',
    );
    expect(tree(root).get('overlays/ggen/dev.yaml')).toMatch(/us-east1:\n {4}role: primary\n/);
    expect(promote(root, 'ggen', 'dev', 'us-central1', { primaryLost: true }).code).toBe(0);
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });

  test('when writing dist/ fails, the overlay is restored', () => {
    const blocked = path.join(root, 'not-a-dir');
    fs.writeFileSync(blocked, '');
    expect(() => promote(root, 'ggen', 'prod', 'us-east1', { dist: path.join(blocked, 'dist') })).toThrow();
    fs.rmSync(blocked);
    expect(changedFiles(initial, tree(root))).toEqual([]);
  });
});

describe('editOverlay', () => {
  const base = { regions: { a: { role: 'primary' }, b: { role: 'secondary' } } };

  test('keeps comments and layout, adds only what differs from the base', () => {
    const text = '# env overlay\nservices:\n  api:\n    image: { tag: "1.0" } # pinned\n';
    const edited = editOverlay(
      text,
      [
        { path: ['regions', 'b', 'role'], after: 'primary' },
        { path: ['regions', 'a', 'role'], after: 'secondary' },
      ],
      base,
    );
    expect(edited).toBe('# env overlay\nservices:\n  api:\n    image: { tag: "1.0" } # pinned\nregions:\n  b:\n    role: primary\n  a:\n    role: secondary\n');
  });

  test('changes a value in place, in a flow mapping too, keeping its quoting', () => {
    const text = 'routing:\n  weights: { a: 50, b: 35 }  # seed\nregions:\n  b:\n    role: "secondary"\n';
    const edited = editOverlay(
      text,
      [
        { path: ['routing', 'weights', 'a'], after: 35 },
        { path: ['regions', 'b', 'role'], after: 'primary' },
      ],
      base,
    );
    expect(edited).toBe('routing:\n  weights: { a: 35, b: 35 }  # seed\nregions:\n  b:\n    role: "primary"\n');
  });

  test('writes into an overlay that is only a comment', () => {
    expect(editOverlay('# nothing yet\n', [{ path: ['regions', 'b', 'role'], after: 'primary' }], base)).toBe(
      '# nothing yet\nregions:\n  b:\n    role: primary\n',
    );
  });

  test('removes a value the base already holds, and the mappings it leaves empty', () => {
    const text = 'regions:\n  b:\n    role: primary # promoted\n  a:\n    role: secondary\n    zones: [a-1]\n';
    const edited = editOverlay(
      text,
      [
        { path: ['regions', 'b', 'role'], after: 'secondary' },
        { path: ['regions', 'a', 'role'], after: 'primary' },
      ],
      base,
    );
    expect(edited).toBe('regions:\n  a:\n    zones: [a-1]\n');
  });
});
