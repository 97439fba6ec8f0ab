import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { RUN_AS } from './microservice';
import { formatSize } from './units';

const k8s = kplus.k8s;

export interface RedisSentinelProps {
  /** Name of the StatefulSet and the client Service; the headless Service is `<name>-headless`. */
  readonly name: string;
  readonly namespace: string;
  /** Redis image, pinned. */
  readonly image: string;
  /** Pods, each running redis and a sentinel. @default 3 */
  readonly replicas?: number;
  /** Sentinels that must agree the master is down. @default - a majority of replicas */
  readonly quorum?: number;
  /** Unresponsive time before a sentinel considers the master down. @default Duration.seconds(5) */
  readonly downAfter?: Duration;
  /** @default Duration.seconds(60) */
  readonly failoverTimeout?: Duration;
  /** Replicas resyncing with a new master at once. @default 1 */
  readonly parallelSyncs?: number;
  /** The master refuses writes with fewer replicas connected than this. @default 1 */
  readonly minReplicasToWrite?: number;
  /** ... within this replication lag. @default Duration.seconds(10) */
  readonly minReplicasMaxLag?: Duration;
  /** Memory limit of the redis container; maxmemory is 80 % of it. @default Size.gibibytes(1) */
  readonly memory?: Size;
  /** @default 'allkeys-lru' */
  readonly maxmemoryPolicy?: string;
  /** Persistent volume per pod. @default Size.gibibytes(10) */
  readonly storage?: Size;
  /** @default 'premium-rwo' */
  readonly storageClass?: string;
  /** Kubernetes Secret holding the password under the key `password`. */
  readonly passwordSecret: string;
  /** Zones to spread the pods across. @default - no zone constraint */
  readonly zones?: string[];
  /** @default {} */
  readonly labels?: Record<string, string>;
}

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
/** The name sentinels monitor the master under. */
export const MASTER_SET = 'master';

/**
 * Redis with Sentinel in one cluster: a StatefulSet whose pods each run redis and a
 * sentinel, a headless Service for their stable hostnames, a client Service, a ConfigMap
 * with the configuration and start scripts, and a PodDisruptionBudget.
 *
 * Pods find each other by hostname (never pod IP), so an address survives a restart; a
 * starting node asks the sentinels for the master before it decides its own role.
 */
