/**
 * A Redis group's RedisSentinel props and its clients' contract, from the spec as one
 * cluster sees it (spec × cluster → props, every value explicit).
 */
import type { FieldPath } from '../../model/merge';
import type { ClusterPlan, RedisPlan } from '../../model/plan';
import { parseDuration, parseSize } from '../../kernel/units';
import { imageRef } from '../workloads/resolve';
import { redisClientEnv, type RedisClientEnv } from './client-env';
import type { RedisSentinelProps } from './redis-sentinel';

/** The Secret a Redis group's password is synced to (key `password`): its pods and its clients read it. */
export function redisPasswordSecretName(group: string): string {
  return `${group}-redis-password`;
}

/** The RedisSentinel props of group `name` in this cluster; `passwordSecret` is the synced Secret's name. */
export function redisSentinelProps(c: ClusterPlan, name: string, redis: RedisPlan, passwordSecret: string): RedisSentinelProps {
  return {
    name,
    namespace: redis.namespace,
    image: imageRef(redis.image),
    replicas: redis.replicas,
    quorum: redis.quorum,
    downAfter: parseDuration(redis.downAfter),
    failoverTimeout: parseDuration(redis.failoverTimeout),
    parallelSyncs: redis.parallelSyncs,
    minReplicasToWrite: redis.minReplicasToWrite,
    minReplicasMaxLag: parseDuration(redis.minReplicasMaxLag),
    memory: parseSize(redis.memory),
    maxmemoryPolicy: redis.maxmemoryPolicy,
    storage: parseSize(redis.storage),
    storageClass: redis.storageClass,
    passwordSecret,
    zones: [...c.zones],
    region: c.region,
    role: c.role,
    upstreams: redis.upstreams,
    fencedFor: redis.fencedFor,
    crossRegionService: c.multiRegion,
    backup: redis.backup && {
      bucket: redis.backup.bucket,
      prefix: redis.backup.prefix ?? `${c.env}/${name}/`,
      interval: parseDuration(redis.backup.interval),
      gcpServiceAccount: redisBackupServiceAccount(c, name, redis.backup.gcpServiceAccount),
    },
  };
}

/** The Google service account a backed-up group's pods act as: the spec's, else `redis-<name>@<project>.iam.gserviceaccount.com`. */
export function redisBackupServiceAccount(c: ClusterPlan, name: string, given: string | undefined): string {
  return given ?? `redis-${name}@${c.platform.project}.iam.gserviceaccount.com`;
}

/** The spec field each prop of group `name`'s RedisSentinel comes from, for reporting a refusal there. */
export function redisSources(name: string): Record<string, FieldPath> {
  const at = ['redis', name];
  return {
    name: at,
    replicas: [...at, 'replicas'],
    quorum: [...at, 'quorum'],
    parallelSyncs: [...at, 'parallelSyncs'],
    minReplicasToWrite: [...at, 'minReplicasToWrite'],
    minReplicasMaxLag: [...at, 'minReplicasMaxLag'],
    downAfter: [...at, 'downAfter'],
    failoverTimeout: [...at, 'failoverTimeout'],
    memory: [...at, 'memory'],
    storage: [...at, 'storage'],
    'backup.interval': [...at, 'backup', 'interval'],
    'backup.gcpServiceAccount': [...at, 'backup', 'gcpServiceAccount'],
  };
}

/** The Redis client contract (client-env.ts) of a workload that `dependsOn` Redis groups, for this region's role. */
export function redisClient(c: ClusterPlan, namespace: string, dependsOn: readonly string[]): RedisClientEnv {
  const names = dependsOn.filter((d) => d.startsWith('redis:')).map((d) => d.slice('redis:'.length));
  const groups = names.map((g) => ({ name: g, namespace: c.redis[g].namespace, passwordSecret: redisPasswordSecretName(g) }));
  // One role per region: every group of a region is primary or secondary with it (model/plan.ts).
  const role = names.length > 0 ? c.redis[names[0]].role : c.role;
  return redisClientEnv(groups, { namespace, region: c.region, role });
}
