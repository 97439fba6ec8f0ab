/**
 * The one name rule Meridian's names follow: a name that becomes (part of) a Kubernetes object
 * name, a label value or an Envoy descriptor is a lowercase RFC 1123 label that starts with a
 * letter (so it is also an RFC 1035 label, which Service names must be), at most 63 characters.
 * The schema (kernel/schema.ts `dnsLabel`) and the constructs that take names test the same one.
 */
export const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** What DNS_LABEL allows, as an error says it. */
export const DNS_LABEL_RULE = 'must be a lowercase RFC 1123 label: a-z, 0-9 and "-", starting with a letter, at most 63 characters';

export const isDnsLabel = (name: string): boolean => DNS_LABEL.test(name);

/**
 * A user-managed Google service account: `<account id>@<project id>.iam.gserviceaccount.com`,
 * whose account id is 6-30 characters matching `[a-z]([-a-z0-9]*[a-z0-9])` (IAM API,
 * `CreateServiceAccountRequest.accountId`: "must be 6-30 characters long, and match the regular
 * expression [a-z]([-a-z0-9]*[a-z0-9]) to comply with RFC1035"). Workload Identity binds a
 * Kubernetes ServiceAccount to such an account; a longer id cannot exist, so the binding could never work.
 */
const GCP_SERVICE_ACCOUNT = /^([^@]*)@([^@]+)\.iam\.gserviceaccount\.com$/;
const GCP_SERVICE_ACCOUNT_ID = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;

/** Why `email` cannot be a user-managed Google service account, or undefined when it can. */
export function gcpServiceAccountProblem(email: string): string | undefined {
  const m = GCP_SERVICE_ACCOUNT.exec(email);
  if (!m) return 'must be a Google service account email: <account id>@<project id>.iam.gserviceaccount.com';
  const id = m[1];
  if (!GCP_SERVICE_ACCOUNT_ID.test(id))
    return `must be a Google service account email whose account id (before "@") is 6-30 characters, lowercase letters, digits and "-", starting with a letter and ending with a letter or digit; "${id}" is ${id.length} characters${id.length >= 6 && id.length <= 30 ? ' and breaks the rest of that rule' : ''}`;
  return undefined;
}
