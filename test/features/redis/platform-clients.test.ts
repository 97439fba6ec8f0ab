/**
 * The secondary-region clients of the real platforms (issue 15, "Done when"): ggen's and
 * PushNchat's prod Redis groups run from the committed dist/ (the YAML ArgoCD syncs, not a
 * fresh render) with real redis-server and redis-sentinel, in every region of the platform;
 * each workload that depends on the group, in each region, gets an ioredis client built only
 * from its rendered REDIS_* environment. The primary region's clients write (each write
 * acknowledged by WAIT 1); every secondary region's clients read those writes from their own
 * region, and cannot write there.
 *
 * The groups run as rendered for prod, Sentinel timings included (down-after 5 s, failover
 * timeout 60 s): nothing here fails over, so nothing is shortened. One platform at a time
 * (9 pods), so that a shared 2-core machine keeps up with the pods' probes.
 *
 * Before the client contract (commit 66e4c83b), the secondary regions' workloads got
 * REDIS_SENTINELS and REDIS_MASTER_SET of their own region's sentinels, which monitor nothing:
 * the contract test below fails on that output (no REDIS_ROLE, no REDIS_READ_HOST), and so does
 * the clients test (the Sentinel client of a secondary region never finds a master: the
 * sentinels answer nil to get-master-addr-by-name, which the contract test also checks).
 */
import Redis from 'ioredis';
import { distClusters, DistCluster } from '../../seeds/dist';
import { appClient, command, describeRedis, Harness, RedisGroup, renderedFromDist, SENTINEL, waitFor, workloadRedisEnv } from './harness';

// Real processes on a shared 2-core machine: a step that misses its bound because the machine
// stalled is run again, with its first failure printed. A real regression fails every attempt.
jest.retryTimes(2, { logErrorsBeforeRetry: true });

const ENV = 'prod';
const GROUP = 'cache';
/** The secondary regions the issue names, with the workloads that have `dependsOn: ['redis:cache']` there. */
const SECONDARIES: Record<string, Record<string, string[]>> = {
  ggen: { 'us-east1': ['api', 'replication-worker'], 'europe-west1': ['api', 'replication-worker'] },
  pushnchat: { 'europe-west6': ['listing', 'messaging', 'user'], 'me-west1': ['listing', 'messaging', 'user'] },
};
/** Writes per primary-region workload. */
const WRITES = 20;

interface Workload {
  readonly region: string;
  readonly role: 'primary' | 'secondary';
  /** `<Kind>/<name>`, and `/<container>` when the pod has more than one container with REDIS_*. */
  readonly name: string;
  readonly workload: string;
  readonly env: Record<string, string>;
}

/** Every Deployment/Job/CronJob of the cluster's dist/ folder with REDIS_* variables. */
function workloadsOf(cluster: DistCluster): Workload[] {
  return cluster.objects.flatMap(({ obj }) => {
    const containers = workloadRedisEnv(obj);
    return containers.map((c) => ({
      region: cluster.region,
      role: cluster.spec.role,
      name: `${obj.kind}/${obj.metadata.name}${containers.length > 1 ? `/${c.container}` : ''}`,
      workload: obj.metadata.name,
      env: c.env,
    }));
  });
}

