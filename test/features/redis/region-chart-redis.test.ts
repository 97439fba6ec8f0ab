import * as fs from 'node:fs';
import * as path from 'node:path';
import { EnvironmentPlan, loadAll, loadEnvironments, PlatformInput } from '../../../model';
import { buildEnvironment } from '../../../synth/render';
import { ROOT, tempDir } from '../../helpers';

type Obj = Record<string, any>;

/** The objects each region chart renders. */
function objects(env: EnvironmentPlan): Map<string, Obj[]> {
  const out = new Map<string, Obj[]>();
  for (const [chart, folder] of buildEnvironment(env, `${env.platform.name}/${env.env}`)) out.set(folder.split('/').pop()!, chart.toJson() as Obj[]);
  return out;
}

function redisEnv(objs: Obj[]): Record<string, string> {
  const sts = objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'cache')!;
  return Object.fromEntries(sts.spec.template.spec.containers[0].env.filter((e: Obj) => e.value !== undefined).map((e: Obj) => [e.name, e.value]));
}

function platform(regions: Record<string, 'primary' | 'secondary'>, redis: Obj = {}): PlatformInput {
  return {
    name: 'shop',
    project: 'shop-project',
    environments: ['prod'],
    regions: Object.fromEntries(Object.entries(regions).map(([r, role]) => [r, { role, zones: [`${r}-b`] }])),
    namespaces: { data: {} },
    redis: { cache: { namespace: 'data', passwordSecret: 'cache-password', ...redis } },
    gitops: { repoURL: 'https://example.com/fleet.git' },
  };
}

const load = (input: PlatformInput) => loadEnvironments({ file: 'platforms/shop.ts', input }, tempDir())[0];

