/**
 * The traffic rules of a platform that span fields: failover orders derived from the region
 * topology, geo routing, ingress exposure and canaries. Called from the schema's refinements,
 * so every problem is reported with its file and field like any other.
 */
import type { z } from 'zod';
import { notGcpRegion, REGION_SHAPED, regionDistanceKm } from '../../kernel/gcp-regions';
import { didYouMean } from '../../kernel/did-you-mean';
import type { PortSpec } from '../workloads/schema';
import type { CanarySpec, ExposeSpec, IngressSpec, RoutingSpec, TrafficPolicySpec } from './schema';

/** What the traffic rules read of a region (model/schema.ts's Region). */
interface TrafficRegion {
  readonly role: 'primary' | 'secondary';
  readonly gcpRegion?: string;
  readonly failover?: readonly string[];
  readonly geo: readonly string[];
}

/** What the traffic rules read of a service (model/schema.ts's Service). */
interface TrafficService {
  readonly image: { readonly repository: string; readonly tag?: string; readonly digest?: string };
  readonly ports: readonly PortSpec[];
  readonly expose?: ExposeSpec;
  readonly canary?: CanarySpec;
  readonly traffic: TrafficPolicySpec;
}

/** What the traffic rules read of a platform. */
interface TrafficPlatform {
  readonly regions: Readonly<Record<string, TrafficRegion>>;
  readonly services: Readonly<Record<string, TrafficService>>;
  readonly ingress?: IngressSpec;
  readonly routing: RoutingSpec;
}

type Ctx = Pick<z.RefinementCtx, 'addIssue'>;
type Path = (string | number)[];

function issue(ctx: Ctx, path: Path, message: string, input: unknown): void {
  ctx.addIssue({ code: 'custom', path, message, input });
}

/** The GCP region a region key of the platform runs in: what Istio's localities name. */
export function gcpRegionOf(platform: { readonly regions: Readonly<Record<string, Pick<TrafficRegion, 'gcpRegion'>>> }, region: string): string {
  return platform.regions[region].gcpRegion ?? region;
}

/**
 * The regions `region`'s calls fail over to, in order: the spec's `failover` when given;
 * otherwise the primary fails over to its nearest secondary, a secondary to the primary,
 * and the rest follow by distance.
 */
export function failoverOrder(
  platform: { readonly regions: Readonly<Record<string, Pick<TrafficRegion, 'gcpRegion' | 'role' | 'failover'>>> },
  region: string,
): string[] {
  const explicit = platform.regions[region].failover;
  if (explicit) return [...explicit];
  const here = gcpRegionOf(platform, region);
  const others = Object.keys(platform.regions).filter((r) => r !== region);
  const distance = (r: string) => regionDistanceKm(here, gcpRegionOf(platform, r));
  const byDistance = others.sort((a, b) => distance(a) - distance(b) || a.localeCompare(b));
  if (platform.regions[region].role === 'primary') return byDistance;
  const primary = byDistance.filter((r) => platform.regions[r].role === 'primary');
  return [...primary, ...byDistance.filter((r) => platform.regions[r].role !== 'primary')];
}

/** The first port that carries HTTP (the only traffic the gateway and canaries route), by name or not. */
export function httpPort<P extends PortSpec>(ports: readonly P[], name?: string): P | undefined {
  return ports.find((p) => p.protocol !== 'tcp' && (name === undefined || p.name === name));
}

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** The label value recording a canary's release: its version, else its image tag. */
export function canaryVersion(canary: CanarySpec): string | undefined {
  if (canary.version) return canary.version;
  return canary.image.tag && LABEL_VALUE.test(canary.image.tag) ? canary.image.tag : undefined;
}

/** Rules within one service (also checked for each region's variant of it). */
export function checkServiceTraffic(s: TrafficService, ctx: Ctx): void {
  const web = s.ports.filter((p) => p.protocol !== 'tcp').map((p) => p.name);
  if (s.expose) {
    if (web.length === 0) issue(ctx, ['expose'], 'needs a port that is not tcp: the gateway routes HTTP', s.expose);
    else if (s.expose.port !== undefined && !web.includes(s.expose.port)) {
      issue(ctx, ['expose', 'port'], `must name one of the service's HTTP ports (${web.join(', ')})`, s.expose.port);
    }
  }
  if (s.traffic.splitByRegion === true && !s.expose) {
    issue(ctx, ['traffic', 'splitByRegion'], 'applies to requests entering through the ingress: add expose, or remove splitByRegion', true);
  }
  if (s.traffic.localityFailover === false && s.traffic.splitByRegion === true) {
    issue(ctx, ['traffic', 'localityFailover'], 'cannot be false with splitByRegion: each region subset fails over to the other regions by locality', false);
  }
  const canary = s.canary;
  if (!canary) return;
  if (web.length === 0) issue(ctx, ['canary'], 'needs a port that is not tcp: the mesh splits HTTP requests between the versions', canary);
  const repository = canary.image.repository ?? s.image.repository;
  if (repository === s.image.repository && canary.image.tag === s.image.tag && canary.image.digest === s.image.digest) {
    issue(ctx, ['canary', 'image'], "is the service's own image: give the canary another tag or digest", canary.image);
  }
  if (canaryVersion(canary) === undefined) {
    issue(ctx, ['canary', 'version'], 'is required: the canary image has no tag usable as a label value', canary.version);
  }
}

