import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  ClusterSecretStore,
  ExternalSecret,
  ExternalSecretSpecSecretStoreRefKind,
  ExternalSecretSpecTargetCreationPolicy,
  ExternalSecretSpecTargetDeletionPolicy,
  ExternalSecretSpecTargetTemplateEngineVersion,
} from '../../imports/external-secrets.io';

/** One key of the synced Secret, read from a Secret Manager secret. */
export interface SecretSyncKey {
  /** Secret Manager secret id. */
  readonly remoteKey: string;
  /** Secret Manager version. @default 'latest' */
  readonly version?: string;
}

export interface SecretSyncProps {
  /** Name of the ExternalSecret and of the Kubernetes Secret it maintains. */
  readonly name: string;
  readonly namespace: string;
  /** The ClusterSecretStore to read from. */
  readonly store: string;
  /** Keys of the Secret and where each comes from. */
  readonly keys: Record<string, SecretSyncKey>;
  /**
   * Keys of the Secret written from templates over the synced keys (External Secrets' v2
   * Go templates, `{{ .<key> }}`) instead of the keys themselves: a configuration file that
   * embeds a credential. @default - the synced keys, as they are
   */
  readonly template?: Record<string, string>;
  /** How often values are re-read (rotation delay). @default Duration.hours(1) */
  readonly refreshInterval?: Duration;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * A Kubernetes Secret kept in sync with GCP Secret Manager by External Secrets: the
 * manifests name secrets, never carry their values.
 */
export class SecretSync extends Construct {
  public readonly secretName: string;

  constructor(scope: Construct, id: string, props: SecretSyncProps) {
    super(scope, id);
    const keys = Object.keys(props.keys).sort();
    if (keys.length === 0) throw new Error(`SecretSync '${id}': keys must name at least one key`);
    this.secretName = props.name;
    new ExternalSecret(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        refreshInterval: `${(props.refreshInterval ?? Duration.hours(1)).toSeconds()}s`,
        secretStoreRef: { kind: ExternalSecretSpecSecretStoreRefKind.CLUSTER_SECRET_STORE, name: props.store },
        target: {
          name: props.name,
          creationPolicy: ExternalSecretSpecTargetCreationPolicy.OWNER,
          deletionPolicy: ExternalSecretSpecTargetDeletionPolicy.RETAIN,
          template: props.template ? { engineVersion: ExternalSecretSpecTargetTemplateEngineVersion.V2, data: props.template } : undefined,
        },
        data: keys.map((k) => ({
          secretKey: k,
          remoteRef: { key: props.keys[k].remoteKey, version: props.keys[k].version ?? 'latest' },
        })),
      },
    });
  }
}

export interface GcpSecretStoreProps {
  /** Name of the ClusterSecretStore. */
  readonly name: string;
  /** GCP project whose Secret Manager is read. */
  readonly project: string;
  /** Namespaces whose ExternalSecrets may use the store: any other namespace's are refused by External Secrets. */
  readonly namespaces: string[];
  /** Namespace name patterns (Go regexps, anchored here) also admitted, e.g. a pull request's `^shop-pr-[0-9]+$`. @default [] */
  readonly namespacePatterns?: string[];
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * A ClusterSecretStore for GCP Secret Manager. It authenticates as the External Secrets
 * controller's own Google service account (Workload Identity): no key file anywhere.
 */
export class GcpSecretStore extends Construct {
  public readonly storeName: string;

  constructor(scope: Construct, id: string, props: GcpSecretStoreProps) {
    super(scope, id);
    this.storeName = props.name;
    const patterns = props.namespacePatterns ?? [];
    if (props.namespaces.length + patterns.length === 0) throw new Error(`GcpSecretStore '${id}': namespaces must name at least one namespace`);
    for (const p of patterns)
      if (!p.startsWith('^') || !p.endsWith('$'))
        throw new Error(`GcpSecretStore '${id}': namespace pattern "${p}" must be anchored (^...$): External Secrets searches it`);
    new ClusterSecretStore(this, 'Resource', {
      metadata: { name: props.name, labels: props.labels },
      spec: {
        provider: { gcpsm: { projectId: props.project } },
        // Without conditions, any namespace that may create an ExternalSecret reads every secret of the project.
        conditions: [
          {
            ...(props.namespaces.length > 0 ? { namespaces: [...props.namespaces].sort() } : {}),
            ...(patterns.length > 0 ? { namespaceRegexes: patterns } : {}),
          },
        ],
      },
    });
  }
}
