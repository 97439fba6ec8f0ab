/** Previews (docs/previews.md): an environment per pull request. */
import { z } from 'zod';
import { dnsLabel, duration } from '../../kernel/schema';

/**
 * An environment per pull request (docs/previews.md): one environment of the platform is
 * rendered as a template whose namespace ArgoCD's pull-request generator relocates to
 * `<namespace>-pr-<number>` for every open pull request carrying `github.labels`, synced from
 * the pull request's head commit and deleted with everything in it when the pull request closes.
 */
export const Previews = z.strictObject({
  /** The environment rendered as the template: one region, one namespace. */
  environment: dnsLabel,
  /** Pull requests of the GitOps repository (`gitops.repoURL`, on GitHub): the rendered `dist/` at their head is what runs. */
  github: z.strictObject({
    /** Only pull requests with all these labels get an environment (who may label is who may deploy). @default - `preview-<platform>` */
    labels: z.array(z.string().min(1)).min(1).optional(),
    /** Secret in the ArgoCD namespace whose key `token` holds a GitHub token that reads pull requests. */
    tokenSecret: dnsLabel,
  }),
  /** How often ArgoCD lists the pull requests. @default 3m */
  requeueAfter: duration.default('3m'),
  /** DNS zone a pull request's hosts are served under: `<first label of the host>-<namespace>-pr-<number>.<domain>`. */
  domain: z.string().regex(/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { message: 'must be a lowercase DNS name such as preview.example.com' }),
  /** Secret (type kubernetes.io/tls) in the gateway's namespace with a certificate for `*.<domain>`. */
  tlsCredential: dnsLabel,
});

export type PreviewsSpec = z.output<typeof Previews>;

/** What stands for the pull request's number in the template. */
export const TEMPLATE_NUMBER = 'template';

/** The namespace a pull request's environment runs in. */
export function previewNamespace(namespace: string, number: string): string {
  return `${namespace}-pr-${number}`;
}

/** The one namespace of the preview environment (load.ts checks there is exactly one). */
export function previewBaseNamespace(platform: { namespaces: Record<string, unknown> }): string {
  return Object.keys(platform.namespaces)[0];
}

/** The namespace of the pull request template, when `env` is the platform's preview environment. */
export function previewTemplateNamespace(platform: { namespaces: Record<string, unknown>; previews?: PreviewsSpec }, env: string): string | undefined {
  return platform.previews?.environment === env ? previewNamespace(previewBaseNamespace(platform), TEMPLATE_NUMBER) : undefined;
}
