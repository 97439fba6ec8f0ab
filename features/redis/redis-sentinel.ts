import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { DNS_LABEL_RULE, gcpServiceAccountProblem, isDnsLabel } from '../../kernel/names';
import { PropError } from '../../kernel/prop-error';
import { containerSecurityContext, podSecurityContext } from '../../kernel/hardening';
import { formatDuration, formatSize } from '../../kernel/units';

const k8s = kplus.k8s;

export type RedisRole = 'primary' | 'secondary';

/** The redis_exporter sidecar, pinned; Managed Prometheus reads it (docs/observability.md). */
export const REDIS_EXPORTER_IMAGE = 'docker.io/oliver006/redis_exporter:v1.67.0-alpine';
export const EXPORTER_PORT = 9121;
/** The image of the `backup` container, pinned: Python's standard library speaks Redis' SYNC, the metadata server, Cloud Storage's JSON API (TLS verified) and serves the metrics. */
export const BACKUP_IMAGE = 'docker.io/library/python:3.13.1-alpine3.21';
/** Where the `backup` container serves its metrics (meridian_redis_backup_*). */
export const BACKUP_METRICS_PORT = 9122;
export const BACKUP_PORT_NAME = 'http-backup';
/** A group's name: its StatefulSet's pods carry a controller-revision-hash label `<name>-<10 characters>`, a 63-character label. */
export const MAX_REDIS_NAME = 52;
export type MaxmemoryPolicy =
  'noeviction' | 'allkeys-lru' | 'allkeys-lfu' | 'volatile-lru' | 'volatile-lfu' | 'volatile-ttl' | 'allkeys-random' | 'volatile-random';

/** A scheduled RDB snapshot of the group to Cloud Storage, taken by one replica (docs/redis.md, "Backups"). */
export interface RedisBackupProps {
  /** Cloud Storage bucket the snapshots are uploaded to. */
  readonly bucket: string;
  /** Start of every object name: a snapshot is `<prefix><UTC time>-<pod>.rdb`. */
  readonly prefix: string;
  /** Time between two snapshots. @default Duration.hours(24) */
  readonly interval?: Duration;
  /** The Google service account the group's Kubernetes ServiceAccount acts as (Workload Identity). */
  readonly gcpServiceAccount: string;
  /** @default BACKUP_IMAGE */
  readonly image?: string;
}

