/**
 * Virtuoso API (seed 001_fa19faf590446cba): a REST API with a CLI executor and sessions,
 * workers draining the test-execution queue (Cloud Tasks), the analytics, auth-validator
 * and webhook handlers (Cloud Functions in the seed) as services, and the cleanup jobs as
 * CronJobs. One region; the seed's multi-region deployment is optional and left out.
 * Firestore, Cloud Tasks, Pub/Sub and Cloud Storage stay managed (Workload Identity).
 */
import { definePlatform } from '../model';
import { gitops } from './_fleet';

const image = (name: string) => ({ repository: `us-docker.pkg.dev/virtuoso-api/images/${name}` });

export default definePlatform({
  name: 'virtuoso',
  description: 'Virtuoso API: REST API, queue workers, handlers and cleanup jobs (seed 001)',
  project: 'virtuoso-api-prod',
  environments: ['staging', 'prod'],
  regions: {
    'us-central1': { role: 'primary', zones: ['us-central1-a', 'us-central1-b', 'us-central1-f'] },
  },
  namespaces: { virtuoso: {} },
  routing: {
    // SLO p95 < 500 ms: one retry at most within a 2 s budget.
    traffic: { timeout: '2s', retries: { attempts: 1, perTryTimeout: '1s' } },
  },
  services: {
    api: {
      namespace: 'virtuoso',
      image: image('api'),
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      resources: { cpu: '1', memory: '1Gi' },
      probes: {
        readiness: { path: '/health/ready', period: '5s' },
        liveness: { path: '/health/live', period: '20s' },
        startup: { path: '/health/live', period: '5s', failureThreshold: 24 },
      },
      env: { TASKS_QUEUE: 'test-execution', FIRESTORE_DATABASE: '(default)' },
      secrets: { OAUTH_CLIENT_SECRET: { secret: 'virtuoso-oauth-client-secret' }, ENCRYPTION_KEY: { secret: 'virtuoso-encryption-key' } },
      // Seed: 1000 RPS per instance is the ceiling; scale well before it.
      autoscaling: { min: 2, max: 30, cpuUtilization: 70, requestsPerSecond: 600 },
      dependsOn: ['auth-validator', 'analytics'],
      expose: { hosts: ['api.virtuoso.example.com'], paths: ['/'] },
      metrics: { port: 'http', path: '/metrics' },
      // Seed "Performance Targets": p95 < 500 ms, 99.9 % availability (error rate < 0.1 %).
      slo: { availability: 99.9, latency: { p95: '500ms' } },
      egress: [
        { host: 'firestore.googleapis.com', port: 443 },
        { host: 'cloudtasks.googleapis.com', port: 443 },
        { host: 'storage.googleapis.com', port: 443 },
      ],
    },
    'test-executor': {
      namespace: 'virtuoso',
      image: image('test-executor'),
      // Cloud Tasks (v2) pushes each task as an HTTP POST: the worker serves the queue's target
      // on its own host through the gateway (docs/autoscaling.md, "Cloud Tasks push").
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      probes: {
        readiness: { path: '/healthz/ready', period: '5s' },
        liveness: { path: '/healthz/live', period: '20s' },
        startup: { path: '/healthz/live', period: '5s', failureThreshold: 12 },
      },
      resources: { cpu: '1', memory: '2Gi', ephemeralStorage: '1Gi' },
      env: { TASKS_QUEUE: 'test-execution', PUBSUB_TOPIC: 'test-events' },
      expose: { hosts: ['tasks.virtuoso.example.com'], paths: ['/tasks/'] },
      // A task runs for up to the queue's dispatch deadline; Cloud Tasks retries failures itself.
      traffic: { timeout: '10m', retries: { attempts: 0 } },
      // Zero pods while the queue is empty; the first task wakes it (its first deliveries get a
      // 503 from the gateway and are retried: 10s, 20s, 40s, 80s, then linearly to 5m).
      autoscaling: {
        min: 0,
        max: 50,
        cooldown: '10m',
        triggers: [
          {
            type: 'cloud-tasks',
            queue: 'test-execution',
            tasksPerReplica: 5,
            push: {
              // Tokens signed as test-execution@<project>.iam.gserviceaccount.com (the default).
              audience: 'https://tasks.virtuoso.example.com',
              dispatchDeadline: '10m',
              retry: { minBackoff: '10s', maxBackoff: '5m', maxDoublings: 3, maxAttempts: 20 },
            },
          },
        ],
      },
      egress: [
        { host: 'firestore.googleapis.com', port: 443 },
        { host: 'cloudtasks.googleapis.com', port: 443 },
        { host: 'pubsub.googleapis.com', port: 443 },
        { host: 'storage.googleapis.com', port: 443 },
      ],
    },
    analytics: {
      namespace: 'virtuoso',
      image: image('analytics'),
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      resources: { cpu: '250m', memory: '256Mi' },
      probes: { readiness: { path: '/ready' }, liveness: { path: '/live', period: '30s' } },
      replicas: 2,
      egress: [
        { host: 'pubsub.googleapis.com', port: 443 },
        { host: 'bigquery.googleapis.com', port: 443 },
      ],
    },
    'auth-validator': {
      namespace: 'virtuoso',
      image: image('auth-validator'),
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      resources: { cpu: '250m', memory: '256Mi' },
      probes: { readiness: { path: '/ready' }, liveness: { path: '/live', period: '30s' } },
      secrets: { OAUTH_CLIENT_SECRET: { secret: 'virtuoso-oauth-client-secret' } },
      autoscaling: { min: 2, max: 10, cpuUtilization: 70 },
      // Its OAuth provider is Google's OAuth 2.0 (seed 001: OAuth 2.0, OAuth tokens in Secret
      // Manager): the client secret is used at the token and token-info endpoints, and ID tokens
      // are checked against the signing keys at www.googleapis.com/oauth2/v3/certs.
      egress: [
        { host: 'oauth2.googleapis.com', port: 443 },
        { host: 'www.googleapis.com', port: 443 },
      ],
    },
    'webhook-handler': {
      namespace: 'virtuoso',
      image: image('webhook-handler'),
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      resources: { cpu: '250m', memory: '256Mi' },
      probes: { readiness: { path: '/ready' }, liveness: { path: '/live', period: '30s' } },
      secrets: { WEBHOOK_SIGNING_SECRET: { secret: 'virtuoso-webhook-signing-secret' } },
      env: { TASKS_QUEUE: 'test-execution' },
      replicas: 2,
      expose: { hosts: ['hooks.virtuoso.example.com'], paths: ['/'] },
      egress: [{ host: 'cloudtasks.googleapis.com', port: 443 }],
    },
  },
  jobs: {
    // Seed: "Cleanup Jobs" (Cloud Functions on a schedule).
    'cleanup-sessions': {
      namespace: 'virtuoso',
      image: image('cleanup'),
      args: ['sessions', '--older-than=24h'],
      schedule: '15 * * * *',
      deadline: '10m',
      // Sessions live in Firestore.
      egress: [{ host: 'firestore.googleapis.com', port: 443 }],
    },
    'cleanup-results': {
      namespace: 'virtuoso',
      image: image('cleanup'),
      args: ['test-results', '--older-than=30d'],
      schedule: '30 3 * * *',
      timeZone: 'America/New_York',
      deadline: '1h',
      // Test results: their documents in Firestore, their artifacts in Cloud Storage.
      egress: [
        { host: 'firestore.googleapis.com', port: 443 },
        { host: 'storage.googleapis.com', port: 443 },
      ],
    },
  },
  ingress: {
    hosts: ['api.virtuoso.example.com', 'hooks.virtuoso.example.com', 'tasks.virtuoso.example.com'],
    tlsCredential: 'virtuoso-api-tls',
    // Seed: Cloud Armor (DDoS protection, WAF rules) in front of the load balancer.
    securityPolicy: 'virtuoso-edge',
  },
  gitops,
});
