import { loadAll } from '../../model';
import { ROOT } from '../helpers';

/** The plan answers each question once; every stage reads these fields. */
describe('ClusterPlan', () => {
  const envs = loadAll(ROOT);
  const env = (platform: string, name: string) => envs.find((e) => e.platform.name === platform && e.env === name)!;

  test('the primary region and each cluster role, primary first', () => {
    const prod = env('ggen', 'prod');
    expect(prod.primaryRegion).toBe('us-central1');
    expect(prod.clusters.map((c) => [c.region, c.role, c.primaryRegion, c.multiRegion])).toEqual([
      ['us-central1', 'primary', 'us-central1', true],
      ['us-east1', 'secondary', 'us-central1', true],
      ['europe-west1', 'secondary', 'us-central1', true],
    ]);
    expect(env('bytspot', 'prod').clusters.map((c) => [c.role, c.multiRegion])).toEqual([['primary', false]]);
  });

  test('Redis groups: the master in the primary, secondaries replicate its cross-region host', () => {
    const [primary, secondary] = env('ggen', 'prod').clusters;
    expect(primary.redis.cache).toMatchObject({ role: 'primary', masterRegion: 'us-central1', upstreams: undefined });
    expect(secondary.redis.cache).toMatchObject({ role: 'secondary', masterRegion: 'us-central1' });
    expect(secondary.redis.cache.upstreams).toEqual([0, 1, 2].map((i) => `cache-us-central1-${i}.${secondary.redis.cache.namespace}.svc.cluster.local`));
  });

  test('services: autoscaled, traffic merged over the platform, split across regions', () => {
    const [primary] = env('ggen', 'prod').clusters;
    expect(primary.services.api.autoscaled).toBe(true);
    expect(primary.services.api.crossRegion).toBe(true);
    expect(primary.services.api.trafficPolicy.timeout).toBe('5s');
    const worker = primary.services['replication-worker'];
    expect(worker.crossRegion).toBe(false); // no ports: nothing to route
  });

  test('the preview environment is a template, decided once for the environment and its clusters', () => {
    const preview = env('pushnchat', 'preview');
    expect(preview.preview).toEqual({ templateNamespace: 'pushnchat-pr-template' });
    expect(preview.clusters.every((c) => c.preview?.templateNamespace === 'pushnchat-pr-template')).toBe(true);
    expect(env('pushnchat', 'prod').preview).toBeUndefined();
  });
});
