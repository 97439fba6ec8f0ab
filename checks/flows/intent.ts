/**
 * The flows a platform's spec intends, resolved per region cluster of one environment. Each
 * is a connection some party opens to another on a port (and, for HTTP requests the policies
 * look into, a method and path), with the name it dials when the mesh routes it.
 */
import type { ClusterPlan, EnvironmentPlan } from '../../model/plan';
import { REDIS_EXPORTER_PORT } from '../../features/observability/resolve';
import { pushServiceAccount, taskPush } from '../../features/autoscaling/rules';
import { CLOUD_STORAGE } from '../../features/access/resolve';
import { BACKUP_METRICS_PORT } from '../../features/redis/redis-sentinel';

export type SystemRole =
  /** The platform's Istio ingress gateway: the internet edge, identity `<ingressGateway.serviceAccount>`. */
  | 'ingress-gateway'
  /** The cluster's east-west gateway: calls from other clusters of the mesh arrive through it, keeping their identity. */
  | 'east-west-gateway'
  | 'kube-dns'
  | 'istiod'
  /** Managed Prometheus collectors (gmp-system), outside the mesh. */
  | 'gmp'
  /** The KEDA operator (keda), outside the mesh. */
  | 'keda'
  /** A meshed pod of a namespace the platform does not own (probes only). */
  | 'foreign'
  /** A pod outside the mesh in a namespace the platform does not own (probes only). */
  | 'foreign-plaintext';

export type Party =
  | { readonly kind: 'workload'; readonly region: string; readonly namespace: string; readonly name: string }
  | { readonly kind: 'system'; readonly region: string; readonly role: SystemRole }
  /** An address outside the clusters: `ips` are the addresses it may have (each is checked). */
  | { readonly kind: 'external'; readonly name: string; readonly ips: readonly string[]; readonly host?: string };

export type FlowKind =
  'dependency' | 'redis' | 'redis-peers' | 'replication' | 'failover' | 'edge' | 'egress' | 'scrape' | 'metadata' | 'dns' | 'istiod' | 'keda' | 'probe';

export interface Flow {
  readonly kind: FlowKind;
  readonly from: Party;
  readonly to: Party;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  /** The host the client dials when the mesh routes the connection (checked against its Sidecar). */
  readonly host?: string;
  /** An HTTP request (the policies may look at its method and path, and the end user's validated token). */
  readonly http?: { readonly method: string; readonly path: string; readonly requestPrincipal?: string; readonly claims?: Readonly<Record<string, string>> };
  /** Why the flow exists, in the spec's terms. */
  readonly why: string;
}

/** The GKE metadata server: Workload Identity tokens (80), and 988 where Dataplane V2 serves them. */
export const METADATA_SERVER = { name: 'GKE metadata server', ips: ['169.254.169.254'] };
export const METADATA_SERVER_988 = { name: 'GKE metadata server (988)', ips: ['169.254.169.252'] };
/** Cloud DNS for GKE answers pods on the metadata server's address; NodeLocal DNSCache on its link-local one. */
export const CLOUD_DNS_ADDRESS = '169.254.169.254';
export const NODE_LOCAL_DNS_ADDRESS = '169.254.20.10';
/**
 * Addresses a Google API name resolves to from a pod: a public Google front end and the
 * private.googleapis.com range (Private Google Access). A host egress must reach both.
 */
export const GOOGLE_API_ADDRESSES = ['142.250.72.10', '199.36.153.8'];

const ISTIOD_PORT = 15012;
/** A validated end-user token (`<iss>/<sub>`), as requests to services with `auth` carry. */
export const END_USER = 'https://issuer.example/end-user';
const MERGED_METRICS_PORT = 15020;

export const partyName = (p: Party): string =>
  p.kind === 'workload' ? `${p.region}/${p.namespace}/${p.name}` : p.kind === 'system' ? `${p.region}/${p.role}` : p.host ? `${p.host}` : p.name;

