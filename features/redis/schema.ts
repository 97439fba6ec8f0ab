/**
 * Redis Sentinel groups (one per region, the primary region's the master) and the rules of
 * the Redis client contract on the workloads that depend on them, reported with the field's path.
 */
import { z } from 'zod';
import { durationMs } from '../../kernel/quantities';
import { gcpServiceAccountProblem } from '../../kernel/names';
import { byteQuantity, dnsLabel, duration } from '../../kernel/schema';
import { secretManagerName } from '../secrets/schema';
import { Image } from '../workloads/schema';
import { redisContractVariables, redisEnvPrefix } from './client-env';
import { maxLagCeilingSeconds } from './redis-sentinel';

/** What a Redis group may hold (`redis.<g>.holds`). */
export const REDIS_USES = ['cache', 'sessions', 'locks', 'rate-limits'] as const;

/**
 * A Cloud Storage bucket name (cloud.google.com/storage/docs/naming-buckets), without dots: a
 * dotted name needs domain verification (and without dots no name looks like an IP address).
 * Google also refuses names that begin with "goog" or contain "google" or a close misspelling
 * ("g00gle"): Meridian refuses "google" with any "o" written as "0".
 */
const bucketName = z
  .string()
  .regex(/^[a-z0-9][-_a-z0-9]{1,61}[a-z0-9]$/, {
    message: 'must be a Cloud Storage bucket name: 3-63 lowercase letters, digits, "-" and "_", starting and ending with a letter or digit',
  })
  .refine((b) => !b.startsWith('goog'), { message: 'must not begin with "goog": Cloud Storage reserves the prefix' })
  .refine((b) => !/g[o0][o0]gle/.test(b), { message: 'must not contain "google" or a close misspelling such as "g00gle": Cloud Storage refuses such names' });

/**
 * The scheduled RDB snapshot of a group to Cloud Storage (docs/redis.md, "Backups"): taken in
 * the primary region by one replica's `backup` container, uploaded with Workload Identity.
 */
export const RedisBackup = z.strictObject({
  /** The bucket the snapshots go to; its lifecycle rule (set where the bucket is managed) decides how long they are kept. */
  bucket: bucketName,
  /** Time between two snapshots; the stale-backup alert fires once the last success is older than this plus 30 minutes. @default 24h */
  interval: duration.default('24h').refine((d) => durationMs(d) >= 60_000 && durationMs(d) <= 7 * 24 * 3600_000, {
    message: 'must be between 1m and 168h (7 days): each snapshot costs the replica a fork and a full transfer',
  }),
  /** Object names start with this (a snapshot is `<prefix><UTC time>-<pod>.rdb`). @default - `<env>/<group>/` */
  prefix: z
    .string()
    .regex(/^([A-Za-z0-9._-]+\/)*$/, { message: 'must be empty or folders ending with "/", e.g. redis/cache/' })
    .optional(),
  /** The Google service account the group's pods act as (Workload Identity); it needs roles/storage.objectCreator on the bucket. @default - `redis-<group>@<project>.iam.gserviceaccount.com` */
  gcpServiceAccount: z
    .string()
    .superRefine((email, ctx) => {
      const problem = gcpServiceAccountProblem(email);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: email });
    })
    .optional(),
});

