import { Construct } from 'constructs';
import { Sidecar, SidecarSpecOutboundTrafficPolicyMode } from '../../imports/networking.istio.io';

/** The destinations one workload's sidecar may send to. */
export interface WorkloadSidecar {
  /** Name of the Sidecar, the workload's. */
  readonly name: string;
  /** Labels of the workload's pods. */
  readonly selector: Record<string, string>;
  /** `<namespace>/<host>` of every Service or ServiceEntry it calls (`./<host>` for one of its own namespace). */
  readonly hosts: readonly string[];
}

export interface MeshSidecarsProps {
  readonly namespace: string;
  /** @default [] */
  readonly workloads?: readonly WorkloadSidecar[];
  /** Labels of every object. @default {} */
  readonly labels?: Record<string, string>;
}

/** A Sidecar whose egress imports nothing: `~` is Istio's "no namespace". */
const NOTHING = '~/*';

/**
 * Istio Sidecars for one namespace: one per workload whose egress hosts are exactly what it
 * calls, and a namespace default importing what any of them calls (pods of the namespace
 * that no workload Sidecar selects). Both forward only to those hosts
 * (`outboundTrafficPolicy: REGISTRY_ONLY`), so the mesh enforces at L7 what the
 * NetworkPolicies enforce by address, and a proxy receives only the configuration of the
 * services it calls, not of every service of every cluster of the mesh.
 * https://istio.io/latest/docs/reference/config/networking/sidecar/
 */
export class MeshSidecars extends Construct {
  public readonly sidecars: Sidecar[] = [];

  constructor(scope: Construct, id: string, props: MeshSidecarsProps) {
    super(scope, id);
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: props.labels });
    const names = new Set<string>(['default']);
    const all = new Set<string>();
    for (const w of props.workloads ?? []) {
      const fail = (msg: string): never => {
        throw new Error(`MeshSidecars '${id}': workload "${w.name}": ${msg}`);
      };
      if (names.has(w.name)) fail('the name is used by another Sidecar of the namespace');
      names.add(w.name);
      if (Object.keys(w.selector).length === 0) fail('selector is empty: it would apply to every pod of the namespace');
      for (const h of w.hosts) {
        if (!/^([.*~]|[a-z0-9]([-a-z0-9]*[a-z0-9])?)\/.+$/.test(h)) fail(`host "${h}" must be <namespace>/<host>, with "." for the Sidecar's namespace`);
        all.add(h);
      }
      this.sidecars.push(this.sidecar(`Workload-${w.name}`, metadata(w.name), [...w.hosts], w.selector));
    }
    this.sidecars.unshift(this.sidecar('Resource', metadata('default'), [...all].sort()));
  }

  private sidecar(id: string, metadata: { name: string; namespace: string }, hosts: string[], selector?: Record<string, string>): Sidecar {
    return new Sidecar(this, id, {
      metadata,
      spec: {
        workloadSelector: selector ? { labels: selector } : undefined,
        egress: [{ hosts: hosts.length > 0 ? hosts : [NOTHING] }],
        outboundTrafficPolicy: { mode: SidecarSpecOutboundTrafficPolicyMode.REGISTRY_UNDERSCORE_ONLY },
      },
    });
  }
}
