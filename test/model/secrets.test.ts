import { formatProblem, loadAll, ProblemError } from '../../model';
import { fixtureRepo, shopPlatform } from './fixtures';

const GITHUB = ['ghp', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'].join('_');

function problems(input: unknown): string[] {
  try {
    loadAll(fixtureRepo(input));
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

function shop(mutate: (p: any) => void) {
  const p = shopPlatform() as any;
  mutate(p);
  return p;
}

describe('secrets in a platform', () => {
  test('fails when env holds a literal password (rendered in plain text before, exit 0)', () => {
    const out = problems(shop((p) => (p.services.worker.env = { DB_PASSWORD: 'hunter2-correct-horse' })));
    expect(out).toEqual([
      'platforms/shop.ts: services.worker.env.DB_PASSWORD: is named like a secret: a literal value is rendered into dist/ in plain text; put it in Secret Manager and name it under secrets: (secrets.DB_PASSWORD: { secret: <id> }), or, if it is not a secret, list DB_PASSWORD in notSecret (got "****" (21 characters, masked))',
    ]);
  });

  test('fails when env holds a credential under an innocent name, and a job too', () => {
    const out = problems(
      shop((p) => {
        p.services.worker.env = { UPSTREAM: GITHUB };
        p.jobs = {
          cleanup: {
            namespace: 'shop',
            image: { repository: 'r/cleanup', tag: '1' },
            schedule: '@daily',
            env: { HOOK: `https://user:${GITHUB}@hooks.example.com/x` },
          },
        };
      }),
    );
    expect(out.map((l) => l.split(': a literal')[0])).toEqual([
      'platforms/shop.ts: services.worker.env.UPSTREAM: looks like a credential: secretlint github (GITHUB_TOKEN)',
      'platforms/shop.ts: jobs.cleanup.env.HOOK: looks like a credential: secretlint basicauth (BasicAuth)',
    ]);
    expect(out.join('\n')).not.toContain(GITHUB);
  });

  test('fails when secrets: holds a literal, without echoing it (the message printed it before)', () => {
    expect(problems(shop((p) => (p.services.api.secrets = { DB_PASSWORD: 'hunter2-correct-horse' })))).toEqual([
      'platforms/shop.ts: services.api.secrets.DB_PASSWORD: must be object (got "****" (21 characters, masked))',
    ]);
  });

  test('notSecret marks a deliberate non-secret, and must name a variable of env', () => {
    expect(problems(shop((p) => Object.assign(p.services.worker, { env: { PUBLIC_KEY_ID: 'k-2024-01' }, notSecret: ['PUBLIC_KEY_ID'] })))).toEqual([]);
    expect(problems(shop((p) => Object.assign(p.services.worker, { env: { PUBLIC_KEY_ID: 'k-2024-01' }, notSecret: ['PUBLIC_KEY'] })))).toEqual([
      'platforms/shop.ts: services.worker.env.PUBLIC_KEY_ID: is named like a secret: a literal value is rendered into dist/ in plain text; put it in Secret Manager and name it under secrets: (secrets.PUBLIC_KEY_ID: { secret: <id> }), or, if it is not a secret, list PUBLIC_KEY_ID in notSecret (got "****" (9 characters, masked))',
      'platforms/shop.ts: services.worker.notSecret[0]: names no variable of env (PUBLIC_KEY_ID) (got "PUBLIC_KEY")',
    ]);
  });
});