function platformScenario(platform: string): void {
  const clusters = distClusters(platform).filter((c) => c.env === ENV);
  const workloads = clusters.flatMap(workloadsOf);
  const primaryRegion = clusters.find((c) => c.spec.role === 'primary')!.region;

  describeRedis(`${platform} (${ENV}): every region's clients from the committed dist/ (real redis-server and redis-sentinel)`, () => {
    // One platform at a time: the two scenarios of this file never overlap, so they share the slot.
    const h = new Harness(14);
    const groups = new Map<string, RedisGroup>();
    const clients: Redis[] = [];

    beforeAll(async () => {
      for (const c of clusters) {
        const g = h.group(
          renderedFromDist(
            c.region,
            c.spec.role,
            c.objects.map((o) => o.obj),
            GROUP,
          ),
        );
        groups.set(c.region, g);
        // The region's redis Services (routed to from every cluster by the mesh) and the
        // cluster-local Sentinel Service, as rendered.
        await h.regionServices(g);
        for (const svc of g.renderedObjects.filter((o) => o.kind === 'Service' && o.spec.clusterIP !== 'None')) {
          if ((svc.spec.ports as { port: number }[]).some((p) => p.port === SENTINEL))
            await h.proxy(`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`, g, SENTINEL, svc.spec.publishNotReadyAddresses === true);
        }
      }
      // Every region at once: a secondary's first pod retries until the primary answers.
      const t0 = performance.now();
      await Promise.all([...groups.values()].map((g) => g.bootstrap()));
      // eslint-disable-next-line no-console
      console.log(`platform-clients ${platform}: ${groups.size} regions (${groups.size * 3} pods) ready after ${Math.round(performance.now() - t0)} ms`);
    }, 150_000);

    afterAll(async () => {
      for (const c of clients) c.disconnect();
      await h.cleanup();
    }, 30_000);

    test('every workload that depends on the group gets its region role’s contract; a secondary one reads its own region', async () => {
      // Every secondary region the issue names is in prod, with that role.
      expect(
        clusters
          .filter((c) => c.spec.role === 'secondary')
          .map((c) => c.region)
          .sort(),
      ).toEqual(Object.keys(SECONDARIES[platform]).sort());
      for (const c of clusters) {
        // The spec's dependents of the group in this region are exactly the rendered workloads with REDIS_*.
        const dependents = [...Object.entries(c.spec.services), ...Object.entries(c.spec.jobs)]
          .filter(([, s]) => (s.dependsOn as readonly string[]).includes(`redis:${GROUP}`))
          .map(([n]) => n)
          .sort();
        const rendered = [...new Set(workloads.filter((w) => w.region === c.region).map((w) => w.workload))].sort();
        expect({ region: c.region, workloads: rendered }).toEqual({ region: c.region, workloads: dependents });
        if (c.spec.role === 'secondary') expect(dependents).toEqual(SECONDARIES[platform][c.region]);
      }

      for (const w of workloads) {
        const g = groups.get(w.region)!;
        const ns = g.namespace;
        const secret = `secret:${g.passwordSecretName()}/password`;
        const id = `${platform}/${w.region}/${w.name}`;
        if (w.role === 'primary') {
          expect({ id, env: w.env }).toEqual({
            id,
            env: {
              REDIS_ROLE: 'primary',
              REDIS_SENTINELS: `${GROUP}.${ns}.svc.cluster.local:26379`,
              REDIS_MASTER_SET: g.env('sentinel').MASTER_SET,
              REDIS_PASSWORD: secret,
            },
          });
        } else {
          // The old output gave these REDIS_SENTINELS + REDIS_MASTER_SET: this fails on it.
          expect({ id, env: w.env }).toEqual({
            id,
            env: { REDIS_ROLE: 'secondary', REDIS_READ_HOST: `${GROUP}-${w.region}.${ns}.svc.cluster.local`, REDIS_READ_PORT: '6379', REDIS_PASSWORD: secret },
          });
          // The read host is a Service of this region's cluster whose selector picks the group's pods.
          const svc = g.renderedObjects.find(
            (o) => o.kind === 'Service' && `${o.metadata.name}.${o.metadata.namespace}.svc.cluster.local` === w.env.REDIS_READ_HOST,
          );
          expect(svc).toBeDefined();
          const sts = g.renderedObjects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === GROUP)!;
          expect(sts.spec.template.metadata.labels).toEqual(expect.objectContaining(svc!.spec.selector));
        }
      }

      // Why a secondary gets no Sentinel address: its sentinels, as rendered, know no master.
      for (const g of groups.values()) {
        if (g.role !== 'secondary') continue;
        const sentinel = { host: g.resolve(`${GROUP}.${g.namespace}.svc.cluster.local`)!, port: SENTINEL };
        const answer = await waitFor(`${g.region}'s Sentinel Service to answer`, 10_000, async () => ({
          addr: await command(sentinel, h.password, 'SENTINEL', 'get-master-addr-by-name', g.env('sentinel').MASTER_SET),
        }));
        expect(answer.addr).toBeNull();
      }
    }, 30_000);

    test("the primary region's clients write (WAIT 1); every secondary region's clients read those writes there", async () => {
      const t0 = performance.now();
      const built = workloads.map((w) => ({ w, ...appClient(groups.get(w.region)!, w.env) }));
      clients.push(...built.map((b) => b.client));
      for (const b of built) {
        // The client retries on its own (every 100 ms): wait until it is connected. (A Sentinel
        // client in a secondary region, as the old output configured it, never is.)
        b.client.connect().catch(() => undefined);
      }
      for (const b of built)
        await waitFor(`${b.w.region}/${b.w.name}'s client to connect`, 30_000, async () => (b.client.status === 'ready' ? true : undefined));
      const connected = performance.now() - t0;
      // A Sentinel client where the contract gives sentinels (the primary region), a read client elsewhere.
      expect(built.map((b) => `${b.w.region} ${b.w.name} ${b.writes ? 'sentinel' : 'read'}`)).toEqual(
        workloads.map((w) => `${w.region} ${w.name} ${w.role === 'primary' ? 'sentinel' : 'read'}`),
      );

      // Each primary-region workload writes its own keys, each acknowledged by a replica.
      const keys: string[] = [];
      for (const b of built.filter((x) => x.writes)) {
        for (let n = 0; n < WRITES; n++) {
          const key = `${b.w.name}:${n}`;
          await b.client.set(key, `v${n}`);
          expect(Number(await b.client.call('WAIT', '1', '1000'))).toBeGreaterThanOrEqual(1);
          keys.push(key);
        }
      }
      expect(keys.length).toBe(WRITES * workloads.filter((w) => w.role === 'primary').length);
      expect(keys.length).toBeGreaterThan(0);

      // Each secondary-region workload reads every one of them through its region's Service,
      // and cannot write there.
      const readers = built.filter((x) => !x.writes);
      const expected = keys.map((k) => `v${k.split(':').pop()}`);
      const readAfter: string[] = [];
      const t1 = performance.now();
      for (const b of readers) {
        await waitFor(
          `${b.w.region}/${b.w.name} to read ${keys.length} keys`,
          20_000,
          async () => ((await b.client.mget(...keys)).every((v, i) => v === expected[i]) ? true : undefined),
          () => groups.get(b.w.region)!.describe(),
        );
        readAfter.push(`${b.w.region}/${b.w.workload} ${Math.round(performance.now() - t1)} ms`);
        await expect(b.client.set(`${b.w.name}:write`, 'x')).rejects.toThrow(/READONLY/);
      }
      // Every secondary-region workload the issue names was one of them.
      expect(new Set(readers.map((b) => `${b.w.region}/${b.w.workload}`))).toEqual(
        new Set(Object.entries(SECONDARIES[platform]).flatMap(([region, names]) => names.map((n) => `${region}/${n}`))),
      );
      expect(groups.get(primaryRegion)!.role).toBe('primary');
      // eslint-disable-next-line no-console
      console.log(
        `platform-clients ${platform}: ${built.length} clients connected after ${Math.round(connected)} ms; ` +
          `${keys.length} writes acknowledged in ${primaryRegion}; read in the secondary regions after ${readAfter.join(', ')}`,
      );
    }, 90_000);
  });
}

platformScenario('ggen');
platformScenario('pushnchat');