export interface RedisSentinelProps {
  /** Name of the StatefulSet and of the Service for Sentinel clients. */
  readonly name: string;
  readonly namespace: string;
  /** Redis image, pinned; it runs both redis-server and redis-sentinel. */
  readonly image: string;
  /** Pods, each running redis and a sentinel. @default 3 */
  readonly replicas?: number;
  /** Sentinels that must agree the master is down. @default - a majority of replicas */
  readonly quorum?: number;
  /** Unresponsive time before a sentinel considers the master down. @default Duration.seconds(5) */
  readonly downAfter?: Duration;
  /** Sentinel failover timeout: also the time before a failed failover is retried (twice it). @default Duration.seconds(60) */
  readonly failoverTimeout?: Duration;
  /** Replicas resyncing with a new master at once. @default 1 */
  readonly parallelSyncs?: number;
  /** The master refuses writes with fewer replicas connected than this. @default 1 */
  readonly minReplicasToWrite?: number;
  /** ... whose last acknowledgement is at most this old: the writes a cut-off master can take; at most downAfter - 2 s. @default - downAfter - 2 s, at least 1 s */
  readonly minReplicasMaxLag?: Duration;
  /** Memory limit (and request) of the redis container; maxmemory is 60 % of it. @default Size.gibibytes(1) */
  readonly memory?: Size;
  /** @default 'allkeys-lru' */
  readonly maxmemoryPolicy?: MaxmemoryPolicy;
  /** Persistent volume per pod; at least twice `memory` (AOF rewrites). @default Size.gibibytes(10) */
  readonly storage?: Size;
  /** @default 'premium-rwo' */
  readonly storageClass?: string;
  /** Kubernetes Secret holding the password under the key `password`. */
  readonly passwordSecret: string;
  /** Zones to spread the pods across, one skew at most. @default - no zone constraint */
  readonly zones?: string[];
  /**
   * The region this group runs in. It names the headless Service, so pod hostnames
   * (`<name>-0.<name>-<region>-headless...`) are unique across clusters.
   * @default - no region: the headless Service is `<name>-headless`
   */
  readonly region?: string;
  /**
   * `primary`: this group owns the master and its sentinels fail over. `secondary`: every
   * node is a replica of the primary region's group, reached at `upstream`; its sentinels
   * monitor nothing until the region becomes primary.
   * @default 'primary'
   */
  readonly role?: RedisRole;
  /**
   * The primary region's pods, one host per pod (port 6379), that a secondary group's first pod
   * chooses its upstream from: a replica, never the master; required for, and only for, a
   * secondary. @default - none
   */
  readonly upstreams?: readonly string[];
  /**
   * Step 1 of a promotion to this region: every master of this (primary) group refuses every
   * write (`min-replicas-to-write` no count of replicas reaches), so the region the master moves
   * to can catch up and nothing is written that a move could lose. Only for a primary.
   * @default - not fenced
   */
  readonly fencedFor?: string;
  /**
   * Renders `<name>-<region>` (redis port, ready pods), which this region's clients read from
   * when it is a secondary, and `<name>-<region>-<ordinal>` per pod (ready only), the names
   * the other regions' first pods dial to replicate from one replica of this group. In
   * Istio's multi-primary mesh every cluster knows them, and the other regions' sidecars reach
   * them through this cluster's east-west gateway with mutual TLS, keeping the replicas'
   * identity (which the group's AuthorizationPolicies admit). Needs `region`.
   * @default false
   */
  readonly crossRegionService?: boolean;
  /** How long a master's preStop waits for the sentinels to promote a replica. @default Duration.seconds(20) */
  readonly handoverTimeout?: Duration;
  /** @default 'cluster.local' */
  readonly clusterDomain?: string;
  /** Snapshots to Cloud Storage, taken by one replica's `backup` container; only for a primary. @default - no backup */
  readonly backup?: RedisBackupProps;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

export const REDIS_PORT = 6379;
/** `min-replicas-to-write` of a fenced master: no count of replicas reaches it (redis takes up to INT_MAX), so it refuses every write with NOREPLICAS. */
export const FENCE_MIN_REPLICAS = 2147483647;
export const SENTINEL_PORT = 26379;
/** The name sentinels monitor the master under; clients ask for it. */
export const MASTER_SET = 'master';
/** Share of the memory limit given to the dataset (maxmemory). */
export const MAXMEMORY_SHARE = 0.6;
/**
 * How often a secondary region's first pod checks its upstream (a replica of the primary
 * region) and moves off one that was promoted or is gone: the longest time it counts for a
 * master's WAIT after a failover promoted its upstream (docs/redis.md, "Across regions").
 */
export const UPSTREAM_CHECK_SECONDS = 1;
/** The label the StatefulSet controller gives each pod: its name. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

/** Where the pod mounts its volumes; the scripts read them from the environment. */
const CONFIG_DIR = '/etc/redis';
const DATA_DIR = '/data';
const RUN_DIR = '/tmp';

const SCRIPTS = ['common.sh', 'start-redis.sh', 'start-sentinel.sh'] as const;
const BACKUP_SCRIPT = 'backup.py';
const SCRIPT_DIR = path.join(__dirname, 'scripts');

/**
 * The largest min-replicas-max-lag, in seconds, for a sentinel down-after: a master cut off
 * from its replicas must refuse writes before the sentinels can have promoted another node.
 * Redis counts a replica's lag in whole seconds from its last acknowledgement (sent every
 * second) and recounts the good replicas once a second, so a cut master refuses writes at
 * most lag + 2 s after the cut; the sentinels promote no sooner than down-after. Redis takes
 * no lag under 1 s: with a down-after under 3 s the bound cannot be met by 2 s of margin.
 */
export const LAG_RULE =
  'downAfter - 2s (at least 1s), so that a master cut off from its replicas refuses writes before the sentinels can promote another (redis counts the lag in whole seconds and rechecks once a second)';

export function maxLagCeilingSeconds(downAfterMs: number): number {
  return Math.max(1, Math.floor(downAfterMs / 1000) - 2);
}

/** Time allowed for redis to load its dataset at start, on top of the start script's waits. */
export const LOAD_ALLOWANCE_SECONDS = 180;

/**
 * The longest start-redis.sh can take before redis-server listens, plus loading the dataset:
 * the wait for a sentinel majority (max(30 s, failover-timeout + 5 s)), then, for a master that
 * stopped without a handover, the wait for its replica's promotion (down-after +
 * failover-timeout + 5 s), then LOAD_ALLOWANCE_SECONDS; at least the 300 s the probe had
 * before. The script never exits while it waits (an exit would put the container in the
 * kubelet's restart back-off: 10 s, doubling up to 5 min).
 */
export function startupBudgetSeconds(downAfterMs: number, failoverTimeoutMs: number): number {
  const majorityWait = Math.max(30, Math.floor(failoverTimeoutMs / 1000) + 5);
  const crashWait = Math.floor((downAfterMs + failoverTimeoutMs) / 1000) + 5;
  return Math.max(300, majorityWait + crashWait + LOAD_ALLOWANCE_SECONDS);
}

/**
 * The Service `<name>-<region>` over a group's ready pods: what the region's own clients read
 * from (a secondary region) and what the fleet exports for the other regions to replicate from.
 */
export function redisReadServiceName(name: string, region: string): string {
  return `${name}-${region}`;
}

/** The Service `<name>-<region>-<ordinal>` over one pod of a group (when ready): what other regions replicate from. */
export function redisPodServiceName(name: string, region: string, ordinal: number): string {
  return `${name}-${region}-${ordinal}`;
}

/**
 * Redis with Sentinel in one region cluster: a StatefulSet whose pods each run redis and a
 * sentinel, a headless Service for their stable hostnames, a Service for Sentinel clients,
 * a ConfigMap with the configuration and start scripts, a PodDisruptionBudget and, for
 * groups of a multi-region platform, the Service other regions replicate from, exported to
 * the fleet.
 *
 * Nodes find each other by hostname, never pod IP. A starting node asks the sentinels for
 * the master before it decides its role, never comes back as an empty master, and a master
 * hands over to a replica before it stops. In a secondary region every node is a replica of
 * the primary region's group; changing `role` (a promotion) moves the master.
 */
export class RedisSentinel extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  public readonly replicas: number;
  public readonly quorum: number;
  public readonly role: RedisRole;
  public readonly downAfter: Duration;
  public readonly failoverTimeout: Duration;
  public readonly parallelSyncs: number;
  public readonly minReplicasToWrite: number;
  public readonly minReplicasMaxLag: Duration;
  public readonly memory: Size;
  /** maxmemory, in mebibytes. */
  public readonly maxmemoryMebibytes: number;
  public readonly storage: Size;
  public readonly selector: Record<string, string>;
  public readonly headlessServiceName: string;
  /** The region's Service (`<name>-<region>`), when `crossRegionService`. */
  public readonly crossRegionServiceName?: string;
  /** The per-pod Services (`<name>-<region>-<ordinal>`) other regions replicate from, when `crossRegionService`. */
  public readonly podServiceNames: readonly string[];
  public readonly statefulSet: kplus.k8s.KubeStatefulSet;
  /** Time between two snapshots, when the group is backed up. */
  public readonly backupInterval?: Duration;

