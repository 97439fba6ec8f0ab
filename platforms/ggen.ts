/**
 * ggen marketplace (seed 004_266e7750b295c0cb): a multi-region marketplace API with a
 * Redis Sentinel cache per region, us-central1 primary. Firestore, Pub/Sub, KMS and the
 * backups stay managed services outside the clusters; the pods reach them with Workload
 * Identity. Per-environment differences live in overlays/ggen/<env>.yaml.
 */
import { definePlatform } from '../model';
import { gitops } from './_fleet';

export default definePlatform({
  name: 'ggen',
  description: 'ggen marketplace: multi-region marketplace API (seed 004)',
  project: 'ggen-marketplace-prod',
  environments: ['dev', 'staging', 'prod'],
  // Failover orders are derived (docs/traffic.md): us-central1 → us-east1; us-east1 and
  // europe-west1 → us-central1, then the remaining region.
  // Seed §4.1 "geographic affinity": clients go to their nearest region; the rest of the
  // world gets the weighted split below.
  regions: {
    'us-central1': {
      role: 'primary',
      zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'],
      geo: ['US', 'CA', 'MX'],
    },
    'us-east1': {
      role: 'secondary',
      zones: ['us-east1-b', 'us-east1-c', 'us-east1-d'],
      geo: [
        // The eastern seaboard (more precise than US, so matched first), eastern Canada.
        'USCT',
        'USDC',
        'USDE',
        'USFL',
        'USGA',
        'USMA',
        'USMD',
        'USME',
        'USNC',
        'USNH',
        'USNJ',
        'USNY',
        'USPA',
        'USRI',
        'USSC',
        'USVA',
        'USVT',
        'USWV',
        'CAON',
        'CAQC',
        'CANB',
        'CANS',
        // South America is closer to South Carolina than to Iowa.
        'AR',
        'BO',
        'BR',
        'CL',
        'CO',
        'EC',
        'PE',
        'PY',
        'UY',
        'VE',
      ],
    },
    'europe-west1': {
      role: 'secondary',
      zones: ['europe-west1-b', 'europe-west1-c', 'europe-west1-d'],
      geo: [
        'AT',
        'BE',
        'BG',
        'CH',
        'CZ',
        'DE',
        'DK',
        'EE',
        'ES',
        'FI',
        'FR',
        'GB',
        'GR',
        'HR',
        'HU',
        'IE',
        'IS',
        'IT',
        'LT',
        'LU',
        'LV',
        'NL',
        'NO',
        'PL',
        'PT',
        'RO',
        'SE',
        'SI',
        'SK',
      ],
    },
  },
  namespaces: {
    marketplace: {},
  },
  routing: {
    // Seed §4.2: the latency-based split of the requests no geographic rule matched.
    weights: { 'us-central1': 50, 'us-east1': 35, 'europe-west1': 15 },
    traffic: {
      // Seed §4.2: timeout 5s, 3 attempts of 1s each.
      timeout: '5s',
      retries: { attempts: 3, perTryTimeout: '1s' },
      // Seed §4.3. minRequestVolume is not an Istio field (see README, "Seed mapping").
      connectionPool: { maxConnections: 100, http1MaxPendingRequests: 100, maxRequestsPerConnection: 2 },
      outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s', maxEjectionPercent: 100 },
    },
  },
  services: {
    api: {
      namespace: 'marketplace',
      image: { repository: 'us-docker.pkg.dev/ggen-marketplace/marketplace/api' },
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      resources: { cpu: '500m', memory: '512Mi' },
      probes: {
        // Seed §6.1: /health, 2 consecutive failures.
        readiness: { path: '/health', period: '10s', failureThreshold: 2 },
        // /health fails with Firestore or Redis: restarting would not fix those, so liveness checks the port.
        liveness: { period: '30s', failureThreshold: 3 },
        startup: { path: '/health', period: '5s', failureThreshold: 24 },
      },
      env: {
        FIRESTORE_DATABASE: '(default)',
      },
      secrets: {
        PAYMENTS_API_KEY: { secret: 'ggen-payments-api-key' },
      },
      // Seed §5: cpu 70 % and 1000 requests/s, 2 to 20 replicas.
      autoscaling: { min: 2, max: 20, cpuUtilization: 70, requestsPerSecond: 1000 },
      dependsOn: ['redis:cache'],
      // Seed §4.2: the marketplace API is what the global load balancer serves.
      expose: { paths: ['/'] },
      traffic: { splitByRegion: true },
      // Seed §1-2: Firestore (data), Pub/Sub (replication events), the regional Cloud KMS key ring.
      egress: [
        { host: 'firestore.googleapis.com', port: 443 },
        { host: 'pubsub.googleapis.com', port: 443 },
        { host: 'cloudkms.googleapis.com', port: 443 },
      ],
      // Seed §5.2 scales on the api's own http_requests_total: it serves Prometheus metrics.
      metrics: { port: 'http', path: '/metrics' },
      // Seed §7.1 targets: error rate < 0.1 %, health check success > 99.9 %.
      slo: { availability: 99.9 },
    },
    'replication-worker': {
      namespace: 'marketplace',
      // Seed §2.3: applies Firestore changes from the firestore-replication topic; no ports.
      image: { repository: 'us-docker.pkg.dev/ggen-marketplace/marketplace/replication-worker' },
      resources: { cpu: '250m', memory: '256Mi' },
      env: { PUBSUB_SUBSCRIPTION: 'firestore-replication', LAG_ALERT_SECONDS: '10' },
      replicas: 2,
      dependsOn: ['redis:cache'],
      egress: [
        { host: 'firestore.googleapis.com', port: 443 },
        { host: 'pubsub.googleapis.com', port: 443 },
      ],
      // Seed §2.3: the worker reports the replication lag; served on a metrics-only port.
      metrics: { port: 9090 },
    },
  },
  redis: {
    // Seed §3: Sentinel (3 nodes) per region, the primary region's group holds the master.
    cache: {
      namespace: 'marketplace',
      replicas: 3,
      memory: '2Gi',
      storage: '20Gi',
      passwordSecret: 'ggen-redis-password',
      // Seed §3.1: "Backups to GCS daily", taken in the primary region (docs/redis.md, "Backups").
      backup: { bucket: 'ggen-redis-backups', interval: '24h' },
    },
  },
  ingress: {
    hosts: ['api.ggen-marketplace.example.com'],
    tlsCredential: 'ggen-marketplace-tls',
    // Seed §4.1: WAF, GeoIP blocking and the 1000 req/s rate limit are rules of this Cloud
    // Armor policy, managed in GCP; the load balancer's backend is attached to it.
    securityPolicy: 'ggen-edge',
  },
  // Seed §7: the thresholds table's defaults apply; what is specific to ggen is below.
  monitoring: {
    // §7.1 counts 4xx and 5xx in the error rate.
    errorRate: { codes: '[45]..' },
    // §2.3 / §7.2: lag > 10 s warns, > 30 s pages; the worker exports it as a gauge in seconds.
    replicationLag: { service: 'replication-worker', metric: 'replication_lag_seconds' },
    // §7.1: Firestore reads > 1.5 M a day warns, > 2 M pages (a Cloud Monitoring metric: a GlobalRules).
    global: { firestoreReadsPerDay: { warning: 1_500_000, critical: 2_000_000 } },
  },
  gitops,
});
