import { Duration } from 'cdk8s';
import { GcpSecretStore, SecretSync } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

describe('SecretSync', () => {
  const render = (props: Partial<ConstructorParameters<typeof SecretSync>[2]> = {}) => {
    const chart = testChart();
    new SecretSync(chart, 's', {
      name: 'api-secrets',
      namespace: 'shop',
      store: 'gcp',
      keys: { B: { remoteKey: 'b-id', version: '3' }, A: { remoteKey: 'a-id' } },
      ...props,
    });
    return chart;
  };

  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('keys are sorted, versions default to latest, refresh defaults to one hour', () => {
    const es = only(render(), 'ExternalSecret');
    expect(es.spec.data).toEqual([
      { secretKey: 'A', remoteRef: { key: 'a-id', version: 'latest' } },
      { secretKey: 'B', remoteRef: { key: 'b-id', version: '3' } },
    ]);
    expect(es.spec.refreshInterval).toBe('3600s');
    expect(only(render({ refreshInterval: Duration.minutes(5) }), 'ExternalSecret').spec.refreshInterval).toBe('300s');
  });

  test('the Secret is owned by the ExternalSecret and kept if it is deleted', () => {
    expect(only(render(), 'ExternalSecret').spec.target).toEqual({ name: 'api-secrets', creationPolicy: 'Owner', deletionPolicy: 'Retain' });
  });

  test('fails when no key is given', () => {
    expect(() => render({ keys: {} })).toThrow("SecretSync 's': keys must name at least one key");
  });
});

describe('GcpSecretStore', () => {
  test('reads Secret Manager of the project with the controller identity', () => {
    const chart = testChart();
    new GcpSecretStore(chart, 'store', { name: 'gcp', project: 'p-123456', namespaces: ['shop', 'billing'] });
    expect(only(chart, 'ClusterSecretStore')).toEqual({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ClusterSecretStore',
      metadata: { name: 'gcp' },
      // Only the platform's namespaces may read through it: before, any namespace could.
      spec: { provider: { gcpsm: { projectID: 'p-123456' } }, conditions: [{ namespaces: ['billing', 'shop'] }] },
    });
  });

  test('admits name patterns, anchored', () => {
    const chart = testChart();
    new GcpSecretStore(chart, 'store', { name: 'gcp', project: 'p-123456', namespaces: [], namespacePatterns: ['^shop-pr-[0-9]+$'] });
    expect(only(chart, 'ClusterSecretStore').spec.conditions).toEqual([{ namespaceRegexes: ['^shop-pr-[0-9]+$'] }]);
  });

  test('fails when a pattern is not anchored: External Secrets searches it, so shop-pr-1 would admit evil-shop-pr-1x', () => {
    expect(() => new GcpSecretStore(testChart(), 'store', { name: 'gcp', project: 'p-123456', namespaces: [], namespacePatterns: ['shop-pr-[0-9]+'] })).toThrow(
      'GcpSecretStore \'store\': namespace pattern "shop-pr-[0-9]+" must be anchored (^...$): External Secrets searches it',
    );
  });
});
