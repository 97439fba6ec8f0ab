import { ScrapeAccess, ScrapeAccessProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: ScrapeAccessProps = { name: 'api', namespace: 'shop', selector: { 'app.kubernetes.io/name': 'api' }, port: 8080, paths: ['/metrics'] };

function render(props: Partial<ScrapeAccessProps> = {}) {
  const chart = testChart();
  new ScrapeAccess(chart, 'scrape', { ...base, ...props });
  return chart;
}

describe('ScrapeAccess', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('the metrics port alone accepts plaintext, with the reason recorded', () => {
    const pa = only(render(), 'PeerAuthentication');
    expect(pa.spec).toEqual({ selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } });
    expect(pa.metadata.annotations['meridian.dev/mtls-exception']).toBe('Managed Prometheus (gmp-system) scrapes /metrics on port 8080 from outside the mesh');
  });

  test('only GET of the metrics paths on that port is allowed without a caller identity', () => {
    expect(only(render({ paths: ['/metrics', '/scrape'] }), 'AuthorizationPolicy').spec).toEqual({
      selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } },
      action: 'ALLOW',
      rules: [{ to: [{ operation: { ports: ['8080'], paths: ['/metrics', '/scrape'], methods: ['GET'] } }] }],
    });
  });

  test("only the scrapers' namespace reaches the port", () => {
    expect(only(render({ scraperNamespace: 'monitoring' }), 'NetworkPolicy').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'api' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
    });
  });

  test('fails when the port is not a port number', () => {
    expect(() => render({ port: 70000 })).toThrow("ScrapeAccess 'scrape': port (70000) must be a port number");
  });
});