export class RedisSentinel extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  public readonly replicas: number;
  public readonly quorum: number;
  public readonly selector: Record<string, string>;
  public readonly headlessServiceName: string;
  public readonly statefulSet: kplus.k8s.KubeStatefulSet;

  constructor(scope: Construct, id: string, props: RedisSentinelProps) {
    super(scope, id);
    this.name = props.name;
    this.namespace = props.namespace;
    this.replicas = props.replicas ?? 3;
    this.quorum = props.quorum ?? Math.floor(this.replicas / 2) + 1;
    const fail = (msg: string): never => { throw new Error(`RedisSentinel '${id}': ${msg}`); };
    if (this.replicas < 3) fail(`replicas (${this.replicas}) must be >= 3: fewer sentinels cannot form a majority after losing one`);
    if (this.quorum > this.replicas) fail(`quorum (${this.quorum}) must be <= replicas (${this.replicas})`);
    if (this.quorum < 1) fail(`quorum (${this.quorum}) must be >= 1`);
    const memory = props.memory ?? Size.gibibytes(1);
    const minReplicasToWrite = props.minReplicasToWrite ?? 1;
    if (minReplicasToWrite > this.replicas - 1) fail(`minReplicasToWrite (${minReplicasToWrite}) must be <= replicas - 1 (${this.replicas - 1})`);

    this.selector = { 'app.kubernetes.io/name': props.name, 'app.kubernetes.io/component': 'redis' };
    const labels = { ...props.labels, ...this.selector };
    this.headlessServiceName = `${props.name}-headless`;
    const configName = `${props.name}-config`;
    const meta = (name: string) => ({ name, namespace: props.namespace, labels });

    new k8s.KubeConfigMap(this, 'Config', {
      metadata: meta(configName),
      data: {
        'redis.conf': redisConf({
          maxmemory: Math.floor(memory.toMebibytes() * 0.8),
          policy: props.maxmemoryPolicy ?? 'allkeys-lru',
          minReplicasToWrite,
          maxLag: (props.minReplicasMaxLag ?? Duration.seconds(10)).toSeconds(),
        }),
        'common.sh': COMMON_SH,
        'start-redis.sh': START_REDIS_SH,
        'start-sentinel.sh': START_SENTINEL_SH,
      },
    });

    new k8s.KubeService(this, 'Headless', {
      metadata: meta(this.headlessServiceName),
      spec: {
        clusterIp: 'None',
        // Peers must resolve each other before they are ready, or no node could ever find the master.
        publishNotReadyAddresses: true,
        selector: this.selector,
        ports: [
          { name: 'tcp-redis', port: REDIS_PORT, targetPort: k8s.IntOrString.fromNumber(REDIS_PORT), appProtocol: 'tcp' },
          { name: 'tcp-sentinel', port: SENTINEL_PORT, targetPort: k8s.IntOrString.fromNumber(SENTINEL_PORT), appProtocol: 'tcp' },
        ],
      },
    });

    new k8s.KubeService(this, 'Client', {
      metadata: meta(props.name),
      spec: {
        selector: this.selector,
        ports: [{ name: 'tcp-sentinel', port: SENTINEL_PORT, targetPort: k8s.IntOrString.fromNumber(SENTINEL_PORT), appProtocol: 'tcp' }],
      },
    });

    const env = [
      { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: props.passwordSecret, key: 'password' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'HEADLESS', value: this.headlessServiceName },
      { name: 'NAMESPACE', value: props.namespace },
      { name: 'STATEFULSET', value: props.name },
      { name: 'REPLICAS', value: String(this.replicas) },
      { name: 'QUORUM', value: String(this.quorum) },
      { name: 'MASTER_SET', value: MASTER_SET },
      { name: 'DOWN_AFTER_MS', value: String((props.downAfter ?? Duration.seconds(5)).toMilliseconds()) },
      { name: 'FAILOVER_TIMEOUT_MS', value: String((props.failoverTimeout ?? Duration.seconds(60)).toMilliseconds()) },
      { name: 'PARALLEL_SYNCS', value: String(props.parallelSyncs ?? 1) },
    ];
    const securityContext = {
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    };
    const mounts = [
      { name: 'data', mountPath: '/data' },
      { name: 'config', mountPath: '/etc/redis', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ];
    const q = (s: string) => k8s.Quantity.fromString(s);
    const cli = (port: number, cmd: string) => ['sh', '-c', `redis-cli -h 127.0.0.1 -p ${port} --no-auth-warning -a "$REDIS_PASSWORD" ${cmd}`];

    this.statefulSet = new k8s.KubeStatefulSet(this, 'Resource', {
      metadata: meta(props.name),
      spec: {
        serviceName: this.headlessServiceName,
        replicas: this.replicas,
        podManagementPolicy: 'OrderedReady',
        selector: { matchLabels: this.selector },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        template: {
          metadata: {
            labels,
            // Redis must not start before the Istio proxy can carry its connections.
            annotations: { 'proxy.istio.io/config': '{"holdApplicationUntilProxyStarts":true}' },
          },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS, seccompProfile: { type: 'RuntimeDefault' } },
            terminationGracePeriodSeconds: 60,
            affinity: {
              nodeAffinity: props.zones?.length ? {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: props.zones }] }],
                },
              } : undefined,
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: this.selector } }],
              },
            },
            topologySpreadConstraints: props.zones?.length
              ? [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: this.selector } }]
              : undefined,
            containers: [
              {
                name: 'redis',
                image: props.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '/etc/redis/start-redis.sh'],
                env,
                ports: [{ name: 'tcp-redis', containerPort: REDIS_PORT }],
                resources: {
                  requests: { 'cpu': q('100m'), 'memory': q(formatSize(memory)), 'ephemeral-storage': q('64Mi') },
                  limits: { 'memory': q(formatSize(memory)), 'ephemeral-storage': q('128Mi') },
                },
                readinessProbe: { exec: { command: cli(REDIS_PORT, 'ping') }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
                livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(REDIS_PORT) }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 6 },
                startupProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(REDIS_PORT) }, periodSeconds: 2, failureThreshold: 30 },
                lifecycle: { preStop: { exec: { command: ['sh', '/etc/redis/common.sh', 'handover'] } } },
                securityContext,
                volumeMounts: mounts,
              },
              {
                name: 'sentinel',
                image: props.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '/etc/redis/start-sentinel.sh'],
                env,
                ports: [{ name: 'tcp-sentinel', containerPort: SENTINEL_PORT }],
                resources: {
                  requests: { 'cpu': q('50m'), 'memory': q('64Mi'), 'ephemeral-storage': q('16Mi') },
                  limits: { 'memory': q('128Mi'), 'ephemeral-storage': q('32Mi') },
                },
                readinessProbe: { exec: { command: cli(SENTINEL_PORT, 'ping') }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
                livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(SENTINEL_PORT) }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 6 },
                startupProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(SENTINEL_PORT) }, periodSeconds: 2, failureThreshold: 30 },
                securityContext,
                volumeMounts: mounts,
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: configName, defaultMode: 0o444 } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
        volumeClaimTemplates: [{
          metadata: { name: 'data', labels: this.selector },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: props.storageClass ?? 'premium-rwo',
            resources: { requests: { storage: q(formatSize(props.storage ?? Size.gibibytes(10))) } },
          },
        }],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'Disruption', {
      metadata: meta(props.name),
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.selector } },
    });
  }
}

