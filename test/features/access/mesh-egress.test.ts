import { MeshEgress } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

function render(hosts: ConstructorParameters<typeof MeshEgress>[2]['hosts']) {
  const chart = testChart();
  new MeshEgress(chart, 'egress', { namespace: 'shop', hosts });
  return chart;
}

describe('MeshEgress', () => {
  test('default output', () => {
    expect(manifests(render([{ host: 'firestore.googleapis.com', ports: [{ number: 443, protocol: 'TLS' }] }]))).toMatchSnapshot();
  });

  test('one ServiceEntry per host, external, resolved by DNS, visible to its namespace only', () => {
    const se = only(
      render([
        {
          host: 'sqladmin.googleapis.com',
          ports: [
            { number: 443, protocol: 'TLS' },
            { number: 3307, protocol: 'TCP' },
          ],
        },
      ]),
      'ServiceEntry',
    );
    expect(se.metadata.name).toBe('egress-sqladmin.googleapis.com');
    expect(se.spec).toEqual({
      hosts: ['sqladmin.googleapis.com'],
      exportTo: ['.'],
      location: 'MESH_EXTERNAL',
      resolution: 'DNS',
      ports: [
        { number: 443, name: 'tls-443', protocol: 'TLS' },
        { number: 3307, name: 'tcp-3307', protocol: 'TCP' },
      ],
    });
  });

  test('a wildcard host is not resolved by the mesh', () => {
    const se = only(render([{ host: '*.googleapis.com', ports: [{ number: 443, protocol: 'TLS' }] }]), 'ServiceEntry');
    expect(se.metadata.name).toBe('egress-wildcard.googleapis.com');
    expect(se.spec.resolution).toBe('NONE');
  });

  test('fails when a host is listed twice or has no port', () => {
    expect(() =>
      render([
        { host: 'a.example.com', ports: [{ number: 443, protocol: 'TLS' }] },
        { host: 'a.example.com', ports: [{ number: 80, protocol: 'HTTP' }] },
      ]),
    ).toThrow('MeshEgress \'egress\': host "a.example.com": is listed twice: merge its ports');
    expect(() => render([{ host: 'a.example.com', ports: [] }])).toThrow('MeshEgress \'egress\': host "a.example.com": needs at least one port');
  });
});
