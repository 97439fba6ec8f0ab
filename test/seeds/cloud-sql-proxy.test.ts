/**
 * Issue 22, item 8: the Cloud SQL Auth Proxy as its upstream recommends (GoogleCloudPlatform/
 * cloud-sql-proxy README, "Running as a Kubernetes Sidecar" and examples/k8s-health-check): a
 * current v2 release, a native sidecar where the cluster runs them (started and healthy before
 * the application, stopped after it), --max-sigterm-delay for open connections on shutdown, and
 * --health-check with the /startup, /liveness and /readiness probes on --http-port. Judged with
 * the pod model of item 3 (features/workloads/pod-completion.ts, the Kubernetes sidecar rules).
 */
import { CLOUD_SQL_PROXY_IMAGE, cloudSqlProxyContainer, Microservice } from '../../features';
import { ClusterRuntime, jobPodOutcome } from '../../features/workloads/pod-completion';
import { only, testChart } from '../helpers';
import { distClusters } from './dist';

const k128: ClusterRuntime = { sidecarContainers: false, kubeletMinor: 28 };
const k129: ClusterRuntime = { sidecarContainers: true, kubeletMinor: 29 };
const PROXY = 'cloud-sql-proxy';

function podSpec(native: boolean) {
  const chart = testChart();
  new Microservice(chart, 'api', {
    name: 'api',
    namespace: 'app',
    image: 'us-docker.pkg.dev/p/r/api:1.0.0',
    ports: [{ name: 'http', port: 8080 }],
    readiness: { path: '/ready', port: 8080 },
    gcpServiceAccount: 'api@p.iam.gserviceaccount.com',
    sidecars: [cloudSqlProxyContainer({ instance: 'p:us-east1:main', native })],
  });
  return only(chart, 'Deployment').spec.template;
}

/** The pod as the model runs it: the application's container does its work and exits. */
const asRun = (template: any) => ({ ...template, spec: { ...template.spec, restartPolicy: 'Never' } });

describe('the proxy as a native sidecar (pod model)', () => {
  test('where the cluster runs native sidecars it is an init container restarted always, started before the application', () => {
    const t = podSpec(true);
    expect(t.spec.initContainers.map((c: any) => [c.name, c.restartPolicy])).toEqual([[PROXY, 'Always']]);
    expect(t.spec.containers.map((c: any) => c.name)).toEqual(['api']);
    const out = jobPodOutcome(asRun(t), {}, k129, [PROXY]);
    expect(out.containers.map((c) => `${c.kind}:${c.name}`)).toEqual([`sidecar:${PROXY}`, 'regular:api']);
    // Stopped once the application has exited: it never holds the pod.
    expect(out.phase).toBe('Succeeded');
  });

  test('rendered native on a 1.28 cluster it would block the pod: hence only where the cluster declares native sidecars', () => {
    expect(jobPodOutcome(asRun(podSpec(true)), {}, k128, [PROXY]).blockedBy).toBe(`init container ${PROXY} never exits, so the pod's containers never start`);
  });

  test('elsewhere a regular container beside the application, as before', () => {
    const t = podSpec(false);
    expect(t.spec.initContainers).toBeUndefined();
    expect(t.spec.containers.map((c: any) => c.name)).toEqual(['api', PROXY]);
  });
});

describe('dist/: every Cloud SQL Auth Proxy', () => {
  const proxies = ['bytspot', 'pushnchat'].flatMap(distClusters).flatMap((c) =>
    c.objects
      .filter((o) => o.obj.kind === 'Deployment')
      .flatMap((o) => {
        const spec = o.obj.spec.template.spec;
        return [...(spec.initContainers ?? []), ...spec.containers]
          .filter((x: any) => x.name === PROXY)
          .map((proxy: any) => [`${c.platform}/${c.env}/${c.region} ${o.obj.metadata.name}`, c.spec.nativeSidecars, spec, proxy] as const);
      }),
  );

  test('Bytspot and PushNchat run it', () => {
    expect(new Set(proxies.map(([name]) => name.split('/')[0]))).toEqual(new Set(['bytspot', 'pushnchat']));
  });

  test.each(proxies)('%s', (_, native, spec, proxy) => {
    // A current v2 release (2.23.0: cloud-sql-proxy-operator pull request 778 moved to it).
    const [major, minor] = proxy.image.split(':')[1].split('.').map(Number);
    expect(proxy.image).toBe(CLOUD_SQL_PROXY_IMAGE);
    expect(major === 2 && minor >= 23).toBe(true);
    expect(proxy.args).toEqual(expect.arrayContaining(['--health-check', '--http-address=0.0.0.0', '--http-port=9801', '--max-sigterm-delay=30s']));
    expect([proxy.startupProbe.httpGet.path, proxy.livenessProbe.httpGet.path, proxy.readinessProbe.httpGet.path]).toEqual([
      '/startup',
      '/liveness',
      '/readiness',
    ]);
    // Graceful shutdown: the proxy's delay fits in the pod's grace period.
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    const isNative = (spec.initContainers ?? []).some((c: any) => c.name === PROXY && c.restartPolicy === 'Always');
    expect(isNative).toBe(native);
  });
});