  constructor(scope: Construct, id: string, props: RedisSentinelProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`RedisSentinel '${id}': ${msg}`);
    };
    const refuse = (prop: string, value: unknown, allowed: string): never => {
      throw new PropError('RedisSentinel', id, prop, value, allowed);
    };
    const whole = (what: string, n: number, min: number) => {
      if (!Number.isInteger(n) || n < min) refuse(what, n, `must be a whole number >= ${min}`);
    };

    this.name = props.name;
    this.namespace = props.namespace;
    this.replicas = props.replicas ?? 3;
    this.quorum = props.quorum ?? Math.floor(this.replicas / 2) + 1;
    this.role = props.role ?? 'primary';
    this.downAfter = props.downAfter ?? Duration.seconds(5);
    this.failoverTimeout = props.failoverTimeout ?? Duration.seconds(60);
    this.parallelSyncs = props.parallelSyncs ?? 1;
    this.minReplicasToWrite = props.minReplicasToWrite ?? 1;
    const lagCeiling = maxLagCeilingSeconds(this.downAfter.toMilliseconds());
    this.minReplicasMaxLag = props.minReplicasMaxLag ?? Duration.seconds(lagCeiling);
    this.memory = props.memory ?? Size.gibibytes(1);
    this.storage = props.storage ?? Size.gibibytes(10);
    const handover = props.handoverTimeout ?? Duration.seconds(20);
    const clusterDomain = props.clusterDomain ?? 'cluster.local';

    if (!isDnsLabel(props.name)) refuse('name', props.name, DNS_LABEL_RULE);
    if (props.name.length > MAX_REDIS_NAME)
      refuse(
        'name',
        props.name,
        `is ${props.name.length} characters; at most ${MAX_REDIS_NAME} are allowed: the StatefulSet's pods carry the label <name>-<10-character revision hash>, at most 63`,
      );
    whole('replicas', this.replicas, 3);
    whole('quorum', this.quorum, 1);
    if (this.quorum > this.replicas) refuse('quorum', this.quorum, `must be <= replicas (${this.replicas})`);
    whole('parallelSyncs', this.parallelSyncs, 1);
    whole('minReplicasToWrite', this.minReplicasToWrite, 0);
    if (this.minReplicasToWrite > this.replicas - 1) refuse('minReplicasToWrite', this.minReplicasToWrite, `must be <= replicas - 1 (${this.replicas - 1})`);
    const lagSeconds = this.minReplicasMaxLag.toMilliseconds() / 1000;
    const lag = formatDuration(this.minReplicasMaxLag);
    if (!Number.isInteger(lagSeconds) || lagSeconds < 1) refuse('minReplicasMaxLag', lag, 'must be whole seconds, at least 1s: redis counts it in seconds');
    if (lagSeconds > lagCeiling) refuse('minReplicasMaxLag', lag, `must be at most ${lagCeiling}s: ${LAG_RULE}`);
    const downAfter = formatDuration(this.downAfter);
    if (this.downAfter.toMilliseconds() < 100) refuse('downAfter', downAfter, 'must be at least 100ms');
    if (this.failoverTimeout.toMilliseconds() <= this.downAfter.toMilliseconds()) {
      refuse('failoverTimeout', formatDuration(this.failoverTimeout), `must be longer than downAfter (${downAfter})`);
    }
    const handoverSeconds = handover.toMilliseconds() / 1000;
    if (!Number.isInteger(handoverSeconds) || handoverSeconds < 1) refuse('handoverTimeout', formatDuration(handover), 'must be whole seconds, at least 1s');
    // Kibibytes: the smallest unit a spec size has, so no conversion can fail.
    const memoryMi = this.memory.toKibibytes() / 1024;
    if (memoryMi < 128) refuse('memory', formatSize(this.memory), 'must be at least 128Mi');
    if (this.storage.toKibibytes() < 2 * this.memory.toKibibytes()) {
      refuse('storage', formatSize(this.storage), `must be at least twice memory (${formatSize(this.memory)}): an AOF rewrite holds the old and the new file`);
    }
    if (this.role === 'secondary' && !props.upstreams?.length) fail("upstreams must be set for a secondary: the hosts of the primary region's pods");
    if (props.fencedFor !== undefined && this.role !== 'primary') fail(`fencedFor ("${props.fencedFor}") is only for a primary: a secondary takes no writes`);
    if (this.role === 'primary' && props.upstreams?.length)
      fail(`upstreams ("${props.upstreams.join(' ')}") are only for a secondary: a primary group owns the master`);
    for (const u of props.upstreams ?? []) if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(u)) fail(`upstreams: "${u}" is not a hostname`);
    if (props.region !== undefined && !isDnsLabel(props.region)) refuse('region', props.region, DNS_LABEL_RULE);
    if (props.crossRegionService && props.region === undefined) fail('crossRegionService needs region: the Service is named <name>-<region>');
    if (props.backup && this.role !== 'primary') fail("backup is only for a primary: a secondary's data is the primary's");
    this.backupInterval = props.backup ? (props.backup.interval ?? Duration.hours(24)) : undefined;
    const intervalSeconds = this.backupInterval ? this.backupInterval.toMilliseconds() / 1000 : 0;
    if (props.backup && (!Number.isInteger(intervalSeconds) || intervalSeconds < 60))
      refuse('backup.interval', formatDuration(this.backupInterval!), 'must be whole seconds, at least 1m');
    const accountProblem = props.backup && gcpServiceAccountProblem(props.backup.gcpServiceAccount);
    if (accountProblem) refuse('backup.gcpServiceAccount', props.backup!.gcpServiceAccount, accountProblem);

    this.headlessServiceName = props.region ? `${props.name}-${props.region}-headless` : `${props.name}-headless`;
    if (this.headlessServiceName.length > 63)
      fail(`the headless Service name "${this.headlessServiceName}" must be at most 63 characters: shorten name or region`);
    this.crossRegionServiceName = props.crossRegionService ? redisReadServiceName(props.name, props.region!) : undefined;
    this.podServiceNames = props.crossRegionService ? Array.from({ length: this.replicas }, (_, i) => redisPodServiceName(props.name, props.region!, i)) : [];
    for (const n of this.podServiceNames) if (n.length > 63) fail(`the Service name "${n}" must be at most 63 characters: shorten name or region`);

    this.selector = { 'app.kubernetes.io/name': props.name, 'app.kubernetes.io/component': 'redis' };
    const labels = { ...props.labels, ...this.selector };
    const configName = `${props.name}-config`;
    const meta = (name: string) => ({ name, namespace: props.namespace, labels });
    const q = (s: string) => k8s.Quantity.fromString(s);
    const port = (n: number) => k8s.IntOrString.fromNumber(n);

    this.maxmemoryMebibytes = Math.floor(memoryMi * MAXMEMORY_SHARE);
    const configData: Record<string, string> = {
      'redis.conf': redisConf({
        maxmemory: this.maxmemoryMebibytes,
        policy: props.maxmemoryPolicy ?? 'allkeys-lru',
        minReplicasToWrite: this.minReplicasToWrite,
        fencedFor: props.fencedFor,
        maxLag: lagSeconds,
        backlog: Math.max(1, Math.floor(memoryMi * 0.05)),
        replicaBuffer: Math.max(16, Math.floor(memoryMi * 0.1)),
      }),
    };
    for (const script of SCRIPTS) configData[script] = fs.readFileSync(path.join(SCRIPT_DIR, script), 'utf8');
    if (props.backup) configData[BACKUP_SCRIPT] = fs.readFileSync(path.join(SCRIPT_DIR, BACKUP_SCRIPT), 'utf8');

    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      // Workload Identity: the GKE metadata server hands the backup container tokens of this Google service account.
      metadata: props.backup ? { ...meta(props.name), annotations: { 'iam.gke.io/gcp-service-account': props.backup.gcpServiceAccount } } : meta(props.name),
      automountServiceAccountToken: false,
    });

    new k8s.KubeConfigMap(this, 'Config', { metadata: meta(configName), data: configData });

    new k8s.KubeService(this, 'Headless', {
      metadata: meta(this.headlessServiceName),
      spec: {
        clusterIp: 'None',
        // Peers must resolve each other before they are ready, or no node could ever find the master.
        publishNotReadyAddresses: true,
        selector: this.selector,
        ports: [
          { name: 'tcp-redis', port: REDIS_PORT, targetPort: port(REDIS_PORT), appProtocol: 'tcp' },
          { name: 'tcp-sentinel', port: SENTINEL_PORT, targetPort: port(SENTINEL_PORT), appProtocol: 'tcp' },
        ],
      },
    });

    new k8s.KubeService(this, 'Client', {
      metadata: meta(props.name),
      spec: {
        selector: this.selector,
        // A pod whose redis is resyncing still has a working sentinel: clients must reach it.
        publishNotReadyAddresses: true,
        ports: [{ name: 'tcp-sentinel', port: SENTINEL_PORT, targetPort: port(SENTINEL_PORT), appProtocol: 'tcp' }],
      },
    });

    if (this.crossRegionServiceName) {
      new k8s.KubeService(this, 'Fleet', {
        metadata: meta(this.crossRegionServiceName),
        spec: {
          // Ready pods only: what a secondary region's clients read.
          selector: this.selector,
          ports: [{ name: 'tcp-redis', port: REDIS_PORT, targetPort: port(REDIS_PORT), appProtocol: 'tcp' }],
        },
      });
    }
    // One Service per pod (ready only): a secondary region's first pod asks each for its ROLE and
    // replicates from a replica, never the master, whose WAIT and min-replicas-to-write it would
    // count for without ever being promotable. Replicas pass the master's stream on unchanged.
    this.podServiceNames.forEach((n, i) => {
      new k8s.KubeService(this, `Pod${i}`, {
        metadata: meta(n),
        spec: {
          selector: { ...this.selector, [POD_NAME_LABEL]: `${props.name}-${i}` },
          ports: [{ name: 'tcp-redis', port: REDIS_PORT, targetPort: port(REDIS_PORT), appProtocol: 'tcp' }],
        },
      });
    });

    const env: kplus.k8s.EnvVar[] = [
      { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: props.passwordSecret, key: 'password' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'ROLE', value: this.role },
      ...(props.upstreams?.length
        ? [
            { name: 'UPSTREAM_HOSTS', value: props.upstreams.join(' ') },
            { name: 'UPSTREAM_CHECK_SECONDS', value: String(UPSTREAM_CHECK_SECONDS) },
          ]
        : []),
      { name: 'STATEFULSET', value: props.name },
      { name: 'HEADLESS', value: this.headlessServiceName },
      { name: 'NAMESPACE', value: props.namespace },
      { name: 'CLUSTER_DOMAIN', value: clusterDomain },
      { name: 'REPLICAS', value: String(this.replicas) },
      { name: 'QUORUM', value: String(this.quorum) },
      { name: 'MASTER_SET', value: MASTER_SET },
      { name: 'DOWN_AFTER_MS', value: String(this.downAfter.toMilliseconds()) },
      { name: 'FAILOVER_TIMEOUT_MS', value: String(this.failoverTimeout.toMilliseconds()) },
      { name: 'PARALLEL_SYNCS', value: String(this.parallelSyncs) },
      { name: 'HANDOVER_SECONDS', value: String(handoverSeconds) },
      { name: 'CONFIG_DIR', value: CONFIG_DIR },
      { name: 'DATA_DIR', value: DATA_DIR },
      { name: 'RUN_DIR', value: RUN_DIR },
    ];
    const securityContext = containerSecurityContext();
    const mounts = [
      { name: 'data', mountPath: DATA_DIR },
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'tmp', mountPath: RUN_DIR },
    ];
    const common = (arg: string) => ({ exec: { command: ['sh', `${CONFIG_DIR}/common.sh`, arg] } });
    const memory = q(formatSize(this.memory));
    const zones = props.zones?.length ? props.zones : undefined;
    const configHash = createHash('sha256').update(JSON.stringify(configData)).digest('hex');

    this.statefulSet = new k8s.KubeStatefulSet(this, 'Resource', {
      metadata: meta(props.name),
      spec: {
        serviceName: this.headlessServiceName,
        replicas: this.replicas,
        // Every missing pod is created at once: the start scripts decide a node's role from a
        // majority of the sentinels, which OrderedReady kept from existing (pod 0 started alone
        // and waited failoverTimeout + 5 s after a whole-group restart) and a lost zone's pod
        // kept the controller from recreating any higher one. Rolling updates are not affected
        // (still one pod at a time, highest ordinal first, each ready before the next).
        // Immutable on a live StatefulSet: docs/redis.md "Changing podManagementPolicy".
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: this.selector },
        // Deleting or scaling down the StatefulSet keeps the data volumes.
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        template: {
          metadata: {
            labels,
            annotations: {
              // Redis must not start before the Istio proxy can carry its connections.
              'proxy.istio.io/config': '{"holdApplicationUntilProxyStarts":true}',
              // The scripts are read at start only: a change of them rolls the pods.
              'meridian.dev/config-sha256': configHash,
              // No prometheus.io/* annotations: the exporter has its own PodMonitoring, and Istio's
              // metrics merging would re-export its series on 15020 (ingested twice).
            },
          },
          spec: {
            serviceAccountName: props.name,
            automountServiceAccountToken: false,
            // The pause process becomes PID 1 and reaps orphans: redis-server and redis-sentinel
            // do not, and every exec probe's busybox `timeout` leaves its watcher behind (about
            // 12 zombies a minute per pod otherwise). The containers share one secret and one UID.
            shareProcessNamespace: true,
            securityContext: podSecurityContext(),
            // The handover, then redis' own shutdown (it waits up to 10 s for lagging replicas).
            terminationGracePeriodSeconds: handoverSeconds + 30,
            affinity: {
              nodeAffinity: zones
                ? {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                      nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: zones }] }],
                    },
                  }
                : undefined,
              // Two nodes of a group on one host would fail together.
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: this.selector } }],
              },
            },
            // A zone outage must leave a majority of sentinels: spreading is required, not preferred.
            topologySpreadConstraints: zones
              ? [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: this.selector } }]
              : undefined,
            containers: [
              {
                name: 'redis',
                image: props.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', `${CONFIG_DIR}/start-redis.sh`],
                env,
                ports: [{ name: 'tcp-redis', containerPort: REDIS_PORT }],
                resources: {
                  requests: { cpu: q('100m'), memory, 'ephemeral-storage': q('64Mi') },
                  limits: { memory, 'ephemeral-storage': q('128Mi') },
                },
                readinessProbe: { ...common('ready'), periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 2 },
                livenessProbe: { tcpSocket: { port: port(REDIS_PORT) }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 6 },
                // Redis listens only after the start script's waits and the dataset's load: the
                // startup budget covers them, so the liveness probe (which runs only after it)
                // never kills a start that waits as designed (startupBudgetSeconds).
                startupProbe: {
                  tcpSocket: { port: port(REDIS_PORT) },
                  periodSeconds: 5,
                  failureThreshold: Math.ceil(startupBudgetSeconds(this.downAfter.toMilliseconds(), this.failoverTimeout.toMilliseconds()) / 5),
                },
                lifecycle: { preStop: common('handover') },
                securityContext,
                volumeMounts: mounts,
              },
              {
                name: 'sentinel',
                image: props.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', `${CONFIG_DIR}/start-sentinel.sh`],
                env,
                ports: [{ name: 'tcp-sentinel', containerPort: SENTINEL_PORT }],
                resources: {
                  requests: { cpu: q('50m'), memory: q('64Mi'), 'ephemeral-storage': q('16Mi') },
                  limits: { memory: q('128Mi'), 'ephemeral-storage': q('32Mi') },
                },
                readinessProbe: { ...common('sentinel-ready'), periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 2 },
                livenessProbe: { tcpSocket: { port: port(SENTINEL_PORT) }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 6 },
                startupProbe: { tcpSocket: { port: port(SENTINEL_PORT) }, periodSeconds: 2, failureThreshold: 30 },
                securityContext,
                volumeMounts: mounts,
              },
              {
                // redis_exporter: redis_* metrics of this node and, through /scrape, of its sentinel.
                name: 'metrics',
                image: REDIS_EXPORTER_IMAGE,
                imagePullPolicy: 'IfNotPresent',
                env: [
                  { name: 'REDIS_ADDR', value: `redis://localhost:${REDIS_PORT}` },
                  { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: props.passwordSecret, key: 'password' } } },
                  { name: 'REDIS_EXPORTER_WEB_LISTEN_ADDRESS', value: `:${EXPORTER_PORT}` },
                ],
                ports: [{ name: 'http-metrics', containerPort: EXPORTER_PORT }],
                resources: {
                  requests: { cpu: q('20m'), memory: q('32Mi'), 'ephemeral-storage': q('8Mi') },
                  limits: { memory: q('64Mi'), 'ephemeral-storage': q('16Mi') },
                },
                readinessProbe: { httpGet: { path: '/health', port: port(EXPORTER_PORT) }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                livenessProbe: { tcpSocket: { port: port(EXPORTER_PORT) }, periodSeconds: 20, timeoutSeconds: 2, failureThreshold: 3 },
                startupProbe: { tcpSocket: { port: port(EXPORTER_PORT) }, periodSeconds: 2, failureThreshold: 30 },
                securityContext,
              },
              ...(props.backup ? [backupContainer(props.backup, intervalSeconds, props.passwordSecret, props.name, securityContext)] : []),
            ],
            volumes: [
              { name: 'config', configMap: { name: configName, defaultMode: 0o444 } },
              { name: 'tmp', emptyDir: { sizeLimit: q('64Mi') } },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: {
              name: 'data',
              labels: this.selector,
              // The claims are the data: ArgoCD must never prune or delete them.
              annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' },
            },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: props.storageClass ?? 'premium-rwo',
              resources: { requests: { storage: q(formatSize(this.storage)) } },
            },
          },
        ],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'Disruption', {
      metadata: meta(props.name),
      spec: { maxUnavailable: port(1), selector: { matchLabels: this.selector } },
    });
  }
}

