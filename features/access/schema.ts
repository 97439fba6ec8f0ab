/** Access: who may call what (mesh identities, end-user tokens, egress, namespaces). */
import { z } from 'zod';
import { dnsLabel } from '../../kernel/schema';

/** A destination outside the cluster a service calls (a managed service such as Cloud SQL or a Google API). */
export const Egress = z
  .strictObject({
    /** A DNS name (firestore.googleapis.com): a ServiceEntry declares it to the mesh, the NetworkPolicy opens the port beyond the private ranges. */
    host: z
      .string()
      .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/, { message: 'must be a DNS name such as sqladmin.googleapis.com' })
      .optional(),
    /** An address range (a Cloud SQL private IP: 10.20.0.3/32): the NetworkPolicy opens the port to it only. */
    cidr: z
      .string()
      .regex(/^([0-9]{1,3}\.){3}[0-9]{1,3}\/([0-9]|[12][0-9]|3[0-2])$/, { message: 'must be an IPv4 CIDR such as 10.20.0.3/32' })
      .optional(),
    port: z.number().int().min(1).max(65535),
    /** How the mesh treats the connection: tls when the client speaks TLS itself (Google APIs). @default tls */
    protocol: z.enum(['tls', 'tcp', 'http']).default('tls'),
  })
  .refine((e) => (e.host === undefined) !== (e.cidr === undefined), { message: 'needs exactly one of host or cidr' });

/** End-user tokens required on every request to a service, except on `publicPaths`. */
export const ServiceAuth = z.strictObject({
  /** One of the platform's `jwtIssuers`. */
  jwt: z.string(),
  /** Paths served without a token. @default [] */
  publicPaths: z.array(z.string().startsWith('/')).default([]),
});

/** An issuer of end-user tokens services may require (`services.<s>.auth.jwt`). */
export const JwtIssuer = z.strictObject({
  /** `firebase`: Firebase Authentication of the platform's project; `oidc`: the fields below. */
  type: z.enum(['firebase', 'oidc']),
  issuer: z.string().url().optional(),
  audiences: z.array(z.string()).optional(),
  jwksUri: z.string().url().optional(),
});

/** Where the Istio gateways run; their identities and pods are what the access policies admit. */
export const Gateway = z.strictObject({
  namespace: dnsLabel,
  /** Its Kubernetes ServiceAccount: the mTLS principal AuthorizationPolicies admit. */
  serviceAccount: dnsLabel,
  /** Labels of its pods: what NetworkPolicies admit. */
  labels: z.record(z.string(), z.string()),
});

export const Mesh = z.strictObject({
  /** The mesh's trust domain, the first part of every mTLS principal. @default cluster.local */
  trustDomain: z.string().default('cluster.local'),
  /** The ingress gateway exposed services are reached from. */
  ingressGateway: Gateway.default({ namespace: 'istio-ingress', serviceAccount: 'istio-ingressgateway', labels: { istio: 'ingressgateway' } }),
  /** The east-west gateway calls split across regions arrive through (Istio multi-network). */
  eastWestGateway: Gateway.default({ namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway', labels: { istio: 'eastwestgateway' } }),
});

export const Namespace = z.strictObject({
  /** Extra labels for the namespace. */
  labels: z.record(z.string(), z.string()).default({}),
});

export type EgressSpec = z.output<typeof Egress>;
