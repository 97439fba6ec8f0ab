import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  ClusterPodMonitoring,
  ClusterPodMonitoringSpecEndpointsPort,
  ClusterPodMonitoringSpecTargetLabelsMetadata,
  PodMonitoring,
  PodMonitoringSpecEndpointsPort,
} from '../../imports/monitoring.googleapis.com';
import { promDuration } from './alert-rules';

export interface ScrapeEndpoint {
  /** Container port to scrape: its name, or a number (which may be undeclared in the pod). */
  readonly port: string | number;
  /** @default '/metrics' */
  readonly path?: string;
  /** @default Duration.seconds(30) */
  readonly interval?: Duration;
  /** Query parameters, e.g. `{ target: ['redis://localhost:26379'] }` for an exporter's `/scrape`. @default {} */
  readonly params?: Record<string, string[]>;
}

/** The annotation listing the metric names (or `prefix_*` families) a scrape collects, read by the blind-rule check. */
export const ANNOTATION_METRICS = 'meridian.dev/metrics';

export interface MetricsScrapeProps {
  /** Name of the PodMonitoring; Managed Prometheus also sets it as the `job` label of every series. */
  readonly name: string;
  /**
   * Namespace of the pods: a `PodMonitoring` there, whose series get `namespace` = this.
   * @default - a ClusterPodMonitoring: pods of every namespace, and the `namespace` label is
   * the one the target exports (an operator reporting on other namespaces' objects, like KEDA)
   */
  readonly namespace?: string;
  /** Labels selecting the pods (in `namespace` only, when given). */
  readonly selector: Record<string, string>;
  /**
   * The metrics the target serves: names, or families written `prefix_*`. Rendered as the
   * `meridian.dev/metrics` annotation; the blind-rule check matches rule selectors against it.
   * @default - not declared: any metric may come from this job
   */
  readonly metrics?: string[];
  readonly endpoints: ScrapeEndpoint[];
  /** Pod labels copied onto every series: pod label → series label. @default {} */
  readonly podLabels?: Record<string, string>;
  /** Labels of the object itself. @default {} */
  readonly labels?: Record<string, string>;
}

/** Labels Managed Prometheus sets itself and refuses to let a PodMonitoring write. */
const PROTECTED_LABELS = ['project_id', 'location', 'cluster', 'namespace', 'job', 'instance'];

/**
 * Pods scraped by GKE Managed Service for Prometheus: a `PodMonitoring`. Managed collection
 * derives one scrape job per port, so two endpoints on the same port are refused here rather
 * than by the operator after the sync.
 */
export class MetricsScrape extends Construct {
  public readonly name: string;
  public readonly namespace?: string;
  /** The `job` label of the collected series. */
  public readonly job: string;

  constructor(scope: Construct, id: string, props: MetricsScrapeProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`MetricsScrape '${id}': ${msg}`);
    };
    this.name = props.name;
    this.namespace = props.namespace;
    this.job = props.name;
    for (const m of props.metrics ?? [])
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*(\*)?$/.test(m)) fail(`metrics: "${m}" is not a metric name or a family such as istio_*`);
    if (Object.keys(props.selector).length === 0) fail('selector is empty: it would scrape every pod of the namespace');
    if (props.endpoints.length === 0) fail('endpoints is empty');
    const ports = new Set<string>();
    const endpoints = props.endpoints.map((e, i) => {
      if (typeof e.port === 'number' && (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535))
        fail(`endpoints[${i}].port (${e.port}) must be a port number 1-65535`);
      if (typeof e.port === 'string' && !/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/.test(e.port))
        fail(`endpoints[${i}].port ("${e.port}") must be a container port name: at most 15 lowercase letters, digits and "-"`);
      if (ports.has(String(e.port)))
        fail(`endpoints[${i}].port (${e.port}) is scraped by another endpoint: Managed Prometheus makes one job per port; use a second MetricsScrape`);
      ports.add(String(e.port));
      const path = e.path ?? '/metrics';
      if (!path.startsWith('/')) fail(`endpoints[${i}].path ("${path}") must start with "/"`);
      const interval = e.interval ?? Duration.seconds(30);
      if (interval.toSeconds() < 5) fail(`endpoints[${i}].interval (${promDuration(interval)}) must be at least 5s`);
      const Port = props.namespace ? PodMonitoringSpecEndpointsPort : ClusterPodMonitoringSpecEndpointsPort;
      return {
        port: typeof e.port === 'number' ? Port.fromNumber(e.port) : Port.fromString(e.port),
        path,
        interval: promDuration(interval),
        params: e.params && Object.keys(e.params).length > 0 ? e.params : undefined,
      };
    });
    const fromPod = Object.entries(props.podLabels ?? {}).map(([from, to]) => {
      if (PROTECTED_LABELS.includes(to) || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(to)) {
        fail(`podLabels["${from}"] ("${to}") must be a label name other than ${PROTECTED_LABELS.join(', ')}`);
      }
      return { from, to };
    });

    const annotations = props.metrics ? { [ANNOTATION_METRICS]: [...new Set(props.metrics)].sort().join(',') } : undefined;
    const metadata = { name: props.name, namespace: props.namespace, labels: props.labels, annotations };
    const selector = { matchLabels: props.selector };
    if (props.namespace) {
      new PodMonitoring(this, 'Resource', { metadata, spec: { selector, endpoints, targetLabels: fromPod.length > 0 ? { fromPod } : undefined } });
    } else {
      // Without `namespace` in the target's metadata labels, the exporter's own `namespace`
      // label is kept as it is (it would otherwise become `exported_namespace`).
      const meta = [ClusterPodMonitoringSpecTargetLabelsMetadata.CONTAINER, ClusterPodMonitoringSpecTargetLabelsMetadata.POD];
      new ClusterPodMonitoring(this, 'Resource', {
        metadata: { name: props.name, labels: props.labels, annotations },
        spec: { selector, endpoints, targetLabels: { metadata: meta, fromPod: fromPod.length > 0 ? fromPod : undefined } },
      });
    }
  }
}
