/**
 * How a platform's traffic spec becomes Istio and GKE objects in one region cluster:
 * locality failover from the region topology, version subsets for canaries, and the ingress
 * routes (geo, weighted, path and host) through the platform's gateway.
 *
 * Everything here is the same in every region cluster of an environment: each proxy picks
 * the failover entry of its own region, so one DestinationRule serves all clusters alike.
 */
import { durationMs } from '../../kernel/quantities';
import { longestDispatchDeadline } from '../autoscaling/rules';
import type { ClusterPlan, ServicePlan } from '../../model/plan';
import type { ServiceSpec } from '../../model/schema';
import { canaryVersion, failoverOrder, gcpRegionOf, httpPort } from './rules';
import { IngressGatewayProps, MeshDestination, MeshRoute, MeshRoutingProps, MicroserviceProps, parseDuration, STABLE_VERSION } from '..';

export const CANARY_VERSION = 'canary';
/** On a Redis StatefulSet: the region whose group holds the master; `meridian promote` moves it. */
export const ANNOTATION_REDIS_MASTER = 'meridian.dev/redis-master-region';
/** On the primary's Redis StatefulSets during a promotion: the region the master moves to (its masters refuse writes). */
export const ANNOTATION_REDIS_FENCED = 'meridian.dev/redis-fenced-for';

const STREAMING = new Set(['websocket', 'sse']);

/**
 * Integer shares of `total` in proportion to `parts` (largest remainder, ties to the first
 * listed), zero shares left out: route weights that always add up exactly.
 */
export function apportion(parts: readonly MeshDestination[], total: number): MeshDestination[] {
  const sum = parts.reduce((s, p) => s + p.weight, 0);
  if (sum === 0 || total === 0) return [];
  const exact = parts.map((p) => (p.weight * total) / sum);
  const shares = exact.map(Math.floor);
  let left = total - shares.reduce((s, n) => s + n, 0);
  const byRemainder = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    shares[i]++;
    left--;
  }
  return parts.map((p, i) => ({ subset: p.subset, weight: shares[i] })).filter((d) => d.weight > 0);
}

/** `parts` scaled to what the canary leaves, plus the canary's share. */
function withCanary(parts: readonly MeshDestination[], canary: number): MeshDestination[] {
  return [...apportion(parts, 100 - canary), ...(canary > 0 ? [{ subset: CANARY_VERSION, weight: canary }] : [])];
}

/** Istio routing of one service in one cluster: DestinationRule, mesh routes, ingress routes. */
export function serviceRouting(c: ClusterPlan, name: string, svc: ServicePlan): MeshRoutingProps {
  const platform = c.platform;
  const traffic = svc.trafficPolicy;
  const http = svc.ports.some((p) => p.protocol !== 'tcp');
  const streaming = svc.ports.some((p) => STREAMING.has(p.protocol));
  const locality = traffic.localityFailover ?? true;
  const regions = Object.keys(platform.regions);
  const serving = svc.regions ?? regions;

  // Per caller region, the nearest region running the service; Istio takes one target per
  // caller region and puts every other region after it.
  const failover = locality
    ? regions.flatMap((from) => {
        const to = failoverOrder(platform, from).find((r) => serving.includes(r));
        return to === undefined ? [] : [{ from: gcpRegionOf(platform, from), to: gcpRegionOf(platform, to) }];
      })
    : [];

  const weights = platform.routing.weights;
  const ingress = platform.ingress;
  const exposed = http && svc.expose !== undefined && ingress !== undefined;
  const split = exposed && (traffic.splitByRegion ?? false) && weights !== undefined;
  const canary = svc.canary?.weight ?? 0;
  const versions = withCanary([{ subset: STABLE_VERSION, weight: 100 }], canary);

  const props: MeshRoutingProps = {
    name,
    namespace: svc.namespace,
    host: `${name}.${svc.namespace}.svc.cluster.local`,
    http,
    retries: traffic.retries && {
      attempts: traffic.retries.attempts,
      perTryTimeout: traffic.retries.perTryTimeout ? parseDuration(traffic.retries.perTryTimeout) : undefined,
      retryOn: traffic.retries.retryOn,
      idempotent: traffic.retries.idempotent,
    },
    timeout: traffic.timeout && !streaming ? parseDuration(traffic.timeout) : undefined,
    // A stream holds its connection for its lifetime: a platform-wide pool sized for requests
    // would cap the streams, so only the service's own pool applies to a streaming service.
    connectionPool: streaming ? svc.traffic?.connectionPool : traffic.connectionPool,
    outlierDetection: traffic.outlierDetection && {
      consecutive5xxErrors: traffic.outlierDetection.consecutive5xxErrors,
      interval: traffic.outlierDetection.interval ? parseDuration(traffic.outlierDetection.interval) : undefined,
      baseEjectionTime: traffic.outlierDetection.baseEjectionTime ? parseDuration(traffic.outlierDetection.baseEjectionTime) : undefined,
      maxEjectionPercent: traffic.outlierDetection.maxEjectionPercent,
    },
    localityLoadBalancing: locality,
    failover,
  };
  if (!http) return props;

  // The canary subset exists while a canary is declared, even at weight 0: roll back by
  // setting weight 0 (routes stop first, pods stay), then remove the block in a later
  // change, so no route ever names a subset that is gone. A subset that selects no pods is
  // never rendered.
  const subsets = [
    { name: STABLE_VERSION, labels: { version: STABLE_VERSION } },
    ...(svc.canary ? [{ name: CANARY_VERSION, labels: { version: CANARY_VERSION } }] : []),
    ...(split ? Object.keys(weights).map((r) => ({ name: r, labels: { version: STABLE_VERSION }, preferRegion: gcpRegionOf(platform, r) })) : []),
  ];
  const routes: MeshRoute[] = [{ name: 'default', split: versions }];
  if (!exposed) return { ...props, subsets, routes };

  const expose = svc.expose!;
  const paths = expose.paths.map((prefix) => ({ prefix }));
  const ingressRoutes: MeshRoute[] = [];
  if (split) {
    // Subdivisions (USNY) before countries (US): the more precise place wins.
    for (const precise of [true, false]) {
      const header = precise ? ingress.clientSubdivisionHeader : ingress.clientRegionHeader;
      for (const r of regions) {
        const codes = platform.regions[r].geo.filter((code) => code.length > 2 === precise);
        if (codes.length === 0 || !(r in weights)) continue;
        ingressRoutes.push({
          name: precise ? `geo-${r}-subdivision` : `geo-${r}`,
          match: paths.map((p) => ({ ...p, headers: { [header]: codes.join('|') } })),
          split: withCanary([{ subset: r, weight: 100 }], canary),
        });
      }
    }
    ingressRoutes.push({
      name: 'weighted',
      match: paths,
      split: withCanary(
        Object.entries(weights).map(([subset, weight]) => ({ subset, weight })),
        canary,
      ),
    });
  } else {
    ingressRoutes.push({ name: 'default', match: paths, split: versions });
  }
  return {
    ...props,
    subsets,
    routes,
    ingress: {
      gateway: gatewayRef(c),
      hosts: expose.hosts ?? ingress.hosts,
      port: httpPort(svc.ports, expose.port)!.port,
      routes: ingressRoutes,
    },
  };
}

