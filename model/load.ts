/**
 * Reads platforms and their overlays, merges them and parses the result: one typed view
 * of the platform per environment, and from it one `ClusterPlan` per region cluster.
 * Every problem of every platform is collected before anything is thrown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { formatPath, problemsFromZod, ProblemError, showValue, type Problem } from './errors';
import { FieldPath, isPlainObject, mergePatch, Origins } from './merge';
import { dnsLabel, Platform, PlatformInput, replicaFloorIssues, Service, ServiceSpec } from './schema';
import { z } from 'zod';
import { resolveRollout, rolloutIssues } from '../features/gitops/rollout';
import { ClusterPlan, EnvironmentPlan, orderedRegions, ServicePlan, planRedis, planService, previewPlan, primaryRegionOf } from './plan';

/** A platform file: its path (relative to the repository root) and what it exports. */
export interface PlatformSource {
  readonly file: string;
  readonly input: PlatformInput;
}

/** Fields that say which platform and environments exist; an overlay cannot change them. */
const FIXED_FIELDS = ['name', 'environments'];
const PlatformHeader = z.looseObject({ name: dnsLabel, environments: z.array(dnsLabel).min(1) });

/** A mistake in the base shows up in every environment: report it once. */
function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}\u0000${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const problemKey = (p: Problem) => `${p.path}\u0000${p.message}`;

/**
 * Loads every environment of one platform.
 * @param root the repository root; file names in problems are relative to it
 */
export function loadEnvironments(source: PlatformSource, root: string): EnvironmentPlan[] {
  const problems: Problem[] = [];
  // The base alone need not be complete (image tags may live only in overlays): only the
  // fields that say which platform and environments exist are read before merging.
  const header = PlatformHeader.safeParse(source.input, { reportInput: true });
  if (!header.success) {
    throw new ProblemError(
      'spec',
      problemsFromZod(header.error.issues, PlatformHeader, (p) => ({ file: source.file, path: p })),
    );
  }
  const name = header.data.name;
  const expected = path.basename(source.file, path.extname(source.file));
  if (name !== expected) {
    throw new ProblemError('spec', [{ file: source.file, path: 'name', message: `must match the file name "${expected}" (got ${showValue(name)})` }]);
  }

  // What is wrong with the base on its own is the base's fault, in every environment; a
  // problem that appears only once an overlay is merged is that overlay's.
  const baseAlone = Platform.safeParse(source.input, { reportInput: true });
  const baseProblems = new Set(
    baseAlone.success ? [] : problemsFromZod(baseAlone.error.issues, Platform, (p) => ({ file: source.file, path: p })).map(problemKey),
  );

  const overlayDir = path.join('overlays', name);
  const broken = new Set<string>();
  const overlays = readOverlays(root, overlayDir, header.data.environments, problems, broken);
  const envs: EnvironmentPlan[] = [];
  for (const env of header.data.environments) {
    if (broken.has(env)) continue;
    const overlay = overlays.get(env);
    const origins = new Origins(source.file);
    const raw = overlay ? mergePatch(source.input, overlay.patch, overlay.file, origins) : structuredClone(source.input);
    const parsed = Platform.safeParse(raw, { reportInput: true });
    if (!parsed.success) {
      const paths = new Map<string, FieldPath>();
      const found = problemsFromZod(parsed.error.issues, Platform, (p) => {
        paths.set(formatPath(p), p);
        return { file: source.file, path: p };
      });
      for (const p of found) {
        if (!overlay || baseProblems.has(problemKey(p))) {
          problems.push(p);
          continue;
        }
        // The overlay made it wrong; say so even when the value itself is the base's.
        const within = origins.fileOf(paths.get(p.path) ?? []);
        problems.push(
          within !== source.file ? { ...p, file: within } : { ...p, file: overlay.file, message: `${p.message} (the value is from ${source.file})` },
        );
      }
      continue;
    }
    const clusters = resolveClusters(parsed.data, env, raw as Record<string, unknown>, origins, problems);
    if (parsed.data.previews?.environment === env) problems.push(...previewProblems(parsed.data, overlay?.file ?? source.file));
    for (const issue of rolloutIssues(parsed.data, env)) {
      problems.push({ file: origins.fileOf(issue.path), path: formatPath(issue.path), message: `${issue.message} (got ${showValue(issue.input)})` });
    }
    envs.push({
      platform: parsed.data,
      env,
      primaryRegion: primaryRegionOf(parsed.data),
      preview: previewPlan(parsed.data, env),
      rollout: resolveRollout(parsed.data, env, parsed.data.gitops.targetRevision),
      clusters,
      files: overlay ? [source.file, overlay.file] : [source.file],
    });
  }
  if (problems.length > 0) throw new ProblemError('spec', dedupe(problems));
  return envs;
}

interface Overlay {
  file: string;
  patch: Record<string, unknown>;
}

/** `line 5, column 12: not valid YAML: <what>`, then the line and a caret under the column. */
export function yamlErrorMessage(e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): string {
  const [first, ...context] = e.message.split('\n');
  const what = first.replace(/ at line \d+, column \d+:?$/, '');
  const where = e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : '';
  const shown = context.filter((l) => l.trim() !== '');
  return `${where}not valid YAML: ${what}${shown.length > 0 ? `\n${shown.join('\n')}` : ''}`;
}

function readOverlays(root: string, dir: string, environments: readonly string[], problems: Problem[], broken: Set<string>): Map<string, Overlay> {
  const overlays = new Map<string, Overlay>();
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return overlays;
  for (const entry of fs.readdirSync(abs).sort()) {
    const file = path.join(dir, entry);
    if (!/\.ya?ml$/.test(entry)) {
      problems.push({ file, path: '', message: 'is not an overlay: overlays are <env>.yaml files' });
      continue;
    }
    const env = entry.replace(/\.ya?ml$/, '');
    if (!environments.includes(env)) {
      problems.push({
        file,
        path: '',
        message: `names no environment of the platform (allowed: ${environments.join(', ')}); add "${env}" to environments or rename the file`,
      });
      continue;
    }
    const doc = parseDocument(fs.readFileSync(path.join(root, file), 'utf8'), { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
      // The first error only, with its line and a caret (the yaml library's prettyErrors context);
      // later ones follow from it. The environment stops here: merged without its overlay, the
      // platform would be blamed for what the overlay holds.
      problems.push({ file, path: '', message: yamlErrorMessage(doc.errors[0]) });
      broken.add(env);
      continue;
    }
    const patch = doc.toJS() ?? {};
    if (!isPlainObject(patch)) {
      problems.push({ file, path: '', message: `must be a mapping of fields to override (got ${showValue(patch)})` });
      continue;
    }
    for (const field of FIXED_FIELDS) {
      if (field in patch)
        problems.push({ file, path: field, message: `cannot be changed by an overlay: it is set in the platform file (got ${showValue(patch[field])})` });
    }
    overlays.set(env, { file, patch });
  }
  return overlays;
}

function resolveClusters(platform: Platform, env: string, raw: Record<string, unknown>, origins: Origins, problems: Problem[]): ClusterPlan[] {
  const rawServices = (raw.services ?? {}) as Record<string, unknown>;
  const rawRegions = raw.regions as Record<string, { services?: Record<string, unknown> }>;
  const ordered = orderedRegions(platform);
  const preview = previewPlan(platform, env);
  return ordered.map((region) => {
    const spec = platform.regions[region];
    const services: Record<string, ServicePlan> = {};
    for (const [name, svc] of Object.entries(platform.services)) {
      if (svc.regions && !svc.regions.includes(region)) continue;
      const patch = rawRegions[region].services?.[name];
      services[name] = planService(platform, patch === undefined ? svc : (regionService(rawServices[name], patch, [region, name], origins, problems) ?? svc));
      if (patch !== undefined) problems.push(...regionPolicyProblems(services[name], platform.policy.minReplicas, patch, [region, name], origins));
    }
    return {
      platform,
      env,
      region,
      gcpRegion: spec.gcpRegion ?? region,
      role: spec.role,
      primaryRegion: ordered[0],
      multiRegion: ordered.length > 1,
      zones: spec.zones,
      nativeSidecars: spec.nativeSidecars,
      cluster: spec.cluster ?? `${platform.name}-${env}-${region}`,
      locate: (at: FieldPath) => {
        // A service's field set by this region's patch is written under regions.<region>.
        if (at[0] === 'services' && typeof at[1] === 'string') {
          const patch = rawRegions[region].services?.[at[1]];
          if (setAlong(patch, at.slice(2))) {
            const path = ['regions', region, ...at];
            return { file: origins.fileOf(path), path };
          }
        }
        return { file: origins.fileOf(at), path: at };
      },
      preview,
      services,
      redis: planRedis(platform, region),
      jobs: Object.fromEntries(Object.entries(platform.jobs).filter(([, j]) => (j.regions ? j.regions.includes(region) : spec.role === 'primary'))),
    };
  });
}

/** Whether `patch` sets `path` or a value enclosing it (an array or a scalar replaces all below it). */
function setAlong(patch: unknown, path: FieldPath): boolean {
  let o = patch;
  for (const k of path) {
    if (o === undefined || o === null) return false;
    if (typeof o !== 'object') return true;
    if (Array.isArray(o)) return true;
    o = (o as Record<string | number, unknown>)[k];
  }
  return o !== undefined;
}

/** The environment's policy on a service as one region changed it (the base service is checked by the schema). */
function regionPolicyProblems(svc: ServiceSpec, minReplicas: number, patch: unknown, [region, name]: [string, string], origins: Origins): Problem[] {
  return replicaFloorIssues(svc, minReplicas).map((issue) => {
    const setHere = issue.path.reduce<unknown>((o, k) => (isPlainObject(o) ? o[k] : undefined), patch) !== undefined;
    const at = setHere ? ['regions', region, 'services', name, ...issue.path] : ['services', name, ...issue.path];
    return {
      file: origins.fileOf(at),
      path: formatPath(at),
      message: `${issue.message} (got ${showValue(issue.input)})${setHere ? '' : ` (in region ${region})`}`,
    };
  });
}

/** A service with one region's differences merged in, errors pointing at where each value was set. */
function regionService(raw: unknown, patch: unknown, [region, name]: [string, string], origins: Origins, problems: Problem[]): ServiceSpec | undefined {
  const inRegion = new Origins('');
  const merged = mergePatch(raw, patch, 'region', inRegion);
  const parsed = Service.safeParse(merged, { reportInput: true });
  if (parsed.success) return parsed.data;
  problems.push(
    ...problemsFromZod(parsed.error.issues, Service, (p: FieldPath, rule) => {
      // The service was valid before the region's patch: the patch broke it.
      if (inRegion.setBy(p) !== undefined || rule) {
        const at = ['regions', region, 'services', name, ...p];
        return { file: origins.fileOf(['regions', region, 'services', name]), path: at };
      }
      const at = ['services', name, ...p];
      return { file: origins.fileOf(at), path: at, note: ` (in region ${region})` };
    }),
  );
  return undefined;
}

/** The longest pull request number a preview's names must still fit with. */
const PR_NUMBER_DIGITS = 7;

/** The preview environment is a template for one namespace in one cluster (docs/previews.md). */
function previewProblems(p: Platform, file: string): Problem[] {
  const problems: Problem[] = [];
  const env = p.previews!.environment;
  const regions = Object.keys(p.regions);
  if (regions.length !== 1) {
    problems.push({
      file,
      path: 'regions',
      message: `must name exactly one region in the preview environment ${env}: each pull request runs in one cluster; remove the others with null (got ${regions.join(', ')})`,
    });
  }
  const namespaces = Object.keys(p.namespaces);
  if (namespaces.length !== 1) {
    problems.push({
      file,
      path: 'namespaces',
      message: `must name exactly one namespace in the preview environment ${env}: each pull request gets one namespace (got ${namespaces.join(', ')})`,
    });
  }
  const longest = `${namespaces[0]}-pr-${'9'.repeat(PR_NUMBER_DIGITS)}`;
  if (namespaces.length === 1 && longest.length > 63) {
    problems.push({
      file,
      path: `namespaces.${namespaces[0]}`,
      message: `is too long for the preview environment ${env}: ${longest} must fit in 63 characters`,
    });
  }
  for (const [name, svc] of Object.entries(p.services)) {
    for (const host of svc.expose ? (svc.expose.hosts ?? p.ingress?.hosts ?? []) : []) {
      const label = `${host.split('.')[0]}-${longest}`;
      if (label.length > 63)
        problems.push({
          file,
          path: `services.${name}.expose.hosts`,
          message: `gives ${host}, whose preview host label ${label} is longer than 63 characters: shorten its first label`,
        });
    }
  }
  return problems;
}