describe('RegionChart: Redis across regions', () => {
  test('ggen: the primary region owns the master; the secondaries replicate it through its region Service, in the mesh', () => {
    const [prod] = loadAll(ROOT, { platform: 'ggen', env: 'prod' });
    const charts = objects(prod);
    expect(redisEnv(charts.get('us-central1')!)).toMatchObject({ ROLE: 'primary', HEADLESS: 'cache-us-central1-headless' });
    expect(redisEnv(charts.get('us-central1')!)).not.toHaveProperty('UPSTREAM_HOSTS');
    for (const region of ['us-east1', 'europe-west1']) {
      expect(redisEnv(charts.get(region)!)).toMatchObject({
        ROLE: 'secondary',
        UPSTREAM_HOSTS: [0, 1, 2].map((i) => `cache-us-central1-${i}.marketplace.svc.cluster.local`).join(' '),
        HEADLESS: `cache-${region}-headless`,
      });
    }
    // Every region renders its group's region Service and per-pod Services: a promotion needs no new one.
    for (const [region, objs] of charts) {
      if (region === 'argocd') continue;
      for (const name of [`cache-${region}`, `cache-${region}-0`, `cache-${region}-1`, `cache-${region}-2`])
        expect(objs.filter((o) => o.kind === 'Service' && o.metadata.name === name)).toHaveLength(1);
      expect(objs.filter((o) => o.kind === 'ServiceExport')).toEqual([]);
    }
  });

  test('a promotion (the region roles swapped) moves the master and the upstream', () => {
    const before = objects(load(platform({ 'us-central1': 'primary', 'us-east1': 'secondary' })));
    const after = objects(load(platform({ 'us-central1': 'secondary', 'us-east1': 'primary' })));
    const hosts = (r: string) => [0, 1, 2].map((i) => `cache-${r}-${i}.data.svc.cluster.local`).join(' ');
    expect(redisEnv(before.get('us-east1')!)).toMatchObject({ ROLE: 'secondary', UPSTREAM_HOSTS: hosts('us-central1') });
    expect(redisEnv(after.get('us-east1')!).ROLE).toBe('primary');
    expect(redisEnv(after.get('us-central1')!)).toMatchObject({ ROLE: 'secondary', UPSTREAM_HOSTS: hosts('us-east1') });
    // Only the role (and the pods' rollout) changes: names and volumes stay.
    const names = (m: Map<string, Obj[]>) =>
      [...m.values()]
        .flat()
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .sort();
    expect(names(after)).toEqual(names(before));
  });

  test('crossRegionHost names the addresses the secondaries use; {region} is the primary region, {ordinal} a pod', () => {
    const charts = objects(
      load(platform({ 'us-central1': 'primary', 'us-east1': 'secondary' }, { crossRegionHost: 'redis-{region}-{ordinal}.data.internal.example.com' })),
    );
    expect(redisEnv(charts.get('us-east1')!).UPSTREAM_HOSTS).toBe(
      'redis-us-central1-0.data.internal.example.com redis-us-central1-1.data.internal.example.com redis-us-central1-2.data.internal.example.com',
    );
  });

  test('fails when crossRegionHost names no pod', () => {
    expect(() => load(platform({ 'us-central1': 'primary' }, { crossRegionHost: 'redis-{region}.data.internal.example.com' }))).toThrow(
      'platforms/shop.ts: redis.cache.crossRegionHost: must name one pod: {ordinal} stands for the pod\'s ordinal, e.g. cache-{region}-{ordinal}.redis.internal (a secondary replicates from a replica of the primary region, never its master, so it needs each pod\'s address) (got "redis-{region}.data.internal.example.com")',
    );
  });

  test('a single-region platform exports nothing', () => {
    const charts = objects(load(platform({ 'us-east1': 'primary' })));
    expect(charts.get('us-east1')!.map((o) => o.kind)).not.toContain('ServiceExport');
    expect(redisEnv(charts.get('us-east1')!)).toMatchObject({ ROLE: 'primary', HEADLESS: 'cache-us-east1-headless' });
  });

  test("a workload that depends on a group gets the client contract of its region's role", () => {
    const input = (regions: Record<string, 'primary' | 'secondary'>, app: Obj = {}): PlatformInput => ({
      ...platform(regions),
      namespaces: { data: {}, web: {} },
      redis: { cache: { namespace: 'data', passwordSecret: 'cache-password' }, sessions: { namespace: 'data', passwordSecret: 'sessions-password' } },
      services: {
        app: { namespace: 'data', image: { repository: 'example.com/app', tag: '1' }, dependsOn: ['redis:cache'], ...app },
        both: { namespace: 'web', image: { repository: 'example.com/app', tag: '1' }, dependsOn: ['redis:cache', 'redis:sessions'] },
      },
    });
    const env = (objs: Obj[], name: string) =>
      Object.fromEntries(
        objs
          .find((o) => o.kind === 'Deployment' && o.metadata.name === name)!
          .spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value ?? `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]),
      );
    const charts = objects(load(input({ 'us-central1': 'primary', 'us-east1': 'secondary' })));
    expect(env(charts.get('us-central1')!, 'app')).toEqual({
      REDIS_ROLE: 'primary',
      REDIS_SENTINELS: 'cache.data.svc.cluster.local:26379',
      REDIS_MASTER_SET: 'master',
      REDIS_PASSWORD: 'cache-redis-password/password',
    });
    expect(env(charts.get('us-east1')!, 'app')).toEqual({
      REDIS_ROLE: 'secondary',
      REDIS_READ_HOST: 'cache-us-east1.data.svc.cluster.local',
      REDIS_READ_PORT: '6379',
      REDIS_PASSWORD: 'cache-redis-password/password',
    });
    // Two groups: one prefix each; another namespace: no password (a Secret is namespaced).
    expect(env(charts.get('us-east1')!, 'both')).toEqual({
      REDIS_CACHE_ROLE: 'secondary',
      REDIS_CACHE_READ_HOST: 'cache-us-east1.data.svc.cluster.local',
      REDIS_CACHE_READ_PORT: '6379',
      REDIS_SESSIONS_ROLE: 'secondary',
      REDIS_SESSIONS_READ_HOST: 'sessions-us-east1.data.svc.cluster.local',
      REDIS_SESSIONS_READ_PORT: '6379',
    });
    // The Service a secondary's clients read from is rendered there.
    expect(charts.get('us-east1')!.some((o) => o.kind === 'Service' && o.metadata.name === 'cache-us-east1')).toBe(true);

    expect(() => load(input({ 'us-central1': 'primary' }, { env: { REDIS_SENTINELS: 'cache:26379' } }))).toThrow(
      'platforms/shop.ts: services.app.env.REDIS_SENTINELS: is rendered from dependsOn redis:cache for the region\'s role (docs/redis.md, "What clients get"): remove it (got "REDIS_SENTINELS")',
    );
  });

  test('fails when the storage cannot hold an AOF rewrite', () => {
    expect(() => buildEnvironment(load(platform({ 'us-central1': 'primary' }, { memory: '4Gi', storage: '6Gi' })), 'shop/prod')).toThrow(
      `platforms/shop.ts: redis.cache.storage: must be at least twice memory (4Gi): an AOF rewrite holds the old and the new file (got "6Gi") (RedisSentinel 'Redis-cache': storage)`,
    );
  });

  test('fails when minReplicasMaxLag is not whole seconds', () => {
    expect(() => buildEnvironment(load(platform({ 'us-central1': 'primary' }, { minReplicasMaxLag: '1500ms' })), 'shop/prod')).toThrow(
      `platforms/shop.ts: redis.cache.minReplicasMaxLag: must be whole seconds, at least 1s: redis counts it in seconds (got "1500ms") (RedisSentinel 'Redis-cache': minReplicasMaxLag)`,
    );
  });

  test('minReplicasMaxLag follows downAfter: a cut-off master refuses writes before another can be promoted', () => {
    const conf = (redis: Obj) =>
      objects(load(platform({ 'us-central1': 'primary' }, redis)))
        .get('us-central1')!
        .find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'cache-config')!.data['redis.conf'];
    expect(conf({})).toContain('min-replicas-max-lag 3\n');
    expect(conf({ downAfter: '10s' })).toContain('min-replicas-max-lag 8\n');
    expect(conf({ downAfter: '1500ms' })).toContain('min-replicas-max-lag 1\n');
    expect(() => buildEnvironment(load(platform({ 'us-central1': 'primary' }, { minReplicasMaxLag: '10s' })), 'shop/prod')).toThrow(
      `platforms/shop.ts: redis.cache.minReplicasMaxLag: must be at most 3s: downAfter - 2s (at least 1s), so that a master cut off from its replicas refuses writes before the sentinels can promote another (redis counts the lag in whole seconds and rechecks once a second) (got "10s") (RedisSentinel 'Redis-cache': minReplicasMaxLag)`,
    );
  });

  test('backup: a hardened backup container, Workload Identity and the scrape in the primary region only; nothing without it', () => {
    const backup = { bucket: 'shop-redis-backups', interval: '6h' };
    const charts = objects(load(platform({ 'us-central1': 'primary', 'us-east1': 'secondary' }, { backup })));
    const sts = (region: string) => charts.get(region)!.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'cache')!;
    const sa = (region: string) => charts.get(region)!.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'cache')!;
    const c = sts('us-central1').spec.template.spec.containers.find((x: Obj) => x.name === 'backup');
    expect(c.image).toBe('docker.io/library/python:3.13.1-alpine3.21');
    expect(c.securityContext).toEqual(sts('us-central1').spec.template.spec.containers[0].securityContext);
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.resources.limits.memory).toBe('96Mi');
    expect(Object.fromEntries(c.env.filter((e: Obj) => e.value).map((e: Obj) => [e.name, e.value]))).toMatchObject({
      BACKUP_BUCKET: 'shop-redis-backups',
      BACKUP_PREFIX: 'prod/cache/',
      BACKUP_INTERVAL_SECONDS: '21600',
      BACKUP_RETRY_SECONDS: '300',
      BACKUP_CHECK_SECONDS: '60',
      BACKUP_DIR: '/data/backup',
    });
    expect(sa('us-central1').metadata.annotations['iam.gke.io/gcp-service-account']).toBe('redis-cache@shop-project.iam.gserviceaccount.com');
    const config = charts.get('us-central1')!.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'cache-config')!;
    expect(Object.keys(config.data)).toContain('backup.py');
    expect(charts.get('us-central1')!.some((o) => o.kind === 'PodMonitoring' && o.metadata.name === 'cache-redis-backup')).toBe(true);
    // A secondary holds the primary's data: no container, no identity, no scrape, no script.
    expect(sts('us-east1').spec.template.spec.containers.map((x: Obj) => x.name)).toEqual(['redis', 'sentinel', 'metrics']);
    expect(sa('us-east1').metadata.annotations?.['iam.gke.io/gcp-service-account']).toBeUndefined();
    expect(charts.get('us-east1')!.some((o) => o.kind === 'PodMonitoring' && o.metadata.name === 'cache-redis-backup')).toBe(false);
    // Without backup, the primary renders as before.
    const none = objects(load(platform({ 'us-central1': 'primary', 'us-east1': 'secondary' })));
    expect(JSON.stringify(none.get('us-central1'))).not.toMatch(/backup|storage\.googleapis/);
  });

  test('fails when backup names no valid bucket or interval, naming the field', () => {
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'Shop_Backups!' } }))).toThrow(
      'platforms/shop.ts: redis.cache.backup.bucket: must be a Cloud Storage bucket name: 3-63 lowercase letters, digits, "-" and "_", starting and ending with a letter or digit (got "Shop_Backups!")',
    );
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'shop-backups', interval: '30s' } }))).toThrow(
      'platforms/shop.ts: redis.cache.backup.interval: must be between 1m and 168h (7 days): each snapshot costs the replica a fork and a full transfer (got "30s")',
    );
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'shop-backups', retention: '30d' } }))).toThrow(
      'platforms/shop.ts: redis.cache.backup.retention: unknown field (allowed: bucket, interval, prefix, gcpServiceAccount)',
    );
  });

  test('fails when the bucket name is one Cloud Storage reserves', () => {
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'goog-redis-backups' } }))).toThrow(
      'platforms/shop.ts: redis.cache.backup.bucket: must not begin with "goog": Cloud Storage reserves the prefix (got "goog-redis-backups")',
    );
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'shop-g00gle-backups' } }))).toThrow(
      'platforms/shop.ts: redis.cache.backup.bucket: must not contain "google" or a close misspelling such as "g00gle": Cloud Storage refuses such names (got "shop-g00gle-backups")',
    );
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'ab' } }))).toThrow(
      'platforms/shop.ts: redis.cache.backup.bucket: must be a Cloud Storage bucket name: 3-63 lowercase letters, digits, "-" and "_", starting and ending with a letter or digit (got "ab")',
    );
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: `b${'a'.repeat(63)}` } }))).toThrow(
      /redis\.cache\.backup\.bucket: must be a Cloud Storage bucket name/,
    );
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: `b${'a'.repeat(61)}b` } }))).not.toThrow();
  });

  test('fails when backup.gcpServiceAccount cannot be a Google service account', () => {
    expect(() =>
      load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'shop-backups', gcpServiceAccount: 'redis@shop-project.iam.gserviceaccount.com' } })),
    ).toThrow(
      'platforms/shop.ts: redis.cache.backup.gcpServiceAccount: must be a Google service account email whose account id (before "@") is 6-30 characters, lowercase letters, digits and "-", starting with a letter and ending with a letter or digit; "redis" is 5 characters (got "redis@shop-project.iam.gserviceaccount.com")',
    );
    expect(() =>
      load(
        platform({ 'us-central1': 'primary' }, { backup: { bucket: 'shop-backups', gcpServiceAccount: '9redis-cache@shop-project.iam.gserviceaccount.com' } }),
      ),
    ).toThrow(
      'redis.cache.backup.gcpServiceAccount: must be a Google service account email whose account id (before "@") is 6-30 characters, lowercase letters, digits and "-", starting with a letter and ending with a letter or digit; "9redis-cache" is 12 characters and breaks the rest of that rule (got "9redis-cache@shop-project.iam.gserviceaccount.com")',
    );
    expect(() => load(platform({ 'us-central1': 'primary' }, { backup: { bucket: 'shop-backups', gcpServiceAccount: 'redis-cache@example.com' } }))).toThrow(
      'platforms/shop.ts: redis.cache.backup.gcpServiceAccount: must be a Google service account email: <account id>@<project id>.iam.gserviceaccount.com (got "redis-cache@example.com")',
    );
    const ok = load(
      platform(
        { 'us-central1': 'primary' },
        { backup: { bucket: 'shop-backups', gcpServiceAccount: `r${'e'.repeat(28)}s@shop-project.iam.gserviceaccount.com` } },
      ),
    );
    expect(() => buildEnvironment(ok, 'shop/prod')).not.toThrow();
  });

  test("fails when the default service account's id, redis-<group>, is longer than 30 characters: the field to set is named", () => {
    const name = 'sessions-for-the-checkout'; // redis-sessions-for-the-checkout: 31 characters
    const input = platform({ 'us-central1': 'primary' });
    input.redis = { [name]: { namespace: 'data', passwordSecret: 'cache-password', backup: { bucket: 'shop-backups' } } };
    expect(() => buildEnvironment(load(input), 'shop/prod')).toThrow(
      `platforms/shop.ts: redis.${name}.backup.gcpServiceAccount: must be a Google service account email whose account id (before "@") is 6-30 characters, lowercase letters, digits and "-", starting with a letter and ending with a letter or digit; "redis-${name}" is 31 characters (got "redis-${name}@shop-project.iam.gserviceaccount.com") (RedisSentinel 'Redis-${name}': backup.gcpServiceAccount)`,
    );
  });

  test('fails when minReplicasToWrite leaves no replica to lose', () => {
    expect(() => buildEnvironment(load(platform({ 'us-central1': 'primary' }, { minReplicasToWrite: 3 })), 'shop/prod')).toThrow(
      `platforms/shop.ts: redis.cache.minReplicasToWrite: must be <= replicas - 1 (2) (got 3) (RedisSentinel 'Redis-cache': minReplicasToWrite)`,
    );
  });

  test('fails when failoverTimeout is not longer than downAfter', () => {
    expect(() => buildEnvironment(load(platform({ 'us-central1': 'primary' }, { downAfter: '30s', failoverTimeout: '30s' })), 'shop/prod')).toThrow(
      `platforms/shop.ts: redis.cache.failoverTimeout: must be longer than downAfter (30s) (got "30s") (RedisSentinel 'Redis-cache': failoverTimeout)`,
    );
  });

  test('fails when crossRegionHost is not a hostname', () => {
    expect(() => load(platform({ 'us-central1': 'primary' }, { crossRegionHost: 'redis_{region}:6379' }))).toThrow(
      'platforms/shop.ts: redis.cache.crossRegionHost: must be a hostname; {region} stands for the primary region, {ordinal} for a pod, e.g. cache-{region}-{ordinal}.redis.internal (got "redis_{region}:6379")',
    );
  });

  test('fails when a Redis group name is longer than 52 characters: the construct refuses it, the spec field and file are named', () => {
    const name = 'c'.repeat(53);
    const input = platform({ 'us-central1': 'primary' });
    input.redis = { [name]: { namespace: 'data', passwordSecret: 'cache-password' } };
    expect(() => buildEnvironment(load(input), 'shop/prod')).toThrow(
      `platforms/shop.ts: redis.${name}: is 53 characters; at most 52 are allowed: the StatefulSet's pods carry the label <name>-<10-character revision hash>, at most 63 (got "${name}") (RedisSentinel 'Redis-${name}': name)`,
    );
  });

  test('fails when an overlay adds a Redis group whose name is too long: the overlay is named', () => {
    const root = tempDir();
    const name = 'c'.repeat(53);
    fs.mkdirSync(path.join(root, 'overlays', 'shop'), { recursive: true });
    fs.writeFileSync(path.join(root, 'overlays', 'shop', 'prod.yaml'), `redis:\n  ${name}:\n    namespace: data\n    passwordSecret: cache-password\n`);
    const [prod] = loadEnvironments({ file: 'platforms/shop.ts', input: platform({ 'us-central1': 'primary' }) }, root);
    expect(() => buildEnvironment(prod, 'shop/prod')).toThrow(`overlays/shop/prod.yaml: redis.${name}: is 53 characters; at most 52 are allowed`);
  });
});
