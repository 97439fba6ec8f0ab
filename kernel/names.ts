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
