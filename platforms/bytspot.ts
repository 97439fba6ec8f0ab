/**
 * Bytspot (seed 000_94d9f99d0c9fa60e): the Atlanta beta, single region us-east1. An API
 * with WebSockets/SSE and a dashboard behind the global HTTPS load balancer with Cloud
 * Armor; Redis (cache, rate limits, sessions, locks) runs in the cluster as a Sentinel
 * group; Cloud SQL Postgres through the Auth Proxy; Firestore and Pub/Sub reached with
 * Workload Identity. Per-environment differences live in overlays/bytspot/<env>.yaml.
 */
import { definePlatform } from '../model';
import { gitops } from './_fleet';

export default definePlatform({
  name: 'bytspot',
  description: 'Bytspot: realtime API (WebSockets/SSE) and dashboard, us-east1 (seed 000)',
  project: 'bytspot-prod',
  environments: ['staging', 'prod'],
  regions: {
    'us-east1': { role: 'primary', zones: ['us-east1-b', 'us-east1-c', 'us-east1-d'] },
  },
  namespaces: { bytspot: {} },
  routing: {
    traffic: {
      timeout: '10s',
      retries: { attempts: 2, perTryTimeout: '3s' },
    },
  },
  services: {
    'bytspot-api': {
      namespace: 'bytspot',
      image: { repository: 'us-east1-docker.pkg.dev/bytspot-prod/apps/bytspot-api' },
      // WebSockets and SSE: long-lived connections, so no request timeout on this route.
      ports: [{ name: 'http', port: 8080, protocol: 'websocket' }],
      resources: { cpu: '500m', memory: '512Mi' },
      probes: {
        readiness: { path: '/healthz/ready', period: '5s' },
        liveness: { path: '/healthz/live', period: '20s' },
        startup: { path: '/healthz/live', period: '5s', failureThreshold: 24 },
      },
      env: {
        DATABASE_HOST: '127.0.0.1',
        DATABASE_PORT: '5432',
        PUBSUB_TOPIC: 'bytspot-events',
        FIRESTORE_DATABASE: '(default)',
      },
      secrets: {
        DATABASE_PASSWORD: { secret: 'bytspot-db-password' },
      },
      cloudSql: { instance: 'bytspot-prod:us-east1:bytspot-pg' },
      // Streams are counted open, not at their close: at most 1000 WebSockets per replica (the seed names no figure).
      autoscaling: { min: 2, max: 12, cpuUtilization: 65, requestsPerSecond: 300, connectionsPerReplica: 1000 },
      dependsOn: ['redis:cache', 'redis:state'],
      expose: { hosts: ['api.bytspot.example.com'], paths: ['/'] },
      metrics: { port: 'http', path: '/metrics' },
      slo: { availability: 99.9, latency: { p95: '500ms' } },
      // Cloud SQL (Auth Proxy: the Admin API, then the instance's private IP on 3307),
      // Firestore and Pub/Sub through the Google APIs.
      egress: [
        { host: 'sqladmin.googleapis.com', port: 443 },
        { cidr: '10.20.0.0/24', port: 3307, protocol: 'tcp' },
        { host: 'firestore.googleapis.com', port: 443 },
        { host: 'pubsub.googleapis.com', port: 443 },
      ],
    },
    'bytspot-dashboard': {
      namespace: 'bytspot',
      image: { repository: 'us-east1-docker.pkg.dev/bytspot-prod/apps/bytspot-dashboard' },
      ports: [{ name: 'http', port: 3000, protocol: 'http' }],
      resources: { cpu: '250m', memory: '384Mi' },
      probes: {
        readiness: { path: '/api/health' },
        liveness: { period: '30s' },
      },
      env: { FIRESTORE_DATABASE: '(default)', API_URL: 'http://bytspot-api.bytspot.svc.cluster.local:8080' },
      autoscaling: { min: 2, max: 6, cpuUtilization: 70 },
      dependsOn: ['bytspot-api'],
      expose: { hosts: ['dashboard.bytspot.example.com'], paths: ['/'] },
      egress: [{ host: 'firestore.googleapis.com', port: 443 }],
    },
  },
  // Seed: Redis for "ephemeral cache, rate limits, sessions, and lock primitives". No one
  // eviction policy serves both: a cache must evict when full (allkeys-lru), while sessions,
  // locks and rate-limit counters all carry a TTL and must never be evicted (volatile-lru
  // would evict exactly them). So two groups: the cache evicts, the state refuses writes when
  // full (noeviction) and alerts (RedisWritesRejected, RedisMemoryNearFull).
  redis: {
    cache: {
      namespace: 'bytspot',
      memory: '1Gi',
      holds: ['cache'],
      passwordSecret: 'bytspot-redis-password',
    },
    state: {
      namespace: 'bytspot',
      memory: '512Mi',
      storage: '5Gi',
      holds: ['sessions', 'locks', 'rate-limits'],
      passwordSecret: 'bytspot-redis-state-password',
    },
  },
  ingress: {
    // One host per service: Istio merges the VirtualServices of one host in creation order,
    // so a catch-all path and a prefix of another service cannot share a host safely.
    hosts: ['api.bytspot.example.com', 'dashboard.bytspot.example.com'],
    tlsCredential: 'bytspot-tls',
    // Seed: Cloud Armor (WAF, IP allow/deny) on the global HTTPS load balancer.
    securityPolicy: 'bytspot-edge',
  },
  gitops,
});
