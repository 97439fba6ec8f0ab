import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { OperatorConfig } from '../../imports/monitoring.googleapis.com';
import { SecretSync } from '../secrets/secret-sync';
import { promDuration } from './alert-rules';

/** Where alerts of a severity go: the on-call pager, the team's ticket queue, or nowhere. */
export type AlertDestination = 'page' | 'ticket' | 'none';

export interface AlertRoutingProps {
  /** Where `severity: critical` alerts go. */
  readonly critical: AlertDestination;
  /** Where `severity: warning` alerts go. */
  readonly warning: AlertDestination;
  /** Secret Manager secret holding the PagerDuty Events API v2 routing key; required when a severity pages. @default - none */
  readonly pagerSecret?: string;
  /** Secret Manager secret holding the ticket queue's webhook URL; required when a severity makes tickets. @default - none */
  readonly ticketSecret?: string;
  /** The ClusterSecretStore the two secrets are read from. */
  readonly store: string;
  /** Labels an alert must carry to be routed (e.g. platform and env); others go nowhere. */
  readonly match: Record<string, string>;
  /** Labels that make one notification of several alerts. */
  readonly groupBy: string[];
  /** Labels a critical and a warning alert share when the critical one silences the warning. */
  readonly inhibitEqual: string[];
  /** How often the kubelets' cAdvisor endpoints are scraped. @default Duration.seconds(30) */
  readonly kubeletScrapingInterval?: Duration;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/** The namespace and names GMP's operator reads (prometheus-engine: `gmp-public/config`, Secret `alertmanager`, key `alertmanager.yaml`). */
export const GMP_PUBLIC = 'gmp-public';
export const OPERATOR_CONFIG = 'config';
export const ALERTMANAGER_SECRET = 'alertmanager';
export const ALERTMANAGER_KEY = 'alertmanager.yaml';
/** The keys of the synced Secret the configuration's template reads. */
const PAGER_KEY = 'pagerduty_routing_key';
const TICKET_KEY = 'ticket_webhook_url';

/**
 * Where a cluster's alerts go, for GKE Managed Service for Prometheus: its `OperatorConfig`
 * (`gmp-public/config`: kubelet scraping on, the managed Alertmanager's configuration Secret)
 * and that Secret, synced from Secret Manager with the Alertmanager configuration rendered
 * around the credentials (the routing key and webhook URL never reach the manifests).
 *
 * The routing tree: critical and warning alerts of `match` go to their destination; a
 * critical alert silences the warning of the same alert (both levels fire together above the
 * critical threshold); everything else goes to a receiver without integrations.
 */
export class AlertRouting extends Construct {
  /** The Alertmanager configuration, with `{{ .<key> }}` where External Secrets writes each credential. */
  public readonly configTemplate: string;
  public readonly critical: AlertDestination;
  public readonly warning: AlertDestination;

  constructor(scope: Construct, id: string, props: AlertRoutingProps) {
    super(scope, id);
    const fail = (msg: string): never => {
      throw new Error(`AlertRouting '${id}': ${msg}`);
    };
    this.critical = props.critical;
    this.warning = props.warning;
    const used = new Set([props.critical, props.warning]);
    if (used.has('page') && !props.pagerSecret) fail(`pagerSecret is required: ${props.critical === 'page' ? 'critical' : 'warning'} alerts page`);
    if (used.has('ticket') && !props.ticketSecret)
      fail(`ticketSecret is required: ${props.critical === 'ticket' ? 'critical' : 'warning'} alerts make tickets`);
    if (Object.keys(props.match).length === 0) fail('match is empty: say which alerts this tree routes (platform, env)');

    const receivers: Record<string, unknown>[] = [{ name: 'none' }];
    if (used.has('page')) receivers.push({ name: 'page', pagerduty_configs: [{ routing_key: `{{ .${PAGER_KEY} }}`, send_resolved: true }] });
    if (used.has('ticket')) receivers.push({ name: 'ticket', webhook_configs: [{ url: `{{ .${TICKET_KEY} }}`, send_resolved: true }] });
    const matchers = Object.entries(props.match)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    const config = {
      route: {
        receiver: 'none',
        group_by: props.groupBy,
        group_wait: '30s',
        group_interval: '5m',
        repeat_interval: '4h',
        routes: (['critical', 'warning'] as const).map((severity) => ({
          receiver: props[severity],
          matchers: [...matchers, `severity="${severity}"`],
        })),
      },
      inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: props.inhibitEqual }],
      receivers,
    };
    this.configTemplate = stringify(config, { lineWidth: 0, aliasDuplicateObjects: false });

    const keys: Record<string, { remoteKey: string }> = {};
    if (used.has('page')) keys[PAGER_KEY] = { remoteKey: props.pagerSecret! };
    if (used.has('ticket')) keys[TICKET_KEY] = { remoteKey: props.ticketSecret! };
    // With no destination at all the configuration has no credential: a Secret synced from none.
    if (Object.keys(keys).length > 0) {
      new SecretSync(this, 'Config', {
        name: ALERTMANAGER_SECRET,
        namespace: GMP_PUBLIC,
        store: props.store,
        keys,
        template: { [ALERTMANAGER_KEY]: this.configTemplate },
        labels: props.labels,
      });
    }

    new OperatorConfig(this, 'Resource', {
      metadata: { name: OPERATOR_CONFIG, namespace: GMP_PUBLIC, labels: props.labels },
      collection: { kubeletScraping: { interval: promDuration(props.kubeletScrapingInterval ?? Duration.seconds(30)) } },
      managedAlertmanager: Object.keys(keys).length > 0 ? { configSecret: { name: ALERTMANAGER_SECRET, key: ALERTMANAGER_KEY } } : undefined,
    });
  }
}
