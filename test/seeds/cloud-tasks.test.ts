/**
 * Issue 22, item 1: Virtuoso's Cloud Tasks worker can receive its tasks. Cloud Tasks (v2)
 * pushes each task as an HTTP request, from outside the cluster, with a Google-signed OIDC
 * token for the queue's service account; the worker is scaled from zero on the queue depth and
 * the queue retries while pods start. Judged on dist/ with the flows models (Istio
 * authorization, NetworkPolicy) and the RetryConfig schedule of the Cloud Tasks reference.
 */
import { authorize } from '../../checks/flows/istio-authorization';
import { NetworkPolicyModel } from '../../checks/flows/network-policy';
import { coldStartMs, retryDelaysMs } from '../../features/autoscaling/rules';
import { loadAll } from '../../model';
import { ProblemError } from '../../model/errors';
import { distClusters, named, ofKind } from './dist';
import { fixtureRepo } from '../model/fixtures';
import { ROOT } from '../helpers';
import * as fs from 'node:fs';
import * as path from 'node:path';

const clusters = distClusters('virtuoso');
const NAME = 'test-executor';

describe('Cloud Tasks RetryConfig schedule (the reference example)', () => {
  test('minBackoff 10s, maxBackoff 300s, maxDoublings 3: 10, 20, 40, 80, 160, 240, 300, 300 s', () => {
    expect(retryDelaysMs({ minBackoff: '10s', maxBackoff: '300s', maxDoublings: 3, maxAttempts: 9 }).map((ms) => ms / 1000)).toEqual([
      10, 20, 40, 80, 160, 240, 300, 300,
    ]);
  });

  test('maxAttempts counts the first attempt; no doubling grows linearly from the start', () => {
    expect(retryDelaysMs({ minBackoff: '1s', maxBackoff: '1h', maxDoublings: 0, maxAttempts: 4 })).toEqual([1000, 2000, 3000]);
    expect(retryDelaysMs({ minBackoff: '1s', maxBackoff: '1h', maxDoublings: 16, maxAttempts: 1 })).toEqual([]);
  });
});

describe.each(clusters.map((c) => [`${c.env}/${c.region}`, c] as const))('virtuoso %s: the test-execution queue reaches its worker', (_, c) => {
  const svc = c.spec.services[NAME];
  const push = svc.autoscaling!.triggers.find((t) => t.type === 'cloud-tasks')!;
  const queueAccount = `test-execution@${c.spec.platform.project}.iam.gserviceaccount.com`;
  const deployment = named(c, 'Deployment', NAME);
  const podLabels = deployment.spec.template.metadata.labels;

  test('a Service with an HTTP port selects the worker', () => {
    const service = named(c, 'Service', NAME);
    expect(service.spec.ports).toEqual([expect.objectContaining({ port: 8080 })]);
    expect(Object.entries(service.spec.selector).every(([k, v]) => podLabels[k] === v)).toBe(true);
  });

  test('the gateway routes the queue host to it, with the dispatch deadline as timeout and no retries of its own', () => {
    const vs = ofKind(c, 'VirtualService').find((v) => v.spec.gateways?.length && v.spec.hosts.includes('tasks.virtuoso.example.com'));
    expect(vs).toBeDefined();
    const route = vs!.spec.http[0];
    expect(route.route[0].destination.host).toBe(`${NAME}.virtuoso.svc.cluster.local`);
    expect(route.timeout).toBe('600s');
    expect(route.retries.attempts).toBe(0);
    // The gateway's server admits the host for the worker's namespace (namespace/host, "*" a wildcard).
    const admits = (h: string) => {
      const [ns, host] = h.split('/');
      return (ns === '*' || ns === 'virtuoso') && (host === '*' || host === 'tasks.virtuoso.example.com');
    };
    expect(named(c, 'Gateway', 'virtuoso-gateway').spec.servers.some((s: { hosts: string[] }) => s.hosts.some(admits))).toBe(true);
    // The load balancer in front waits as long as a task may run.
    expect(named(c, 'BackendConfig', 'virtuoso-gateway').spec.timeoutSec).toBeGreaterThanOrEqual(600);
  });

  test("the worker checks Google's token for the queue's audience", () => {
    const ra = named(c, 'RequestAuthentication', NAME);
    expect(ra.spec.jwtRules).toEqual([expect.objectContaining({ issuer: 'https://accounts.google.com', audiences: ['https://tasks.virtuoso.example.com'] })]);
  });

  test("only the queue's service account is admitted (Istio authorization model)", () => {
    const policies = ofKind(c, 'AuthorizationPolicy').map((obj) => ({ ref: obj.metadata.name, obj }));
    const workload = { namespace: 'virtuoso', labels: podLabels };
    const gateway = 'cluster.local/ns/istio-ingress/sa/istio-ingressgateway';
    const request = (claims?: Record<string, string>) => ({
      principal: gateway,
      sourceIp: '10.8.0.5',
      port: 8080,
      http: {
        method: 'POST',
        path: '/tasks/run',
        host: 'tasks.virtuoso.example.com',
        requestPrincipal: claims ? 'https://accounts.google.com/1170' : undefined,
        claims,
      },
    });
    expect(authorize(policies, workload, request({ email: queueAccount })).allowed).toBe(true);
    expect(authorize(policies, workload, request({ email: 'someone-else@other-project.iam.gserviceaccount.com' }))).toMatchObject({
      allowed: false,
      decision: 'deny',
    });
    expect(authorize(policies, workload, request({}))).toMatchObject({ allowed: false, decision: 'deny' });
    expect(authorize(policies, workload, request())).toMatchObject({ allowed: false, decision: 'deny' });
  });

  test("its NetworkPolicy admits the ingress gateway's pods on the port (NetworkPolicy model)", () => {
    const namespaces = new Map(ofKind(c, 'Namespace').map((n) => [n.metadata.name, n.metadata.labels]));
    namespaces.set('istio-ingress', {});
    const model = new NetworkPolicyModel(
      namespaces,
      ofKind(c, 'NetworkPolicy').map((obj) => ({ ref: obj.metadata.name, obj })),
    );
    const gateway = { pod: { namespace: 'istio-ingress', labels: { istio: 'ingressgateway' }, ip: '10.8.0.5' } };
    const worker = { pod: { namespace: 'virtuoso', labels: podLabels, ip: '10.8.1.7', ports: [{ containerPort: 8080 }] } };
    expect(model.connect(gateway, worker, 8080).ingress?.allowed).toBe(true);
  });

  test('it still scales from zero on the queue depth, and the queue retries for longer than a start from zero', () => {
    const so = named(c, 'ScaledObject', NAME);
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.triggers.map((t: { name: string }) => t.name)).toContain('cloud-tasks-depth');
    if (push.type !== 'cloud-tasks' || !push.push) throw new Error('test-executor: its queue does not push');
    const window = retryDelaysMs(push.push.retry).reduce((a, b) => a + b, 0);
    expect(window).toBeGreaterThan(coldStartMs(svc));
  });
});

