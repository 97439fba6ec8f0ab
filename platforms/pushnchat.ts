/**
 * PushNchat (seed 003_59ee641a05752171): Fastify microservices (user, listing, messaging)
 * and a Next.js frontend plus an admin UI, across africa-south1 (primary), europe-west6 and
 * me-west1. Cloud SQL Postgres through the Auth Proxy behind PgBouncer; Redis in the
 * clusters as a Sentinel group (the seed's Memorystore cache). Firebase Auth, FCM and RTDB
 * stay managed. Per-environment differences in overlays/pushnchat/<env>.yaml.
 */
import { definePlatform } from '../model';
import { gitops } from './_fleet';

const image = (name: string) => ({ repository: `africa-south1-docker.pkg.dev/pushnchat-prod/services/${name}` });
const fastify = {
  ports: [{ name: 'http', port: 8080, protocol: 'http' as const }],
  resources: { cpu: '1', memory: '1Gi' },
  probes: {
    readiness: { path: '/health/ready', period: '5s' },
    liveness: { path: '/health/live', period: '20s' },
    startup: { path: '/health/live', period: '3s', failureThreshold: 20 },
  },
};
// Services of the same namespace by their short names: a pull request's environment
// (previews below) runs them in its own namespace, and these must follow it.
const database = {
  DATABASE_URL_HOST: 'pgbouncer',
  DATABASE_URL_PORT: '6432',
};

const API_EGRESS = [
  { host: 'pubsub.googleapis.com', port: 443 },
  { host: 'fcm.googleapis.com', port: 443 },
];

/** A Fastify API service behind the gateway's API host, on Postgres (PgBouncer) and Redis. */
function api(imageName: string, path: string) {
  return {
    namespace: 'pushnchat',
    image: image(imageName),
    ...fastify,
    env: database,
    secrets: { DATABASE_PASSWORD: { secret: 'pushnchat-db-password' } },
    autoscaling: { min: 2, max: 20, cpuUtilization: 70 },
    dependsOn: ['pgbouncer', 'redis:cache'],
    expose: { hosts: ['api.pushnchat.example.com'], paths: [path] },
    // Firebase ID tokens are checked by the workload's sidecar; health checks and metrics are open.
    auth: { jwt: 'firebase', publicPaths: ['/health/*', '/metrics'] },
    metrics: { port: 'http', path: '/metrics' },
    slo: { availability: 99.9, latency: { p95: '500ms' } },
    egress: API_EGRESS,
  };
}

