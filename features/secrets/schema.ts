/**
 * Secrets: references to GCP Secret Manager, synced by External Secrets (never a value); and
 * the spec's side of "no secret in dist/": a literal `env` value that looks like a secret
 * (./scan) is refused where it is written, unless its name is listed in `notSecret`.
 */
import { z } from 'zod';
import { envVarName } from '../../kernel/schema';
import { envSecretReason } from './scan';

/** Secret Manager secret ids: letters, digits, "-" and "_", up to 255 characters. */
export const secretManagerName = z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, {
  message: 'must be a Secret Manager secret id: letters, digits, "-" and "_"',
});

export const SecretRef = z.strictObject({
  /** The secret's id in GCP Secret Manager (of the platform's project). */
  secret: secretManagerName,
  /** The secret version. @default latest */
  version: z
    .string()
    .regex(/^(latest|[0-9]+)$/, { message: 'must be "latest" or a version number' })
    .default('latest'),
});

export type SecretRefSpec = z.output<typeof SecretRef>;

/** `notSecret`: env variables that look like secrets but are not (a public key id, a key prefix). */
export const NotSecret = z.array(envVarName).default([]);

/** Issues for the literal env values of one service or job that must not be rendered; never the value. */
export function envSecretIssues(s: { env: Record<string, string>; notSecret: string[] }): { path: (string | number)[]; message: string; input?: unknown }[] {
  const issues: { path: (string | number)[]; message: string; input?: unknown }[] = [];
  const listed = new Set(s.notSecret);
  for (const [name, value] of Object.entries(s.env)) {
    if (listed.has(name)) continue;
    const reason = envSecretReason(name, value);
    if (reason)
      issues.push({
        path: ['env', name],
        message: `${reason}: a literal value is rendered into dist/ in plain text; put it in Secret Manager and name it under secrets: (secrets.${name}: { secret: <id> }), or, if it is not a secret, list ${name} in notSecret`,
        input: value,
      });
  }
  s.notSecret.forEach((name, i) => {
    if (!(name in s.env))
      issues.push({ path: ['notSecret', i], message: `names no variable of env (${Object.keys(s.env).join(', ') || 'none'})`, input: name });
  });
  return issues;
}