/**
 * The `backup` container: every check it asks its own redis, then the master, whether this pod
 * is the group's snapshot taker (of the replicas the master lists in sync, the lowest ordinal),
 * and when the group's last success is older than the interval, takes an RDB with SYNC from
 * localhost (no load on the master) onto the data volume and uploads it to Cloud Storage with
 * the pod's Workload Identity token. It serves meridian_redis_backup_* on BACKUP_METRICS_PORT.
 */
function backupContainer(
  b: RedisBackupProps,
  intervalSeconds: number,
  passwordSecret: string,
  statefulSet: string,
  securityContext: ReturnType<typeof containerSecurityContext>,
): kplus.k8s.Container {
  const q = (s: string) => k8s.Quantity.fromString(s);
  // A failed attempt is retried after a tenth of the interval (at most 5 minutes); the loop looks every minute at most.
  const retry = Math.min(300, Math.max(1, Math.floor(intervalSeconds / 10)));
  const check = Math.min(60, Math.max(1, Math.floor(intervalSeconds / 60)));
  return {
    name: 'backup',
    image: b.image ?? BACKUP_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command: ['python3', `${CONFIG_DIR}/${BACKUP_SCRIPT}`],
    env: [
      { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: passwordSecret, key: 'password' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'STATEFULSET', value: statefulSet },
      { name: 'BACKUP_BUCKET', value: b.bucket },
      { name: 'BACKUP_PREFIX', value: b.prefix },
      { name: 'BACKUP_INTERVAL_SECONDS', value: String(intervalSeconds) },
      { name: 'BACKUP_RETRY_SECONDS', value: String(retry) },
      { name: 'BACKUP_CHECK_SECONDS', value: String(check) },
      // On the data volume: the snapshot (smaller than maxmemory, which the storage rule leaves room for) and the last success, which survives restarts.
      { name: 'BACKUP_DIR', value: `${DATA_DIR}/backup` },
      { name: 'BACKUP_METRICS_PORT', value: String(BACKUP_METRICS_PORT) },
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONUNBUFFERED', value: '1' },
    ],
    ports: [{ name: BACKUP_PORT_NAME, containerPort: BACKUP_METRICS_PORT }],
    resources: {
      requests: { cpu: q('20m'), memory: q('48Mi'), 'ephemeral-storage': q('8Mi') },
      limits: { memory: q('96Mi'), 'ephemeral-storage': q('16Mi') },
    },
    readinessProbe: {
      httpGet: { path: '/metrics', port: k8s.IntOrString.fromNumber(BACKUP_METRICS_PORT) },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(BACKUP_METRICS_PORT) }, periodSeconds: 20, timeoutSeconds: 2, failureThreshold: 3 },
    startupProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(BACKUP_METRICS_PORT) }, periodSeconds: 2, failureThreshold: 30 },
    securityContext,
    volumeMounts: [
      { name: 'data', mountPath: DATA_DIR },
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    ],
  };
}

