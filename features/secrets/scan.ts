/**
 * What looks like a secret, written once for the spec (literal `env` values) and for the
 * rendered output (every string `meridian validate` reads): nothing that looks like a
 * credential may reach `dist/`, which is committed to Git.
 *
 * Three signals:
 * - the maintained secretlint "recommend" ruleset (@secretlint/secretlint-rule-preset-recommend:
 *   private-key blocks, AWS, GCP service-account keys, GitHub, npm, Slack, SendGrid, Shopify,
 *   OpenAI, Anthropic, Linear and 1Password tokens, basic-auth URLs, database connection strings
 *   with a password), driven here synchronously through the rule contract of @secretlint/types
 *   (a rule's `create(context)` returns a `file(source)` handler that calls `context.report`;
 *   @secretlint/core's lintSource is the same loop made asynchronous);
 * - high-entropy tokens, as Yelp's detect-secrets HighEntropyString plugin measures them
 *   (Shannon entropy over the token's own characters; base64 above 4.5 bits, hex above 3.0);
 * - for an environment variable, a name that says it holds a secret (PASSWORD, TOKEN, SECRET,
 *   KEY, ...), whatever its value.
 *
 * A deliberate non-secret is marked where it is written (`notSecret: [NAME]` beside `env` in
 * the spec) and rendered as the pod template's annotation NOT_SECRET_ANNOTATION, which the
 * output check reads: the same exemption in both places.
 */
import { rules as recommendedRules } from '@secretlint/secretlint-rule-preset-recommend';

export { NOT_SECRET_ANNOTATION } from './not-secret';

/** One thing in a string that looks like a secret. */
export interface SecretHit {
  /** Offsets of the secret-looking part in the scanned string. */
  readonly start: number;
  readonly end: number;
  /** Why, without the value: `secretlint @secretlint/secretlint-rule-github (GITHUB_TOKEN)`. */
  readonly reason: string;
}

interface RuleMessage {
  message: string;
  messageId: string;
}
interface Rule {
  meta: { id: string; type: string; supportedContentTypes?: string[] };
  create(context: unknown, options?: unknown): { file?: (source: unknown) => void };
}

// secretlint-disable comments are for source files; the strings scanned here carry none.
const RULES = (recommendedRules as unknown as Rule[]).filter((r) => r.meta.type === 'scanner' && r.meta.id !== '@secretlint/secretlint-rule-filter-comments');

/** Runs every rule of the preset over `content`; the hits are reported with the rule and message id only. */
function secretlint(content: string): SecretHit[] {
  const hits: SecretHit[] = [];
  for (const rule of RULES) {
    const context = {
      sharedOptions: {},
      createTranslator:
        (messages: Record<string, { en: (data: unknown) => string }>) =>
        (messageId: string, data?: unknown): RuleMessage => ({ message: messages[messageId].en(data ?? {}), messageId }),
      report: (d: { message: RuleMessage; range: readonly [number, number] }) =>
        hits.push({
          start: d.range[0],
          end: d.range[1],
          reason: `secretlint ${rule.meta.id.replace('@secretlint/secretlint-rule-', '')} (${d.message.messageId})`,
        }),
      ignore: () => undefined,
    };
    const handler = rule.create(context, {});
    handler.file?.({ content, filePath: 'value.txt', ext: '.txt', contentType: 'text' });
  }
  return hits;
}

/** Shannon entropy in bits per character of `s`, over its own characters (detect-secrets' measure). */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

// detect-secrets' charsets and default limits (detect_secrets/plugins/high_entropy_strings.py);
// tokens shorter than 20 characters are not judged: too short to tell from an identifier.
const BASE64_TOKEN = /[A-Za-z0-9+/_=-]{20,}/g;
const HEX_TOKEN = /^[0-9a-fA-F]+$/;
const BASE64_LIMIT = 4.5;
const HEX_LIMIT = 3.0;

// A hex string that says it is a digest (`sha256:...`) is one.
const DIGEST_PREFIX = /(?:sha1|sha256|sha512|md5)[:=]$/i;

function highEntropy(content: string, digests: boolean): SecretHit[] {
  const hits: SecretHit[] = [];
  for (const m of content.matchAll(BASE64_TOKEN)) {
    const token = m[0];
    const hex = HEX_TOKEN.test(token);
    if (hex && (digests || DIGEST_PREFIX.test(content.slice(Math.max(0, m.index! - 7), m.index!)))) continue;
    // A DNS name or an identifier is not a secret however varied its letters; a hex digest is judged as hex.
    if (!hex && (/^[a-z0-9-]+$/.test(token) || /^[A-Z0-9_]+$/.test(token))) continue;
    const entropy = shannonEntropy(token);
    if (entropy > (hex ? HEX_LIMIT : BASE64_LIMIT)) {
      hits.push({
        start: m.index!,
        end: m.index! + token.length,
        reason: `a high-entropy ${hex ? 'hex' : 'base64'} string (${entropy.toFixed(1)} bits per character)`,
      });
    }
  }
  return hits;
}

