import { Duration } from 'cdk8s';
import { MetricsScrape, MetricsScrapeProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: MetricsScrapeProps = {
  name: 'api',
  namespace: 'shop',
  selector: { 'app.kubernetes.io/name': 'api' },
  endpoints: [{ port: 'http' }],
};

function render(props: Partial<MetricsScrapeProps> = {}) {
  const chart = testChart();
  const scrape = new MetricsScrape(chart, 'scrape', { ...base, ...props });
  return { chart, scrape };
}

describe('MetricsScrape', () => {
  test('default output', () => {
    expect(manifests(render().chart)).toMatchSnapshot();
  });

  test('a PodMonitoring scraping /metrics every 30s on the named port; its name is the job', () => {
    const { chart, scrape } = render();
    const m = only(chart, 'PodMonitoring');
    expect(m.apiVersion).toBe('monitoring.googleapis.com/v1');
    expect(m.spec).toEqual({
      selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } },
      endpoints: [{ port: 'http', path: '/metrics', interval: '30s' }],
    });
    expect(scrape.job).toBe('api');
  });

  test('numeric ports, paths, intervals and query parameters', () => {
    const m = only(
      render({
        endpoints: [
          { port: 15020, path: '/stats/prometheus', interval: Duration.minutes(1) },
          { port: 'http-metrics', path: '/scrape', params: { target: ['redis://localhost:26379'] } },
        ],
      }).chart,
      'PodMonitoring',
    );
    expect(m.spec.endpoints).toEqual([
      { port: 15020, path: '/stats/prometheus', interval: '1m' },
      { port: 'http-metrics', path: '/scrape', interval: '30s', params: { target: ['redis://localhost:26379'] } },
    ]);
  });

  test('pod labels are copied onto the series', () => {
    const m = only(render({ podLabels: { 'meridian.dev/region': 'region' } }).chart, 'PodMonitoring');
    expect(m.spec.targetLabels).toEqual({ fromPod: [{ from: 'meridian.dev/region', to: 'region' }] });
  });

  test('fails when the selector is empty', () => {
    expect(() => render({ selector: {} })).toThrow("MetricsScrape 'scrape': selector is empty: it would scrape every pod of the namespace");
  });

  test('fails when two endpoints scrape the same port', () => {
    expect(() => render({ endpoints: [{ port: 'http' }, { port: 'http', path: '/other' }] })).toThrow(
      "MetricsScrape 'scrape': endpoints[1].port (http) is scraped by another endpoint: Managed Prometheus makes one job per port; use a second MetricsScrape",
    );
  });

  test('fails when a port name is not a container port name', () => {
    expect(() => render({ endpoints: [{ port: 'HTTP_metrics' }] })).toThrow(
      'MetricsScrape \'scrape\': endpoints[0].port ("HTTP_metrics") must be a container port name: at most 15 lowercase letters, digits and "-"',
    );
  });

  test('fails when a port number is out of range', () => {
    expect(() => render({ endpoints: [{ port: 70000 }] })).toThrow("MetricsScrape 'scrape': endpoints[0].port (70000) must be a port number 1-65535");
  });

  test('fails when the interval is under 5s', () => {
    expect(() => render({ endpoints: [{ port: 'http', interval: Duration.seconds(1) }] })).toThrow(
      "MetricsScrape 'scrape': endpoints[0].interval (1s) must be at least 5s",
    );
  });

  test('fails when a pod label would overwrite a label Managed Prometheus owns', () => {
    expect(() => render({ podLabels: { app: 'namespace' } })).toThrow(
      'MetricsScrape \'scrape\': podLabels["app"] ("namespace") must be a label name other than project_id, location, cluster, namespace, job, instance',
    );
  });
});
