import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import { RedisSentinel, RedisSentinelProps } from '../../../features';
import { manifests, only, tempDir, testChart } from '../../helpers';

const base: RedisSentinelProps = {
  name: 'cache',
  namespace: 'shop',
  image: 'docker.io/library/redis:7.4.2-alpine',
  passwordSecret: 'cache-redis-password',
};

function render(props: Partial<RedisSentinelProps> = {}) {
  const chart = testChart();
  new RedisSentinel(chart, 'cache', { ...base, ...props });
  return chart;
}

const pod = (chart = render()) => only(chart, 'StatefulSet').spec.template.spec;
const container = (name: 'redis' | 'sentinel', chart = render()) => pod(chart).containers.find((c: { name: string }) => c.name === name);
const env = (chart = render()) => Object.fromEntries(container('redis', chart).env.map((e: { name: string; value?: string }) => [e.name, e.value ?? e]));
const conf = (chart = render()) => only(chart, 'ConfigMap').data['redis.conf'] as string;

describe('RedisSentinel', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('every object is named explicitly', () => {
    expect(manifests(render()).map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'ServiceAccount/cache',
      'ConfigMap/cache-config',
      'Service/cache-headless',
      'Service/cache',
      'StatefulSet/cache',
      'PodDisruptionBudget/cache',
    ]);
  });

  test('defaults: 3 pods started in order, a quorum of 2, sentinel timings, 1 replica within 10 s to write', () => {
    const chart = render();
    const sts = only(chart, 'StatefulSet');
    expect(sts.spec).toMatchObject({ replicas: 3, podManagementPolicy: 'Parallel', serviceName: 'cache-headless' });
    expect(env(chart)).toMatchObject({
      ROLE: 'primary',
      QUORUM: '2',
      REPLICAS: '3',
      DOWN_AFTER_MS: '5000',
      FAILOVER_TIMEOUT_MS: '60000',
      PARALLEL_SYNCS: '1',
      HANDOVER_SECONDS: '20',
      MASTER_SET: 'master',
    });
    expect(env(chart)).not.toHaveProperty('UPSTREAM_HOST');
    // downAfter 5 s - 2 s: a cut-off master refuses writes before the sentinels can promote another.
    expect(conf(chart)).toContain('min-replicas-to-write 1\nmin-replicas-max-lag 3\n');
  });

  test('the quorum defaults to a majority of the pods', () => {
    expect(env(render({ replicas: 5 })).QUORUM).toBe('3');
    expect(env(render({ replicas: 4 })).QUORUM).toBe('3');
    expect(env(render({ replicas: 5, quorum: 2 })).QUORUM).toBe('2');
  });

  test('settings from props reach the scripts and redis.conf', () => {
    const chart = render({
      downAfter: Duration.millis(5500),
      failoverTimeout: Duration.seconds(30),
      parallelSyncs: 2,
      minReplicasToWrite: 2,
      minReplicasMaxLag: Duration.seconds(3),
      maxmemoryPolicy: 'noeviction',
      handoverTimeout: Duration.seconds(15),
    });
    expect(env(chart)).toMatchObject({ DOWN_AFTER_MS: '5500', FAILOVER_TIMEOUT_MS: '30000', PARALLEL_SYNCS: '2', HANDOVER_SECONDS: '15' });
    expect(conf(chart)).toContain('maxmemory-policy noeviction\nmin-replicas-to-write 2\nmin-replicas-max-lag 3\n');
    expect(pod(chart).terminationGracePeriodSeconds).toBe(45);
  });

  test('maxmemory is 60 % of the memory limit, with the backlog and replica buffer sized from it too', () => {
    const chart = render({ memory: Size.gibibytes(2), storage: Size.gibibytes(20) });
    expect(conf(chart)).toContain('maxmemory 1228mb\n');
    expect(conf(chart)).toContain('repl-backlog-size 102mb\n');
    expect(conf(chart)).toContain('client-output-buffer-limit replica 204mb 102mb 60\n');
    expect(container('redis', chart).resources).toEqual({
      requests: { cpu: '100m', memory: '2Gi', 'ephemeral-storage': '64Mi' },
      limits: { memory: '2Gi', 'ephemeral-storage': '128Mi' },
    });
    expect(conf(render())).toContain('maxmemory 614mb\n');
  });

  test('persistence: AOF on a claim per pod that neither ArgoCD nor the StatefulSet deletes', () => {
    const chart = render({ storage: Size.gibibytes(20), storageClass: 'standard-rwo' });
    const sts = only(chart, 'StatefulSet');
    expect(conf(chart)).toContain('appendonly yes\nappendfsync everysec\n');
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(sts.spec.volumeClaimTemplates).toEqual([
      {
        metadata: {
          name: 'data',
          labels: { 'app.kubernetes.io/name': 'cache', 'app.kubernetes.io/component': 'redis' },
          annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' },
        },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'standard-rwo', resources: { requests: { storage: '20Gi' } } },
      },
    ]);
    for (const name of ['redis', 'sentinel'] as const) {
      expect(container(name, chart).volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    }
  });

  test('ports are named tcp- for Istio; peers resolve each other before they are ready', () => {
    const chart = render();
    const headless = only(chart, 'Service', 'cache-headless');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(headless.spec.ports.map((p: { name: string; port: number; appProtocol: string }) => [p.name, p.port, p.appProtocol])).toEqual([
      ['tcp-redis', 6379, 'tcp'],
      ['tcp-sentinel', 26379, 'tcp'],
    ]);
    const client = only(chart, 'Service', 'cache');
    expect(client.spec.ports).toEqual([{ name: 'tcp-sentinel', port: 26379, targetPort: 26379, appProtocol: 'tcp' }]);
    expect(client.spec.publishNotReadyAddresses).toBe(true);
    expect(container('redis', chart).ports).toEqual([{ name: 'tcp-redis', containerPort: 6379 }]);
    expect(container('sentinel', chart).ports).toEqual([{ name: 'tcp-sentinel', containerPort: 26379 }]);
  });

  test('the application waits for the Istio proxy; a change of the scripts rolls the pods', () => {
    const annotations = only(render(), 'StatefulSet').spec.template.metadata.annotations;
    expect(annotations['proxy.istio.io/config']).toBe('{"holdApplicationUntilProxyStarts":true}');
    const other = only(render({ minReplicasToWrite: 2 }), 'StatefulSet').spec.template.metadata.annotations;
    expect(other['meridian.dev/config-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(other['meridian.dev/config-sha256']).not.toBe(annotations['meridian.dev/config-sha256']);
  });

  test('containers are hardened; the pod has its own ServiceAccount and no token', () => {
    const chart = render();
    const spec = pod(chart);
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.serviceAccountName).toBe('cache');
    expect(only(chart, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    for (const name of ['redis', 'sentinel'] as const) {
      expect(container(name, chart).securityContext).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        privileged: false,
        readOnlyRootFilesystem: true,
        runAsGroup: 10001,
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  test('the password comes from the synced Secret, never a value', () => {
    expect(container('redis').env[0]).toEqual({ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'cache-redis-password', key: 'password' } } });
    expect(JSON.stringify(manifests(render()))).not.toMatch(/requirepass "[^$]/);
  });

  test('probes and the preStop handover run the ConfigMap scripts', () => {
    const redis = container('redis');
    expect(redis.command).toEqual(['sh', '/etc/redis/start-redis.sh']);
    expect(redis.readinessProbe.exec.command).toEqual(['sh', '/etc/redis/common.sh', 'ready']);
    expect(redis.lifecycle).toEqual({ preStop: { exec: { command: ['sh', '/etc/redis/common.sh', 'handover'] } } });
    const sentinel = container('sentinel');
    expect(sentinel.command).toEqual(['sh', '/etc/redis/start-sentinel.sh']);
    expect(sentinel.readinessProbe.exec.command).toEqual(['sh', '/etc/redis/common.sh', 'sentinel-ready']);
    expect(Object.keys(only(render(), 'ConfigMap').data).sort()).toEqual(['common.sh', 'redis.conf', 'start-redis.sh', 'start-sentinel.sh']);
  });

  test("the startup probe outlasts the start script's waits and the load: the liveness probe never kills a start that waits", () => {
    // start-redis.sh waits up to max(30 s, failover-timeout + 5 s) for a sentinel majority, then, for
    // a master that crashed, up to down-after + failover-timeout + 5 s for a replica's promotion.
    const budget = (chart: ReturnType<typeof render>) => {
      const p = container('redis', chart).startupProbe;
      return p.periodSeconds * p.failureThreshold;
    };
    expect(budget(render())).toBeGreaterThanOrEqual(65 + 70 + 180);
    expect(container('redis').startupProbe).toEqual({ tcpSocket: { port: 6379 }, periodSeconds: 5, failureThreshold: 63 });
    expect(budget(render({ failoverTimeout: Duration.minutes(5) }))).toBeGreaterThanOrEqual(305 + 310 + 180);
    expect(budget(render({ downAfter: Duration.seconds(1), failoverTimeout: Duration.seconds(5) }))).toBe(300);
  });

  test('the scripts are valid POSIX shell', () => {
    const dir = tempDir();
    for (const [file, text] of Object.entries(only(render(), 'ConfigMap').data as Record<string, string>)) {
      if (!file.endsWith('.sh')) continue;
      fs.writeFileSync(path.join(dir, file), text);
      expect(() => execFileSync('sh', ['-n', path.join(dir, file)], { stdio: 'pipe' })).not.toThrow();
    }
  });

  test('a PodDisruptionBudget allows one pod down; pods spread over zones and never share a host', () => {
    const chart = render({ zones: ['us-east1-b', 'us-east1-c', 'us-east1-d'] });
    expect(only(chart, 'PodDisruptionBudget').spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'cache', 'app.kubernetes.io/component': 'redis' } },
    });
    const spec = pod(chart);
    expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions).toEqual([
      { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['us-east1-b', 'us-east1-c', 'us-east1-d'] },
    ]);
    expect(spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'cache', 'app.kubernetes.io/component': 'redis' } },
      },
    ]);
    expect(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'cache', 'app.kubernetes.io/component': 'redis' } } },
    ]);
    expect(pod(render()).topologySpreadConstraints).toBeUndefined();
  });

  test('a region names the headless Service, so pod hostnames are unique across clusters', () => {
    const chart = render({ region: 'us-east1' });
    expect(only(chart, 'StatefulSet').spec.serviceName).toBe('cache-us-east1-headless');
    expect(env(chart).HEADLESS).toBe('cache-us-east1-headless');
    expect(manifests(chart).map((m) => m.kind)).not.toContain('ServiceExport');
  });

  test("crossRegionService: the region's Service the other regions replicate from, under the mesh's mTLS (no exception, no export)", () => {
    const chart = render({ region: 'us-east1', crossRegionService: true });
    const svc = only(chart, 'Service', 'cache-us-east1');
    expect(svc.spec).toEqual({
      selector: { 'app.kubernetes.io/name': 'cache', 'app.kubernetes.io/component': 'redis' },
      ports: [{ name: 'tcp-redis', port: 6379, targetPort: 6379, appProtocol: 'tcp' }],
    });
    expect(manifests(chart).map((m) => m.kind)).not.toContain('ServiceExport');
    expect(manifests(chart).map((m) => m.kind)).not.toContain('PeerAuthentication');
  });

  test("a secondary chooses its upstream among the primary region's pods, checked every second", () => {
    const upstreams = [0, 1, 2].map((i) => `cache-us-central1-${i}.shop.svc.cluster.local`);
    expect(env(render({ role: 'secondary', upstreams }))).toMatchObject({
      ROLE: 'secondary',
      UPSTREAM_HOSTS: upstreams.join(' '),
      UPSTREAM_CHECK_SECONDS: '1',
    });
  });

  test('a region Service and one Service per pod (ready pods only, selected by pod name) for the other regions', () => {
    const services = manifests(render({ region: 'us-east1', crossRegionService: true })).filter((m) => m.kind === 'Service');
    const pods = services.filter((s) => /^cache-us-east1-\d$/.test(s.metadata.name));
    expect(pods.map((s) => s.metadata.name)).toEqual(['cache-us-east1-0', 'cache-us-east1-1', 'cache-us-east1-2']);
    pods.forEach((s, i) => {
      expect(s.spec.selector).toEqual({
        'app.kubernetes.io/name': 'cache',
        'app.kubernetes.io/component': 'redis',
        'statefulset.kubernetes.io/pod-name': `cache-${i}`,
      });
      expect(s.spec.publishNotReadyAddresses).toBeUndefined();
      expect(s.spec.ports).toEqual([{ name: 'tcp-redis', port: 6379, targetPort: 6379, appProtocol: 'tcp' }]);
    });
  });

  test('a fenced primary refuses every write: min-replicas-to-write no count of replicas reaches', () => {
    const conf = (c: ReturnType<typeof render>) => manifests(c).find((m) => m.kind === 'ConfigMap')!.data['redis.conf'] as string;
    expect(conf(render({}))).toContain('\nmin-replicas-to-write 1\n');
    const fenced = conf(render({ fencedFor: 'us-east1' }));
    expect(fenced).toContain('\nmin-replicas-to-write 2147483647\n');
    expect(fenced).not.toContain('min-replicas-to-write 1\n');
  });

  test('fails when a secondary is fenced', () => {
    expect(() => render({ role: 'secondary', upstreams: ['cache-us-central1-0.shop.svc.cluster.local'], fencedFor: 'us-east1' })).toThrow(
      `RedisSentinel 'cache': fencedFor ("us-east1") is only for a primary: a secondary takes no writes`,
    );
  });

  test('fails when replicas is below 3', () => {
    expect(() => render({ replicas: 2 })).toThrow("RedisSentinel 'cache': replicas (2) must be a whole number >= 3");
  });

  test('fails when quorum exceeds replicas', () => {
    expect(() => render({ quorum: 4 })).toThrow("RedisSentinel 'cache': quorum (4) must be <= replicas (3)");
  });

  test('fails when quorum is 0', () => {
    expect(() => render({ quorum: 0 })).toThrow("RedisSentinel 'cache': quorum (0) must be a whole number >= 1");
  });

  test('fails when minReplicasToWrite leaves no replica to lose', () => {
    expect(() => render({ minReplicasToWrite: 3 })).toThrow("RedisSentinel 'cache': minReplicasToWrite (3) must be <= replicas - 1 (2)");
  });

  test('fails when minReplicasMaxLag would let a cut-off master outlive its replacement', () => {
    expect(() => render({ minReplicasMaxLag: Duration.seconds(10) })).toThrow(
      `RedisSentinel 'cache': minReplicasMaxLag ("10s") must be at most 3s: downAfter - 2s (at least 1s), so that a master cut off from its replicas refuses writes before the sentinels can promote another (redis counts the lag in whole seconds and rechecks once a second)`,
    );
  });

  test('fails when minReplicasMaxLag is not whole seconds', () => {
    expect(() => render({ minReplicasMaxLag: Duration.millis(1500) })).toThrow(
      `RedisSentinel 'cache': minReplicasMaxLag ("1500ms") must be whole seconds, at least 1s: redis counts it in seconds`,
    );
  });

  test('fails when downAfter is below 100ms', () => {
    expect(() => render({ downAfter: Duration.millis(50) })).toThrow(`RedisSentinel 'cache': downAfter ("50ms") must be at least 100ms`);
  });

  test('fails when failoverTimeout is not longer than downAfter', () => {
    expect(() => render({ downAfter: Duration.seconds(10), failoverTimeout: Duration.seconds(10) })).toThrow(
      `RedisSentinel 'cache': failoverTimeout ("10s") must be longer than downAfter (10s)`,
    );
  });

  test('fails when parallelSyncs is 0', () => {
    expect(() => render({ parallelSyncs: 0 })).toThrow("RedisSentinel 'cache': parallelSyncs (0) must be a whole number >= 1");
  });

  test('fails when memory is below 128Mi', () => {
    expect(() => render({ memory: Size.mebibytes(64) })).toThrow(`RedisSentinel 'cache': memory ("64Mi") must be at least 128Mi`);
  });

  test('fails when storage is less than twice the memory', () => {
    expect(() => render({ memory: Size.gibibytes(8) })).toThrow(
      `RedisSentinel 'cache': storage ("10Gi") must be at least twice memory (8Gi): an AOF rewrite holds the old and the new file`,
    );
  });

  test('fails when a secondary has no upstream', () => {
    expect(() => render({ role: 'secondary' })).toThrow("RedisSentinel 'cache': upstreams must be set for a secondary: the hosts of the primary region's pods");
  });

  test('fails when a primary has an upstream', () => {
    expect(() => render({ upstreams: ['x.example.com'] })).toThrow(
      'RedisSentinel \'cache\': upstreams ("x.example.com") are only for a secondary: a primary group owns the master',
    );
  });

  test('fails when an upstream is not a hostname', () => {
    expect(() => render({ role: 'secondary', upstreams: ['x.example.com', 'a b'] })).toThrow(`RedisSentinel 'cache': upstreams: "a b" is not a hostname`);
  });

  test('fails when crossRegionService has no region', () => {
    expect(() => render({ crossRegionService: true })).toThrow("RedisSentinel 'cache': crossRegionService needs region: the Service is named <name>-<region>");
  });

  test('fails when the region is not a DNS label', () => {
    expect(() => render({ region: 'US_East' })).toThrow('RedisSentinel \'cache\': region ("US_East") must be a lowercase RFC 1123 label');
  });

  test('fails when the headless Service name would be too long', () => {
    expect(() => render({ name: 'a'.repeat(40), region: 'northamerica-northeast1' })).toThrow(
      `RedisSentinel 'cache': the headless Service name "${'a'.repeat(40)}-northamerica-northeast1-headless" must be at most 63 characters: shorten name or region`,
    );
  });

  test('fails when the name is too long for the StatefulSet', () => {
    expect(() => render({ name: 'a'.repeat(53) })).toThrow(
      `RedisSentinel 'cache': name ("${'a'.repeat(53)}") is 53 characters; at most 52 are allowed: the StatefulSet's pods carry the label <name>-<10-character revision hash>, at most 63`,
    );
  });

  test('fails when handoverTimeout is not whole seconds', () => {
    expect(() => render({ handoverTimeout: Duration.millis(500) })).toThrow(
      `RedisSentinel 'cache': handoverTimeout ("500ms") must be whole seconds, at least 1s`,
    );
  });
});
