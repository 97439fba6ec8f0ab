/**
 * `meridian status` against the fake API servers of test/cluster/fake-api.ts, through the real
 * @kubernetes/client-node over HTTPS, with ggen and PushNchat prod as dist/ renders them.
 */
import * as path from 'node:path';
import { fleetTargets } from '../../cluster/fleet';
import { sentinelReport } from '../../cluster/status';
import { main } from '../../cli/main';
import { ROOT, readmeExample } from '../helpers';
import { startFakeFleet, type FakeCluster, type FakeFleet } from './fake-api';
import { find, healthyFleet } from './fleet-fixture';

const ggen = fleetTargets(ROOT, path.join(ROOT, 'dist'), { platform: 'ggen', env: 'prod' });
const pushnchat = fleetTargets(ROOT, path.join(ROOT, 'dist'), { platform: 'pushnchat', env: 'prod' });

// Each case starts the fleet's API servers and reads every region through them.
jest.setTimeout(60_000);

let fleet: FakeFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

export async function run(clusters: Record<string, FakeCluster>, args: string[], unreachable: string[] = [], timeout = '5') {
  fleet = await startFakeFleet(clusters, unreachable);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--kubeconfig', fleet.kubeconfig, '--timeout', timeout], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const host = (pod: string, region: string) => `${pod}.cache-${region}-headless.marketplace.svc.cluster.local`;

/** The lines a sentinel logs through a failover of master cache-0 to cache-1 (events of redis src/sentinel.c). */
function failoverLines(region: string, finished: boolean): string {
  const [from, to] = [host('cache-0', region), host('cache-1', region)];
  const lines = [
    `1:X 05 Dec 2026 08:31:09.870 # +sdown master master ${from} 6379`,
    `1:X 05 Dec 2026 08:31:09.951 # +odown master master ${from} 6379 #quorum 2/2`,
    `1:X 05 Dec 2026 08:31:09.951 # +new-epoch 1`,
    `1:X 05 Dec 2026 08:31:09.951 # +try-failover master master ${from} 6379`,
    `1:X 05 Dec 2026 08:31:09.960 # +vote-for-leader 7d0f3b4c2a1e9f8d6c5b4a3928171615 1`,
    `1:X 05 Dec 2026 08:31:10.012 # +elected-leader master master ${from} 6379`,
    `1:X 05 Dec 2026 08:31:10.012 # +failover-state-select-slave master master ${from} 6379`,
  ];
  if (finished)
    lines.push(
      `1:X 05 Dec 2026 08:31:10.090 # +selected-slave slave ${to}:6379 ${to} 6379 @ master ${from} 6379`,
      `1:X 05 Dec 2026 08:31:11.102 # +failover-end master master ${from} 6379`,
      `1:X 05 Dec 2026 08:31:11.102 # +switch-master master ${from} 6379 ${to} 6379`,
    );
  return lines.join('\n') + '\n';
}

/** ggen's primary region (us-central1) in a failover: cache-0 went down OOMKilled; `finished`: cache-1 is master now. */
function midFailover(finished: boolean): Record<string, FakeCluster> {
  const clusters = healthyFleet(ggen);
  const c = clusters['ggen-prod-us-central1'];
  for (const pod of ['cache-0', 'cache-1', 'cache-2']) c.logs![`marketplace/${pod}/sentinel`] += failoverLines('us-central1', finished);
  const pod = find(c, 'Pod', 'cache-0');
  pod.status.containerStatuses[0] = {
    ...pod.status.containerStatuses[0],
    ready: false,
    restartCount: 4,
    state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container=redis pod=cache-0' } },
    lastState: { terminated: { reason: 'OOMKilled', exitCode: 137, startedAt: '2026-12-05T08:29:00Z', finishedAt: '2026-12-05T08:31:08Z' } },
  };
  find(c, 'StatefulSet', 'cache').status.readyReplicas = 2;
  return clusters;
}

describe('meridian status', () => {
  it('reports a healthy ggen prod fleet, exit 0', async () => {
    const r = await run(healthyFleet(ggen), ['status', 'ggen', 'prod']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ggen/prod us-central1 (primary, context ggen-prod-us-central1): HEALTHY');
    expect(r.out).toContain('  application  ggen-prod-us-central1: Synced, Healthy at 4f1d2c3b5a69');
    expect(r.out).toMatch(/ {2}Deployment marketplace\/api +2\/2 ready +api:2\.14\.0\n/);
    expect(r.out).toMatch(/ {2}ScaledObject marketplace\/api +2 of max 20 +Ready=True Active=True Fallback=False\n/);
    expect(r.out).toContain('  Redis marketplace/cache: master cache-0 (3 of 3 sentinels say so); spec: master in us-central1');
    expect(r.out).toContain('  Redis marketplace/cache: replicates cache-us-central1-1.marketplace.svc.cluster.local; spec: master in us-central1');
    expect(r.out.split('\n').pop()).toBe('status: 3 regions: 3 healthy, 0 degraded, 0 did not answer');
  });

  it('reports a region mid-failover: the master moved (spec unchanged) and the old master crash-looping, exit 1', async () => {
    const r = await run(midFailover(true), ['status', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('ggen/prod us-central1 (primary, context ggen-prod-us-central1): DEGRADED');
    expect(r.out).toContain(
      '  Redis marketplace/cache: master cache-1, moved from cache-0 by a failover (3 of 3 sentinels say so); spec: master in us-central1',
    );
    expect(r.out).toContain('  failing pod  marketplace/cache-0 redis: CrashLoopBackOff, 4 restarts, last terminated OOMKilled (exit 137)');
    expect(r.out).toContain('  ! StatefulSet marketplace/cache: 2 of 3 replicas ready');
    expect(r.out).toContain('ggen/prod us-east1 (secondary, context ggen-prod-us-east1): HEALTHY');
  });

  it('reports a failover still in progress', async () => {
    const r = await run(midFailover(false), ['status', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('  Redis marketplace/cache: master cache-0 (3 of 3 sentinels say so); spec: master in us-central1; FAILOVER IN PROGRESS');
    expect(r.out).toContain('  ! Redis cache: a failover is in progress');
  });

  it('reports an Application OutOfSync and the objects ArgoCD finds out of sync', async () => {
    const clusters = healthyFleet(ggen);
    const app = find(clusters.argocd, 'Application', 'ggen-prod-us-east1');
    app.status.sync.status = 'OutOfSync';
    app.status.resources.push({
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
      namespace: 'marketplace',
      name: 'api',
      status: 'OutOfSync',
      health: { status: 'Healthy' },
    });
    const r = await run(clusters, ['status', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('  application  ggen-prod-us-east1: OutOfSync, Healthy at 4f1d2c3b5a69; out of sync: Deployment marketplace/api');
    expect(r.out).toContain('  ! Application ggen-prod-us-east1 is OutOfSync, Healthy');
  });

  it('reports KEDA in fallback at its ceiling', async () => {
    const clusters = healthyFleet(ggen);
    const c = clusters['ggen-prod-europe-west1'];
    const so = find(c, 'ScaledObject', 'api');
    so.status.health['s1-prometheus'] = { numberOfFailures: 6, status: 'Failing' };
    so.status.conditions = [
      { type: 'Ready', status: 'True', reason: 'ScaledObjectReady', message: 'ScaledObject is defined correctly and is ready for scaling' },
      { type: 'Active', status: 'False', reason: 'ScalerNotActive', message: 'Scaling is not performed because triggers are not active' },
      { type: 'Fallback', status: 'True', reason: 'FallbackExists', message: 'At least one trigger is falling back on this scaled object' },
    ];
    find(c, 'Deployment', 'api').status.replicas = 10;
    const r = await run(clusters, ['status', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ {2}ScaledObject marketplace\/api +10 of max 10 \(at max\) +Ready=True Active=False Fallback=True\n/);
    expect(r.out).toContain('  ! ScaledObject marketplace/api is in fallback: its triggers fail and KEDA holds the fallback replica count');
  });

  it('reports an image that is not the one dist/ renders', async () => {
    const clusters = healthyFleet(ggen);
    const d = find(clusters['ggen-prod-us-east1'], 'Deployment', 'api');
    const image: string = d.spec.template.spec.containers[0].image;
    d.spec.template.spec.containers[0].image = `${image}-hotfix`;
    const r = await run(clusters, ['status', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ {2}Deployment marketplace\/api +2\/2 ready +api:2\.14\.0-hotfix \(dist\/: api:2\.14\.0\)\n/);
    expect(r.out).toContain(`  ! Deployment marketplace/api: container api runs ${image}-hotfix, dist/ has ${image}`);
  });

  it('prints JSON for scripts', async () => {
    const r = await run(midFailover(true), ['status', 'ggen', 'prod', '--output', 'json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out);
    expect(json.exitCode).toBe(1);
    expect(json.regions.map((x: { region: string; health: string }) => `${x.region} ${x.health}`)).toEqual([
      'us-central1 degraded',
      'us-east1 healthy',
      'europe-west1 healthy',
    ]);
    expect(json.regions[0].redis[0]).toMatchObject({
      name: 'cache',
      role: 'primary',
      master: host('cache-1', 'us-central1'),
      previousMaster: host('cache-0', 'us-central1'),
      agreeing: 3,
      pods: 3,
    });
    expect(json.regions[0].failingPods).toEqual([
      { namespace: 'marketplace', pod: 'cache-0', container: 'redis', state: 'CrashLoopBackOff', restarts: 4, lastTermination: 'OOMKilled (exit 137)' },
    ]);
  });

  it('fails when a region refuses the credentials (401), another refuses the pod log (403), naming context and request; exit 2, the rest reported', async () => {
    const clusters = healthyFleet(ggen);
    clusters['ggen-prod-us-east1'].kubeconfigToken = 'expired';
    clusters['ggen-prod-europe-west1'].forbidden = ['get pods/log'];
    const r = await run(clusters, ['status', 'ggen', 'prod']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('ggen/prod us-central1 (primary, context ggen-prod-us-central1): HEALTHY');
    expect(r.out).toMatch(
      /cluster {6}did not answer: context ggen-prod-us-east1: 401 Unauthorized: the server did not accept the credentials of the context \((get|list) .+?\) \(server: Unauthorized\)\n/,
    );
    expect(r.out).toContain(
      'cluster      did not answer: context ggen-prod-europe-west1: 403 Forbidden: get the log of marketplace/cache-0 container redis (pods/log) was refused (server: pods "cache-0" is forbidden: User "meridian-reader" cannot get resource "pods/log" in API group "" in the namespace "marketplace")',
    );
    expect(r.out).toContain('partial: no answer from ggen/prod/us-east1, ggen/prod/europe-west1');
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  it('fails when a region does not answer in time, or cannot be reached, or has no context; the others are reported', async () => {
    const clusters = healthyFleet(ggen);
    clusters['ggen-prod-us-east1'].hang = true;
    delete clusters['ggen-prod-us-central1'];
    delete clusters['ggen-prod-europe-west1'];
    const r = await run(clusters, ['status', 'ggen', 'prod'], ['ggen-prod-europe-west1'], '0.5');
    expect(r.code).toBe(2);
    expect(r.out).toContain(
      "cluster      did not answer: context ggen-prod-us-central1: no such context in the kubeconfig (contexts: argocd, ggen-prod-us-east1, ggen-prod-europe-west1); add it, or name another with the spec's regions.<region>.cluster",
    );
    expect(r.out).toMatch(/cluster {6}did not answer: context ggen-prod-us-east1: no answer within 0\.5s \((get|list) .+\)\n/);
    expect(r.out).toMatch(/cluster {6}did not answer: context ggen-prod-europe-west1: the server cannot be reached \(ECONNREFUSED\)/);
    expect(r.out).toContain('  application  ggen-prod-us-east1: Synced, Healthy at 4f1d2c3b5a69');
    expect(r.out).toContain('status: 3 regions: 0 healthy, 0 degraded, 3 did not answer');
  });

  it('fails when the ArgoCD cluster cannot be reached: the regions are still read, exit 2', async () => {
    const clusters = healthyFleet(ggen);
    delete clusters.argocd;
    const r = await run(clusters, ['status', 'ggen', 'prod', '--argocd-context', 'argocd-prod'], ['argocd-prod']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/application {2}unknown: context argocd-prod: the server cannot be reached \(ECONNREFUSED\)/);
    expect(r.out).toContain('  Redis marketplace/cache: master cache-0 (3 of 3 sentinels say so); spec: master in us-central1');
  });

  it('fails on a bad --timeout or --output, exit 2', async () => {
    expect(await run(healthyFleet(ggen), ['status', 'ggen', 'prod', '--output', 'yaml'])).toMatchObject({
      code: 2,
      err: '--output: must be table or json (got "yaml")',
    });
  });

  it('reports PushNchat prod healthy, and one of its ScaledObjects in fallback', async () => {
    const healthy = await run(healthyFleet(pushnchat), ['status', 'pushnchat', 'prod']);
    expect(healthy.err).toBe('');
    expect(healthy.code).toBe(0);
    expect(healthy.out.split('\n').pop()).toBe(`status: ${pushnchat.length} regions: ${pushnchat.length} healthy, 0 degraded, 0 did not answer`);
    await fleet?.close();

    const clusters = healthyFleet(pushnchat);
    const t = pushnchat[1];
    const so = clusters[t.context].objects.find((o) => o.kind === 'ScaledObject')!;
    so.status.conditions[2] = {
      type: 'Fallback',
      status: 'True',
      reason: 'FallbackExists',
      message: 'At least one trigger is falling back on this scaled object',
    };
    const r = await run(clusters, ['status', 'pushnchat', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`  ! ScaledObject ${so.metadata.namespace}/${so.metadata.name} is in fallback`);
  });
});

describe("the README's example", () => {
  it('is what status prints for ggen prod mid-failover', async () => {
    const r = await run(midFailover(true), ['status', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toBe(readmeExample('meridian status ggen prod'));
  });
});

describe('sentinelReport', () => {
  it('takes the latest +switch-master over the start line, and a +try-failover after it as a failover in progress', () => {
    const start = `meridian-redis cache-0: sentinel monitors ${host('cache-0', 'r')} (quorum 2)\n`;
    expect(sentinelReport(start)).toEqual({ master: host('cache-0', 'r'), previous: undefined, failoverInProgress: false });
    expect(sentinelReport(start + failoverLines('r', true))).toEqual({
      master: host('cache-1', 'r'),
      previous: host('cache-0', 'r'),
      failoverInProgress: false,
    });
    expect(sentinelReport(start + failoverLines('r', false))).toEqual({ master: host('cache-0', 'r'), previous: undefined, failoverInProgress: true });
    expect(sentinelReport('')).toEqual({ master: undefined, previous: undefined, failoverInProgress: false });
  });
});
