/**
 * How `ingress.rateLimit` becomes the GatewayRateLimit of a region cluster: the base limit and
 * its overrides as rules, the health-check paths always exempt.
 */
import type { ClusterPlan } from '../../model/plan';
import { healthCheckPaths } from './rules';
import type { GatewayRateLimitSpec } from '../../model/schema';
import { GatewayRateLimitProps, GatewayRateLimitRule, parseDuration } from '..';

/** The cluster's per-client rate limit at the ingress gateway, when the platform sets one. */
export function gatewayRateLimitProps(c: ClusterPlan): GatewayRateLimitProps | undefined {
  const platform = c.platform;
  const limit = platform.ingress?.rateLimit;
  if (!platform.ingress || !limit) return undefined;
  const hosts = limit.hosts ?? platform.ingress.hosts;
  const gateway = platform.mesh.ingressGateway;
  const overrides: GatewayRateLimitRule[] = Object.entries(limit.overrides).map(([name, o]) => ({
    name,
    hosts: o.hosts ?? hosts,
    paths: o.paths,
    requests: o.requests,
    interval: parseDuration(o.interval),
    burst: o.burst,
  }));
  return {
    name: `${platform.name}-ratelimit`,
    namespace: gateway.namespace,
    selector: gateway.labels,
    rules: [...baseRules(hosts, limit, overrides), ...overrides],
    exemptPaths: limit.exemptPaths,
    healthCheckPaths: healthCheckPaths(platform),
    trustedHops: limit.client.trustedHops,
    ipv4PrefixLength: limit.client.ipv4PrefixLength,
    ipv6PrefixLength: limit.client.ipv6PrefixLength,
    maxClients: limit.maxClients,
    enforce: limit.enforce,
    rateLimitHeaders: limit.headers,
  };
}

/**
 * The base limit where no override takes the same prefix: on each host, its paths less those an
 * override claims there. Hosts left with the same paths share one rule.
 */
function baseRules(hosts: string[], limit: GatewayRateLimitSpec, overrides: GatewayRateLimitRule[]): GatewayRateLimitRule[] {
  const byPaths = new Map<string, { hosts: string[]; paths: string[] }>();
  for (const host of hosts) {
    const claimed = overrides.filter((o) => o.hosts.includes(host)).flatMap((o) => o.paths ?? ['/']);
    const paths = limit.paths.filter((p) => !claimed.includes(p));
    if (paths.length === 0) continue;
    const key = paths.join('\u0000');
    const group = byPaths.get(key) ?? { hosts: [], paths };
    group.hosts.push(host);
    byPaths.set(key, group);
  }
  const bucket = { requests: limit.requests, interval: parseDuration(limit.interval), burst: limit.burst };
  // Rule names are per host in the gateway's config: every group is the base limit, `default`.
  return [...byPaths.values()].map((g) => ({ name: 'default', hosts: g.hosts, paths: g.paths, ...bucket }));
}
