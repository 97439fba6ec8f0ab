import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers';

/** What a process npm starts in the repository sees, from a shell without the variable. */
function underNpm(cwd: string): string {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CDK8S_CHECK_UPGRADE;
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k];
  const r = spawnSync('npm', ['exec', '--', 'node', '-e', 'process.stdout.write(String(process.env.CDK8S_CHECK_UPGRADE))'], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`npm exec failed: ${r.stderr}`);
  return r.stdout;
}

test("npx in the repository turns cdk8s-cli's upgrade check off by the project's .npmrc (it printed a stack trace where the registry does not answer)", () => {
  expect(underNpm(ROOT)).toBe('false');
  expect(underNpm(`${ROOT}/docs`)).toBe('false');
});
