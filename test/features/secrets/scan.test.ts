import { envSecretReason, looksSecretName, maskSecret, scanForSecrets, scanManyForSecrets, shannonEntropy } from '../../../features/secrets/scan';

// Test credentials assembled at run time, so this file itself holds none a scanner would flag.
const GITHUB = ['ghp', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'].join('_');
const PEM = ['-----BEGIN RSA PRIVATE', ' KEY-----\n', 'MIIEowIBAAKCAQEAx'.repeat(8), '\n-----END RSA PRIVATE', ' KEY-----'].join('');
const SLACK = ['xoxb', '123456789012', '1234567890123', 'AbCdEfGhIjKlMnOpQrStUvWx'].join('-');

describe('scanForSecrets', () => {
  test.each([
    ['a GitHub token', GITHUB, 'secretlint github (GITHUB_TOKEN)'],
    ['a private key block', PEM, 'secretlint privatekey (PrivateKey)'],
    ['a Slack bot token', SLACK, 'secretlint slack (SLACK_TOKEN)'],
    ['a PostgreSQL URL with a password', 'postgres://app:s3cr3tPassw0rd@10.0.0.3:5432/app', 'secretlint database-connection-string (PostgreSQLConnection)'],
    ['a random base64 string', 'q8Zr7Kp2Xv9Lm4Tn6Bw1Yc3Hd5Jf0Gs', 'a high-entropy base64 string (5.0 bits per character)'],
    ['a hex key', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'a high-entropy hex string (3.8 bits per character)'],
  ])('finds %s', (_what, value, reason) => {
    expect(scanForSecrets(value).map((h) => h.reason)).toContain(reason);
  });

  test.each([
    ['a URL', 'https://api.example.com/v1/things?limit=20'],
    ['an image reference', 'europe-docker.pkg.dev/my-project-123/apps/api:1.4.2'],
    ['a DNS name', 'payments-api.marketplace.svc.cluster.local'],
    ['an identifier', 'REDIS_EXPORTER_WEB_LISTEN_ADDRESS'],
    ['a PromQL query', 'sum(rate(istio_requests_total{destination_workload="api",response_code=~"5.."}[5m]))'],
    ['a sha256 digest', 'us-docker.pkg.dev/p/r/api@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
    ['a short value', 'hunter2'],
  ])('passes %s', (_what, value) => {
    expect(scanForSecrets(value)).toEqual([]);
  });

  test('a hex value under a digest field is a digest', () => {
    const digest = '18969caff6a85fe82bb0324bbd1eda05d8d58cee635c4b1543b8917f9eb9a0c1';
    expect(scanForSecrets(digest, 'meridian.dev/config-sha256')).toEqual([]);
    expect(scanForSecrets(digest, 'API_KEY')).not.toEqual([]);
  });

  test('entropy is measured as detect-secrets does (bits per character of the string itself)', () => {
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBe(2);
    expect(shannonEntropy('0123456789abcdef')).toBe(4);
  });
});

describe('scanManyForSecrets', () => {
  test('reports each hit at the string that holds it, offsets within it', () => {
    const strings = [{ value: 'plain' }, { value: `token=${GITHUB}` }, { value: 'also plain' }, { value: PEM }];
    const found = scanManyForSecrets(strings);
    expect(found.map((f) => [f.index, f.hit.reason])).toEqual([
      [1, 'a high-entropy base64 string (5.0 bits per character)'],
      [1, 'secretlint github (GITHUB_TOKEN)'],
      [3, 'secretlint privatekey (PrivateKey)'],
    ]);
    expect(strings[1].value.slice(found[1].hit.start, found[1].hit.end)).toBe(GITHUB);
  });

  // Each distinct string is scanned once per process (a fleet repeats most of its strings):
  // a string seen before must give the same hits, at its own index, in any company.
  test('a string seen before gives the hits scanForSecrets gives it, at its index, whatever is scanned beside it', () => {
    const secrets = [GITHUB, `token=${GITHUB}`, PEM, SLACK, 'postgres://app:s3cr3tPassw0rd@10.0.0.3:5432/app', 'q8Zr7Kp2Xv9Lm4Tn6Bw1Yc3Hd5Jf0Gs'];
    const plain = ['plain', 'app', 'europe-docker.pkg.dev/my-project-123/apps/api:1.4.2', 'payments-api.marketplace.svc.cluster.local'];
    const digest = { value: '18969caff6a85fe82bb0324bbd1eda05d8d58cee635c4b1543b8917f9eb9a0c1', field: 'meridian.dev/config-sha256' };
    const expected = (strings: { value: string; field?: string }[]) =>
      strings.flatMap((s, index) => scanForSecrets(s.value, s.field).map((hit) => [index, hit.reason, hit.start, hit.end]));
    const got = (strings: { value: string; field?: string }[]) => scanManyForSecrets(strings).map((f) => [f.index, f.hit.reason, f.hit.start, f.hit.end]);
    // A deterministic shuffle: the same strings in other orders, with repeats and other neighbours, one batch after another.
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    for (let round = 0; round < 20; round++) {
      const pool = [...secrets.map((value) => ({ value })), ...plain.map((value) => ({ value })), digest, { value: digest.value, field: 'API_KEY' }];
      const batch = Array.from({ length: 1 + (next() % 12) }, () => pool[next() % pool.length]);
      const sortHits = (h: unknown[][]) =>
        [...h].sort((a, b) => (a[0] as number) - (b[0] as number) || (a[2] as number) - (b[2] as number) || String(a[1]).localeCompare(String(b[1])));
      expect(sortHits(got(batch))).toEqual(sortHits(expected(batch)));
    }
    // The same secret in two documents is reported in both.
    expect(got([{ value: GITHUB }]).length).toBeGreaterThan(0);
    expect(got([{ value: 'plain' }, { value: GITHUB }]).map((h) => h[0])).toContain(1);
  });
});

describe('env variables', () => {
  test('a name says it is a secret by one of its words', () => {
    expect(['DB_PASSWORD', 'GITHUB_TOKEN', 'apiKey', 'OAUTH_CLIENT_SECRET', 'ENCRYPTION_KEY', 'db.password'].filter(looksSecretName)).toHaveLength(6);
    expect(['PASSWORD_MIN_LENGTH_RULE_URL', 'KEYCLOAK_URL', 'TOKENIZER_MODEL', 'API_URL', 'MONKEY'].filter(looksSecretName)).toEqual([
      'PASSWORD_MIN_LENGTH_RULE_URL',
    ]);
  });

  test('the reason never holds the value', () => {
    expect(envSecretReason('DB_PASSWORD', 'hunter2-correct-horse')).toBe('is named like a secret');
    expect(envSecretReason('UPSTREAM', GITHUB)).toBe('looks like a credential: secretlint github (GITHUB_TOKEN)');
    expect(envSecretReason('API_URL', 'https://api.example.com')).toBeUndefined();
    expect(envSecretReason('DB_PASSWORD', '')).toBeUndefined();
  });

  test('a masked value shows its length only', () => {
    expect(maskSecret('hunter2-correct-horse')).toBe('"****" (21 characters, masked)');
  });
});
