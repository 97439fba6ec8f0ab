/** Rules of the Redis client contract on a platform spec, reported with the field's path. */
import { redisContractVariables, redisEnvPrefix } from './client-env';

interface Workload {
  readonly namespace: string;
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, unknown>>;
  readonly dependsOn: readonly string[];
}

export interface RedisClientIssue {
  readonly path: (string | number)[];
  readonly message: string;
  readonly input: unknown;
}

/**
 * A variable the contract renders (features/redis/client-env.ts) must not also be set by hand:
 * a hand-written address is right in one region only (the sentinels of a secondary region know
 * no master), and two sources of one variable drift.
 */
export function redisClientIssues(w: Workload, groups: Readonly<Record<string, { namespace: string }>>): RedisClientIssue[] {
  const deps = w.dependsOn.filter((d) => d.startsWith('redis:') && d.slice(6) in groups).map((d) => d.slice(6));
  const issues: RedisClientIssue[] = [];
  for (const g of deps) {
    const rendered = redisContractVariables(redisEnvPrefix(g, deps.length)).filter((v) => groups[g].namespace === w.namespace || !v.endsWith('PASSWORD'));
    for (const section of ['env', 'secrets'] as const) {
      for (const key of Object.keys(w[section])) {
        if (rendered.includes(key))
          issues.push({
            path: [section, key],
            message: `is rendered from dependsOn redis:${g} for the region's role (docs/redis.md, "What clients get"): remove it`,
            input: key,
          });
      }
    }
  }
  return issues;
}
