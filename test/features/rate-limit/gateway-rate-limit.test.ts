import { Duration } from 'cdk8s';
import { GatewayRateLimit, GatewayRateLimitProps, pathRegex } from '../../../features';
import { manifests, only, testChart } from '../../helpers';
import { re2FullMatch } from '../../../kernel/re2';
import { chargedRules } from './envoy-model';

type Any = any;

const base: GatewayRateLimitProps = {
  name: 'shop-ratelimit',
  namespace: 'istio-ingress',
  rules: [{ name: 'default', hosts: ['shop.example.com'], requests: 20, interval: Duration.seconds(1), burst: 100 }],
};

function render(props: Partial<GatewayRateLimitProps> = {}) {
  const chart = testChart();
  new GatewayRateLimit(chart, 'limit', { ...base, ...props });
  return chart;
}

const patches = (props: Partial<GatewayRateLimitProps> = {}): Any[] => only(render(props), 'EnvoyFilter').spec.configPatches;
/** The local rate limit config of the virtual host `<host>:443`. */
function hostConfig(host: string, props: Partial<GatewayRateLimitProps> = {}): Any {
  const patch = patches(props).find((p) => p.applyTo === 'VIRTUAL_HOST' && p.match.routeConfiguration.vhost.name === `${host}:443`);
  if (!patch) throw new Error(`no virtual host patch for ${host}`);
  return patch.patch.value.typed_per_filter_config['meridian.shop-ratelimit'];
}
const ruleAction = (config: Any, rule: string): Any =>
  config.rate_limits.map((r: Any) => r.actions[0].header_value_match).find((m: Any) => m.descriptor_value === rule);
/** Whether Envoy matches the `:path` with the regex: RE2::FullMatch, the real RE2. */
const matches = (regex: string, path: string) => re2FullMatch(regex, path);

