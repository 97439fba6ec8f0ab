/**
 * A synthetic platform for the benchmark: N services in 6 regions × 3 environments, made in
 * memory as a platform file would be written, so it goes through the same spec parsing,
 * charts and validation as the repository's platforms. The services cycle through the
 * shapes real platforms have (HTTP API autoscaled on CPU and request rate with secrets and a
 * cross-region split, queue worker, gRPC backend, WebSocket gateway), one namespace per 10
 * services and a Redis Sentinel group per 25.
 */
import type { PlatformInput } from '../model/schema';

export const FLEET_REGIONS: Record<string, { zones: string[]; weight: number }> = {
  'us-central1': { zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'], weight: 30 },
  'us-east1': { zones: ['us-east1-b', 'us-east1-c', 'us-east1-d'], weight: 20 },
  'us-west1': { zones: ['us-west1-a', 'us-west1-b', 'us-west1-c'], weight: 15 },
  'europe-west1': { zones: ['europe-west1-b', 'europe-west1-c', 'europe-west1-d'], weight: 15 },
  'europe-west4': { zones: ['europe-west4-a', 'europe-west4-b', 'europe-west4-c'], weight: 10 },
  'asia-east1': { zones: ['asia-east1-a', 'asia-east1-b', 'asia-east1-c'], weight: 10 },
};

export const FLEET_ENVIRONMENTS = ['dev', 'staging', 'prod'];

const pad = (n: number) => String(n).padStart(3, '0');

/** The platform `name` with `services` services; deterministic for a given size. */
export function syntheticPlatform(services: number, name = 'fleet'): PlatformInput {
  const namespaceOf = (i: number) => `team-${pad(Math.floor(i / 10))}`;
  const redisOf = (i: number) => `cache-${pad(Math.floor(i / 25))}`;
  const namespaces: PlatformInput['namespaces'] = {};
  const redis: NonNullable<PlatformInput['redis']> = {};
  const svcs: NonNullable<PlatformInput['services']> = {};

  for (let i = 0; i < services; i++) {
    const ns = namespaceOf(i);
    namespaces[ns] = { labels: { 'meridian.dev/team': ns } };
    if (i % 25 === 0) redis[redisOf(i)] = { namespace: ns, memory: '1Gi', storage: '10Gi', passwordSecret: `${redisOf(i)}-password` };
    const image = { repository: `us-docker.pkg.dev/fleet/apps/svc-${pad(i)}`, tag: `1.${i % 7}.${i % 13}` };
    const name = `svc-${pad(i)}`;
    switch (i % 4) {
      case 0: // HTTP API, like ggen's api
        svcs[name] = {
          namespace: ns,
          image,
          ports: [{ name: 'http', port: 8080, protocol: 'http' }],
          resources: { cpu: '500m', memory: '512Mi' },
          probes: {
            readiness: { path: '/health', period: '10s', failureThreshold: 2 },
            liveness: { period: '30s' },
          },
          env: { LOG_LEVEL: 'info' },
          secrets: { DB_PASSWORD: { secret: `${name}-db-password` }, API_KEY: { secret: `${name}-api-key` } },
          autoscaling: { min: 2, max: 20, cpuUtilization: 70, requestsPerSecond: 500 },
          dependsOn: [`redis:${redisOf(i)}`],
          traffic: { splitByRegion: true },
          expose: { hosts: [`${name}.fleet.example.com`], paths: ['/'] },
        };
        break;
      case 1: // queue worker: no ports
        svcs[name] = {
          namespace: ns,
          image,
          resources: { cpu: '250m', memory: '256Mi' },
          env: { QUEUE: `${name}-jobs` },
          replicas: 2,
        };
        break;
      case 2: // gRPC backend, CPU-scaled
        svcs[name] = {
          namespace: ns,
          image,
          ports: [{ name: 'grpc', port: 9090, protocol: 'grpc' }],
          probes: { readiness: { period: '5s' } },
          secrets: { TOKEN: { secret: `${name}-token` } },
          autoscaling: { min: 1, max: 10, cpuUtilization: 60 },
          dependsOn: [`svc-${pad(i - 2)}`],
        };
        break;
      default: // WebSocket gateway
        svcs[name] = {
          namespace: ns,
          image,
          ports: [
            { name: 'ws', port: 8081, protocol: 'websocket' },
            { name: 'metrics', port: 9100, protocol: 'http' },
          ],
          probes: { readiness: { path: '/ready', port: 'metrics' } },
          replicas: 3,
        };
    }
  }

  return {
    name,
    description: `synthetic fleet of ${services} services for the benchmark`,
    project: 'fleet-bench-prod',
    environments: FLEET_ENVIRONMENTS,
    regions: Object.fromEntries(Object.entries(FLEET_REGIONS).map(([r, { zones }], i) => [r, { role: i === 0 ? 'primary' : 'secondary', zones }])),
    namespaces,
    routing: {
      weights: Object.fromEntries(Object.entries(FLEET_REGIONS).map(([r, { weight }]) => [r, weight])),
      traffic: {
        timeout: '5s',
        retries: { attempts: 3, perTryTimeout: '1s' },
        outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s' },
      },
    },
    services: svcs,
    redis,
    ingress: {
      hosts: Object.keys(svcs)
        .filter((n) => svcs[n].expose)
        .map((n) => `${n}.fleet.example.com`),
      tlsCredential: 'fleet-tls',
    },
    gitops: { repoURL: 'https://github.com/meridian-platform/fleet.git', path: 'dist' },
  };
}
