import { MeshSecurity, MeshSecurityProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: MeshSecurityProps = {
  namespace: 'shop',
  allow: [{ name: 'cache-from-web', selector: { app: 'cache' }, from: [{ namespace: 'shop', serviceAccount: 'web' }], ports: [6379] }],
};

function render(props: Partial<MeshSecurityProps> = {}) {
  const chart = testChart();
  new MeshSecurity(chart, 'mesh', { ...base, ...props });
  return chart;
}

describe('MeshSecurity', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('requires mutual TLS for the whole namespace', () => {
    expect(only(render(), 'PeerAuthentication').spec).toEqual({ mtls: { mode: 'STRICT' } });
  });

  test('denies everything unless allowed: allow-nothing has no selector and no rules', () => {
    const ap = only(render(), 'AuthorizationPolicy', 'allow-nothing');
    expect(ap.spec).toEqual({});
  });

  test('allows a caller by its mTLS principal on the given ports only', () => {
    expect(only(render(), 'AuthorizationPolicy', 'cache-from-web').spec).toEqual({
      action: 'ALLOW',
      selector: { matchLabels: { app: 'cache' } },
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }], to: [{ operation: { ports: ['6379'] } }] }],
    });
  });

  test('principals use the trust domain given', () => {
    const ap = only(render({ trustDomain: 'shop-prod.svc.id.goog' }), 'AuthorizationPolicy', 'cache-from-web');
    expect(ap.spec.rules[0].from[0].source.principals).toEqual(['shop-prod.svc.id.goog/ns/shop/sa/web']);
  });

  test('without ports, every port of the selected pods', () => {
    const ap = only(render({ allow: [{ ...base.allow![0], ports: undefined }] }), 'AuthorizationPolicy', 'cache-from-web');
    expect(ap.spec.rules).toEqual([{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }] }]);
  });

  test('fails when an allow has no callers', () => {
    expect(() => render({ allow: [{ ...base.allow![0], from: [] }] })).toThrow(
      'MeshSecurity \'mesh\': allow "cache-from-web": from is empty: an ALLOW rule without sources would admit every caller',
    );
  });

  test('fails when an allow selects every workload', () => {
    expect(() => render({ allow: [{ ...base.allow![0], selector: {} }] })).toThrow(
      'MeshSecurity \'mesh\': allow "cache-from-web": selector is empty: it would open every workload of the namespace',
    );
  });

  test('fails when a port is out of range or a name is used twice', () => {
    expect(() => render({ allow: [{ ...base.allow![0], ports: [70000] }] })).toThrow(
      'MeshSecurity \'mesh\': allow "cache-from-web": port (70000) must be a whole number from 1 to 65535',
    );
    expect(() => render({ allow: [base.allow![0], base.allow![0]] })).toThrow('MeshSecurity \'mesh\': allow "cache-from-web": is named twice');
  });
});
