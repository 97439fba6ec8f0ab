/** Per-client rate limits at the ingress gateway (docs/traffic.md). */
import { z } from 'zod';
import { durationMs } from '../../kernel/quantities';
import { dnsLabel, duration, uriPath } from '../../kernel/schema';

const uriPrefix = uriPath;
/** Rate-limit refills: Envoy refills buckets on a timer, here in whole seconds. */
const refillInterval = duration.refine((d) => durationMs(d) >= 1000 && durationMs(d) % 1000 === 0, {
  message: 'must be whole seconds, at least 1s (e.g. 1s, 10s, 1m)',
});
const bucket = {
  /** Tokens added to each client's bucket every `interval`: the sustained rate (20 every 1s is 1200 a minute). */
  requests: z.number().int().min(1).max(1_000_000),
  /** Refill period. @default 1s */
  interval: refillInterval.default('1s'),
  /** Most tokens a client's bucket holds: what it may send at once after being idle. @default - requests */
  burst: z.number().int().min(1).max(1_000_000).optional(),
};

/** A limit of its own on some paths or hosts (docs/traffic.md, "Per-client rate limits at the gateway"). */
export const GatewayRateLimitOverride = z.strictObject({
  ...bucket,
  /** Hosts (of `ingress.hosts`) it applies on. @default - the hosts of `ingress.rateLimit` */
  hosts: z.array(z.string()).min(1).optional(),
  /** URI prefixes it applies to; on a host, the longest matching prefix picks the limit. @default ['/'] */
  paths: z.array(uriPrefix).min(1).default(['/']),
});

/**
 * Per-client rate limit at the ingress gateway (Envoy local rate limit): a token bucket per
 * client address in each gateway pod, on top of the load balancer's Cloud Armor policy.
 */
export const GatewayRateLimit = z.strictObject({
  ...bucket,
  /** Hosts (of `ingress.hosts`) limited. @default - every ingress host */
  hosts: z.array(z.string()).min(1).optional(),
  /** URI prefixes limited; other paths pass. @default ['/'] */
  paths: z.array(uriPrefix).min(1).default(['/']),
  /** Other limits by name, for some hosts or paths; a request counts against one limit: the longest prefix on its host, an override before this one. @default {} */
  overrides: z.record(dnsLabel, GatewayRateLimitOverride).default({}),
  /** URI prefixes never limited, besides the health-check paths (always exempt). @default [] */
  exemptPaths: z.array(uriPrefix).default([]),
  /** How the gateway tells clients apart. */
  client: z
    .strictObject({
      /**
       * Proxies in front of the gateway appending to X-Forwarded-For: the client is the address this
       * far from the right. The GCP global external Application Load Balancer appends
       * `<client>,<load balancer>`: 2. Fewer keys clients on the load balancer, more lets them
       * choose their own address. Set on the gateway's listeners (xff_num_trusted_hops). @default 2
       */
      trustedHops: z.number().int().min(1).max(10).default(2),
      /** IPv4 clients are keyed by their address masked to this length. @default 32 */
      ipv4PrefixLength: z.number().int().min(8).max(32).default(32),
      /** IPv6 clients are keyed by their address masked to this length: one subscriber holds a /64. @default 64 */
      ipv6PrefixLength: z.number().int().min(16).max(128).default(64),
    })
    .prefault({}),
  /** Clients each gateway pod keeps a bucket for, per host and limit; the least recently seen is forgotten. @default 10000 */
  maxClients: z.number().int().min(100).max(1_000_000).default(10_000),
  /** false is a dry run: the stats count what would be limited, nothing is rejected. @default true */
  enforce: z.boolean().default(true),
  /** X-RateLimit-Limit, -Remaining and -Reset on every response. @default true */
  headers: z.boolean().default(true),
});

export type GatewayRateLimitSpec = z.output<typeof GatewayRateLimit>;
