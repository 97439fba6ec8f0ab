import { Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-28';
import { Microservice, MicroserviceProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: MicroserviceProps = {
  name: 'api',
  namespace: 'shop',
  image: 'us-docker.pkg.dev/p/r/api:1.2.3',
  ports: [{ name: 'http', port: 8080 }],
  readiness: { path: '/ready', port: 8080 },
  gcpServiceAccount: 'api@p.iam.gserviceaccount.com',
};

function render(props: Partial<MicroserviceProps> = {}) {
  const chart = testChart();
  new Microservice(chart, 'api', { ...base, ...props });
  return chart;
}

describe('Microservice', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('every object is named explicitly and carries no construct-path hash', () => {
    const text = JSON.stringify(manifests(render()));
    expect(text).not.toContain('cdk8s.io/metadata.addr');
    for (const m of manifests(render())) expect(m.metadata.name).toBe('api');
  });

  test('containers are hardened by default', () => {
    const pod = only(render(), 'Deployment').spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
  });

  test('resources default to requests with a memory limit of twice the request', () => {
    const c = only(render(), 'Deployment').spec.template.spec.containers[0];
    expect(c.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '64Mi' },
      limits: { memory: '256Mi', 'ephemeral-storage': '128Mi' },
    });
  });

  test('resources given are used', () => {
    const c = only(
      render({ resources: { cpu: Cpu.millis(500), memory: Size.mebibytes(512), memoryLimit: Size.gibibytes(1), ephemeralStorage: Size.mebibytes(256) } }),
      'Deployment',
    ).spec.template.spec.containers[0];
    expect(c.resources.requests).toEqual({ cpu: '500m', memory: '512Mi', 'ephemeral-storage': '256Mi' });
    expect(c.resources.limits).toEqual({ memory: '1024Mi', 'ephemeral-storage': '512Mi' });
  });

  test('the ServiceAccount is bound to the Google service account and mounts no token', () => {
    const sa = only(render(), 'ServiceAccount');
    expect(sa.metadata).toMatchObject({ annotations: { 'iam.gke.io/gcp-service-account': 'api@p.iam.gserviceaccount.com' } });
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(only(render(), 'Deployment').spec.template.spec.serviceAccountName).toBe('api');
  });

  test('the Service selects the pods by name and declares the protocol for Istio', () => {
    const svc = only(
      render({
        ports: [
          { name: 'http', port: 8080 },
          { name: 'grpc', port: 9090, protocol: 'grpc' },
          { name: 'ws', port: 8081, protocol: 'websocket' },
        ],
      }),
      'Service',
    );
    expect(svc.spec.selector).toEqual({ 'app.kubernetes.io/name': 'api' });
    expect(svc.spec.ports.map((p: any) => [p.name, p.appProtocol])).toEqual([
      ['http', 'http'],
      ['grpc', 'grpc'],
      ['ws', 'http'],
    ]);
    const dep = only(render(), 'Deployment');
    expect(dep.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'api' } });
    expect(dep.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'api', app: 'api' });
  });

  test('replicas default to 2 with a PodDisruptionBudget allowing one pod down', () => {
    const chart = render();
    expect(only(chart, 'Deployment').spec.replicas).toBe(2);
    expect(only(chart, 'PodDisruptionBudget').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } } });
  });

  test('a single replica gets no PodDisruptionBudget', () => {
    expect(manifests(render({ replicas: 1 })).map((m) => m.kind)).not.toContain('PodDisruptionBudget');
  });

  test('built on the L1 objects: the Deployment carries no JSON patch, and the rollout and pod fields are explicit', () => {
    const chart = testChart();
    const svc = new Microservice(chart, 'api', { ...base, zones: ['z-a'] });
    // The patches list is private to cdk8s's ApiObject; an empty one means the output is the props as written.
    expect((svc.deployment as unknown as { patches: unknown[] }).patches).toEqual([]);
    expect((svc.service as unknown as { patches: unknown[] }).patches).toEqual([]);
    const d = only(chart, 'Deployment');
    expect(d.spec).toMatchObject({
      minReadySeconds: 0,
      progressDeadlineSeconds: 600,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    });
    expect(d.spec.template.spec).toMatchObject({
      dnsPolicy: 'ClusterFirst',
      hostNetwork: false,
      restartPolicy: 'Always',
      setHostnameAsFQDN: false,
      terminationGracePeriodSeconds: 30,
      securityContext: { fsGroup: 10001, fsGroupChangePolicy: 'Always', seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(Object.keys(d.spec.template.metadata.labels)).not.toContain('cdk8s.io/metadata.addr');
    expect(d.spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'api' });
    expect(only(chart, 'Service').spec).not.toHaveProperty('externalIPs');
  });

  test('markHasAutoscaler: replicas are left to the autoscaler, and its minimum decides the PDB', () => {
    const scaled = (replicas: number, min: number) => {
      const chart = testChart();
      new Microservice(chart, 'api', { ...base, replicas }).markHasAutoscaler(min);
      return chart;
    };
    expect(only(scaled(2, 3), 'Deployment').spec).not.toHaveProperty('replicas');
    expect(manifests(scaled(2, 3)).map((m) => m.kind)).toContain('PodDisruptionBudget');
    expect(manifests(scaled(1, 3)).map((m) => m.kind)).toContain('PodDisruptionBudget');
    expect(manifests(scaled(2, 1)).map((m) => m.kind)).not.toContain('PodDisruptionBudget');
    expect(only(render({ replicas: 3 }), 'Deployment').spec.replicas).toBe(3);
  });

  test('toScalingTarget describes the Deployment and what each container requests', () => {
    const target = new Microservice(testChart(), 'api', base).toScalingTarget();
    expect(target).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'api',
      namespace: 'shop',
      containers: [
        { name: 'api', requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '64Mi' }, limits: { memory: '256Mi', 'ephemeral-storage': '128Mi' } },
      ],
    });
  });

  test('a worker without ports gets no Service', () => {
    const kinds = manifests(render({ ports: [], readiness: undefined })).map((m) => m.kind);
    expect(kinds).toEqual(['ServiceAccount', 'Deployment', 'PodDisruptionBudget']);
  });

  test('zones restrict and spread the pods; hosts are preferred distinct', () => {
    const pod = only(render({ zones: ['us-east1-b', 'us-east1-c'] }), 'Deployment').spec.template.spec;
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions).toEqual([
      { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['us-east1-b', 'us-east1-c'] },
    ]);
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'api' } },
      },
    ]);
  });

  test('probes: HTTP with a path, TCP without', () => {
    const c = only(render({ liveness: { port: 8080, period: Duration.seconds(30), failureThreshold: 2 } }), 'Deployment').spec.template.spec.containers[0];
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 8080 }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 });
    expect(c.livenessProbe).toMatchObject({ tcpSocket: { port: 8080 }, periodSeconds: 30, failureThreshold: 2 });
  });

  test('probes: gRPC health checks (Kubernetes 1.28 grpc probes), with a service name or the whole server', () => {
    const c = only(
      render({
        ports: [{ name: 'grpc', port: 9090, protocol: 'grpc' }],
        readiness: { port: 9090, grpc: { service: 'readiness' } },
        liveness: { port: 9090, grpc: {} },
      }),
      'Deployment',
    ).spec.template.spec.containers[0];
    expect(c.readinessProbe).toEqual({ grpc: { port: 9090, service: 'readiness' }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 });
    expect(c.livenessProbe).toEqual({ grpc: { port: 9090 }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 });
  });

  test('fails when a probe sets both path and grpc, or liveness is the readiness gRPC check', () => {
    expect(() => render({ readiness: { port: 8080, path: '/ready', grpc: {} } })).toThrow(
      "Microservice 'api': readiness sets both path (/ready) and grpc: a probe is an HTTP GET or a gRPC health check",
    );
    expect(() => render({ readiness: { port: 8080, grpc: { service: 'x' } }, liveness: { port: 8080, grpc: { service: 'x' } } })).toThrow(
      `Microservice 'api': liveness (gRPC health of "x" on port 8080) must not be the readiness check: an overloaded pod would be restarted instead of taken out of rotation`,
    );
  });

  test('secret environment variables reference the synced Secret, never a value', () => {
    const c = only(render({ secretEnv: { API_KEY: { secretName: 'api-secrets', key: 'API_KEY' } }, env: { MODE: 'x' } }), 'Deployment').spec.template.spec
      .containers[0];
    expect(c.env).toEqual([
      { name: 'MODE', value: 'x' },
      { name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'api-secrets', key: 'API_KEY' } } },
    ]);
  });

  test('/tmp and each writable path get an emptyDir; the root filesystem stays read-only', () => {
    const pod = (only(render({ writablePaths: ['/opt/bitnami/pgbouncer/conf', '/var/cache/app'] }), 'Deployment') as any).spec.template.spec;
    expect(pod.containers[0].volumeMounts).toEqual([
      { mountPath: '/tmp', name: 'tmp' },
      { mountPath: '/opt/bitnami/pgbouncer/conf', name: 'opt-bitnami-pgbouncer-conf' },
      { mountPath: '/var/cache/app', name: 'var-cache-app' },
    ]);
    expect(pod.volumes.map((v: { name: string; emptyDir?: unknown }) => [v.name, v.emptyDir !== undefined])).toEqual([
      ['tmp', true],
      ['opt-bitnami-pgbouncer-conf', true],
      ['var-cache-app', true],
    ]);
    expect(pod.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
  });

  test('fails when replicas is negative', () => {
    expect(() => render({ replicas: -1 })).toThrow("Microservice 'api': replicas (-1) must be a whole number >= 0");
  });

  test('liveness and startup default to TCP checks of the readiness port', () => {
    const c = only(render(), 'Deployment').spec.template.spec.containers[0];
    expect(c.livenessProbe).toEqual({ tcpSocket: { port: 8080 }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 });
    expect(c.startupProbe).toEqual({ tcpSocket: { port: 8080 }, periodSeconds: 2, failureThreshold: 60, timeoutSeconds: 1 });
  });

  test('fails when a service with ports has no readiness probe', () => {
    expect(() => render({ readiness: undefined })).toThrow(
      "Microservice 'api': readiness is required when ports are served: traffic would reach pods before they can serve",
    );
  });

  test('fails when liveness is the readiness check', () => {
    expect(() => render({ liveness: { path: '/ready', port: 8080, period: Duration.seconds(30) } })).toThrow(
      "Microservice 'api': liveness (GET /ready on port 8080) must not be the readiness check: an overloaded pod would be restarted instead of taken out of rotation",
    );
    // A TCP-only server has no other check to offer: the same TCP check is allowed.
    expect(() => render({ readiness: { port: 8080 } })).not.toThrow();
  });

  test('fails when probes are given without ports', () => {
    expect(() => render({ ports: [] })).toThrow("Microservice 'api': probes need a port, and ports is empty");
  });
});

