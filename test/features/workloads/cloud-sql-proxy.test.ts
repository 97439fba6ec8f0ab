import { CLOUD_SQL_PROXY_IMAGE, cloudSqlProxyContainer, Microservice } from '../../../features';
import { only, testChart } from '../../helpers';

describe('cloudSqlProxyContainer', () => {
  function pod(port?: number) {
    const chart = testChart();
    new Microservice(chart, 'users', {
      name: 'users',
      namespace: 'app',
      image: 'us-docker.pkg.dev/p/r/users:1.0.0',
      ports: [{ name: 'http', port: 8080 }],
      readiness: { path: '/ready', port: 8080 },
      gcpServiceAccount: 'users@p.iam.gserviceaccount.com',
      sidecars: [cloudSqlProxyContainer({ instance: 'p:africa-south1:main', port })],
    });
    return only(chart, 'Deployment').spec.template.spec;
  }

  test('runs beside the application, on private IP, with health probes and its own resources', () => {
    const proxy = pod().containers[1];
    expect(proxy.name).toBe('cloud-sql-proxy');
    expect(proxy.image).toBe(CLOUD_SQL_PROXY_IMAGE);
    expect(proxy.args).toEqual([
      '--private-ip',
      '--structured-logs',
      '--port=5432',
      '--health-check',
      '--http-address=0.0.0.0',
      '--http-port=9801',
      '--max-sigterm-delay=30s',
      'p:africa-south1:main',
    ]);
    expect(proxy.readinessProbe.httpGet).toMatchObject({ path: '/readiness', port: 9801 });
    expect(proxy.livenessProbe.httpGet).toMatchObject({ path: '/liveness', port: 9801 });
    expect(proxy.startupProbe.httpGet).toMatchObject({ path: '/startup', port: 9801 });
    expect(proxy.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '16Mi' },
      limits: { memory: '256Mi', 'ephemeral-storage': '64Mi' },
    });
  });

  test('is hardened like the application container', () => {
    const [app, proxy] = pod().containers;
    expect(proxy.securityContext).toEqual(app.securityContext);
  });

  test('listens on the port given', () => {
    expect(pod(6432).containers[1].args).toContain('--port=6432');
  });
});
