import { Microservice, RemoteService } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

describe('RemoteService', () => {
  test('renders the Service a Microservice of that name renders where it runs, selecting its pods (none here)', () => {
    const ports = [{ name: 'http', port: 3000, protocol: 'http' as const }];
    const remote = testChart();
    new RemoteService(remote, 'admin-Remote', { name: 'admin', namespace: 'shop', ports });
    const running = testChart();
    new Microservice(running, 'admin', {
      name: 'admin',
      namespace: 'shop',
      image: 'example.com/admin:1',
      ports,
      readiness: { port: 3000, path: '/ready' },
      gcpServiceAccount: 'admin@shop.iam.gserviceaccount.com',
    });
    expect(manifests(remote)).toHaveLength(1);
    expect(only(remote, 'Service')).toEqual(only(running, 'Service'));
  });

  test('fails when it has no ports', () => {
    expect(() => new RemoteService(testChart(), 'w', { name: 'worker', namespace: 'shop', ports: [] })).toThrow(
      "RemoteService 'w': ports is empty: a service without ports is never routed to",
    );
  });
});
