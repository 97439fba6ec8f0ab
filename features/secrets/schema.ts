/**
 * The spec's side of "no secret in dist/": a literal `env` value that looks like a secret
 * (./scan) is refused where it is written, unless its name is listed in `notSecret`.
 * This module imports nothing from `model/schema.ts` (which imports it).
 */
import { z } from 'zod';
import { envSecretReason } from './scan';

const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `notSecret`: env variables that look like secrets but are not (a public key id, a key prefix). */
export const NotSecret = z.array(z.string().regex(ENV_VAR, { message: 'must be an environment variable name' })).default([]);

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