interface RedisConfOptions { maxmemory: number; policy: string; minReplicasToWrite: number; maxLag: number }

function redisConf(o: RedisConfOptions): string {
  return [
    `port ${REDIS_PORT}`,
    'bind 0.0.0.0 -::*',
    'protected-mode no',
    'dir /data',
    'appendonly yes',
    'appendfsync everysec',
    `maxmemory ${o.maxmemory}mb`,
    `maxmemory-policy ${o.policy}`,
    // A master cut off from its replicas stops taking writes it would lose on failover.
    `min-replicas-to-write ${o.minReplicasToWrite}`,
    `min-replicas-max-lag ${o.maxLag}`,
    'replica-read-only yes',
    'replica-serve-stale-data yes',
    '',
  ].join('\n');
}

/** Shared shell functions; `common.sh handover` is the preStop hook. */
const COMMON_SH = `#!/bin/sh
# Shared by start-redis.sh, start-sentinel.sh and the preStop hook.
set -eu
ORDINAL="\${POD_NAME##*-}"
SELF="\${POD_NAME}.\${HEADLESS}.\${NAMESPACE}.svc.cluster.local"
FIRST="\${STATEFULSET}-0.\${HEADLESS}.\${NAMESPACE}.svc.cluster.local"
rcli() { redis-cli --no-auth-warning -a "$REDIS_PASSWORD" "$@"; }

# Prints the master the sentinels agree on (host), or nothing when none knows one.
sentinel_master() {
  i=0
  while [ "$i" -lt "$REPLICAS" ]; do
    peer="\${STATEFULSET}-$i.\${HEADLESS}.\${NAMESPACE}.svc.cluster.local"
    if [ "$peer" != "$SELF" ]; then
      addr=$(timeout 3 redis-cli --no-auth-warning -a "$REDIS_PASSWORD" -h "$peer" -p ${SENTINEL_PORT} sentinel get-master-addr-by-name "$MASTER_SET" 2>/dev/null | head -n 1 || true)
      if [ -n "$addr" ]; then echo "$addr"; return 0; fi
    fi
    i=$((i + 1))
  done
  return 0
}

# preStop: a master asks the sentinels for a failover and waits until it is a replica.
handover() {
  role=$(rcli -p ${REDIS_PORT} role 2>/dev/null | head -n 1 || true)
  [ "$role" = "master" ] || return 0
  rcli -p ${SENTINEL_PORT} sentinel failover "$MASTER_SET" >/dev/null 2>&1 || return 0
  n=0
  while [ "$n" -lt 30 ]; do
    [ "$(rcli -p ${REDIS_PORT} role 2>/dev/null | head -n 1)" = "slave" ] && return 0
    sleep 1; n=$((n + 1))
  done
}

if [ "\${1:-}" = "handover" ]; then handover; fi
`;

/**
 * A node starts as a replica of the master the sentinels report. Only when no sentinel
 * knows a master does ordinal 0 start as master; the others follow ordinal 0.
 */
const START_REDIS_SH = `#!/bin/sh
set -eu
. /etc/redis/common.sh
conf=/tmp/redis.conf
cp /etc/redis/redis.conf "$conf"
{
  echo "requirepass $REDIS_PASSWORD"
  echo "masterauth $REDIS_PASSWORD"
  echo "replica-announce-ip $SELF"
} >> "$conf"
master=$(sentinel_master)
if [ -z "$master" ] && [ "$ORDINAL" != "0" ]; then master="$FIRST"; fi
if [ -n "$master" ] && [ "$master" != "$SELF" ]; then
  echo "replicaof $master ${REDIS_PORT}" >> "$conf"
  echo "starting as replica of $master"
else
  echo "starting as master"
fi
exec redis-server "$conf"
`;

/** Sentinels keep their state in /data/sentinel.conf across restarts; it is written only once. */
const START_SENTINEL_SH = `#!/bin/sh
set -eu
. /etc/redis/common.sh
conf=/data/sentinel.conf
if [ ! -s "$conf" ]; then
  master=$(sentinel_master)
  [ -n "$master" ] || master="$FIRST"
  cat > "$conf" <<EOF
port ${SENTINEL_PORT}
dir /data
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $SELF
sentinel monitor $MASTER_SET $master ${REDIS_PORT} $QUORUM
sentinel auth-pass $MASTER_SET $REDIS_PASSWORD
sentinel down-after-milliseconds $MASTER_SET $DOWN_AFTER_MS
sentinel failover-timeout $MASTER_SET $FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $MASTER_SET $PARALLEL_SYNCS
requirepass $REDIS_PASSWORD
EOF
fi
exec redis-sentinel "$conf"
`;