// Field names whose hex values are digests of something public (config-sha256 annotations, image digests).
const DIGEST_FIELD = /(?:sha1|sha256|sha512|digest|checksum|hash)$/i;

/**
 * Everything in `value` that looks like a credential, in order.
 * @param field the key the value is written under, when it has one (a digest field may hold hex)
 */
export function scanForSecrets(value: string, field?: string): SecretHit[] {
  if (value.length < 8) return [];
  const hits = [...secretlint(value), ...highEntropy(value, field !== undefined && DIGEST_FIELD.test(field))];
  return hits.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** A string found in a document, with the key it is written under. */
export interface ScannedString {
  readonly value: string;
  readonly field?: string;
}

// What each distinct string gave, kept for the process: a fleet repeats most of its strings
// (labels, images, namespaces, hosts) in every cluster, and the scan is a third of validating
// it. A string's hits do not depend on the strings scanned beside it (no rule's pattern crosses
// a newline but a private-key block, itself one string). Emptied past MEMO_LIMIT entries.
const MEMO_LIMIT = 200_000;
const linted = new Map<string, readonly SecretHit[]>();
const entropic = new Map<string, readonly SecretHit[]>();

/** secretlint over the strings not scanned before, in one pass (joined by newlines); remembers each one's hits. */
function lintUnseen(strings: readonly ScannedString[]): void {
  // Emptied before a batch, never during one: every string of the batch is there afterwards.
  if (linted.size >= MEMO_LIMIT) linted.clear();
  const values: string[] = [];
  const queued = new Set<string>();
  for (const { value } of strings) {
    if (linted.has(value) || queued.has(value)) continue;
    queued.add(value);
    values.push(value);
  }
  if (values.length === 0) return;
  const starts: number[] = [];
  let content = '';
  values.forEach((v, i) => {
    starts.push(content.length + (i > 0 ? 1 : 0));
    content += `${i > 0 ? '\n' : ''}${v}`;
  });
  const owner = (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const hits: SecretHit[][] = values.map(() => []);
  for (const hit of secretlint(content)) {
    const i = owner(hit.start);
    hits[i].push({ ...hit, start: hit.start - starts[i], end: Math.min(hit.end, starts[i] + values[i].length) - starts[i] });
  }
  values.forEach((v, i) => linted.set(v, hits[i]));
}

/**
 * scanForSecrets over many strings at once (each distinct string scanned once per process,
 * the new ones in one pass of each rule): the index of each string with a hit, and the hit,
 * offsets within that string.
 */
export function scanManyForSecrets(strings: readonly ScannedString[]): { index: number; hit: SecretHit }[] {
  lintUnseen(strings);
  const found: { index: number; hit: SecretHit }[] = [];
  strings.forEach((s, index) => {
    for (const hit of linted.get(s.value)!) found.push({ index, hit });
  });
  strings.forEach((s, index) => {
    if (s.value.length < 8) return;
    const digests = s.field !== undefined && DIGEST_FIELD.test(s.field);
    const key = `${digests ? 'd' : 'n'}${s.value}`;
    let hits = entropic.get(key);
    if (!hits) {
      if (entropic.size >= MEMO_LIMIT) entropic.clear();
      entropic.set(key, (hits = highEntropy(s.value, digests)));
    }
    for (const hit of hits) found.push({ index, hit });
  });
  return found.sort((a, b) => a.index - b.index || a.hit.start - b.hit.start);
}

// Name segments (split on _, - and .) that say a variable holds a secret.
const SECRET_WORDS = new Set([
  'PASSWORD',
  'PASSWD',
  'PWD',
  'PASS',
  'PASSPHRASE',
  'SECRET',
  'SECRETS',
  'TOKEN',
  'TOKENS',
  'KEY',
  'APIKEY',
  'PRIVATEKEY',
  'CREDENTIAL',
  'CREDENTIALS',
  'CREDS',
  'AUTH',
]);

/** Whether a variable or field name says it holds a secret: `DB_PASSWORD`, `apiKey`, `github.token`. */
export function looksSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

/**
 * Why a literal environment variable must not be rendered, or undefined when it may.
 * The message never contains the value.
 */
export function envSecretReason(name: string, value: string): string | undefined {
  const hit = scanForSecrets(value)[0];
  if (hit) return `looks like a credential: ${hit.reason}`;
  if (looksSecretName(name) && value !== '') return 'is named like a secret';
  return undefined;
}

/** A value as it may be printed when its field is or looks secret: its length only. */
export function maskSecret(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return `"****" (${text.length} characters, masked)`;
}