/** Resolvers a cluster's pods query, by the region's `dns` setting. */
export function dnsTargets(c: ClusterPlan): Party[] {
  const dns = c.platform.regions[c.region].dns ?? { provider: 'kube-dns', nodeLocalCache: false };
  const out: Party[] = [];
  if (dns.nodeLocalCache) out.push({ kind: 'external', name: `NodeLocal DNSCache ${NODE_LOCAL_DNS_ADDRESS}`, ips: [NODE_LOCAL_DNS_ADDRESS] });
  else if (dns.provider === 'cloud-dns') out.push({ kind: 'external', name: `Cloud DNS ${CLOUD_DNS_ADDRESS}`, ips: [CLOUD_DNS_ADDRESS] });
  else out.push({ kind: 'system', region: c.region, role: 'kube-dns' });
  return out;
}

/** The first address of an IPv4 range (a Cloud SQL instance's private IP lies in it). */
function firstAddress(cidr: string): string {
  const [ip, bits] = cidr.split('/');
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const host = Number(bits) >= 31 ? n : n + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(host / 2 ** s) % 256).join('.');
}

/** Every flow the spec intends in every region cluster of the environment. */
export function intendedFlows(env: EnvironmentPlan): Flow[] {
  const flows: Flow[] = [];
  const byRegion = new Map(env.clusters.map((c) => [c.region, c]));
  const platform = env.platform;
  const multiRegion = env.clusters.length > 1;

  for (const c of env.clusters) {
    const here = (namespace: string, name: string): Party => ({ kind: 'workload', region: c.region, namespace, name });
    const at = (region: string, namespace: string, name: string): Party => ({ kind: 'workload', region, namespace, name });
    const sys = (role: SystemRole, region = c.region): Party => ({ kind: 'system', region, role });
    const svcHost = (name: string, ns: string) => `${name}.${ns}.svc.cluster.local`;

    /** What every pod of the platform needs: DNS, istiod (meshed), Workload Identity, scraping of its merged metrics. */
    const basics = (w: Party, what: string, workloadIdentity: boolean, meshed: boolean) => {
      for (const dns of dnsTargets(c)) {
        for (const protocol of ['UDP', 'TCP'] as const) flows.push({ kind: 'dns', from: w, to: dns, port: 53, protocol, why: `${what} resolves names` });
      }
      if (meshed)
        flows.push({
          kind: 'istiod',
          from: w,
          to: sys('istiod'),
          port: ISTIOD_PORT,
          protocol: 'TCP',
          why: `the sidecar of ${what} gets its configuration and certificate`,
        });
      if (workloadIdentity) {
        flows.push({
          kind: 'metadata',
          from: w,
          to: { kind: 'external', ...METADATA_SERVER },
          port: 80,
          protocol: 'TCP',
          why: `${what} gets Google credentials (Workload Identity)`,
        });
        flows.push({
          kind: 'metadata',
          from: w,
          to: { kind: 'external', ...METADATA_SERVER_988 },
          port: 988,
          protocol: 'TCP',
          why: `${what} gets Google credentials (Workload Identity, Dataplane V2)`,
        });
      }
      if (meshed)
        flows.push({
          kind: 'scrape',
          from: sys('gmp'),
          to: w,
          port: MERGED_METRICS_PORT,
          protocol: 'TCP',
          why: `Managed Prometheus scrapes the sidecar metrics of ${what}`,
        });
    };

    const egress = (w: Party, what: string, list: readonly { host?: string; cidr?: string; port: number; protocol: string }[]) => {
      for (const e of list) {
        const to: Party = e.host
          ? { kind: 'external', name: e.host, host: e.host, ips: GOOGLE_API_ADDRESSES }
          : { kind: 'external', name: e.cidr!, ips: [firstAddress(e.cidr!)] };
        flows.push({
          kind: 'egress',
          from: w,
          to,
          port: e.port,
          protocol: 'TCP',
          host: e.host,
          why: `${what} declares egress to ${e.host ?? e.cidr}:${e.port}`,
        });
      }
    };

    /** Calls to `dep` from `w`: in this region, and, when the mesh may fail over, in every other region running it. */
    const calls = (w: Party, what: string, deps: readonly string[]) => {
      for (const dep of deps) {
        if (dep.startsWith('redis:')) {
          const name = dep.slice('redis:'.length);
          const r = c.redis[name];
          if (!r) continue;
          // The client contract (features/redis/client-env.ts): the primary region's clients ask the
          // sentinels for the master and write there; a secondary region's read its own replicas.
          if (r.role === 'primary') {
            flows.push({
              kind: 'redis',
              from: w,
              to: here(r.namespace, name),
              port: 26379,
              protocol: 'TCP',
              host: svcHost(name, r.namespace),
              why: `${what} asks the sentinels of redis:${name} for the master`,
            });
            flows.push({
              kind: 'redis',
              from: w,
              to: here(r.namespace, name),
              port: 6379,
              protocol: 'TCP',
              host: svcHost(`${name}-${c.region}-headless`, r.namespace),
              why: `${what} reads and writes redis:${name}`,
            });
          } else {
            flows.push({
              kind: 'redis',
              from: w,
              to: here(r.namespace, name),
              port: 6379,
              protocol: 'TCP',
              host: svcHost(`${name}-${c.region}`, r.namespace),
              why: `${what} reads the replicas of redis:${name} in its region`,
            });
          }
          continue;
        }
        const target = platform.services[dep];
        if (!target || target.ports.length === 0) continue;
        for (const region of servingRegions(env, dep)) {
          const local = region === c.region;
          if (!local && !failsOver(env, dep)) continue;
          const svc = byRegion.get(region)!.services[dep];
          for (const p of svc.ports) {
            // Calls carry the end user's token where the callee requires one.
            const http = p.protocol === 'tcp' ? undefined : { method: 'GET', path: '/', requestPrincipal: svc.auth ? END_USER : undefined };
            flows.push({
              http,
              kind: local ? 'dependency' : 'failover',
              from: w,
              to: at(region, svc.namespace, dep),
              port: p.port,
              protocol: 'TCP',
              host: svcHost(dep, svc.namespace),
              why: local ? `${what} depends on ${dep}` : `${what} depends on ${dep}, which the DestinationRule fails over to ${region}`,
            });
          }
        }
      }
    };

    for (const [name, s] of Object.entries(c.services)) {
      const w = here(s.namespace, name);
      const what = `service ${name}`;
      basics(w, what, true, true);
      egress(w, what, s.egress);
      calls(w, what, s.dependsOn);
      if (s.metrics) {
        const port = typeof s.metrics.port === 'number' ? s.metrics.port : s.ports.find((p) => p.name === s.metrics!.port)!.port;
        flows.push({
          kind: 'scrape',
          from: sys('gmp'),
          to: w,
          port,
          protocol: 'TCP',
          http: { method: 'GET', path: s.metrics.path },
          why: `Managed Prometheus scrapes ${s.metrics.path} of ${name}`,
        });
      }
      if (s.expose && platform.ingress) {
        const pushed = taskPush(s);
        const port = s.expose.port ? s.ports.find((p) => p.name === s.expose!.port)! : s.ports.find((p) => p.protocol !== 'tcp')!;
        for (const region of servingRegions(env, name)) {
          if (region !== c.region && !failsOver(env, name) && !s.crossRegion) continue;
          for (const path of s.expose.paths) {
            flows.push({
              kind: 'edge',
              from: sys('ingress-gateway'),
              to: at(region, s.namespace, name),
              port: port.port,
              protocol: 'TCP',
              host: svcHost(name, s.namespace),
              // A queue pushing to the service presents Google's token for the queue's account.
              http: pushed
                ? { method: 'GET', path, requestPrincipal: END_USER, claims: { email: pushServiceAccount(pushed, platform.project) } }
                : { method: 'GET', path, requestPrincipal: s.auth ? END_USER : undefined },
              why:
                region === c.region
                  ? `the ingress gateway routes ${path} to ${name}`
                  : `the ingress gateway routes ${path} to ${name} in ${region} (split or failover)`,
            });
          }
        }
      }
    }

    // An exposed service that runs in other regions only: this region's gateway routes its
    // paths there over the mesh (the load balancer sends clients of every host to every region).
    if (platform.ingress) {
      for (const [name, s] of Object.entries(platform.services)) {
        if (c.services[name] || !s.expose || s.ports.length === 0) continue;
        const port = s.expose.port ? s.ports.find((p) => p.name === s.expose!.port)! : s.ports.find((p) => p.protocol !== 'tcp')!;
        for (const region of servingRegions(env, name)) {
          for (const path of s.expose.paths) {
            flows.push({
              kind: 'edge',
              from: sys('ingress-gateway'),
              to: at(region, s.namespace, name),
              port: port.port,
              protocol: 'TCP',
              host: svcHost(name, s.namespace),
              http: { method: 'GET', path, requestPrincipal: s.auth ? END_USER : undefined },
              why: `the ingress gateway routes ${path} to ${name}, which runs in ${region} only (not in ${c.region})`,
            });
          }
        }
      }
    }

    for (const [name, r] of Object.entries(c.redis)) {
      const w = here(r.namespace, name);
      const what = `redis:${name}`;
      // A backed-up group's backup container gets a token (Workload Identity) and uploads to Cloud Storage.
      basics(w, what, r.backup !== undefined, true);
      if (r.backup) {
        egress(w, `the backup container of ${what}`, [CLOUD_STORAGE]);
        flows.push({
          kind: 'scrape',
          from: sys('gmp'),
          to: w,
          port: BACKUP_METRICS_PORT,
          protocol: 'TCP',
          http: { method: 'GET', path: '/metrics' },
          why: `Managed Prometheus scrapes /metrics of the ${what} backup container`,
        });
      }
      for (const port of [6379, 26379]) {
        flows.push({
          kind: 'redis-peers',
          from: w,
          to: w,
          port,
          protocol: 'TCP',
          host: svcHost(port === 6379 ? `${name}-${c.region}-headless` : name, r.namespace),
          why: port === 6379 ? `replicas of ${what} replicate within the region` : `sentinels of ${what} gossip within the region`,
        });
      }
      // The first pod dials each pod of the primary region (asking its ROLE) and replicates from a replica.
      if (r.role === 'secondary' && multiRegion) {
        for (const host of r.upstreams ?? []) {
          flows.push({
            kind: 'replication',
            from: w,
            to: at(r.masterRegion, r.namespace, name),
            port: 6379,
            protocol: 'TCP',
            host,
            why: `${what} replicates from a replica of the primary region ${r.masterRegion} (${host.split('.')[0]})`,
          });
        }
      }
      for (const path of ['/metrics', '/scrape']) {
        flows.push({
          kind: 'scrape',
          from: sys('gmp'),
          to: w,
          port: REDIS_EXPORTER_PORT.port,
          protocol: 'TCP',
          http: { method: 'GET', path },
          why: `Managed Prometheus scrapes ${path} of the ${what} exporter`,
        });
      }
    }

    for (const [name, j] of Object.entries(c.jobs)) {
      const w = here(j.namespace, name);
      const what = `job ${name}`;
      // Jobs run outside the mesh unless the cluster has native sidecars (a sidecar would keep the run from finishing).
      basics(w, what, true, c.nativeSidecars === true);
      egress(w, what, j.egress);
      calls(w, what, j.dependsOn);
    }

    if (Object.values(c.services).some((s) => s.autoscaling?.requestsPerSecond !== undefined)) {
      flows.push({
        kind: 'keda',
        from: sys('keda'),
        to: { kind: 'external', name: 'monitoring.googleapis.com', host: 'monitoring.googleapis.com', ips: GOOGLE_API_ADDRESSES },
        port: 443,
        protocol: 'TCP',
        why: 'the KEDA operator queries Managed Prometheus for the request-rate triggers',
      });
    }
  }
  return flows;
}

/** Regions of the environment running a service. */
export function servingRegions(env: EnvironmentPlan, name: string): string[] {
  return env.clusters.filter((c) => c.services[name] !== undefined).map((c) => c.region);
}

/** The service's DestinationRule fails over to other regions (multi-region, locality failover on, ports). */
export function failsOver(env: EnvironmentPlan, name: string): boolean {
  if (env.clusters.length < 2) return false;
  const svc = env.clusters.map((c) => c.services[name]).find((s) => s !== undefined);
  return svc !== undefined && svc.ports.length > 0 && (svc.trafficPolicy.localityFailover ?? true);
}
