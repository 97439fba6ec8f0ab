/**
 * Weather pipeline (seed 002_15a9d45ae7e90d4b): real-time ingestion and enrichment of
 * user-weather events in one region. The ingest API publishes to Pub/Sub; stream workers
 * (the Dataflow role, run here as a queue consumer) enrich events through the enrichment
 * service, which writes to BigQuery. Pub/Sub and BigQuery stay managed and are reached with
 * Workload Identity. dev → staging → prod: dev and staging sync on merge, prod waits for an
 * operator (overlays/weather/prod.yaml).
 */
import { definePlatform } from '../model';
import { gitops } from './_fleet';

export default definePlatform({
  name: 'weather',
  description: 'Weather pipeline: ingest API → Pub/Sub → stream workers → enrichment → BigQuery (seed 002)',
  project: 'weather-pipeline-prod',
  environments: ['dev', 'staging', 'prod'],
  regions: {
    'us-central1': { role: 'primary', zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'] },
  },
  namespaces: { weather: {} },
  routing: {
    traffic: { timeout: '3s', retries: { attempts: 2, perTryTimeout: '1s' } },
  },
  services: {
    'ingest-api': {
      namespace: 'weather',
      image: { repository: 'us-docker.pkg.dev/weather-pipeline/images/ingest-api' },
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      resources: { cpu: '250m', memory: '256Mi' },
      probes: {
        readiness: { path: '/ready' },
        liveness: { path: '/live', period: '20s' },
      },
      env: { PUBSUB_TOPIC: 'weather-events' },
      autoscaling: { min: 2, max: 10, cpuUtilization: 70, requestsPerSecond: 500 },
      expose: { paths: ['/v1/events'] },
      metrics: { port: 'http', path: '/metrics' },
      slo: { availability: 99.9, latency: { p95: '250ms' } },
      egress: [{ host: 'pubsub.googleapis.com', port: 443 }],
    },
    'stream-worker': {
      namespace: 'weather',
      image: { repository: 'us-docker.pkg.dev/weather-pipeline/images/stream-worker' },
      resources: { cpu: '500m', memory: '512Mi' },
      env: {
        PUBSUB_SUBSCRIPTION: 'weather-events-enrich',
        ENRICHMENT_URL: 'http://enrichment.weather.svc.cluster.local:8080',
      },
      // The Dataflow role: scaled on the subscription backlog (Pub/Sub metrics through Managed
      // Prometheus), with a fixed fallback if the metric cannot be read.
      autoscaling: {
        min: 1,
        max: 20,
        pollingInterval: '15s',
        fallback: { replicas: 4 },
        scaleDown: { stabilization: '5m' },
        triggers: [{ type: 'pubsub', subscription: 'weather-events-enrich', messagesPerReplica: 1000 }],
      },
      dependsOn: ['enrichment'],
      egress: [{ host: 'pubsub.googleapis.com', port: 443 }],
    },
    enrichment: {
      namespace: 'weather',
      image: { repository: 'us-docker.pkg.dev/weather-pipeline/images/enrichment' },
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      resources: { cpu: '250m', memory: '256Mi' },
      probes: {
        readiness: { path: '/ready' },
        liveness: { path: '/live', period: '20s' },
      },
      env: { BIGQUERY_DATASET: 'weather_enriched', BIGQUERY_TABLE: 'events' },
      secrets: { WEATHER_API_KEY: { secret: 'weather-provider-api-key' } },
      autoscaling: { min: 2, max: 10, cpuUtilization: 70 },
      // BigQuery (storage write API) and the weather provider's REST API.
      egress: [
        { host: 'bigquery.googleapis.com', port: 443 },
        { host: 'bigquerystorage.googleapis.com', port: 443 },
        { host: 'api.weather-provider.example.com', port: 443 },
      ],
    },
  },
  ingress: {
    hosts: ['ingest.weather.example.com'],
    tlsCredential: 'weather-ingest-tls',
    securityPolicy: 'weather-edge',
  },
  gitops,
});
