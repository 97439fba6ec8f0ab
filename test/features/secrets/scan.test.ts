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
