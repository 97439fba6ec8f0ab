/**
 * Zod primitives every feature's schema part uses: names that become Kubernetes object
 * names, durations and quantities in the spec's syntax, GCP ids, URI paths.
 */
import { z } from 'zod';
import { DNS_LABEL, DNS_LABEL_RULE } from './names';

const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name that becomes (part of) a Kubernetes object name: an RFC 1123 label. */
export const dnsLabel = z.string().regex(DNS_LABEL, { message: DNS_LABEL_RULE });

/** `500ms`, `1s`, `2m`, `1h`: the duration syntax Istio, KEDA and Redis settings accept here. */
export const duration = z.string().regex(/^[0-9]+(ms|s|m|h)$/, {
  message: 'must be a duration: a whole number followed by ms, s, m or h (e.g. 500ms, 30s, 5m)',
});

export const cpuQuantity = z.string().regex(/^([0-9]+m|[0-9]+(\.[0-9]+)?)$/, {
  message: 'must be a CPU quantity such as 250m or 1.5',
});

export const byteQuantity = z.string().regex(/^[0-9]+(Ki|Mi|Gi|Ti)$/, {
  message: 'must be a binary size such as 512Mi or 2Gi',
});

export const gcpProject = z.string().regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, {
  message: 'must be a GCP project id: 6-30 characters, lowercase letters, digits and "-", starting with a letter',
});

/** An environment variable name, the key of `env` and `secrets`. */
export const envVarName = z.string().regex(ENV_VAR, { message: 'must be an environment variable name' });

/** A URI path prefix as routes and rate limits match it. */
export const uriPath = z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, { message: 'must be a URI path starting with "/"' });
