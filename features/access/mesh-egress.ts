import { Construct } from 'constructs';
import { ServiceEntry, ServiceEntrySpecLocation, ServiceEntrySpecResolution } from '../../imports/networking.istio.io';

/** How the mesh treats connections to an external port. */
export type ExternalProtocol = 'TLS' | 'TCP' | 'HTTP';

/** A host outside the mesh that workloads of the namespace call. */
export interface ExternalHost {
  /** DNS name; `*.example.com` for a whole domain. */
  readonly host: string;
  /** Address ranges it is reached at: the sidecar then forwards by address (resolution NONE) and `host` only names it. @default - resolved by name */
  readonly addresses?: readonly string[];
  readonly ports: { readonly number: number; readonly protocol: ExternalProtocol }[];
}

export interface MeshEgressProps {
  readonly namespace: string;
  readonly hosts: ExternalHost[];
  /** Labels of every object. @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * Declares the external hosts a namespace calls to the mesh, one ServiceEntry per host,
 * visible to that namespace only. With the mesh's `outboundTrafficPolicy: REGISTRY_ONLY`
 * these (and the Sidecar of each workload, MeshSidecars) are the only external destinations its
 * sidecars will reach: names, and address ranges such as the GKE metadata server's.
 */
export class MeshEgress extends Construct {
  public readonly serviceEntries: ServiceEntry[] = [];

  constructor(scope: Construct, id: string, props: MeshEgressProps) {
    super(scope, id);
    const seen = new Set<string>();
    for (const h of props.hosts) {
      const fail = (msg: string): never => {
        throw new Error(`MeshEgress '${id}': host "${h.host}": ${msg}`);
      };
      if (seen.has(h.host)) fail('is listed twice: merge its ports');
      seen.add(h.host);
      if (h.ports.length === 0) fail('needs at least one port');
      const wildcard = h.host.startsWith('*.');
      this.serviceEntries.push(
        new ServiceEntry(this, h.host, {
          metadata: { name: `egress-${wildcard ? `wildcard${h.host.slice(1)}` : h.host}`, namespace: props.namespace, labels: props.labels },
          spec: {
            hosts: [h.host],
            exportTo: ['.'],
            location: ServiceEntrySpecLocation.MESH_UNDERSCORE_EXTERNAL,
            addresses: h.addresses?.length ? [...h.addresses] : undefined,
            // Istio cannot resolve a wildcard, nor a name that is only a label for addresses: the client's own destination is used.
            resolution: wildcard || h.addresses?.length ? ServiceEntrySpecResolution.NONE : ServiceEntrySpecResolution.DNS,
            ports: h.ports.map((p) => ({ number: p.number, name: `${p.protocol.toLowerCase()}-${p.number}`, protocol: p.protocol })),
          },
        }),
      );
    }
  }
}