function gatewayName(c: ClusterPlan): string {
  return `${c.platform.name}-gateway`;
}

function gatewayRef(c: ClusterPlan): string {
  // The gateway workload is described once, in mesh.ingressGateway (policies use it too).
  return `${c.platform.mesh.ingressGateway.namespace}/${gatewayName(c)}`;
}

/** The cluster's Gateway and the load balancer's BackendConfig, when the platform has an ingress. */
export function ingressGatewayProps(c: ClusterPlan): IngressGatewayProps | undefined {
  const ingress = c.platform.ingress;
  if (!ingress) return undefined;
  const exposed = Object.values(c.platform.services).filter((s) => s.expose);
  const streaming = exposed.some((s) => s.ports.some((p) => STREAMING.has(p.protocol)));
  const hc = ingress.healthCheck;
  return {
    name: gatewayName(c),
    namespace: c.platform.mesh.ingressGateway.namespace,
    selector: c.platform.mesh.ingressGateway.labels,
    // A preview cluster's gateway serves the namespace of every pull request: <namespace>-pr-<n>.
    routeNamespaces: c.preview ? ['*'] : exposed.map((s) => s.namespace),
    tlsCredential: ingress.tlsCredential,
    securityPolicy: ingress.securityPolicy,
    healthCheck: {
      path: hc.path,
      port: hc.port,
      interval: parseDuration(hc.interval),
      timeout: parseDuration(hc.timeout),
      healthyThreshold: hc.healthyThreshold,
      unhealthyThreshold: hc.unhealthyThreshold,
    },
    requestHeaders: {
      [ingress.clientRegionHeader]: '{client_region}',
      [ingress.clientSubdivisionHeader]: '{client_region_subdivision}',
    },
    // The load balancer closes a WebSocket when this runs out, whatever the mesh allows.
    // ... and a pushed task's request when its queue's dispatch deadline runs out.
    backendTimeout: parseDuration(ingress.backendTimeout ?? longest([streaming ? '1h' : '30s', longestDispatchDeadline(c.services)])),
    connectionDraining: parseDuration(ingress.connectionDraining),
  };
}

/** The canary's Deployment: the stable workload's settings with the canary's image, pods and label. */
export function canaryProps(stable: MicroserviceProps, svc: ServiceSpec, image: string): MicroserviceProps {
  const canary = svc.canary!;
  return {
    ...stable,
    image,
    version: CANARY_VERSION,
    replicas: canary.replicas ?? Math.max(1, svc.autoscaling?.min ?? svc.replicas ?? 2),
    podLabels: { ...stable.podLabels, 'app.kubernetes.io/version': canaryVersion(canary)! },
  };
}

/** The canary's image reference parts: its own tag or digest, the service's repository unless it names one. */
export function canaryImage(svc: ServiceSpec): { repository: string; tag?: string; digest?: string } {
  const image = svc.canary!.image;
  return { repository: image.repository ?? svc.image.repository, tag: image.tag, digest: image.digest };
}

/** The longest of the durations given. */
function longest(durations: readonly (string | undefined)[]): string {
  return durations.filter((d): d is string => d !== undefined).sort((a, b) => durationMs(b) - durationMs(a))[0];
}