describe('Microservice versions', () => {
  function versioned() {
    const chart = testChart();
    new Microservice(chart, 'api', { ...base, replicas: 2, version: 'stable' });
    new Microservice(chart, 'api-canary', { ...base, replicas: 2, image: 'us-docker.pkg.dev/p/r/api:1.3.0', version: 'canary' });
    return chart;
  }

  test('the stable version labels its pods and keeps selecting by name (a selector is immutable)', () => {
    const dep = only(versioned(), 'Deployment', 'api');
    expect(dep.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'api', version: 'stable' });
    expect(dep.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'api' } });
  });

  test('a variant is a Deployment <name>-<version> selecting its version, running as the service account of the service', () => {
    const chart = versioned();
    const dep = only(chart, 'Deployment', 'api-canary');
    expect(dep.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'api', version: 'canary' } });
    expect(dep.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'api', app: 'api', version: 'canary' });
    expect(dep.spec.template.spec.serviceAccountName).toBe('api');
    expect(dep.spec.template.spec.containers[0].image).toBe('us-docker.pkg.dev/p/r/api:1.3.0');
  });

  test("a variant adds no Service and no ServiceAccount: the service's own reach its pods", () => {
    const chart = versioned();
    expect(
      manifests(chart)
        .filter((m) => m.kind === 'Service')
        .map((m) => m.metadata.name),
    ).toEqual(['api']);
    expect(
      manifests(chart)
        .filter((m) => m.kind === 'ServiceAccount')
        .map((m) => m.metadata.name),
    ).toEqual(['api']);
    expect(only(chart, 'Service').spec.selector).toEqual({ 'app.kubernetes.io/name': 'api' });
  });

  test('each version has its own disruption budget, so no pod is covered by two', () => {
    const chart = versioned();
    expect(only(chart, 'PodDisruptionBudget', 'api').spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'api', version: 'stable' } });
    expect(only(chart, 'PodDisruptionBudget', 'api-canary').spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'api', version: 'canary' } });
  });

  test('sse ports are HTTP for Istio', () => {
    const svc = only(render({ ports: [{ name: 'events', port: 8080, protocol: 'sse' }] }), 'Service');
    expect(svc.spec.ports[0].appProtocol).toBe('http');
  });
});
