/** Secrets: references to GCP Secret Manager, synced by External Secrets (never a value). */
import { z } from 'zod';

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