describe('spec: a pushed queue holds the route, the load balancer and the retries to it', () => {
  const base = () => {
    const source = fs.readFileSync(path.join(ROOT, 'platforms/virtuoso.ts'), 'utf8');
    expect(source).toContain("type: 'cloud-tasks'");
    return loadAll(ROOT, { platform: 'virtuoso', env: 'prod' })[0].platform;
  };
  const problemsOf = (mutate: (p: Record<string, any>) => void) => {
    const platform = JSON.parse(JSON.stringify(base()));
    for (const svc of Object.values(platform.services) as Record<string, unknown>[]) svc.image = { repository: 'r.example/p/x', tag: '1' };
    for (const job of Object.values(platform.jobs) as Record<string, unknown>[]) job.image = { repository: 'r.example/p/x', tag: '1' };
    mutate(platform);
    try {
      loadAll(fixtureRepo(platform, {}, 'virtuoso'));
    } catch (e) {
      if (!(e instanceof ProblemError)) throw e;
      return e.problems.map((p) => `${p.path}: ${p.message}`);
    }
    return [];
  };

  test('the repository platform passes', () => {
    expect(problemsOf(() => undefined)).toEqual([]);
  });

  test('fails when the route timeout differs from the dispatch deadline', () => {
    expect(problemsOf((p) => (p.services[NAME].traffic.timeout = '30s'))).toEqual([
      'services.test-executor.traffic.timeout: must equal the queue\'s dispatch deadline (10m): a shorter route cuts tasks Cloud Tasks still waits for, a longer one works on tasks Cloud Tasks has already given up and will retry (got "30s")',
    ]);
  });

  test('fails when the gateway would retry a task', () => {
    expect(problemsOf((p) => delete p.services[NAME].traffic.retries)).toEqual([
      'services.test-executor.traffic.retries.attempts: must be 0: Cloud Tasks retries a failed task itself, so a retry at the gateway would run it twice (and its per-try timeout would cut it) (got 1)',
    ]);
  });

  test('fails when the retries give up before a pod can start from zero', () => {
    expect(
      problemsOf((p) => (p.services[NAME].autoscaling.triggers[0].push.retry = { minBackoff: '1s', maxBackoff: '5s', maxDoublings: 1, maxAttempts: 5 })),
    ).toEqual([
      'services.test-executor.autoscaling.triggers[0].push.retry: retries a task for 12s in all, less than a start from zero takes (95s: polling interval, startup probe, readiness): a task arriving at zero pods would fail; raise maxAttempts or the backoffs (got {"minBackoff":"1s","maxBackoff":"5s","maxDoublings":1,"maxAttempts":5})',
    ]);
  });

  test('fails when the load balancer would end a task first', () => {
    expect(problemsOf((p) => (p.ingress.backendTimeout = '5m'))).toEqual([
      'ingress.backendTimeout: must be at least the dispatch deadline of test-executor\'s queue (10m): the load balancer would end the task\'s request first (got "5m")',
    ]);
  });
});
