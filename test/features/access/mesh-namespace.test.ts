import { MeshNamespace } from '../../../features';
import { manifests, testChart } from '../../helpers';

describe('MeshNamespace', () => {
  const render = (props: Partial<ConstructorParameters<typeof MeshNamespace>[2]> = {}) => {
    const chart = testChart();
    new MeshNamespace(chart, 'ns', { name: 'shop', ...props });
    return manifests(chart)[0] as any;
  };

  test('default: sidecar injection on, restricted pod security enforced and warned', () => {
    expect(render()).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'shop',
        labels: { 'istio-injection': 'enabled', 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
      },
      spec: {},
    });
  });

  test('injection and pod security can be set explicitly; extra labels are kept', () => {
    expect(render({ istioInjection: false, podSecurity: 'baseline', labels: { team: 'payments' } }).metadata.labels).toEqual({
      team: 'payments',
      'istio-injection': 'disabled',
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/warn': 'baseline',
    });
  });
});
