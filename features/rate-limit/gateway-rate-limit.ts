import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  EnvoyFilter,
  EnvoyFilterSpecConfigPatchesApplyTo as ApplyTo,
  EnvoyFilterSpecConfigPatchesMatchContext as Context,
  EnvoyFilterSpecConfigPatchesPatchOperation as Operation,
} from '../../imports/networking.istio.io';
import { DNS_LABEL_RULE, isDnsLabel } from '../../kernel/names';
import { formatDuration } from '../../kernel/units';

/** A per-client token bucket on some paths of some hosts. */
export interface GatewayRateLimitRule {
  /** Names the rule in the descriptors: an RFC 1123 label, unique among the rules of a host. */
  readonly name: string;
  /** Hosts (of the Gateway) the rule applies on. */
  readonly hosts: string[];
  /** URI prefixes it applies to; on one host the longest matching prefix picks the rule. @default ['/'] */
  readonly paths?: string[];
  /** Tokens added to each client's bucket every `interval`. */
  readonly requests: number;
  /** Refill period; whole seconds. */
  readonly interval: Duration;
  /** Most tokens a client's bucket holds: the burst it may send after being idle. @default - requests */
  readonly burst?: number;
}

export interface GatewayRateLimitProps {
  /** Name of the EnvoyFilter; also names the HTTP filter it inserts, so two platforms on one gateway never share a filter. */
  readonly name: string;
  /** Namespace of the gateway workload: an EnvoyFilter with a workload selector applies in its own namespace only. */
  readonly namespace: string;
  /** Labels of the gateway pods. @default { istio: 'ingressgateway' } */
  readonly selector?: Record<string, string>;
  /** Port of the Gateway server the hosts are served on: Istio names a gateway virtual host `<host>:<port>`. @default 443 */
  readonly gatewayPort?: number;
  /** The limits; each request of a client counts against at most one rule. */
  readonly rules: GatewayRateLimitRule[];
  /** URI prefixes never limited on any host; they win over every rule. @default [] */
  readonly exemptPaths?: string[];
  /** Paths never limited, matched exactly (any query string aside): health checks. @default [] */
  readonly healthCheckPaths?: string[];
  /**
   * Proxies in front of the gateway that append to X-Forwarded-For (`xff_num_trusted_hops`): the
   * client is the address this far from the right. @default 2 - the GCP global external Application
   * Load Balancer appends `<client>,<load balancer>`
   */
  readonly trustedHops?: number;
  /** IPv4 clients are keyed by their address masked to this length. @default 32 */
  readonly ipv4PrefixLength?: number;
  /** IPv6 clients are keyed by their address masked to this length: one subscriber holds a /64. @default 64 */
  readonly ipv6PrefixLength?: number;
  /** Clients each gateway pod keeps a bucket for, per host and rule; the least recently seen is forgotten first. @default 10000 */
  readonly maxClients?: number;
  /** false counts what would be limited (stats) without rejecting: a dry run. @default true */
  readonly enforce?: boolean;
  /** Send X-RateLimit-Limit/-Remaining/-Reset on every response. @default true */
  readonly rateLimitHeaders?: boolean;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

const LOCAL_RATE_LIMIT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const HCM = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
/** Descriptor key naming the rule a request counts against. */
export const RULE_KEY = 'meridian_rate_limit_rule';
/** Descriptor key Envoy's masked_remote_address action produces. */
export const CLIENT_KEY = 'masked_remote_address';
/**
 * A virtual host config needs a token bucket; it is consumed only by requests no rule matched
 * (exempt or unlisted paths), which must pass: a billion a second per pod, never reached, and
 * small enough that refilling a full uint32 bucket cannot overflow.
 */
const UNLIMITED = 1_000_000_000;
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const UINT32_MAX = 4_294_967_295;
const percent = (value: number) => ({ default_value: { numerator: value, denominator: 'HUNDRED' } });

/**
 * Per-client rate limits at the ingress gateway: Envoy's HTTP local rate limit filter with one
 * token bucket per client address (dynamic descriptors), kept in each gateway pod.
 *
 * One EnvoyFilter on the gateway workload: it sets how many proxies in front are trusted for
 * the client address, inserts a local rate limit filter named after this object (disabled
 * there: Envoy's default is 0 % enabled), and enables and enforces it per virtual host of the
 * rules' hosts only. Another platform on the same gateway inserts its own filter and enables
 * it on its own hosts: neither limits the other's traffic nor consumes a token twice.
 *
 * The gateway's status port (the load balancer's health check) is a listener of Envoy's
 * bootstrap, which EnvoyFilters do not patch: it is never limited.
 */
export class GatewayRateLimit extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  /** The HTTP filter's name in the gateway's filter chain, the key of its per-host config and its stats prefix. */
  public readonly filterName: string;
  public readonly trustedHops: number;
  public readonly maxClients: number;
  public readonly envoyFilter: EnvoyFilter;