export const Redis = z
  .strictObject({
    namespace: dnsLabel,
    /** Redis pods (each with a sentinel) in each region. @default 3 */
    replicas: z.number().int().min(3).default(3),
    /** Sentinels that must agree the master is down. @default - a majority of replicas */
    quorum: z.number().int().min(1).optional(),
    /** Unresponsive time after which a sentinel considers the master down. @default 5s */
    downAfter: duration.default('5s'),
    /** Failover timeout. @default 60s */
    failoverTimeout: duration.default('60s'),
    /** Replicas resyncing with a new master at once. @default 1 */
    parallelSyncs: z.number().int().min(1).default(1),
    /** A master refuses writes with fewer connected replicas than this. @default 1 */
    minReplicasToWrite: z.number().int().min(0).default(1),
    /** ... whose replication lag is at most this; at most downAfter - 2s. @default - downAfter - 2s, at least 1s */
    minReplicasMaxLag: duration.optional(),
    /** Memory limit of the redis container; maxmemory is set to 60 % of it (buffers and the AOF rewrite's fork need the rest). @default 1Gi */
    memory: byteQuantity.default('1Gi'),
    /**
     * What the group's keys are: `cache` (rebuilt from elsewhere when lost), or state that must
     * not be lost while it lives: `sessions`, `locks`, `rate-limits`. It decides the eviction
     * policy: a cache evicts (allkeys-lru); state never does (noeviction), and a full group
     * refuses writes instead. A group cannot be both: give the cache its own group. @default ['cache']
     */
    holds: z
      .array(z.enum(REDIS_USES))
      .min(1)
      .refine((h) => new Set(h).size === h.length, { message: 'lists a use twice' })
      .default(['cache']),
    /** @default - allkeys-lru for a cache, noeviction for a group that holds state */
    maxmemoryPolicy: z
      .enum(['noeviction', 'allkeys-lru', 'allkeys-lfu', 'volatile-lru', 'volatile-lfu', 'volatile-ttl', 'allkeys-random', 'volatile-random'])
      .optional(),
    /** Persistent volume per pod. @default 10Gi */
    storage: byteQuantity.default('10Gi'),
    storageClass: z.string().default('premium-rwo'),
    /** Secret Manager id of the Redis password. */
    passwordSecret: secretManagerName,
    image: Image.default({ repository: 'docker.io/library/redis', tag: '7.4.2-alpine' }),
    /**
     * The host a secondary region's first pod reaches one pod of the primary region's group at
     * (port 6379); `{region}` stands for the primary region's key, so a promotion moves it, and
     * `{ordinal}` for the pod's ordinal: the secondary chooses a pod that is a replica, never the
     * master (docs/redis.md, "Across regions").
     * @default - `<name>-{region}-{ordinal}.<namespace>.svc.cluster.local`: the per-pod Services each region renders, which the other clusters of the multi-primary mesh reach through its east-west gateway (mTLS)
     */
    crossRegionHost: z
      .string()
      .regex(/^([a-z0-9{}]([-a-z0-9{}]*[a-z0-9{}])?\.)*[a-z0-9{}]([-a-z0-9{}]*[a-z0-9{}])?$/, {
        message: 'must be a hostname; {region} stands for the primary region, {ordinal} for a pod, e.g. cache-{region}-{ordinal}.redis.internal',
      })
      .refine((h) => h.includes('{ordinal}'), {
        message:
          "must name one pod: {ordinal} stands for the pod's ordinal, e.g. cache-{region}-{ordinal}.redis.internal (a secondary replicates from a replica of the primary region, never its master, so it needs each pod's address)",
      })
      .optional(),
    /** A scheduled RDB snapshot to Cloud Storage, in the primary region. @default - none */
    backup: RedisBackup.optional(),
  })
  // What a group holds decides its eviction policy (a spec rule: the construct takes the policy).
  // The rules on a group's other values are RedisSentinel's (features/redis/redis-sentinel.ts),
  // written once there; the region chart reports a refusal at the field, and in the file, that set the value.
  .superRefine((r, ctx) => {
    const state = r.holds.filter((h) => h !== 'cache');
    if (state.length > 0 && r.holds.includes('cache')) {
      ctx.addIssue({
        code: 'custom',
        path: ['holds'],
        message: `holds a cache and ${state.join(', ')}: a cache needs eviction when full and ${state.join(', ')} must never be evicted, so no one maxmemory-policy serves both; put the cache in its own group`,
        input: r.holds,
      });
    } else if (state.length > 0 && r.maxmemoryPolicy !== undefined && r.maxmemoryPolicy !== 'noeviction') {
      ctx.addIssue({
        code: 'custom',
        path: ['maxmemoryPolicy'],
        message: `must be noeviction: the group holds ${state.join(', ')}, which ${r.maxmemoryPolicy} evicts when memory is full${r.maxmemoryPolicy.startsWith('volatile-') ? ' (it evicts exactly the keys with a TTL)' : ''}`,
        input: r.maxmemoryPolicy,
      });
    }
  })
  .transform((r) => ({
    ...r,
    minReplicasMaxLag: r.minReplicasMaxLag ?? `${maxLagCeilingSeconds(durationMs(r.downAfter))}s`,
    maxmemoryPolicy: r.maxmemoryPolicy ?? (r.holds.every((h) => h === 'cache') ? ('allkeys-lru' as const) : ('noeviction' as const)),
  }));

/** Whether a group's keys may be evicted: only a cache's. */
export const mayEvict = (r: Pick<RedisSpec, 'maxmemoryPolicy'>): boolean => r.maxmemoryPolicy !== 'noeviction';

export type RedisSpec = z.output<typeof Redis>;

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