describe('GatewayRateLimit', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('one EnvoyFilter in the gateway namespace, selecting the gateway pods', () => {
    const filter = only(render({ selector: { app: 'edge', istio: 'edge-gateway' } }), 'EnvoyFilter');
    expect(filter.apiVersion).toBe('networking.istio.io/v1alpha3');
    expect(filter.metadata).toMatchObject({ name: 'shop-ratelimit', namespace: 'istio-ingress' });
    expect(filter.spec.workloadSelector).toEqual({ labels: { app: 'edge', istio: 'edge-gateway' } });
    expect(only(render(), 'EnvoyFilter').spec.workloadSelector).toEqual({ labels: { istio: 'ingressgateway' } });
    expect(patches().every((p) => p.match.context === 'GATEWAY')).toBe(true);
  });

  test('the client address is taken 2 hops from the right of X-Forwarded-For (GCP global load balancer)', () => {
    const hcm = patches().find((p) => p.applyTo === 'NETWORK_FILTER');
    expect(hcm.match.listener.filterChain.filter.name).toBe('envoy.filters.network.http_connection_manager');
    expect(hcm.patch).toEqual({
      operation: 'MERGE',
      value: {
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          xff_num_trusted_hops: 2,
        },
      },
    });
    expect(patches({ trustedHops: 3 }).find((p) => p.applyTo === 'NETWORK_FILTER').patch.value.typed_config.xff_num_trusted_hops).toBe(3);
  });

  test("the filter is inserted before the router under its own name, disabled outside the rules' hosts", () => {
    const filter = patches().find((p) => p.applyTo === 'HTTP_FILTER');
    expect(filter.match.listener.filterChain.filter.subFilter).toEqual({ name: 'envoy.filters.http.router' });
    expect(filter.patch.operation).toBe('INSERT_BEFORE');
    expect(filter.patch.value).toEqual({
      name: 'meridian.shop-ratelimit',
      // No filter_enabled: Envoy's default is 0 %, so other hosts on the gateway are untouched.
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit', stat_prefix: 'meridian_shop_ratelimit' },
    });
  });

  test('on its host the filter is enabled and enforced for 100 % of requests, with a bucket per client', () => {
    const config = hostConfig('shop.example.com');
    const hundred = { default_value: { numerator: 100, denominator: 'HUNDRED' } };
    expect(config.filter_enabled).toEqual(hundred);
    expect(config.filter_enforced).toEqual(hundred);
    expect(config.descriptors).toEqual([
      {
        entries: [{ key: 'meridian_rate_limit_rule', value: 'default' }, { key: 'masked_remote_address' }],
        token_bucket: { max_tokens: 100, tokens_per_fill: 20, fill_interval: '1s' },
      },
    ]);
    expect(config.rate_limits[0].actions[1]).toEqual({ masked_remote_address: { v4_prefix_mask_len: 32, v6_prefix_mask_len: 64 } });
    expect(config.max_dynamic_descriptors).toBe(10000);
    // The shared bucket only serves requests no rule matched; it must never limit them.
    expect(config.always_consume_default_token_bucket).toBe(false);
    expect(config.token_bucket.max_tokens).toBeGreaterThanOrEqual(1e9);
    expect(config.enable_x_ratelimit_headers).toBe('DRAFT_VERSION_03');
    expect(config.response_headers_to_add).toEqual([{ header: { key: 'retry-after', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    expect(config.stat_prefix).toBe('meridian_shop_ratelimit_shop_example_com');
  });

  test('burst defaults to requests; client masks, tracked clients, headers and dry run are passed on', () => {
    const config = hostConfig('shop.example.com', {
      rules: [{ name: 'default', hosts: ['shop.example.com'], requests: 5, interval: Duration.minutes(1) }],
      ipv4PrefixLength: 24,
      ipv6PrefixLength: 48,
      maxClients: 50000,
      rateLimitHeaders: false,
      enforce: false,
    });
    expect(config.descriptors[0].token_bucket).toEqual({ max_tokens: 5, tokens_per_fill: 5, fill_interval: '60s' });
    expect(config.rate_limits[0].actions[1]).toEqual({ masked_remote_address: { v4_prefix_mask_len: 24, v6_prefix_mask_len: 48 } });
    expect(config.max_dynamic_descriptors).toBe(50000);
    expect(config.enable_x_ratelimit_headers).toBeUndefined();
    expect(config.filter_enforced).toEqual({ default_value: { numerator: 0, denominator: 'HUNDRED' } });
    expect(config.response_headers_to_add[0].header.value).toBe('60');
  });

  test('health-check paths are exempt exactly, exempt prefixes as prefixes', () => {
    const config = hostConfig('shop.example.com', { healthCheckPaths: ['/healthz/ready', '/health/ready'], exemptPaths: ['/status'] });
    const [limited, exempt] = ruleAction(config, 'default').headers;
    expect(limited.string_match.safe_regex.regex).toBe('(?s)(?:/).*');
    expect(exempt.invert_match).toBe(true);
    const regex = exempt.string_match.safe_regex.regex;
    for (const path of ['/healthz/ready', '/health/ready', '/health/ready?full=1', '/status', '/status/db']) expect(matches(regex, path)).toBe(true);
    for (const path of ['/health/readyz', '/api/health/ready', '/', '/stat']) expect(matches(regex, path)).toBe(false);
    expect(['/', '/cart/7?x=1', '/health/ready', '/health/ready?full=1', '/status/db'].map((p) => chargedRules(config, p))).toEqual([
      ['default'],
      ['default'],
      [],
      [],
      [],
    ]);
  });

  test('a longer prefix of another rule takes its requests; each rule has its own bucket', () => {
    const config = hostConfig('shop.example.com', {
      rules: [
        { name: 'default', hosts: ['shop.example.com'], requests: 10, interval: Duration.seconds(1) },
        { name: 'chat', hosts: ['shop.example.com'], paths: ['/api/chat'], requests: 50, interval: Duration.seconds(10), burst: 80 },
      ],
    });
    const base = ruleAction(config, 'default').headers;
    expect(base[1]).toMatchObject({ invert_match: true, string_match: { safe_regex: { regex: '(?s)(?:/api/chat).*' } } });
    expect(ruleAction(config, 'chat').headers).toEqual([{ name: ':path', string_match: { safe_regex: { regex: '(?s)(?:/api/chat).*' } } }]);
    expect(['/api/chat', '/api/chat/rooms/9?since=1', '/api/users', '/'].map((p) => chargedRules(config, p))).toEqual([
      ['chat'],
      ['chat'],
      ['default'],
      ['default'],
    ]);
    expect(config.descriptors.map((d: Any) => [d.entries[0].value, d.token_bucket])).toEqual([
      ['default', { max_tokens: 10, tokens_per_fill: 10, fill_interval: '1s' }],
      ['chat', { max_tokens: 80, tokens_per_fill: 50, fill_interval: '10s' }],
    ]);
    expect(config.response_headers_to_add[0].header.value).toBe('10');
  });

  test("only the rules' hosts get a config, one per host", () => {
    const hosts = patches({
      rules: [
        { name: 'default', hosts: ['www.example.com', 'shop.example.com'], requests: 10, interval: Duration.seconds(1) },
        { name: 'api', hosts: ['api.example.com'], requests: 5, interval: Duration.seconds(1) },
      ],
    })
      .filter((p) => p.applyTo === 'VIRTUAL_HOST')
      .map((p) => p.match.routeConfiguration.vhost.name);
    expect(hosts).toEqual(['api.example.com:443', 'shop.example.com:443', 'www.example.com:443']);
    expect(patches({ gatewayPort: 8443 }).find((p) => p.applyTo === 'VIRTUAL_HOST').match.routeConfiguration.vhost.name).toBe('shop.example.com:8443');
  });

  test('path prefixes are quoted for RE2', () => {
    expect(pathRegex(['/a.b', '/c(1)+'], ['/x?y'])).toBe('(?s)(?:/a\\.b|/c\\(1\\)\\+).*|(?:/x\\?y)(?:\\?.*)?');
    expect(matches(pathRegex(['/a.b']), '/aXb')).toBe(false);
    expect(matches(pathRegex(['/a.b']), '/a.b/c\nd')).toBe(true);
    expect(matches(pathRegex([], ['/x?y']), '/x?yz')).toBe(false);
  });

  test('fails when there is no rule', () => {
    expect(() => render({ rules: [] })).toThrow("GatewayRateLimit 'limit': rules must name at least one rule");
  });

  test('fails when burst is below requests', () => {
    expect(() => render({ rules: [{ name: 'default', hosts: ['shop.example.com'], requests: 20, interval: Duration.seconds(1), burst: 10 }] })).toThrow(
      "GatewayRateLimit 'limit': rule default: burst (10) must be >= requests (20): the bucket holds at most burst tokens",
    );
  });

  test('fails when the interval is not whole seconds', () => {
    expect(() => render({ rules: [{ name: 'default', hosts: ['shop.example.com'], requests: 20, interval: Duration.millis(500) }] })).toThrow(
      "GatewayRateLimit 'limit': rule default: interval (500ms) must be whole seconds >= 1",
    );
  });

  test('fails when two rules claim the same prefix on a host', () => {
    expect(() =>
      render({
        rules: [
          { name: 'default', hosts: ['shop.example.com'], requests: 20, interval: Duration.seconds(1) },
          { name: 'api', hosts: ['api.example.com', 'shop.example.com'], requests: 5, interval: Duration.seconds(1) },
        ],
      }),
    ).toThrow("GatewayRateLimit 'limit': rule api: path / on shop.example.com is also rule default's: a request counts against one rule");
  });

  test('fails when a rule name is used twice on a host', () => {
    expect(() =>
      render({
        rules: [
          { name: 'default', hosts: ['shop.example.com'], requests: 20, interval: Duration.seconds(1) },
          { name: 'default', hosts: ['shop.example.com'], paths: ['/api'], requests: 5, interval: Duration.seconds(1) },
        ],
      }),
    ).toThrow('GatewayRateLimit \'limit\': rule name "default" is used twice on shop.example.com');
  });

  test("fails when no proxy is trusted: every client would share the load balancer's address", () => {
    expect(() => render({ trustedHops: 0 })).toThrow(
      "GatewayRateLimit 'limit': trustedHops (0) must be an integer >= 1: 0 would key every client on the load balancer's address",
    );
  });

  test('fails when an IPv6 mask is out of range', () => {
    expect(() => render({ ipv6PrefixLength: 129 })).toThrow("GatewayRateLimit 'limit': ipv6PrefixLength (129) must be an integer from 1 to 128");
  });

  test('fails when a path is not a URI path', () => {
    expect(() => render({ exemptPaths: ['health'] })).toThrow('GatewayRateLimit \'limit\': exemptPaths: "health" is not a URI path starting with "/"');
  });
});
