import { Duration } from 'cdk8s';
import { IngressGateway, IngressGatewayProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: IngressGatewayProps = {
  name: 'shop-gateway',
  namespace: 'istio-ingress',
  routeNamespaces: ['shop'],
  tlsCredential: 'shop-tls',
};

function render(props: Partial<IngressGatewayProps> = {}) {
  const chart = testChart();
  new IngressGateway(chart, 'ingress', { ...base, ...props });
  return chart;
}

describe('IngressGateway', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('the Gateway terminates HTTPS with the named credential on the istio ingress gateway pods', () => {
    const spec = only(render(), 'Gateway').spec;
    expect(spec.selector).toEqual({ istio: 'ingressgateway' });
    expect(spec.servers).toEqual([
      {
        name: 'https',
        port: { number: 443, name: 'https', protocol: 'HTTPS' },
        // The GCP load balancer sends no SNI: any server name matches, namespaces limit who binds.
        hosts: ['shop/*'],
        tls: { mode: 'SIMPLE', credentialName: 'shop-tls', minProtocolVersion: 'TLSV1_2' },
      },
    ]);
  });

  test('route namespaces are deduplicated and sorted', () => {
    expect(only(render({ routeNamespaces: ['web', 'api', 'web'] }), 'Gateway').spec.servers[0].hosts).toEqual(['api/*', 'web/*']);
  });

  test('the BackendConfig health-checks the gateway status port and drains connections', () => {
    const spec = only(render(), 'BackendConfig').spec;
    expect(spec.healthCheck).toEqual({
      type: 'HTTP',
      requestPath: '/healthz/ready',
      port: 15021,
      checkIntervalSec: 10,
      timeoutSec: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
    expect(spec.timeoutSec).toBe(30);
    expect(spec.connectionDraining).toEqual({ drainingTimeoutSec: 60 });
    expect(spec.securityPolicy).toBeUndefined();
    expect(spec.customRequestHeaders).toBeUndefined();
  });

  test('Cloud Armor policy, request headers and timeouts are passed to the load balancer', () => {
    const spec = only(
      render({
        securityPolicy: 'shop-edge',
        requestHeaders: { 'X-Client-Region': '{client_region}' },
        backendTimeout: Duration.hours(1),
      }),
      'BackendConfig',
    ).spec;
    expect(spec.securityPolicy).toEqual({ name: 'shop-edge' });
    expect(spec.customRequestHeaders).toEqual({ headers: ['X-Client-Region:{client_region}'] });
    expect(spec.timeoutSec).toBe(3600);
  });

  test('exposes the reference VirtualServices use', () => {
    const chart = testChart();
    expect(new IngressGateway(chart, 'ingress', base).ref).toBe('istio-ingress/shop-gateway');
  });

  test('fails when the health check timeout is longer than its interval', () => {
    expect(() => render({ healthCheck: { interval: Duration.seconds(5), timeout: Duration.seconds(10) } })).toThrow(
      "IngressGateway 'ingress': healthCheck.timeout (10s) must be <= healthCheck.interval (5s)",
    );
  });

  test('fails when a duration is not whole seconds', () => {
    expect(() => render({ backendTimeout: Duration.millis(1500) })).toThrow(
      "IngressGateway 'ingress': backendTimeout (1500ms) must be a whole number of seconds >= 1",
    );
  });

  test('fails when no namespace may bind routes', () => {
    expect(() => render({ routeNamespaces: [] })).toThrow("IngressGateway 'ingress': routeNamespaces must name at least one namespace");
  });
});
