import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runPromoteEnv } from '../../cli/promote-env';
import { synthesize } from '../../synth';
import { fixtureRepo, shopPlatform } from '../model/fixtures';

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
function git(root: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8', env: GIT_ENV });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function promoteEnv(root: string, env: string, extra: { revision?: string; dryRun?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runPromoteEnv({ root, platform: 'shop', env, ...extra }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Sets prod's image tag of api, renders, commits on the current branch. */
function release(root: string, tag: string): string {
  fs.writeFileSync(path.join(root, 'overlays/shop/prod.yaml'), `services: { api: { image: { tag: "${tag}" } } }\n`);
  synthesize({ root });
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', `release ${tag}`);
  return git(root, 'rev-parse', 'HEAD');
}

describe('meridian promote-env (environments in order, plain Git)', () => {
  const root = fixtureRepo(shopPlatform(), { prod: '{}\n' });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  git(root, 'init', '-q', '-b', 'main');
  const c1 = release(root, '1.0.0');

  test('the first promotion creates prod’s branch at what staging runs (main), showing every prod object as added', () => {
    const r = promoteEnv(root, 'prod');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(git(root, 'rev-parse', 'meridian/shop/prod')).toBe(c1);
    expect(r.out).toContain('### meridian diff: meridian/shop/prod (new) → main');
    expect(r.out).toContain('`shop/prod/us-east1`: new cluster folder');
    expect(r.out).toContain('Deploy it: git push origin meridian/shop/prod');
    expect(r.out).toContain('rolls it out in waves: europe-west1 → us-east1');
    expect(promoteEnv(root, 'prod').out).toMatch(/already at/);
  });

  test('a release on main reaches prod only when promoted, and the diff names the changed field', () => {
    const c2 = release(root, '1.1.0');
    expect(git(root, 'rev-parse', 'meridian/shop/prod')).toBe(c1);
    const dry = promoteEnv(root, 'prod', { dryRun: true });
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('"us-docker.pkg.dev/shop/apps/api:1.0.0" → "us-docker.pkg.dev/shop/apps/api:1.1.0"');
    expect(git(root, 'rev-parse', 'meridian/shop/prod')).toBe(c1);
    expect(promoteEnv(root, 'prod').code).toBe(0);
    expect(git(root, 'rev-parse', 'meridian/shop/prod')).toBe(c2);
  });

  test('fails when the revision is not one the source environment runs, or the move is not a fast-forward', () => {
    git(root, 'checkout', '-q', '-b', 'hotfix');
    const stray = release(root, '9.9.9');
    git(root, 'checkout', '-q', 'main');
    const r = promoteEnv(root, 'prod', { revision: stray });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`promote-env: --revision ${stray} (${stray.slice(0, 12)}) is not in the history shop/staging runs (main); nothing was changed`);

    // A commit made straight on prod's branch: staging never ran it.
    git(root, 'checkout', '-q', 'meridian/shop/prod');
    const direct = release(root, '1.1.1');
    git(root, 'checkout', '-q', 'main');
    release(root, '1.2.0');
    const refused = promoteEnv(root, 'prod');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/has commits staging never ran: moving it to [0-9a-f]{12} is not a fast-forward/);
    expect(git(root, 'rev-parse', 'meridian/shop/prod')).toBe(direct);
  });

  test('fails for an environment that tracks main itself', () => {
    const r = promoteEnv(root, 'staging');
    expect(r.code).toBe(1);
    expect(r.err).toBe('promote-env: shop/staging tracks main directly (rollout.promotesFrom is not set): every commit there reaches it; nothing was changed');
  });
});
