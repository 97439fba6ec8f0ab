/**
 * What a workload that depends on a Redis group (`dependsOn: ['redis:<name>']`) gets in its
 * environment, per role of its region (docs/redis.md, "What clients get"). One contract,
 * rendered, so that an application never hard-codes an address that is only right in one
 * region:
 *
 * - primary region: `REDIS_SENTINELS` and `REDIS_MASTER_SET`, what a standard Sentinel-aware
 *   client (ioredis, redis-py, Lettuce, go-redis FailoverClient) takes unchanged: it asks the
 *   sentinels for the master, writes there and follows failovers;
 * - secondary region: `REDIS_READ_HOST`/`REDIS_READ_PORT`, the region's own replicas (the
 *   sentinels there monitor nothing: a Sentinel client would find no master). Writes are not
 *   offered: the master lives in another cluster, whose pod hostnames do not resolve here,
 *   and a write across regions would cost a round trip per command and fail with the link.
 *   What a secondary region's application must change, it changes through the primary
 *   region (the seed's read replicas, eventually consistent).
 *
 * Both get `REDIS_ROLE` and `REDIS_PASSWORD` (the group's synced Secret, also the sentinels'
 * password). A workload depending on several groups gets each under `REDIS_<NAME>_`.
 */
import { MASTER_SET, REDIS_PORT, SENTINEL_PORT, redisReadServiceName, RedisRole } from './redis-sentinel';

export interface RedisClientGroup {
  /** The group's name (`redis.<name>`). */
  readonly name: string;
  readonly namespace: string;
  /** The Secret (key `password`) the group's pods read their password from. */
  readonly passwordSecret: string;
}

export interface RedisClientEnv {
  readonly env: Record<string, string>;
  /** Variable → Secret key reference. */
  readonly secretEnv: Record<string, { secretName: string; key: string }>;
}

/** The variable prefix of a group for a workload depending on `count` groups. */
export function redisEnvPrefix(group: string, count: number): string {
  return count > 1 ? `REDIS_${group.toUpperCase().replace(/-/g, '_')}_` : 'REDIS_';
}

/** Every variable name the contract may render under `prefix`, whatever the role. */
export function redisContractVariables(prefix: string): string[] {
  return ['ROLE', 'SENTINELS', 'MASTER_SET', 'READ_HOST', 'READ_PORT', 'PASSWORD'].map((v) => `${prefix}${v}`);
}

/**
 * The environment of a workload in `namespace`, region `region` of role `role`, depending on
 * `groups`. The password is given only where the workload runs in the group's namespace (a
 * Secret is namespaced): elsewhere the workload declares it among its own secrets.
 */
export function redisClientEnv(
  groups: readonly RedisClientGroup[],
  where: { readonly namespace: string; readonly region: string; readonly role: RedisRole; readonly clusterDomain?: string },
): RedisClientEnv {
  const domain = where.clusterDomain ?? 'cluster.local';
  const env: Record<string, string> = {};
  const secretEnv: Record<string, { secretName: string; key: string }> = {};
  for (const g of groups) {
    const p = redisEnvPrefix(g.name, groups.length);
    env[`${p}ROLE`] = where.role;
    if (where.role === 'primary') {
      env[`${p}SENTINELS`] = `${g.name}.${g.namespace}.svc.${domain}:${SENTINEL_PORT}`;
      env[`${p}MASTER_SET`] = MASTER_SET;
    } else {
      env[`${p}READ_HOST`] = `${redisReadServiceName(g.name, where.region)}.${g.namespace}.svc.${domain}`;
      env[`${p}READ_PORT`] = String(REDIS_PORT);
    }
    if (g.namespace === where.namespace) secretEnv[`${p}PASSWORD`] = { secretName: g.passwordSecret, key: 'password' };
  }
  return { env, secretEnv };
}
