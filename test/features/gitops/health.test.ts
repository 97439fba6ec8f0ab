import { loadAll } from '../../../model';
import { buildEnvironment } from '../../../synth/render';
import { ApiObject } from 'cdk8s';
import { haveLua, runHealthScript } from '../../lua';
import { ROOT } from '../../helpers';

/** The argocd-cm health keys as rendered for ggen prod (the script ArgoCD will run, not the source file). */
function renderedHealth(): Record<string, string> {
  const env = loadAll(ROOT, { platform: 'ggen', env: 'prod' })[0];
  const charts = buildEnvironment(env, 'ggen/prod');
  const [gitops] = charts[charts.length - 1];
  const cm = gitops.node.findAll().find((c): c is ApiObject => c instanceof ApiObject && c.kind === 'ConfigMap' && c.name === 'argocd-cm')!;
  return (cm.toJson() as { data: Record<string, string> }).data;
}

const podMonitoring = (status?: unknown, meta: Record<string, unknown> = {}) => ({
  apiVersion: 'monitoring.googleapis.com/v1',
  kind: 'PodMonitoring',
  metadata: { name: 'api', namespace: 'marketplace', generation: 2, ...meta },
  spec: { selector: { matchLabels: { app: 'api' } }, endpoints: [{ port: 'metrics', interval: '30s' }] },
  status,
});
const condition = (status: string, extra: Record<string, unknown> = {}) => ({
  conditions: [{ type: 'ConfigurationCreateSuccess', status, lastUpdateTime: '2026-12-01T00:00:00Z', ...extra }],
  observedGeneration: 2,
});

(haveLua() ? describe : describe.skip)('ArgoCD health of Managed Prometheus objects, run by Lua 5.1', () => {
  const data = renderedHealth();
  const script = data['resource.customizations.health.monitoring.googleapis.com_PodMonitoring'];

  test('every GMP kind the environment renders has the check; nothing else is overridden', () => {
    expect(Object.keys(data)).toEqual([
      'resource.customizations.health.monitoring.googleapis.com_ClusterPodMonitoring',
      'resource.customizations.health.monitoring.googleapis.com_ClusterRules',
      'resource.customizations.health.monitoring.googleapis.com_GlobalRules',
      'resource.customizations.health.monitoring.googleapis.com_PodMonitoring',
      'resource.customizations.health.monitoring.googleapis.com_Rules',
    ]);
  });

  test.each<[string, unknown, string, string | undefined]>([
    ['configured', podMonitoring(condition('True')), 'Healthy', 'Configuration created'],
    [
      'rejected by the operator',
      podMonitoring(condition('False', { reason: 'InvalidSelector', message: 'port "metrics" not found' })),
      'Degraded',
      'port "metrics" not found',
    ],
    ['rejected, no message', podMonitoring(condition('False', { reason: 'InvalidSelector' })), 'Degraded', 'InvalidSelector'],
    ['not yet read by the operator', podMonitoring(undefined), 'Progressing', 'Waiting for the Managed Prometheus operator'],
    [
      'an older generation read',
      podMonitoring({ ...condition('True'), observedGeneration: 1 }),
      'Progressing',
      'Waiting for the Managed Prometheus operator to read generation 2',
    ],
    ['being deleted', podMonitoring(condition('True'), { deletionTimestamp: '2026-12-01T00:00:00Z' }), 'Progressing', 'Pending deletion'],
    ['unknown condition', podMonitoring(condition('Unknown')), 'Progressing', 'Waiting for the Managed Prometheus operator'],
  ])('%s → %s', (_name, obj, status, message) => {
    expect(runHealthScript(script, obj)).toEqual({ status, message });
  });
});
