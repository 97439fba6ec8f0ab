/**
 * Which per-client buckets Envoy's HTTP local rate limit filter charges for a request, modelled on
 * Envoy's code (no Envoy here), with the real RE2 for every regex:
 * - source/common/router/router_ratelimit.cc: a `rate_limits` entry yields a descriptor only if
 *   every action yields its entry; `header_value_match` yields it when
 *   `HeaderUtility::matchHeaders(headers, matchers) == expect_match` (expect_match defaults to true);
 * - source/common/http/header_utility.cc: matchHeaders is true when every matcher matches; a
 *   matcher's result is inverted by `invert_match`; `string_match.safe_regex` is
 *   source/common/common/regex.cc's CompiledGoogleReMatcher, `RE2::FullMatch` (kernel/re2.ts);
 * - source/extensions/filters/common/local_ratelimit/local_ratelimit_impl.cc: a descriptor is
 *   charged to the configured descriptor with the same keys whose values are equal, an entry
 *   without a value matching any value (a dynamic descriptor: one bucket per distinct value).
 */
import { re2FullMatch } from '../../../kernel/re2';

type Any = any;

interface Entry {
  key: string;
  value: string;
}

function headerMatches(matcher: Any, headers: Record<string, string>): boolean {
  const value = headers[matcher.name];
  let matched: boolean;
  if (value === undefined) matched = false;
  else if (matcher.string_match?.safe_regex) matched = re2FullMatch(matcher.string_match.safe_regex.regex, value);
  else if (matcher.string_match?.exact !== undefined) matched = value === matcher.string_match.exact;
  else if (matcher.string_match?.prefix !== undefined) matched = value.startsWith(matcher.string_match.prefix);
  else throw new Error(`the model does not know the matcher ${JSON.stringify(matcher)}`);
  return matcher.invert_match ? !matched : matched;
}

function action(a: Any, request: { path: string; client: string }): Entry | undefined {
  if (a.header_value_match) {
    const m = a.header_value_match;
    const all = (m.headers as Any[]).every((h) => headerMatches(h, { ':path': request.path }));
    return all === (m.expect_match ?? true) ? { key: m.descriptor_key, value: m.descriptor_value } : undefined;
  }
  if (a.masked_remote_address) return { key: 'masked_remote_address', value: request.client };
  throw new Error(`the model does not know the action ${JSON.stringify(a)}`);
}

/** The configured descriptors (by their first entry's value: the rule name) a request is charged to. */
export function chargedRules(config: Any, path: string, client = '203.0.113.7/32'): string[] {
  const produced: Entry[][] = [];
  for (const limit of config.rate_limits as Any[]) {
    const entries = (limit.actions as Any[]).map((a) => action(a, { path, client }));
    if (entries.every((e) => e !== undefined)) produced.push(entries as Entry[]);
  }
  const rules: string[] = [];
  for (const entries of produced) {
    const d = (config.descriptors as Any[]).find(
      (c) =>
        c.entries.length === entries.length &&
        c.entries.every((e: Any, i: number) => e.key === entries[i].key && (e.value === undefined || e.value === entries[i].value)),
    );
    if (d) rules.push(d.entries[0].value);
  }
  return rules;
}
