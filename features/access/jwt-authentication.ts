import { Construct } from 'constructs';
import { AuthorizationPolicy, AuthorizationPolicySpecAction, RequestAuthentication } from '../../imports/security.istio.io';

export interface JwtIssuer {
  /** The `iss` claim, e.g. `https://securetoken.google.com/<project>` for Firebase Authentication. */
  readonly issuer: string;
  /** Accepted `aud` claims. */
  readonly audiences: string[];
  /** Where the signing keys are published. */
  readonly jwksUri: string;
}

export interface JwtAuthenticationProps {
  /** Name of the RequestAuthentication and the AuthorizationPolicy. */
  readonly name: string;
  readonly namespace: string;
  /** Labels selecting the workload's pods. */
  readonly selector: Record<string, string>;
  readonly issuer: JwtIssuer;
  /** Paths served without a token (health checks, public pages). @default [] */
  readonly publicPaths?: string[];
  /**
   * Claims a valid token must also carry, each with its accepted values (e.g. `email`: the one
   * service account allowed to call): Google signs tokens for any service account, so issuer
   * and audience alone would admit any of them. @default {}
   */
  readonly requiredClaims?: Record<string, string[]>;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * End-user tokens checked by the workload's sidecar: a RequestAuthentication validates any
 * token presented (signature, issuer, audience, expiry), and a DENY AuthorizationPolicy
 * refuses requests that carry no valid token. DENY composes with whatever ALLOW policies
 * admit the caller: a token is required on top of them, never instead of them.
 */
export class JwtAuthentication extends Construct {
  constructor(scope: Construct, id: string, props: JwtAuthenticationProps) {
    super(scope, id);
    for (const [claim, values] of Object.entries(props.requiredClaims ?? {})) {
      if (values.length === 0) throw new Error(`JwtAuthentication '${id}': requiredClaims.${claim} must not be empty: no token could be accepted`);
    }
    if (props.issuer.audiences.length === 0) {
      throw new Error(`JwtAuthentication '${id}': audiences must not be empty: without them any token of the issuer is accepted`);
    }
    const metadata = { name: props.name, namespace: props.namespace, labels: props.labels };
    new RequestAuthentication(this, 'Resource', {
      metadata,
      spec: {
        selector: { matchLabels: props.selector },
        jwtRules: [
          {
            issuer: props.issuer.issuer,
            audiences: props.issuer.audiences,
            jwksUri: props.issuer.jwksUri,
            forwardOriginalToken: true,
          },
        ],
      },
    });
    const publicPaths = props.publicPaths ?? [];
    new AuthorizationPolicy(this, 'RequireToken', {
      metadata: { ...metadata, name: `${props.name}-require-jwt` },
      spec: {
        selector: { matchLabels: props.selector },
        action: AuthorizationPolicySpecAction.DENY,
        rules: [
          {
            from: [{ source: { notRequestPrincipals: ['*'] } }],
            to: publicPaths.length > 0 ? [{ operation: { notPaths: publicPaths } }] : undefined,
          },
          // A claim that is missing matches none of the values: those requests are refused too.
          ...Object.entries(props.requiredClaims ?? {})
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([claim, values]) => ({
              to: publicPaths.length > 0 ? [{ operation: { notPaths: publicPaths } }] : undefined,
              when: [{ key: `request.auth.claims[${claim}]`, notValues: values }],
            })),
        ],
      },
    });
  }
}

/** The issuer of Firebase Authentication ID tokens for a project. */
export function firebaseIssuer(project: string): JwtIssuer {
  return {
    issuer: `https://securetoken.google.com/${project}`,
    audiences: [project],
    jwksUri: 'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com',
  };
}
