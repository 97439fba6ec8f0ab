/**
 * Rules of `ingress.rateLimit` that span fields: hosts of the ingress, limits that would
 * claim the same requests, buckets that could never hold a refill. Called from the schema's
 * refinements, so every problem is reported with its file and field like any other.
 */
import type { z } from 'zod';
import type { IngressSpec } from '../traffic/schema';

/** What the rate-limit rules read of a platform (model/schema.ts's Platform). */
interface RateLimitPlatform {
  readonly ingress?: IngressSpec;
  readonly services: Readonly<Record<string, { readonly expose?: unknown; readonly probes: Readonly<Record<string, { readonly path?: string } | undefined>> }>>;
}

type Ctx = Pick<z.RefinementCtx, 'addIssue'>;
type Path = (string | number)[];

function issue(ctx: Ctx, path: Path, message: string, input: unknown): void {
  ctx.addIssue({ code: 'custom', path, message, input });
}

/**
 * Paths the gateway never limits, matched exactly (a query string aside): the load balancer's
 * health check and the HTTP probe paths of the exposed services, which uptime checks call
 * through the load balancer. `/` is left out: exempting it would exempt the home page.
 */
export function healthCheckPaths(p: RateLimitPlatform): string[] {
  const paths = new Set<string>();
  if (p.ingress) paths.add(p.ingress.healthCheck.path);
  for (const svc of Object.values(p.services)) {
    if (!svc.expose) continue;
    for (const probe of Object.values(svc.probes)) if (probe?.path) paths.add(probe.path);
  }
  paths.delete('/');
  return [...paths].sort();
}

export function rateLimitIssues(p: RateLimitPlatform, ctx: Ctx): void {
  const ingress = p.ingress;
  const limit = ingress?.rateLimit;
  if (!ingress || !limit) return;
  const at = (...path: Path): Path => ['ingress', 'rateLimit', ...path];
  const known = ingress.hosts;
  const checkHosts = (hosts: string[] | undefined, path: Path) =>
    hosts?.forEach((h, i) => {
      if (!known.includes(h)) issue(ctx, [...path, i], `must be one of ingress.hosts (${known.join(', ')})`, h);
    });
  const checkBurst = (b: { requests: number; burst?: number }, path: Path) => {
    if (b.burst !== undefined && b.burst < b.requests) {
      issue(
        ctx,
        [...path, 'burst'],
        `must be >= requests (${b.requests}): the bucket holds at most burst tokens, so a larger refill would be cut to burst`,
        b.burst,
      );
    }
  };

  checkHosts(limit.hosts, at('hosts'));
  checkBurst(limit, at());
  const limits: { label: string; path: Path; hosts: string[]; paths: string[] }[] = [
    { label: 'ingress.rateLimit', path: at('paths'), hosts: limit.hosts ?? known, paths: limit.paths },
  ];
  for (const [name, o] of Object.entries(limit.overrides)) {
    checkHosts(o.hosts, at('overrides', name, 'hosts'));
    checkBurst(o, at('overrides', name));
    limits.push({ label: `override ${name}`, path: at('overrides', name, 'paths'), hosts: o.hosts ?? limit.hosts ?? known, paths: o.paths });
  }

  // Each request counts against one limit: the longest prefix on its host, an override before
  // the base limit. Two overrides with the same prefix on a host would leave the choice to the
  // order of Envoy's descriptors.
  for (let i = 2; i < limits.length; i++) {
    const l = limits[i];
    l.paths.forEach((prefix, index) => {
      for (const other of limits.slice(1, i)) {
        const host = l.hosts.find((h) => other.hosts.includes(h));
        if (host !== undefined && other.paths.includes(prefix)) {
          issue(
            ctx,
            [...l.path, index],
            `is also limited by ${other.label} on ${host}: each request counts against one limit; give one a longer prefix or other hosts`,
            prefix,
          );
          return;
        }
      }
    });
  }

  const exempt = limit.exemptPaths;
  for (const l of limits) {
    l.paths.forEach((prefix, index) => {
      const by = exempt.find((e) => prefix.startsWith(e));
      if (by !== undefined) issue(ctx, [...l.path, index], `is exempt (exemptPaths has ${by}): the limit would never apply`, prefix);
    });
  }
}