  constructor(scope: Construct, id: string, props: GatewayRateLimitProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`GatewayRateLimit '${id}': ${msg}`);
    };
    this.name = props.name;
    this.namespace = props.namespace;
    this.filterName = `meridian.${props.name}`;
    this.trustedHops = props.trustedHops ?? 2;
    this.maxClients = props.maxClients ?? 10_000;
    const v4 = props.ipv4PrefixLength ?? 32;
    const v6 = props.ipv6PrefixLength ?? 64;
    const exempt = props.exemptPaths ?? [];
    const health = props.healthCheckPaths ?? [];
    const port = props.gatewayPort ?? 443;

    if (props.rules.length === 0) fail('rules must name at least one rule');
    if (!Number.isInteger(this.trustedHops) || this.trustedHops < 1)
      fail(`trustedHops (${this.trustedHops}) must be an integer >= 1: 0 would key every client on the load balancer's address`);
    if (!Number.isInteger(this.maxClients) || this.maxClients < 1) fail(`maxClients (${this.maxClients}) must be an integer >= 1`);
    if (!Number.isInteger(v4) || v4 < 1 || v4 > 32) fail(`ipv4PrefixLength (${v4}) must be an integer from 1 to 32`);
    if (!Number.isInteger(v6) || v6 < 1 || v6 > 128) fail(`ipv6PrefixLength (${v6}) must be an integer from 1 to 128`);
    exempt.forEach((p) => {
      if (!PATH.test(p)) fail(`exemptPaths: "${p}" is not a URI path starting with "/"`);
    });
    health.forEach((p) => {
      if (!PATH.test(p)) fail(`healthCheckPaths: "${p}" is not a URI path starting with "/"`);
    });

    const byHost = new Map<string, { rule: GatewayRateLimitRule; paths: string[] }[]>();
    for (const rule of props.rules) {
      const what = `rule ${rule.name}`;
      if (!isDnsLabel(rule.name)) fail(`rule name "${rule.name}" ${DNS_LABEL_RULE}`);
      if (rule.hosts.length === 0) fail(`${what}: hosts must name at least one host`);
      const paths = rule.paths ?? ['/'];
      if (paths.length === 0) fail(`${what}: paths must name at least one prefix`);
      paths.forEach((p) => {
        if (!PATH.test(p)) fail(`${what}: path "${p}" is not a URI path starting with "/"`);
      });
      const burst = rule.burst ?? rule.requests;
      for (const [field, n] of [
        ['requests', rule.requests],
        ['burst', burst],
      ] as const) {
        if (!Number.isInteger(n) || n < 1 || n > UINT32_MAX) fail(`${what}: ${field} (${n}) must be an integer from 1 to ${UINT32_MAX}`);
      }
      if (burst < rule.requests) fail(`${what}: burst (${burst}) must be >= requests (${rule.requests}): the bucket holds at most burst tokens`);
      const seconds = rule.interval.toSeconds({ integral: false });
      if (!Number.isInteger(seconds) || seconds < 1) fail(`${what}: interval (${formatDuration(rule.interval)}) must be whole seconds >= 1`);
      for (const host of new Set(rule.hosts)) {
        const rules = byHost.get(host) ?? [];
        if (rules.some((o) => o.rule.name === rule.name)) fail(`rule name "${rule.name}" is used twice on ${host}`);
        for (const other of rules) {
          const shared = paths.find((p) => other.paths.includes(p));
          if (shared !== undefined) fail(`${what}: path ${shared} on ${host} is also rule ${other.rule.name}'s: a request counts against one rule`);
        }
        rules.push({ rule, paths });
        byHost.set(host, rules);
      }
    }

    const hostPatches = [...byHost.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([host, rules]) => ({
        applyTo: ApplyTo.VIRTUAL_UNDERSCORE_HOST,
        match: { context: Context.GATEWAY, routeConfiguration: { vhost: { name: `${host}:${port}` } } },
        patch: {
          operation: Operation.MERGE,
          value: { typed_per_filter_config: { [this.filterName]: this.hostConfig(host, rules, { exempt, health }, v4, v6, props) } },
        },
      }));

    this.envoyFilter = new EnvoyFilter(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        workloadSelector: { labels: props.selector ?? { istio: 'ingressgateway' } },
        configPatches: [
          {
            // The client address every bucket is keyed on: Envoy takes the address trustedHops from
            // the right of X-Forwarded-For (Istio's numTrustedProxies sets the same field).
            applyTo: ApplyTo.NETWORK_UNDERSCORE_FILTER,
            match: { context: Context.GATEWAY, listener: { filterChain: { filter: { name: HCM } } } },
            patch: { operation: Operation.MERGE, value: { typed_config: { '@type': HCM_TYPE, xff_num_trusted_hops: this.trustedHops } } },
          },
          {
            // Before the router, after Istio's stats filter: rejected requests are counted as 429s.
            applyTo: ApplyTo.HTTP_UNDERSCORE_FILTER,
            match: { context: Context.GATEWAY, listener: { filterChain: { filter: { name: HCM, subFilter: { name: 'envoy.filters.http.router' } } } } },
            patch: {
              operation: Operation.INSERT_UNDERSCORE_BEFORE,
              // No filter_enabled: 0 %, so the filter passes everything on hosts without a config of their own.
              value: { name: this.filterName, typed_config: { '@type': LOCAL_RATE_LIMIT, stat_prefix: statName(props.name) } },
            },
          },
          ...hostPatches,
        ],
      },
    });
  }

  /** The filter's config on one host: one rate_limits entry and one descriptor per rule. */
  private hostConfig(
    host: string,
    rules: { rule: GatewayRateLimitRule; paths: string[] }[],
    skip: { exempt: string[]; health: string[] },
    v4: number,
    v6: number,
    props: GatewayRateLimitProps,
  ): Record<string, unknown> {
    const enforce = props.enforce ?? true;
    const longest = Math.max(...rules.map(({ rule }) => rule.interval.toSeconds()));
    return {
      '@type': LOCAL_RATE_LIMIT,
      // Per host: `<prefix>.http_local_rate_limit.rate_limited` tells which host limits.
      stat_prefix: statName(`${props.name}_${host}`),
      token_bucket: { max_tokens: UNLIMITED, tokens_per_fill: UNLIMITED, fill_interval: '1s' },
      filter_enabled: percent(100),
      filter_enforced: percent(enforce ? 100 : 0),
      // The shared bucket above only for requests no rule matched, never on top of a client's.
      always_consume_default_token_bucket: false,
      max_dynamic_descriptors: this.maxClients,
      ...((props.rateLimitHeaders ?? true) ? { enable_x_ratelimit_headers: 'DRAFT_VERSION_03' } : {}),
      // A client's bucket gains tokens at least once per interval: an upper bound of the wait.
      response_headers_to_add: [{ header: { key: 'retry-after', value: String(longest) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      rate_limits: rules.map(({ rule, paths }) => {
        // Longer prefixes of other rules on this host and the exempt paths are not this rule's.
        const others = rules
          .filter((o) => o.rule !== rule)
          .flatMap((o) => o.paths)
          .filter((q) => paths.some((p) => q.length > p.length && q.startsWith(p)));
        const excluded = [...skip.exempt, ...others];
        return {
          actions: [
            {
              header_value_match: {
                descriptor_key: RULE_KEY,
                descriptor_value: rule.name,
                expect_match: true,
                headers: [
                  { name: ':path', string_match: { safe_regex: { regex: pathRegex(paths) } } },
                  ...(excluded.length + skip.health.length > 0
                    ? [{ name: ':path', string_match: { safe_regex: { regex: pathRegex(excluded, skip.health) } }, invert_match: true }]
                    : []),
                ],
              },
            },
            { masked_remote_address: { v4_prefix_mask_len: v4, v6_prefix_mask_len: v6 } },
          ],
        };
      }),
      descriptors: rules.map(({ rule }) => ({
        // No value on the client entry: one bucket per distinct client (a dynamic descriptor).
        entries: [{ key: RULE_KEY, value: rule.name }, { key: CLIENT_KEY }],
        token_bucket: { max_tokens: rule.burst ?? rule.requests, tokens_per_fill: rule.requests, fill_interval: formatDuration(rule.interval) },
      })),
    };
  }
}

/**
 * An RE2 expression for a `:path` (query string included) that starts with one of `prefixes`
 * or is one of `exact`, possibly followed by a query string. Envoy matches `safe_regex` with
 * RE2::FullMatch (kernel/re2.ts), so the expression spells out the rest of the path: a bare
 * prefix would match that exact path only.
 */
export function pathRegex(prefixes: string[], exact: string[] = []): string {
  const quote = (p: string) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const group = (ps: string[]) => `(?:${[...new Set(ps)].sort().map(quote).join('|')})`;
  const alternatives = [...(prefixes.length > 0 ? [`${group(prefixes)}.*`] : []), ...(exact.length > 0 ? [`${group(exact)}(?:\\?.*)?`] : [])];
  // (?s): `.` takes any byte, newline included, as a prefix does.
  return `(?s)${alternatives.join('|')}`;
}

/** Envoy stat names: letters, digits and "_". */
function statName(text: string): string {
  return `meridian_${text.replace(/[^A-Za-z0-9]+/g, '_')}`;
}