/** Rules across regions and services of a platform. */
export function checkPlatformTraffic(p: TrafficPlatform, ctx: Ctx): void {
  const regions = Object.keys(p.regions);
  if (!regions.some((r) => p.regions[r].role === 'primary')) return; // reported already; orders need a primary

  for (const r of regions) {
    const order = p.regions[r].failover;
    const others = regions.filter((o) => o !== r);
    if (order) {
      order.forEach((o, i) => {
        if (!others.includes(o)) {
          const notGcp = o !== r && REGION_SHAPED.test(o) ? notGcpRegion(o) : undefined;
          issue(
            ctx,
            ['regions', r, 'failover', i],
            `must be another region of the platform${didYouMean(o, others)} (${others.join(', ') || 'none'})${notGcp ? `; ${o} ${notGcp}` : ''}`,
            o,
          );
        } else if (order.indexOf(o) !== i) issue(ctx, ['regions', r, 'failover', i], 'is listed twice', o);
      });
      const missing = others.filter((o) => !order.includes(o));
      if (missing.length > 0) issue(ctx, ['regions', r, 'failover'], `must list every other region once: ${missing.join(', ')} missing`, order);
    }
  }

  const geoOwner = new Map<string, string>();
  for (const r of regions) {
    p.regions[r].geo.forEach((code, i) => {
      const owner = geoOwner.get(code);
      if (owner !== undefined) issue(ctx, ['regions', r, 'geo', i], `is already routed to region ${owner}`, code);
      else geoOwner.set(code, r);
    });
  }

  if (p.ingress && !Object.values(p.services).some((s) => s.expose)) {
    issue(ctx, ['ingress'], 'routes nothing: no service sets expose', p.ingress.hosts);
  }
  // Weights only split the requests of exposed services that split by region: elsewhere they
  // would be a traffic share the rendered routes never apply (the gateway sends each request to
  // the service in its own region, the load balancer picks the nearest region).
  const splitting = Object.values(p.services).some((s) => s.expose && (s.traffic.splitByRegion ?? p.routing.traffic.splitByRegion ?? false));
  if (p.routing.weights && !splitting) {
    issue(
      ctx,
      ['routing', 'weights'],
      'split no traffic: no exposed service splits its ingress traffic by region; set traffic.splitByRegion on the services to split (or routing.traffic.splitByRegion for all), or remove routing.weights (to order the rollout waves, set rollout.waves)',
      p.routing.weights,
    );
  }
  const routes: { service: string; host: string; path: string; index: number }[] = [];
  for (const [name, svc] of Object.entries(p.services)) {
    const split = svc.traffic.splitByRegion ?? p.routing.traffic.splitByRegion ?? false;
    if (split && svc.expose && !p.routing.weights) {
      issue(ctx, ['routing', 'weights'], `is required: service ${name} splits its ingress traffic by region`, undefined);
    }
    if (!svc.expose) continue;
    if (!p.ingress) {
      issue(ctx, ['services', name, 'expose'], "needs the platform's ingress: set ingress.hosts and ingress.tlsCredential", svc.expose);
      continue;
    }
    const ingressHosts = p.ingress.hosts;
    svc.expose.hosts?.forEach((h, i) => {
      if (!ingressHosts.includes(h)) issue(ctx, ['services', name, 'expose', 'hosts', i], `must be one of ingress.hosts (${ingressHosts.join(', ')})`, h);
    });
    for (const host of svc.expose.hosts ?? ingressHosts) {
      svc.expose.paths.forEach((path, index) => routes.push({ service: name, host, path, index }));
    }
  }
  // VirtualServices bound to one gateway host are merged in creation order: overlapping
  // prefixes of two services would route by whichever ArgoCD happened to create first.
  const reported = new Set<string>();
  for (const a of routes) {
    for (const b of routes) {
      if (a.service === b.service || a.host !== b.host || !a.path.startsWith(b.path)) continue;
      const key = `${a.service}\u0000${a.index}`;
      if (reported.has(key)) continue;
      reported.add(key);
      issue(
        ctx,
        ['services', a.service, 'expose', 'paths', a.index],
        `overlaps ${b.path} of service ${b.service} on ${a.host}: the gateway would route by whichever was created first`,
        a.path,
      );
    }
  }
}

/** A service's traffic policy over the platform's, section by section, field by field. */
export function mergeTraffic(platform: TrafficPolicySpec, service: TrafficPolicySpec): TrafficPolicySpec {
  return {
    retries: platform.retries || service.retries ? { ...platform.retries, ...service.retries } : undefined,
    timeout: service.timeout ?? platform.timeout,
    connectionPool: platform.connectionPool || service.connectionPool ? { ...platform.connectionPool, ...service.connectionPool } : undefined,
    outlierDetection: platform.outlierDetection || service.outlierDetection ? { ...platform.outlierDetection, ...service.outlierDetection } : undefined,
    splitByRegion: service.splitByRegion ?? platform.splitByRegion,
    localityFailover: service.localityFailover ?? platform.localityFailover,
  };
}
