/** GitOps: where ArgoCD reads the rendered manifests and how it syncs them. */
import { z } from 'zod';
import { dnsLabel } from '../../kernel/schema';

export const GitOps = z.strictObject({
  /** The repository ArgoCD reads `dist/` from. */
  repoURL: z.string().url(),
  targetRevision: z.string().default('main'),
  /** The folder of the rendered manifests in that repository. @default dist */
  path: z.string().default('dist'),
  /** Where the ArgoCD objects live. @default argocd */
  namespace: dnsLabel.default('argocd'),
  /** Sync on every commit (with prune and self-heal); false leaves syncing to an operator. @default true */
  automated: z.boolean().default(true),
});

/** Owner and name of a GitHub repository URL, if it is one. */
export function githubRepository(url: string): { owner: string; repo: string } | undefined {
  const m = /^https:\/\/github\.com\/([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+?)(\.git)?\/?$/.exec(url);
  return m ? { owner: m[1], repo: m[2] } : undefined;
}
