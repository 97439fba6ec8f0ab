import { ApiObject, Chart } from 'cdk8s';

export const LABEL_PLATFORM = 'meridian.dev/platform';
export const LABEL_ENV = 'meridian.dev/environment';
/** On pods: the region they run in (dashboards, debugging); routing selects regions by locality, not by this label. */
export const LABEL_REGION = 'meridian.dev/region';

export const SYNC_WAVE = 'argocd.argoproj.io/sync-wave';

/**
 * ArgoCD applies lower waves first and waits for them to be healthy: namespaces and the
 * secret store, then identities, configuration and secrets, then workloads with their
 * DestinationRules (subsets exist before routes use them), then routes and autoscalers.
 */
const WAVES: Record<string, number> = {
  AppProject: -1,
  Application: 0,
  ApplicationSet: 0,
  Namespace: -2,
  ClusterSecretStore: -2,
  ServiceAccount: -1,
  ConfigMap: -1,
  ExternalSecret: -1,
  TriggerAuthentication: -1,
  // Access policies land with the identities, before any workload starts.
  PeerAuthentication: -1,
  AuthorizationPolicy: -1,
  NetworkPolicy: -1,
  ServiceEntry: -1,
  Sidecar: -1,
  Service: 0,
  Deployment: 0,
  StatefulSet: 0,
  CronJob: 0,
  DestinationRule: 0,
  PodDisruptionBudget: 0,
  VirtualService: 1,
  RequestAuthentication: -1,
  ScaledObject: 1,
  Gateway: 0,
  BackendConfig: 0,
  // With the Gateway: the limits are in place before the routes they cover go live.
  EnvoyFilter: 0,
  // Monitoring reads running workloads; dashboards are ConfigMaps (-1).
  PodMonitoring: 1,
  ClusterPodMonitoring: 1,
  GlobalRules: 1,
  OperatorConfig: 1,
  Rules: 1,
  ClusterRules: 1,
  ServiceExport: 1,
};

/** Annotates every object of the chart with its sync wave. */
export function addSyncWaves(chart: Chart): void {
  for (const obj of chart.node.findAll()) {
    if (!(obj instanceof ApiObject)) continue;
    const wave = WAVES[obj.kind];
    if (wave === undefined) throw new Error(`no sync wave for kind ${obj.kind}: add it to WAVES in kernel/labels.ts`);
    obj.metadata.addAnnotation(SYNC_WAVE, String(wave));
  }
}
