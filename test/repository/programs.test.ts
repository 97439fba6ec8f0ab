import { describeRedis, redisPrerequisites } from '../features/redis/harness';
import { findPromtool } from '../promtool';
import { skipBanner } from '../programs';

/** Runs fn with PATH emptied and CI unset, capturing what is written to stderr. */
function withoutPrograms<T>(fn: () => T): { value: T; stderr: string } {
  const saved = { PATH: process.env.PATH, CI: process.env.CI, PROMTOOL: process.env.PROMTOOL };
  const write = process.stderr.write;
  let stderr = '';
  process.env.PATH = '';
  delete process.env.CI;
  delete process.env.PROMTOOL;
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: fn(), stderr };
  } finally {
    process.stderr.write = write;
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

describe('a missing real program outside CI', () => {
  test('promtool: the boxed SKIPPED banner on stderr', () => {
    const r = withoutPrograms(() => findPromtool());
    expect(r.value).toBeUndefined();
    expect(r.stderr).toBe(`${skipBanner('the promtool tests', 'promtool NOT FOUND', 'Install it (apt-get install -y prometheus) to run them.')}\n`);
  });

  test('redis-server: the same banner, naming what is missing and how to install it', () => {
    expect(redisSkip.value).toBe('redis-server, redis-sentinel, redis-cli, timeout not found: apt-get install redis-server redis-sentinel');
    expect(redisSkip.stderr).toBe(`${skipBanner('the Redis scenarios ("a Redis scenario")', 'REDIS CANNOT RUN', redisSkip.value!)}\n`);
    const lines = redisSkip.stderr.trim().split('\n');
    expect(lines.every((l) => l.length === lines[0].length && l.startsWith('*') && l.endsWith('*'))).toBe(true);
  });
});

// describeRedis registers its block with describe.skip outside CI when redis is missing; that
// is recorded here instead, so that this run (where redis is present) skips nothing.
const skipped: string[] = [];
const redisSkip = withoutPrograms(() => {
  const skip = describe.skip;
  describe.skip = ((name: string) => void skipped.push(name)) as unknown as typeof describe.skip;
  try {
    describeRedis('a Redis scenario', () => {
      test('never runs here', () => undefined);
    });
  } finally {
    describe.skip = skip;
  }
  return redisPrerequisites();
});

test('outside CI, a missing redis skips the scenario block (it is registered with describe.skip)', () => {
  expect(skipped).toEqual(['a Redis scenario']);
});