interface RedisConfOptions {
  maxmemory: number;
  policy: string;
  minReplicasToWrite: number;
  fencedFor?: string;
  maxLag: number;
  backlog: number;
  replicaBuffer: number;
}

/**
 * The settings every node shares; the start script adds the node's own (bind, dir, password,
 * announced hostname, replicaof). Memory: maxmemory is 60 % of the limit; the replication
 * backlog (5 %) and a replica's output buffer (10 %) come on top; the rest covers the fork's
 * copy-on-write during AOF rewrites, fragmentation and client buffers.
 */
function redisConf(o: RedisConfOptions): string {
  return [
    `port ${REDIS_PORT}`,
    'protected-mode no',
    // Every write reaches the AOF before its reply; fsync'd every second.
    'appendonly yes',
    'appendfsync everysec',
    'aof-use-rdb-preamble yes',
    'save ""',
    `maxmemory ${o.maxmemory}mb`,
    `maxmemory-policy ${o.policy}`,
    // A master cut off from its replicas stops taking writes it would lose on failover.
    // Fenced (a promotion's step 1): no count of replicas reaches it, so every write is refused.
    `min-replicas-to-write ${o.fencedFor === undefined ? o.minReplicasToWrite : FENCE_MIN_REPLICAS}`,
    `min-replicas-max-lag ${o.maxLag}`,
    'replica-read-only yes',
    'replica-serve-stale-data yes',
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    `repl-backlog-size ${o.backlog}mb`,
    `client-output-buffer-limit replica ${o.replicaBuffer}mb ${Math.floor(o.replicaBuffer / 2)}mb 60`,
    ...(o.fencedFor === undefined
      ? []
      : [`# Fenced for the move of the master to ${o.fencedFor} (meridian promote, step 1): min-replicas-to-write refuses every write.`]),
    '',
  ].join('\n');
}
