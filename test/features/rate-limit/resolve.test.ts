import { loadAll } from '../../../model';
import { render } from '../../../synth/render';
import { formatProblem, validateObjects } from '../../../checks';
import { ROOT } from '../../helpers';
import { re2FullMatch } from '../../../kernel/re2';
import { chargedRules } from './envoy-model';

type Any = any;

describe('PushNchat: per-client rate limits at the ingress gateway (seed 003)', () => {
  const files = [...render(loadAll(ROOT, { platform: 'pushnchat' })).files];
  const filters = files.filter((f) => f.manifest.kind === 'EnvoyFilter');
  const hostConfig = (f: Any, host: string): Any =>
    f.manifest.spec.configPatches.find((p: Any) => p.match.routeConfiguration?.vhost?.name === `${host}:443`).patch.value.typed_per_filter_config[
      'meridian.pushnchat-ratelimit'
    ];
  const buckets = (config: Any) => Object.fromEntries(config.descriptors.map((d: Any) => [d.entries[0].value, d.token_bucket]));

  test("every region cluster of every environment but the pull requests' renders one, in the gateway namespace", () => {
    // overlays/pushnchat/preview.yaml turns the limits off (ingress.rateLimit: null).
    const clusters = [...new Set(files.filter((f) => f.manifest.kind === 'Gateway').map((f) => f.path.split('/').slice(0, 3).join('/')))].filter(
      (c) => !c.startsWith('pushnchat/preview/'),
    );
    expect(clusters.length).toBeGreaterThanOrEqual(7);
    expect(filters.map((f) => f.path.split('/').slice(0, 3).join('/')).sort()).toEqual(clusters.sort());
    for (const f of filters) {
      expect(f.path).toMatch(/^pushnchat\/[a-z]+\/[-a-z0-9]+\/istio-ingress\/envoyfilter-pushnchat-ratelimit\.yaml$/);
      expect(f.manifest.spec).toMatchObject({ workloadSelector: { labels: { istio: 'ingressgateway' } } });
      expect((f.manifest.metadata as Any).annotations['argocd.argoproj.io/sync-wave']).toBe('0');
    }
  });

  test('the API host is stricter than the web app; messages and admin have limits of their own', () => {
    const f = filters.find((x) => x.path === 'pushnchat/prod/africa-south1/istio-ingress/envoyfilter-pushnchat-ratelimit.yaml')!;
    expect(buckets(hostConfig(f, 'app.pushnchat.example.com'))).toEqual({ default: { max_tokens: 300, tokens_per_fill: 20, fill_interval: '1s' } });
    expect(buckets(hostConfig(f, 'api.pushnchat.example.com'))).toEqual({
      api: { max_tokens: 120, tokens_per_fill: 10, fill_interval: '1s' },
      messages: { max_tokens: 200, tokens_per_fill: 20, fill_interval: '1s' },
    });
    expect(buckets(hostConfig(f, 'admin.pushnchat.example.com'))).toEqual({ admin: { max_tokens: 60, tokens_per_fill: 5, fill_interval: '1s' } });
  });

  test('health checks through the load balancer are never limited', () => {
    const f = filters[0];
    const regex = hostConfig(f, 'api.pushnchat.example.com').rate_limits[0].actions[0].header_value_match.headers[1].string_match.safe_regex.regex;
    for (const path of ['/health/ready', '/health/live', '/api/health', '/healthz/ready', '/health/ready?full=1']) expect(re2FullMatch(regex, path)).toBe(true);
    expect(re2FullMatch(regex, '/api/listings')).toBe(false);
  });

  test('each request is charged to exactly the limit of its longest prefix, as Envoy matches paths (RE2 full match)', () => {
    const f = filters.find((x) => x.path === 'pushnchat/prod/africa-south1/istio-ingress/envoyfilter-pushnchat-ratelimit.yaml')!;
    const api = hostConfig(f, 'api.pushnchat.example.com');
    const charged = (config: Any, paths: string[]) => Object.fromEntries(paths.map((p) => [p, chargedRules(config, p)]));
    // Before: ^(?:/api/messages) matched only the exact path, so /api/messages/17 fell to the host-wide bucket.
    expect(charged(api, ['/api/messages', '/api/messages/17', '/api/messages?since=42', '/api/users/42', '/api/users?page=2', '/', '/api/messagesX'])).toEqual({
      '/api/messages': ['messages'],
      '/api/messages/17': ['messages'],
      '/api/messages?since=42': ['messages'],
      '/api/users/42': ['api'],
      '/api/users?page=2': ['api'],
      '/': ['api'],
      // A prefix, as Istio's uri.prefix: no path-segment boundary.
      '/api/messagesX': ['messages'],
    });
    expect(charged(api, ['/health/ready', '/health/ready?full=1', '/healthz/ready'])).toEqual({
      '/health/ready': [],
      '/health/ready?full=1': [],
      '/healthz/ready': [],
    });
    expect(chargedRules(hostConfig(f, 'admin.pushnchat.example.com'), '/users/7/ban?reason=spam')).toEqual(['admin']);
    expect(chargedRules(hostConfig(f, 'app.pushnchat.example.com'), '/chat/42')).toEqual(['default']);
  });

  test('the objects pass strict schema validation and the AppProject allows EnvoyFilter', () => {
    expect(validateObjects(files.map((f) => ({ file: f.path, manifest: f.manifest }))).map(formatProblem)).toEqual([]);
    const project = files.find((f) => f.path === 'pushnchat/prod/argocd/argocd/appproject-pushnchat-prod.yaml')!;
    expect((project.manifest.spec as Any).namespaceResourceWhitelist).toContainEqual({ group: 'networking.istio.io', kind: 'EnvoyFilter' });
  });

  test('platforms without a rate limit render none', () => {
    const ggen = [...render(loadAll(ROOT, { platform: 'ggen', env: 'prod' })).files];
    expect(ggen.some((f) => f.manifest.kind === 'EnvoyFilter')).toBe(false);
  });
});