export default definePlatform({
  name: 'pushnchat',
  description: 'PushNchat: Fastify microservices + Next.js frontend behind one gateway, three regions (seed 003)',
  project: 'pushnchat-prod',
  environments: ['dev', 'preview', 'staging', 'prod'],
  regions: {
    'africa-south1': { role: 'primary', zones: ['africa-south1-a', 'africa-south1-b', 'africa-south1-c'] },
    'europe-west6': { role: 'secondary', zones: ['europe-west6-a', 'europe-west6-b', 'europe-west6-c'] },
    'me-west1': { role: 'secondary', zones: ['me-west1-a', 'me-west1-b', 'me-west1-c'] },
  },
  namespaces: { pushnchat: {} },
  routing: {
    weights: { 'africa-south1': 60, 'europe-west6': 20, 'me-west1': 20 },
    traffic: {
      timeout: '10s',
      retries: { attempts: 2, perTryTimeout: '3s' },
      outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 },
    },
  },
  services: {
    user: api('user-service', '/api/users'),
    listing: api('listing-service', '/api/listings'),
    messaging: {
      ...api('messaging-service', '/api/messages'),
      // Realtime connections stay open: websocket, so the route has no request timeout.
      ports: [{ name: 'http', port: 8080, protocol: 'websocket' }],
      autoscaling: { min: 2, max: 20, cpuUtilization: 60 },
      egress: [...API_EGRESS, { host: '*.firebaseio.com', port: 443 }],
      // Realtime users are spread by region: requests through the gateway split 60/20/20.
      traffic: { splitByRegion: true },
    },
    frontend: {
      namespace: 'pushnchat',
      image: image('frontend'),
      ports: [{ name: 'http', port: 3000, protocol: 'http' }],
      resources: { cpu: '500m', memory: '512Mi' },
      probes: { readiness: { path: '/api/health' }, liveness: { period: '30s' } },
      env: { NEXT_TELEMETRY_DISABLED: '1', API_BASE_URL: 'http://user:8080' },
      autoscaling: { min: 2, max: 10, cpuUtilization: 70 },
      dependsOn: ['user', 'listing', 'messaging'],
      expose: { hosts: ['app.pushnchat.example.com'], paths: ['/'] },
      metrics: { port: 'http', path: '/api/metrics' },
      slo: { availability: 99.5 },
    },
    admin: {
      namespace: 'pushnchat',
      image: image('admin-ui'),
      ports: [{ name: 'http', port: 3000, protocol: 'http' }],
      resources: { cpu: '250m', memory: '256Mi' },
      probes: { readiness: { path: '/api/health' }, liveness: { period: '30s' } },
      replicas: 2,
      regions: ['africa-south1'],
      dependsOn: ['user', 'listing'],
      expose: { hosts: ['admin.pushnchat.example.com'], paths: ['/'] },
    },
    pgbouncer: {
      namespace: 'pushnchat',
      // Transaction pooling in front of Cloud SQL: Cloud Run-style bursts stay within max_connections.
      image: { repository: 'docker.io/bitnami/pgbouncer', tag: '1.24.1' },
      // The image writes its generated configuration, pid file and log under /opt/bitnami/pgbouncer.
      writablePaths: ['/opt/bitnami/pgbouncer/conf', '/opt/bitnami/pgbouncer/tmp', '/opt/bitnami/pgbouncer/logs'],
      ports: [{ name: 'tcp-pg', port: 6432, protocol: 'tcp' }],
      resources: { cpu: '250m', memory: '128Mi' },
      probes: { readiness: {}, liveness: { period: '20s' } },
      env: {
        POSTGRESQL_HOST: '127.0.0.1',
        POSTGRESQL_PORT: '5432',
        POSTGRESQL_DATABASE: 'pushnchat',
        POSTGRESQL_USERNAME: 'pushnchat',
        PGBOUNCER_PORT: '6432',
        PGBOUNCER_POOL_MODE: 'transaction',
        PGBOUNCER_MAX_CLIENT_CONN: '2000',
        PGBOUNCER_DEFAULT_POOL_SIZE: '40',
      },
      secrets: { POSTGRESQL_PASSWORD: { secret: 'pushnchat-db-password' } },
      cloudSql: { instance: 'pushnchat-prod:africa-south1:pushnchat-pg' },
      replicas: 2,
      // The Auth Proxy: the Admin API, then the instance's private IP on 3307.
      egress: [
        { host: 'sqladmin.googleapis.com', port: 443 },
        { cidr: '10.30.0.0/24', port: 3307, protocol: 'tcp' },
      ],
    },
  },
  redis: {
    cache: { namespace: 'pushnchat', memory: '1Gi', passwordSecret: 'pushnchat-redis-password' },
  },
  jwtIssuers: { firebase: { type: 'firebase' } },
  ingress: {
    // One gateway: the web app, the API (path-routed to the services) and the admin UI, each
    // on its own host (Istio merges the VirtualServices of one host in creation order).
    hosts: ['app.pushnchat.example.com', 'api.pushnchat.example.com', 'admin.pushnchat.example.com'],
    tlsCredential: 'pushnchat-tls',
    // WAF and per-client rate limits (throttle keyed on the client IP) in Cloud Armor: the
    // global layer, counted across every region and gateway pod.
    securityPolicy: 'pushnchat-edge',
    // The second layer, in the clusters: a token bucket per client address in each gateway pod
    // (Envoy local rate limit), so a client the edge lets through cannot flood one region.
    // Generous per address: African mobile carriers put many users behind one CGNAT address.
    rateLimit: {
      // Every host, unless an override says otherwise: the web app, whose page loads fetch
      // their scripts and images through the gateway.
      requests: 20,
      interval: '1s',
      burst: 300,
      overrides: {
        // The API is stricter: a client polling listings in a loop shows here first.
        api: { hosts: ['api.pushnchat.example.com'], requests: 10, interval: '1s', burst: 120 },
        // Sending and syncing messages is chattier than browsing; a WebSocket counts once, when it opens.
        messages: { hosts: ['api.pushnchat.example.com'], paths: ['/api/messages'], requests: 20, interval: '1s', burst: 200 },
        // Operators only.
        admin: { hosts: ['admin.pushnchat.example.com'], requests: 5, interval: '1s', burst: 60 },
      },
    },
  },
  gitops,
  // An environment per pull request of the fleet repository labelled preview-pushnchat, from
  // overlays/pushnchat/preview.yaml: https://messaging-pushnchat-pr-<n>.preview.pushnchat.example.com ...
  previews: {
    environment: 'preview',
    github: { tokenSecret: 'github-pull-requests' },
    domain: 'preview.pushnchat.example.com',
    tlsCredential: 'pushnchat-preview-tls',
  },
});
