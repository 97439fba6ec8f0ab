/**
 * Runs what RedisSentinel renders with real redis-server and redis-sentinel processes, the way
 * a kubelet would run the StatefulSet's pods:
 *
 * - The platform spec is loaded and the region charts are built exactly as synth does; the
 *   ConfigMap's files become each pod's config volume, the StatefulSet's containers (command,
 *   env, probes, preStop) are run as they are written, paths mapped to per-pod folders (the
 *   data folder survives restarts like the PersistentVolumeClaim, the tmp folder is new for
 *   each pod like its emptyDir).
 * - Every pod gets its own 127.x.y.z address (a new one each time the pod is recreated, as a
 *   pod IP changes) and its hostname `<pod>.<headless>.<namespace>.svc.cluster.local` points to
 *   it through an /etc/hosts block the harness adds and always removes. The scripts' one
 *   concession is LISTEN_ADDR (listen on the pod address only, as pods do not share a host).
 * - A GKE multi-cluster Service (ClusterSetIP) is a TCP proxy on its own address that spreads
 *   connections over the pods whose readiness probe passes.
 * - When busybox is installed (.ci/run installs it), the containers' sh, awk, sed, grep,
 *   timeout... are busybox applets, as in the redis alpine image; otherwise the host's.
 * - Each region is a cluster with its own DNS: its processes run in a mount namespace whose
 *   /etc/hosts names its own pods and the fleet's clusterset.local Services only, so a pod
 *   name of another cluster does not resolve, as in GKE. The test itself resolves every name
 *   through its /etc/hosts block.
 *
 * Every process is started by the harness and stopped by its pid in cleanup().
 */
import { execFile, execFileSync, spawn, spawnSync, ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { loadEnvironments, PlatformInput } from '../../../model';
import { buildEnvironment } from '../../../synth/render';
import { gcpZones } from '../../../kernel/gcp-regions';
import { announceSkip, onPath } from '../../programs';
import { parseInfo, type RedisExec } from '../../../cli/promote-check';

type Obj = Record<string, any>;

// ---------------------------------------------------------------------------------------
// Prerequisites

/** Why the scenarios cannot run here, or undefined when they can. */
export function redisPrerequisites(): string | undefined {
  const missing = ['redis-server', 'redis-sentinel', 'redis-cli', 'timeout'].filter((b) => !onPath(b));
  if (missing.length > 0) return `${missing.join(', ')} not found: apt-get install redis-server redis-sentinel`;
  if (process.getuid?.() !== 0) return 'not root: the harness maps pod hostnames in /etc/hosts and gives each cluster its own';
  try {
    fs.accessSync('/etc/hosts', fs.constants.W_OK);
  } catch {
    return '/etc/hosts is not writable';
  }
  for (const bin of ['unshare', 'mount']) if (!onPath(bin)) return `${bin} not found (util-linux, mount)`;
  try {
    execFileSync('unshare', ['--mount', 'sh', '-c', 'mount --bind /etc/hosts /etc/hosts'], { stdio: 'pipe' });
  } catch (e) {
    return `cannot give a process its own /etc/hosts (unshare --mount): ${(e as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

/** `describe` that runs under CI=true or fails, and outside CI skips loudly when redis is missing. */
export function describeRedis(name: string, fn: () => void): void {
  const missing = redisPrerequisites();
  if (missing && process.env.CI === 'true') {
    describe(name, () => {
      test('has real redis-server and redis-sentinel', () => {
        throw new Error(`the Redis scenarios must run under CI, but ${missing}`);
      });
    });
    return;
  }
  if (missing) {
    announceSkip(`the Redis scenarios ("${name}")`, 'REDIS CANNOT RUN', missing);
    describe.skip(name, fn);
    return;
  }
  describe(name, fn);
}

// ---------------------------------------------------------------------------------------
// Rendering

/** What RedisSentinel rendered for one region cluster. */
export interface RenderedGroup {
  readonly region: string;
  readonly role: 'primary' | 'secondary';
  readonly configMap: Obj;
  readonly statefulSet: Obj;
  readonly objects: Obj[];
  /**
   * The container env of the Deployment `app` (a workload with `dependsOn: ['redis:cache']`)
   * as rendered for this region: literal values, and `secret:<name>/<key>` for a Secret reference.
   */
  readonly clientEnv: Record<string, string>;
}

export interface RenderOptions {
  readonly namespace: string;
  /** Region keys (GCP region names), the primary first unless `primary` says otherwise. */
  readonly regions: readonly string[];
  /** @default regions[0] */
  readonly primary?: string;
  /** The redis group `cache`'s spec (namespace and passwordSecret are filled in). */
  readonly redis?: Obj;
  /** `promotion.to`: step 1 of a promotion to this region (`meridian promote`) is in the spec. @default - none */
  readonly promotion?: string;
}

/** Loads a platform with one redis group `cache` and builds its region charts as synth does. */
export function renderRedis(opts: RenderOptions): Map<string, RenderedGroup> {
  const primary = opts.primary ?? opts.regions[0];
  const input: PlatformInput = {
    name: 'redistest',
    project: 'meridian-tests',
    environments: ['test'],
    regions: Object.fromEntries(opts.regions.map((r) => [r, { role: r === primary ? 'primary' : 'secondary', zones: gcpZones(r).slice(0, 3) }])),
    namespaces: { [opts.namespace]: {} },
    // A worker of the group's clients: the test configures its Redis clients from its rendered env only.
    services: { app: { namespace: opts.namespace, image: { repository: 'example.com/app', tag: '1' }, dependsOn: ['redis:cache'] } },
    redis: { cache: { namespace: opts.namespace, passwordSecret: 'cache-password', ...opts.redis } },
    gitops: { repoURL: 'https://example.com/fleet.git' },
    ...(opts.promotion ? { promotion: { to: opts.promotion } } : {}),
  };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-redis-spec-'));
  try {
    const [env] = loadEnvironments({ file: 'platforms/redistest.ts', input }, root);
    const out = new Map<string, RenderedGroup>();
    for (const [chart, folder] of buildEnvironment(env, 'redistest/test')) {
      const region = folder.split('/').pop()!;
      if (region === 'argocd') continue;
      const objects = chart.toJson() as Obj[];
      const find = (kind: string, name: string) => {
        const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
        if (!found) throw new Error(`${region}: no ${kind} ${name} rendered`);
        return found;
      };
      const app = find('Deployment', 'app').spec.template.spec.containers[0];
      const clientEnv = Object.fromEntries(
        (app.env as Obj[]).map((e) => [e.name, e.value ?? `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]),
      );
      out.set(region, {
        region,
        clientEnv,
        role: env.clusters.find((c) => c.region === region)!.role,
        configMap: find('ConfigMap', 'cache-config'),
        statefulSet: find('StatefulSet', 'cache'),
        objects,
      });
    }
    return out;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * A region's group as committed in dist/ (the YAML ArgoCD syncs), not re-rendered: the
 * StatefulSet `group`, its ConfigMap `<group>-config` and every object of the cluster's folder
 * (its Services among them). `clientEnv` is empty: the caller reads the workloads itself
 * (`workloadRedisEnv`).
 */
export function renderedFromDist(region: string, role: 'primary' | 'secondary', objects: readonly Obj[], group: string): RenderedGroup {
  const find = (kind: string, name: string) => {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    if (found.length !== 1) throw new Error(`${region}: ${found.length} ${kind} ${name} in dist/, expected one`);
    return found[0];
  };
  return { region, role, clientEnv: {}, configMap: find('ConfigMap', `${group}-config`), statefulSet: find('StatefulSet', group), objects: [...objects] };
}

/** A rendered workload's pod template: a Deployment's, a Job's or a CronJob's. */
export function podTemplate(workload: Obj): Obj | undefined {
  if (workload.kind === 'Deployment' || workload.kind === 'Job') return workload.spec.template.spec;
  if (workload.kind === 'CronJob') return workload.spec.jobTemplate.spec.template.spec;
  return undefined;
}

/**
 * The REDIS_* variables of each container of a rendered workload, as `appClient` takes them:
 * literal values, `secret:<name>/<key>` for a Secret reference. Containers without any are left out.
 */
export function workloadRedisEnv(workload: Obj): { container: string; env: Record<string, string> }[] {
  const spec = podTemplate(workload);
  if (!spec) return [];
  return (spec.containers as Obj[])
    .map((c) => ({
      container: c.name as string,
      env: Object.fromEntries(
        ((c.env ?? []) as Obj[])
          .filter((e) => (e.name as string).startsWith('REDIS_'))
          .map((e) => [e.name, e.value ?? `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`]),
      ) as Record<string, string>,
    }))
    .filter((c) => Object.keys(c.env).length > 0);
}

// ---------------------------------------------------------------------------------------
// /etc/hosts

const HOSTS = '/etc/hosts';
const LOCK = path.join(os.tmpdir(), 'meridian-redis-hosts.lock');

function withHostsLock<T>(fn: () => T): T {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed run is stale after a few seconds: writers hold it for microseconds.
      try {
        if (Date.now() - fs.statSync(LOCK).mtimeMs > 5000) fs.rmdirSync(LOCK);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`could not lock ${LOCK}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmdirSync(LOCK);
  }
}

const BLOCK = /^# >>> meridian-redis-test (\d+) (\S+)\n[\s\S]*?^# <<< meridian-redis-test \1 \2\n/gm;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** This process's block of /etc/hosts: hostname → address. Blocks of dead test runs are removed. */
class HostsBlock {
  private readonly entries = new Map<string, string>();
  private readonly id = `${process.pid} ${randomBytes(4).toString('hex')}`;

  set(host: string, address: string): void {
    this.entries.set(host, address);
    this.write();
  }

  remove(): void {
    this.entries.clear();
    this.write();
  }

  private write(): void {
    withHostsLock(() => {
      let text = fs.readFileSync(HOSTS, 'utf8');
      text = text.replace(BLOCK, (block, pid: string, tag: string) => (`${pid} ${tag}` === this.id || !alive(Number(pid)) ? '' : block));
      if (this.entries.size > 0) {
        if (!text.endsWith('\n')) text += '\n';
        text += `# >>> meridian-redis-test ${this.id}\n`;
        for (const [host, address] of this.entries) text += `${address} ${host}\n`;
        text += `# <<< meridian-redis-test ${this.id}\n`;
      }
      // In place: /etc/hosts is often a bind mount that cannot be replaced by a rename.
      fs.writeFileSync(HOSTS, text);
    });
  }
}

// ---------------------------------------------------------------------------------------
// Processes and clients

/** A started process, stopped by its pid. */
export class Proc {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  private done = false;

  constructor(
    readonly label: string,
    child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${label}: did not start`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.done = true;
        resolve(code);
      }),
    );
  }

  get running(): boolean {
    return !this.done;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.done) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  /** Sends `sig`, waits up to `graceMs`, then SIGKILL. */
  async stop(sig: NodeJS.Signals = 'SIGKILL', graceMs = 10_000): Promise<void> {
    this.signal(sig);
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), graceMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'late') {
      this.signal('SIGKILL');
      await this.exited;
    }
  }
}

export interface ClientTarget {
  host: string;
  port: number;
}

/** A connection with no retries and no offline queue: an unreachable node is an error, at once. */
export function connect(target: ClientTarget, password: string): Redis {
  const client = new Redis({
    host: target.host,
    port: target.port,
    password,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 1500,
  });
  client.on('error', () => {
    /* reported by the command that failed */
  });
  return client;
}

/** One command on a fresh connection. */
export async function command<T = unknown>(target: ClientTarget, password: string, ...args: (string | number)[]): Promise<T> {
  const client = connect(target, password);
  try {
    await client.connect();
    return (await client.call(String(args[0]), ...args.slice(1).map(String))) as T;
  } finally {
    client.disconnect();
  }
}

/** Runs `sample` every `intervalMs` until `until` settles (resolved or rejected). */
export async function sampleUntil(until: Promise<unknown>, intervalMs: number, sample: () => Promise<void>): Promise<void> {
  let done = false;
  void until
    .finally(() => {
      done = true;
    })
    .catch(() => undefined);
  while (!done) {
    await sample();
    await sleep(intervalMs);
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  describeState?: () => Promise<string>,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const state = describeState ? `\n${await describeState()}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}${state}`);
    }
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// ---------------------------------------------------------------------------------------
// The harness

export const REDIS = 6379;
/** The label the StatefulSet controller puts on each pod: its name. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const SENTINEL = 26379;

function which(bin: string): string {
  return (
    (process.env.PATH ?? '')
      .split(path.delimiter)
      .map((d) => path.join(d, bin))
      .find((f) => fs.existsSync(f)) ?? bin
  );
}
const UNSHARE = which('unshare');
const MOUNT = which('mount');

/** One test file's processes, addresses and hostnames; cleanup() undoes all of it. */
export class Harness {
  readonly root: string;
  readonly password = randomBytes(12).toString('base64url');
  readonly groups: RedisGroup[] = [];
  readonly proxies: FleetProxy[] = [];
  readonly procs = new Set<Proc>();
  readonly hosts = new HostsBlock();
  private lastAddress = 0;

  /** PATH of the containers. */
  readonly path: string;

  /** @param slot distinguishes concurrent test files: addresses are 127.<100 + slot>.x.y */
  constructor(readonly slot: number) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `meridian-redis-${slot}-`));
    this.path = process.env.PATH ?? '';
    if (onPath('busybox')) {
      const bin = path.join(this.root, 'busybox');
      fs.mkdirSync(bin);
      const applets = execFileSync('busybox', ['--list'], { encoding: 'utf8' })
        .split('\n')
        .filter((a) => /^[a-z0-9._-]+$/.test(a));
      const busybox = (process.env.PATH ?? '')
        .split(path.delimiter)
        .map((d) => path.join(d, 'busybox'))
        .find((f) => fs.existsSync(f))!;
      for (const applet of applets) fs.symlinkSync(busybox, path.join(bin, applet));
      this.path = `${bin}${path.delimiter}${this.path}`;
    }
  }

  /** The shell the containers run: busybox (as in the alpine image) or the host's. */
  get userland(): string {
    return this.path.startsWith(this.root) ? 'busybox' : 'host';
  }

  /** A fresh local address, never used before in this harness. */
  address(): string {
    const n = this.lastAddress++;
    if (n >= 250 * 250) throw new Error('out of addresses');
    return `127.${100 + this.slot}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  }

  group(rendered: RenderedGroup): RedisGroup {
    const g = new RedisGroup(this, rendered);
    this.groups.push(g);
    return g;
  }

  /**
   * One group per region, each reachable from every region at `crossRegionHost(region)` (the
   * region's Service, which the mesh routes to from every cluster), started together: a
   * secondary's first pod retries until the primary answers.
   */
  async regionGroups(rendered: ReadonlyMap<string, RenderedGroup>, regions: readonly string[], sentinelService?: string): Promise<RedisGroup[]> {
    const groups = regions.map((r) => this.group(rendered.get(r)!));
    for (const g of groups) {
      await this.regionServices(g);
      // The Sentinel Service of the group (not-ready pods too), for clients configured from a rendered env.
      if (sentinelService) await this.proxy(sentinelService, g, 26379, true);
    }
    await Promise.all(groups.map((g) => g.bootstrap()));
    return groups;
  }

  /**
   * The group's rendered Services on the redis port other than the headless one (the region's
   * Service `<name>-<region>` and the per-pod ones), each a proxy over the pods its selector
   * picks (`statefulset.kubernetes.io/pod-name`: one pod) whose readiness probe passes. The
   * mesh routes their names to this cluster from every cluster (east-west gateway).
   */
  async regionServices(group: RedisGroup): Promise<FleetProxy[]> {
    const out: FleetProxy[] = [];
    for (const svc of group.renderedObjects.filter((o) => o.kind === 'Service')) {
      if (svc.spec.clusterIP === 'None' || !(svc.spec.ports as Obj[]).some((p) => p.port === REDIS)) continue;
      const podName = svc.spec.selector?.[POD_NAME_LABEL] as string | undefined;
      const only = podName === undefined ? undefined : group.pods.findIndex((p) => p.name === podName);
      if (only !== undefined && only < 0) throw new Error(`Service ${svc.metadata.name} selects ${podName}, which is not a pod of ${group.region}`);
      out.push(await this.proxy(`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`, group, REDIS, false, true, only));
    }
    return out;
  }

  /**
   * A Service of `target`'s cluster (cluster.local) or of the fleet (clusterset.local).
   * @param meshWide the name resolves in every cluster: a Service of one cluster that Istio's
   *   multi-primary mesh routes to from the others (through the east-west gateway)
   */
  async proxy(host: string, target: RedisGroup, port = REDIS, notReadyToo = false, meshWide = false, only?: number): Promise<FleetProxy> {
    const p = new FleetProxy(this, host, target, port, notReadyToo, meshWide, only);
    await p.listen();
    this.proxies.push(p);
    return p;
  }

  /** clusterset.local names (exported Services): they resolve in every cluster. */
  readonly clusterset = new Map<string, string>();

  /** Maps a fleet-wide name in every cluster's DNS and the test's. */
  setClustersetHost(host: string, address: string): void {
    this.clusterset.set(host, address);
    this.hosts.set(host, address);
    for (const g of this.groups) g.writeHosts();
  }

  /**
   * argv run with `hostsFile` as its /etc/hosts (a mount namespace of its own); the process
   * keeps the pid unshare got: `sh` and the program replace each other with exec.
   */
  static inCluster(hostsFile: string, argv: string[]): string[] {
    return [UNSHARE, '--mount', '/bin/sh', '-c', `${MOUNT} --bind "$0" /etc/hosts && exec "$@"`, hostsFile, ...argv];
  }

  spawn(label: string, argv: string[], env: NodeJS.ProcessEnv, logFile: string): Proc {
    const fd = fs.openSync(logFile, 'a');
    try {
      const proc = new Proc(label, spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', fd, fd] }));
      this.procs.add(proc);
      void proc.exited.then(() => this.procs.delete(proc));
      return proc;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Stops every process by its pid, closes the proxies, removes the hosts block and the files. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop('SIGKILL')));
    await Promise.all(this.proxies.map((p) => p.close()));
    this.hosts.remove();
    // REDIS_KEEP=1 keeps the pods' logs and volumes for a post-mortem.
    if (process.env.REDIS_KEEP)
      console.warn(`kept ${this.root}`); // eslint-disable-line no-console
    else fs.rmSync(this.root, { recursive: true, force: true });
  }
}

interface Container {
  name: string;
  command: string[];
  env: { name: string; value?: string; valueFrom?: Obj }[];
  volumeMounts: { name: string; mountPath: string }[];
  readinessProbe?: { exec?: { command: string[] } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}

export type ContainerName = 'redis' | 'sentinel' | 'backup';

function containerOf(rendered: RenderedGroup, name: ContainerName): Container {
  const c = (rendered.statefulSet.spec.template.spec.containers as Container[]).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name} in the StatefulSet`);
  return c;
}

/** A pod of the StatefulSet: its hostname, current address and volumes. */
export class Pod {
  address: string;
  readonly containers = new Map<ContainerName, Proc>();
  /** The pod object exists (created, not yet deleted): what the StatefulSet controller sees. */
  exists = false;
  /**
   * Its node is unreachable (a zone outage): the pod object stays, not ready, and never
   * finishes terminating, since no kubelet can confirm it stopped.
   */
  lost = false;
  readonly dir: string;
  /** The StatefulSet revision the pod was created from: its containers, env and hooks. */
  spec: RenderedGroup;

  constructor(
    readonly group: RedisGroup,
    readonly ordinal: number,
    readonly name: string,
    readonly hostname: string,
    spec: RenderedGroup,
  ) {
    this.spec = spec;
    this.dir = path.join(group.dir, name);
    for (const d of ['data', 'config', 'tmp']) fs.mkdirSync(path.join(this.dir, d), { recursive: true });
    // Not running yet: the name resolves, nothing answers (connection refused), as for a pod
    // that is not up.
    this.address = group.harness.address();
  }

  get redis(): ClientTarget {
    return { host: this.hostname, port: REDIS };
  }
  get sentinel(): ClientTarget {
    return { host: this.hostname, port: SENTINEL };
  }
  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  /** The last `lines` lines of a container's log, of those `keep` accepts. */
  log(container: ContainerName, lines = 25, keep: (line: string) => boolean = () => true): string {
    try {
      const text = fs
        .readFileSync(path.join(this.dir, `${container}.log`), 'utf8')
        .trimEnd()
        .split('\n')
        .filter(keep);
      return text
        .slice(-lines)
        .map((l) => `    ${l}`)
        .join('\n');
    } catch {
      return '    (no log)';
    }
  }
}

/** One region's StatefulSet, run as processes. */
export class RedisGroup {
  readonly pods: Pod[];
  readonly dir: string;
  readonly namespace: string;
  /** The pods' hostnames end in `.<domain>`: the headless Service's names. */
  readonly domain: string;
  private rendered: RenderedGroup;

  constructor(
    readonly harness: Harness,
    rendered: RenderedGroup,
  ) {
    this.rendered = rendered;
    const sts = rendered.statefulSet;
    this.namespace = sts.metadata.namespace;
    this.dir = path.join(harness.root, this.namespace, rendered.region);
    this.domain = `${sts.spec.serviceName}.${this.namespace}.svc.${this.env('redis').CLUSTER_DOMAIN ?? 'cluster.local'}`;
    this.pods = Array.from({ length: sts.spec.replicas }, (_, i) => {
      const name = `${sts.metadata.name}-${i}`;
      return new Pod(this, i, name, `${name}.${this.domain}`, rendered);
    });
    this.hostsFile = path.join(this.dir, 'hosts');
    for (const p of this.pods) harness.hosts.set(p.hostname, p.address);
    this.writeHosts();
  }

  /** This cluster's /etc/hosts: its own pods and the fleet's clusterset.local names. */
  readonly hostsFile: string;

  /** This cluster's Services (cluster.local names): they resolve in this cluster only. */
  readonly services = new Map<string, string>();

  setServiceHost(host: string, address: string): void {
    this.services.set(host, address);
    this.writeHosts();
  }

  /** What this cluster's DNS answers for `host` (a pod, a Service of this cluster, a fleet Service), or undefined. */
  resolve(host: string): string | undefined {
    return this.pods.find((p) => p.hostname === host)?.address ?? this.services.get(host) ?? this.harness.clusterset.get(host);
  }

  writeHosts(): void {
    const lines = [
      '127.0.0.1 localhost',
      ...this.pods.map((p) => `${p.address} ${p.hostname}`),
      ...[...this.services].map(([h, a]) => `${a} ${h}`),
      ...[...this.harness.clusterset].map(([h, a]) => `${a} ${h}`),
    ];
    // In place: the processes' namespaces hold this very file (inode) as their /etc/hosts.
    fs.writeFileSync(this.hostsFile, `${lines.join('\n')}\n`);
  }

  get region(): string {
    return this.rendered.region;
  }
  /** Every object the region chart rendered (the current revision). */
  get renderedObjects(): Obj[] {
    return this.rendered.objects;
  }
  get role(): string {
    return this.rendered.role;
  }
  get password(): string {
    return this.harness.password;
  }
  /** The name the sentinels monitor the master under (MASTER_SET). */
  get masterSet(): string {
    return this.env('sentinel').MASTER_SET;
  }

  /** The environment variables a container of the current StatefulSet revision declares, literal values only. */
  env(container: ContainerName): Record<string, string> {
    return Object.fromEntries(
      containerOf(this.rendered, container)
        .env.filter((e) => e.value !== undefined)
        .map((e) => [e.name, e.value!]),
    );
  }

  /** The Secret the pods read their password from. */
  passwordSecretName(): string {
    const ref = containerOf(this.rendered, 'redis').env.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef;
    if (!ref) throw new Error('the redis container has no REDIS_PASSWORD from a Secret');
    return ref.name;
  }

  /** A container as pod i was created with it. */
  private container(i: number, name: ContainerName): Container {
    return containerOf(this.pods[i].spec, name);
  }

  /** Volume mount path → the pod's folder for it. */
  private mapPath(pod: Pod, c: Container, value: string): string {
    const dirs: Record<string, string> = { data: 'data', config: 'config', tmp: 'tmp' };
    for (const m of c.volumeMounts) {
      const dir = dirs[m.name];
      if (!dir) throw new Error(`the harness does not know volume ${m.name}`);
      if (value === m.mountPath) return path.join(pod.dir, dir);
      if (value.startsWith(`${m.mountPath}/`)) return path.join(pod.dir, dir, value.slice(m.mountPath.length + 1));
    }
    return value;
  }

  /** What the kubelet would give the container: its env (secrets, downward API) and the pod address to listen on. */
  private processEnv(pod: Pod, c: Container): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PATH: this.harness.path, LISTEN_ADDR: pod.address };
    for (const e of c.env) {
      if (e.value !== undefined) {
        env[e.name] = this.mapPath(pod, c, e.value);
      } else if (e.valueFrom?.secretKeyRef?.key === 'password') {
        env[e.name] = this.password;
      } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') {
        env[e.name] = pod.name;
      } else {
        throw new Error(`the harness cannot provide env ${e.name}: ${JSON.stringify(e.valueFrom)}`);
      }
    }
    return env;
  }

  /** The ConfigMap as the pod's config volume. */
  private mountConfig(pod: Pod): void {
    const dir = path.join(pod.dir, 'config');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    for (const [file, text] of Object.entries(pod.spec.configMap.data as Record<string, string>)) {
      fs.writeFileSync(path.join(dir, file), text, { mode: 0o444 });
    }
  }

  /** Creates the pod: a new address (pod IP), a new tmp volume, the current ConfigMap, both containers. */
  startPod(i: number): void {
    const pod = this.pods[i];
    if (pod.containers.size > 0 && [...pod.containers.values()].some((p) => p.running)) throw new Error(`${pod.name} is running`);
    pod.containers.clear();
    pod.exists = true;
    pod.lost = false;
    pod.spec = this.rendered;
    pod.address = this.harness.address();
    this.harness.hosts.set(pod.hostname, pod.address);
    this.writeHosts();
    fs.rmSync(path.join(pod.dir, 'tmp'), { recursive: true, force: true });
    fs.mkdirSync(path.join(pod.dir, 'tmp'));
    this.mountConfig(pod);
    this.startContainer(i, 'redis');
    this.startContainer(i, 'sentinel');
  }

  /**
   * Starts (or restarts, as the kubelet does after a crash) one container of a running pod;
   * `extra` adds variables the manifest does not set (a stand-in's address).
   */
  startContainer(i: number, name: ContainerName, extra: NodeJS.ProcessEnv = {}): Proc {
    const pod = this.pods[i];
    const c = this.container(i, name);
    const argv = Harness.inCluster(
      this.hostsFile,
      c.command.map((a) => this.mapPath(pod, c, a)),
    );
    const proc = this.harness.spawn(`${this.region}/${pod.name}/${name}`, argv, { ...this.processEnv(pod, c), ...extra }, path.join(pod.dir, `${name}.log`));
    pod.containers.set(name, proc);
    return proc;
  }

  /** Runs an exec command of the container spec (probe or hook) in the container's environment. */
  exec(i: number, name: ContainerName, command: string[], timeoutMs = 30_000): Promise<{ code: number; output: string }> {
    const pod = this.pods[i];
    const c = this.container(i, name);
    const argv = Harness.inCluster(
      this.hostsFile,
      command.map((a) => this.mapPath(pod, c, a)),
    );
    return new Promise((resolve) => {
      execFile(argv[0], argv.slice(1), { env: this.processEnv(pod, c), timeout: timeoutMs }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      });
    });
  }

  /** The container's readiness probe passes. */
  async ready(i: number, name: ContainerName): Promise<boolean> {
    const probe = this.container(i, name).readinessProbe?.exec?.command;
    if (!probe) throw new Error(`container ${name} has no exec readiness probe`);
    if (!this.pods[i].containers.get(name)?.running) return false;
    return (await this.exec(i, name, probe, 5000)).code === 0;
  }

  async waitReady(i: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${this.pods[i].name} to be ready`,
      timeoutMs,
      async () => ((await this.ready(i, 'redis')) && (await this.ready(i, 'sentinel')) ? true : undefined),
      () => this.describe(),
      200,
    );
  }

  /** The rendered StatefulSet's podManagementPolicy (the API server's default: OrderedReady). */
  get podManagementPolicy(): 'OrderedReady' | 'Parallel' {
    const policy = this.rendered.statefulSet.spec.podManagementPolicy ?? 'OrderedReady';
    if (policy !== 'OrderedReady' && policy !== 'Parallel') throw new Error(`unknown podManagementPolicy ${policy}`);
    return policy;
  }

  /**
   * Creates the group's pods as the StatefulSet controller does on a new StatefulSet and waits
   * until all are ready: one by one, each once the previous is ready (OrderedReady), or all at
   * once (Parallel). See StatefulSetController for the controller's rules.
   */
  async bootstrap(): Promise<void> {
    if (this.podManagementPolicy === 'Parallel') {
      this.pods.forEach((_, i) => this.startPod(i));
      for (let i = 0; i < this.pods.length; i++) await this.waitReady(i);
      return;
    }
    for (let i = 0; i < this.pods.length; i++) {
      this.startPod(i);
      await this.waitReady(i);
    }
  }

  /** Runs the container's preStop hook, if it has one, as the kubelet does before SIGTERM; its output goes to the container's log. */
  async preStop(i: number, name: ContainerName, graceMs = 30_000): Promise<{ code: number; output: string } | undefined> {
    const hook = this.container(i, name).lifecycle?.preStop?.exec?.command;
    if (!hook) return undefined;
    const result = await this.exec(i, name, hook, graceMs);
    fs.appendFileSync(path.join(this.pods[i].dir, `${name}.log`), result.output);
    return result;
  }

  /** Deletes a pod: preStop hooks, SIGTERM to each container after its hook, SIGKILL after the grace period. */
  async deletePod(i: number): Promise<void> {
    const pod = this.pods[i];
    const grace = (pod.spec.statefulSet.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    await Promise.all(
      (['redis', 'sentinel'] as ContainerName[]).map(async (name) => {
        const proc = pod.containers.get(name);
        if (!proc?.running) return;
        await this.preStop(i, name, grace);
        await proc.stop('SIGTERM', grace);
      }),
    );
    pod.exists = false;
  }

  /**
   * The container's process dies (kill -9: a crash, an OOM kill) and the kubelet restarts it in
   * the same pod: same address, same volumes (the tmp emptyDir too), the other containers left
   * running. A first crash is restarted without back-off (pkg/kubelet/kuberuntime/
   * kuberuntime_manager.go, doBackOff: a container with no back-off entry is started at once;
   * the entry, 10 s doubling to 5 min, only delays the next restarts), once the pod worker sees
   * the exit: the PLEG relists every second (pkg/kubelet/kubelet.go, genericPlegRelistPeriod),
   * hence `restartAfterMs`. Resolves with the new process, once started.
   */
  async crashContainer(i: number, name: ContainerName, restartAfterMs = 1000): Promise<Proc> {
    const proc = this.pods[i].containers.get(name);
    if (!proc?.running) throw new Error(`${this.pods[i].name}/${name} is not running`);
    await proc.stop('SIGKILL');
    await sleep(restartAfterMs);
    return this.startContainer(i, name);
  }

  /** A whole-node crash: every container of the pod killed at once. */
  async killPod(i: number): Promise<void> {
    await Promise.all([...this.pods[i].containers.values()].map((p) => p.stop('SIGKILL')));
  }

  /**
   * The pod's zone is lost: its processes are gone (as seen from the rest of the region) and
   * the pod object stays, not ready, until the zone returns (`Pod.lost`).
   */
  async loseZone(i: number): Promise<void> {
    this.pods[i].lost = true;
    await this.killPod(i);
  }

  /**
   * The pod is gone with its node (a node pool recreated, a cluster restarted): its processes
   * killed, the pod object deleted; its volume stays. The StatefulSet controller recreates it.
   */
  async removePod(i: number): Promise<void> {
    await this.killPod(i);
    this.pods[i].exists = false;
    this.pods[i].lost = false;
  }

  /**
   * A StatefulSet rolling update to `next`: from the highest ordinal down, each pod deleted,
   * recreated and ready before the next. The same under both podManagementPolicies: the
   * policy governs creation and scale-down only (kubernetes pkg/controller/statefulset,
   * updateStatefulSet: the update loop waits for an unavailable pod whatever the policy).
   */
  async rollingUpdate(next: RenderedGroup, onPod?: (i: number) => Promise<void>): Promise<void> {
    this.rendered = next;
    for (let i = this.pods.length - 1; i >= 0; i--) {
      await this.deletePod(i);
      this.startPod(i);
      await this.waitReady(i);
      if (onPod) await onPod(i);
    }
  }

  index(hostname: string): number {
    const i = this.pods.findIndex((p) => p.hostname === hostname);
    if (i < 0) throw new Error(`${hostname} is not a pod of ${this.region}`);
    return i;
  }

  // -- observations --------------------------------------------------------------------

  /** ROLE of each node: 'master', 'slave' or 'down'. */
  async roles(): Promise<string[]> {
    return Promise.all(
      this.pods.map(async (p) => {
        try {
          return String((await command<unknown[]>(p.redis, this.password, 'ROLE'))[0]);
        } catch {
          return 'down';
        }
      }),
    );
  }

  /** INFO replication of a node as key → value. */
  async replication(i: number): Promise<Record<string, string>> {
    return parseInfo(await command<string>(this.pods[i].redis, this.password, 'INFO', 'replication'));
  }

  /** The master each sentinel names (hostname), or undefined when it is down or knows none. */
  async sentinelMasters(): Promise<(string | undefined)[]> {
    return Promise.all(
      this.pods.map(async (p) => {
        try {
          const addr = await command<[string, string] | null>(p.sentinel, this.password, 'SENTINEL', 'get-master-addr-by-name', this.masterSet);
          return addr ? addr[0] : undefined;
        } catch {
          return undefined;
        }
      }),
    );
  }

  /** Waits up to `timeoutMs` for one master with every replica attached; returns its index. */
  settled(timeoutMs = 30_000): Promise<number> {
    return waitFor(
      `${this.namespace}: one master with every replica attached`,
      timeoutMs,
      () => this.settledMaster(),
      () => this.describe(),
    );
  }

  /**
   * The master, when the group is settled on one: every sentinel names it, it is the only
   * node reporting the master role, and `replicas` nodes replicate from it with the link up.
   */
  async settledMaster(replicas = this.pods.length - 1): Promise<number | undefined> {
    const named = await this.sentinelMasters();
    if (named.some((m) => m === undefined) || new Set(named).size !== 1) return undefined;
    const master = this.index(named[0]!);
    const roles = await this.roles();
    if (roles.filter((r) => r === 'master').length !== 1 || roles[master] !== 'master') return undefined;
    let linked = 0;
    for (let i = 0; i < this.pods.length; i++) {
      if (i === master || roles[i] !== 'slave') continue;
      const info = await this.replication(i);
      // A primary region's replica caught up with its master: promotable (common.sh, watch_priority).
      const caughtUp = this.role !== 'primary' || Number(info.slave_priority) > 0;
      if (info.master_host === this.pods[master].hostname && info.master_link_status === 'up' && info.master_sync_in_progress === '0' && caughtUp) linked++;
    }
    if (linked < replicas) return undefined;
    return (await this.sentinelsKnowGroup()) ? master : undefined;
  }

  /** Every replica the sentinel of pod `i` lists (SENTINEL REPLICAS), its fields by name. */
  async sentinelReplicas(i: number): Promise<Record<string, string>[]> {
    const flat = await command<string[][]>(this.pods[i].sentinel, this.password, 'SENTINEL', 'REPLICAS', this.masterSet);
    return flat.map((r) => Object.fromEntries(r.flatMap((v, k) => (k % 2 === 0 ? [[v, r[k + 1]]] : []))));
  }

  /**
   * Every sentinel sees the other sentinels and the replicas up, and in the primary region may
   * promote each replica (its priority above 0): what a failover needs. Sentinels learn
   * replicas from the master's INFO (every 10 s), a replica's priority from their INFO of it
   * (every 10 s), and each other from hellos.
   */
  async sentinelsKnowGroup(): Promise<boolean> {
    const field = (e: string[], k: string) => e[e.indexOf(k) + 1];
    const up = (entries: string[][]) => entries.filter((e) => !/s_down|disconnected/.test(field(e, 'flags'))).length;
    const promotable = (entries: string[][]) =>
      this.role === 'primary' ? entries.filter((e) => Number(field(e, 'slave-priority')) > 0).length : entries.length;
    for (const p of this.pods) {
      const replicas = await command<string[][]>(p.sentinel, this.password, 'SENTINEL', 'REPLICAS', this.masterSet);
      const sentinels = await command<string[][]>(p.sentinel, this.password, 'SENTINEL', 'SENTINELS', this.masterSet);
      if (up(replicas) < this.pods.length - 1 || promotable(replicas) < this.pods.length - 1 || up(sentinels) < this.pods.length - 1) return false;
    }
    return true;
  }

  /** A snapshot of every node and sentinel, for failure messages. */
  async describe(): Promise<string> {
    const roles = await this.roles();
    const masters = await this.sentinelMasters();
    const lines = [`region ${this.region} (${this.role}):`];
    for (let i = 0; i < this.pods.length; i++) {
      const p = this.pods[i];
      let repl = '';
      try {
        const r = await this.replication(i);
        repl =
          r.role === 'slave'
            ? ` -> ${r.master_host} link ${r.master_link_status} offset ${r.slave_repl_offset}`
            : ` offset ${r.master_repl_offset} replicas ${r.connected_slaves}`;
      } catch {
        /* down */
      }
      lines.push(`  ${p.name} @${p.address}: ${roles[i]}${repl}; sentinel names ${masters[i] ?? '-'}`);
      // The scripts' own lines and the sentinel's events say what happened; the rest is the
      // last moments (a sentinel that cannot resolve a pod not yet created says so every second).
      lines.push(
        `   redis log:\n${p.log('redis', 8)}`,
        `   scripts (redis container):\n${p.log('redis', 12, (l) => l.startsWith('meridian-redis'))}`,
        `   sentinel log:\n${p.log('sentinel', 14, (l) => !l.includes('Failed to resolve hostname'))}`,
      );
    }
    return lines.join('\n');
  }

  /** Values of `keys` on node i (null for a missing key). */
  async values(i: number, keys: readonly string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let k = 0; k < keys.length; k += 500) {
      out.push(...(await command<(string | null)[]>(this.pods[i].redis, this.password, 'MGET', ...keys.slice(k, k + 500))));
    }
    return out;
  }
}

/**
 * A Service's virtual IP: connections to `port` spread over the group's pods whose redis
 * readiness probe passes (or over all its pods: `publishNotReadyAddresses`). A fleet
 * (clusterset.local) name resolves in every cluster, a cluster.local one in its group's only.
 */
export class FleetProxy {
  readonly address: string;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readyPods: number[] = [];
  private next = 0;
  private probing?: NodeJS.Timeout;
  private closed = false;

  constructor(
    harness: Harness,
    readonly host: string,
    readonly target: RedisGroup,
    readonly port = REDIS,
    readonly notReadyToo = false,
    meshWide = false,
    /** The one pod the Service selects (by `statefulset.kubernetes.io/pod-name`), if any. */
    readonly only?: number,
  ) {
    this.address = harness.address();
    if (meshWide || host.endsWith('.svc.clusterset.local')) harness.setClustersetHost(host, this.address);
    else target.setServiceHost(host, this.address);
    this.server = net.createServer((client) => this.forward(client));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.address, resolve);
    });
    const probe = async () => {
      const ready: number[] = [];
      for (let i = 0; i < this.target.pods.length; i++) {
        if (this.only !== undefined && i !== this.only) continue;
        if (this.notReadyToo || (await this.target.ready(i, 'redis'))) ready.push(i);
      }
      this.readyPods = ready;
      if (!this.closed) this.probing = setTimeout(probe, 1000);
    };
    await probe();
  }

  /** One-way delay of every byte through the Service, in each direction, ms: a link between regions. @default 0 */
  delayMs = 0;
  private isCut = false;

  private generation = 0;

  /**
   * The link through this Service is lost at this instant: nothing arrives any more, not even
   * the bytes still on the wire (within `delayMs`); its connections close and new ones are
   * refused until heal().
   */
  cut(): void {
    this.isCut = true;
    this.generation++;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.isCut = false;
  }

  private forward(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (this.readyPods.length === 0 || this.isCut) {
      client.destroy();
      return;
    }
    const pod = this.target.pods[this.readyPods[this.next++ % this.readyPods.length]];
    const upstream = net.connect(this.port, pod.address);
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    this.relay(client, upstream);
    this.relay(upstream, client);
  }

  /** Copies from → to, with backpressure, the link's delay, and nothing once cut. */
  private relay(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.isCut) return;
      const generation = this.generation;
      const send = () => {
        if (generation !== this.generation) return;
        if (!to.destroyed && !to.writableEnded && !to.write(chunk) && this.delayMs === 0) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      };
      if (this.delayMs > 0) setTimeout(send, this.delayMs);
      else send();
    });
    from.on('end', () => (this.delayMs > 0 ? setTimeout(() => to.end(), this.delayMs) : to.end()));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probing) clearTimeout(this.probing);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------
// The StatefulSet controller

/**
 * The StatefulSet controller's pod creation, as kubernetes/kubernetes
 * pkg/controller/statefulset/stateful_set_control.go does it (updateStatefulSet, runForAll,
 * processReplica), with the kubelet's readiness probe feeding the pods' Ready condition:
 *
 * - each sync walks the replicas in ordinal order; a missing pod is created;
 * - `OrderedReady` (monotonic): the walk stops at the pod it just created, at a terminating
 *   pod, and at any pod that is not Running and Ready, so no pod is created while a lower
 *   ordinal is missing, not ready, or on an unreachable node (`Pod.lost`);
 * - `Parallel` (burst): every missing pod is created in the same sync (slowStartBatch) and
 *   nothing waits for readiness.
 *
 * Ready is what the kubelet last saw: every container's readiness probe (the rendered exec
 * probes of redis and the sentinel) run every `periodSeconds` from the pod's creation; a pod
 * whose containers are gone, or whose node is lost, is not ready. (The kubelet runs the
 * readiness probe only after the startup probe succeeded, up to another period later: the
 * model is the optimistic end of what a cluster does.) Rolling updates are not modelled here
 * (RedisGroup.rollingUpdate: the policy does not change them).
 */
export class StatefulSetController {
  /** Pod creations, in order: ordinal and when (performance.now()). */
  readonly created: { ordinal: number; at: number }[] = [];
  private readonly readyPods = new Set<number>();
  private readonly probes = new Map<number, NodeJS.Timeout>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    readonly group: RedisGroup,
    private readonly syncMs = 100,
  ) {}

  get policy(): 'OrderedReady' | 'Parallel' {
    return this.group.podManagementPolicy;
  }

  /** The pod's Ready condition as the controller reads it. */
  isRunningAndReady(i: number): boolean {
    const pod = this.group.pods[i];
    return pod.exists && !pod.lost && this.readyPods.has(i);
  }

  /** Syncs until stop(); pods that exist already (created before) are probed from now on. */
  start(): this {
    this.group.pods.forEach((p, i) => {
      if (p.exists) this.probe(i);
    });
    const loop = () => {
      if (this.stopped) return;
      this.sync();
      this.timer = setTimeout(loop, this.syncMs);
    };
    loop();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.probes.values()) clearTimeout(t);
    this.probes.clear();
  }

  /** One pass of updateStatefulSet over the replicas (creation only). */
  sync(): void {
    const monotonic = this.policy === 'OrderedReady';
    for (let i = 0; i < this.group.pods.length; i++) {
      const pod = this.group.pods[i];
      if (!pod.exists) {
        this.group.startPod(i);
        this.created.push({ ordinal: i, at: performance.now() });
        this.probe(i);
        // "if the set does not allow bursting, return immediately"
        if (monotonic) return;
        continue;
      }
      // A pod on an unreachable node is neither ready nor ever done terminating.
      if (monotonic && !this.isRunningAndReady(i)) return;
    }
  }

  /** The kubelet's readiness prober of pod i: every periodSeconds from its creation. */
  private probe(i: number): void {
    const old = this.probes.get(i);
    if (old) clearTimeout(old);
    this.readyPods.delete(i);
    const spec = this.group.pods[i].spec.statefulSet.spec.template.spec.containers as { name: string; readinessProbe?: { periodSeconds?: number } }[];
    const periodMs = Math.min(...spec.filter((c) => c.name !== 'metrics').map((c) => (c.readinessProbe?.periodSeconds ?? 10) * 1000));
    const tick = async () => {
      const pod = this.group.pods[i];
      if (this.stopped || !pod.exists) return;
      const ready = !pod.lost && (await this.group.ready(i, 'redis')) && (await this.group.ready(i, 'sentinel'));
      if (ready) this.readyPods.add(i);
      else this.readyPods.delete(i);
      if (!this.stopped && pod.exists)
        this.probes.set(
          i,
          setTimeout(() => void tick(), periodMs),
        );
    };
    this.probes.set(
      i,
      setTimeout(() => void tick(), periodMs),
    );
  }
}

// ---------------------------------------------------------------------------------------
// Scenario helpers

/** Short Sentinel timings so the scenarios fit in seconds; the rest are the spec's defaults. */
export const FAST = { downAfter: '1000ms', failoverTimeout: '5s', minReplicasMaxLag: '1s', memory: '256Mi', storage: '1Gi' };
export const DOWN_AFTER_MS = 1000;
export const FAILOVER_TIMEOUT_MS = 5000;

/** The shell block that follows the `restore-steps` marker in docs/redis.md, unindented: the restore runbook's steps as written. */
export function restoreSteps(): string {
  const doc = fs.readFileSync(path.join(__dirname, '../../../docs/redis.md'), 'utf8');
  const at = doc.indexOf('<!-- restore-steps');
  if (at < 0) throw new Error('docs/redis.md has no restore-steps block');
  const block = /```sh\n([\s\S]*?)\n\s*```/.exec(doc.slice(at));
  if (!block) throw new Error('docs/redis.md: no sh block after the restore-steps marker');
  const lines = block[1].split('\n');
  const indent = /^\s*/.exec(lines.find((l) => l.trim() !== '') ?? '')![0].length;
  return `${lines.map((l) => l.slice(Math.min(indent, /^\s*/.exec(l)![0].length))).join('\n')}\n`;
}

/** Writes `key:n` one by one, each followed by WAIT <replicas>; keeps the keys that many replicas acknowledged. */
export class Writer {
  readonly acknowledged: string[] = [];
  /** When each acknowledged key's WAIT returned (ms since the epoch), in the same order. */
  readonly acknowledgedAt: number[] = [];
  private stopped = false;
  readonly done: Promise<void>;

  constructor(group: RedisGroup, master: number, prefix: string, replicas = 1) {
    const client = connect(group.pods[master].redis, group.password);
    this.done = (async () => {
      try {
        await client.connect();
        for (let n = 0; !this.stopped; n++) {
          const key = `${prefix}:${n}`;
          await client.set(key, `v${n}`);
          if (Number(await client.call('WAIT', String(replicas), '1000')) >= replicas) {
            this.acknowledged.push(key);
            this.acknowledgedAt.push(Date.now());
          }
        }
      } catch {
        // The master died under the writer: what it acknowledged so far is what counts.
      } finally {
        client.disconnect();
      }
    })();
  }

  /** Waits until `n` writes were acknowledged. */
  async acknowledgedAtLeast(n: number): Promise<void> {
    await waitFor(`${n} writes to be acknowledged by a replica`, 10_000, async () => (this.acknowledged.length >= n ? true : undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** The master a quorum of sentinels names, once it reports the master role itself; not `not`. */
export async function newMaster(group: RedisGroup, not: number): Promise<number | undefined> {
  const named = (await group.sentinelMasters()).filter((m) => m !== undefined && m !== group.pods[not].hostname);
  const quorum = Number(group.env('sentinel').QUORUM);
  const host = named.find((m) => named.filter((x) => x === m).length >= quorum);
  if (!host) return undefined;
  const i = group.index(host);
  // Only the candidate is asked: a frozen node would hold a ROLE for the command timeout.
  const [role] = await command<unknown[]>(group.pods[i].redis, group.password, 'ROLE');
  return role === 'master' ? i : undefined;
}

export async function missing(group: RedisGroup, i: number, keys: readonly string[]): Promise<string[]> {
  const values = await group.values(i, keys);
  return keys.filter((_, k) => values[k] === null);
}

/**
 * The Redis client an application of `group`'s cluster builds from the rendered environment
 * of its Deployment (`RenderedGroup.clientEnv`) and nothing else: ioredis, as it is
 * configured for Sentinel (primary region) or a plain read connection (secondary region).
 * Names resolve through that cluster's DNS; the password is the referenced Secret's.
 */
export function appClient(group: RedisGroup, env: Record<string, string>): { client: Redis; writes: boolean } {
  const secret = /^secret:([^/]+)\/password$/.exec(env.REDIS_PASSWORD ?? '');
  const podSecret = group.passwordSecretName();
  if (!secret || secret[1] !== podSecret) throw new Error(`REDIS_PASSWORD must reference the group's Secret ${podSecret}/password, got ${env.REDIS_PASSWORD}`);
  const resolve = (host: string) => {
    const address = group.resolve(host);
    if (!address) throw new Error(`${host} does not resolve in ${group.region}`);
    return address;
  };
  const common = {
    password: group.password,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1500,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  };
  let client: Redis;
  if (env.REDIS_SENTINELS) {
    const sentinels = env.REDIS_SENTINELS.split(',').map((hp) => {
      const [host, port] = hp.split(':');
      return { host: resolve(host), port: Number(port) };
    });
    client = new Redis({
      ...common,
      sentinels,
      name: env.REDIS_MASTER_SET,
      sentinelPassword: group.password,
      sentinelRetryStrategy: () => 100,
      // After a failover the old master answers READONLY until the client reconnects.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
    });
  } else {
    client = new Redis({ ...common, host: resolve(env.REDIS_READ_HOST), port: Number(env.REDIS_READ_PORT) });
  }
  client.on('error', () => {
    /* counted by the commands that fail */
  });
  return { client, writes: env.REDIS_SENTINELS !== undefined };
}

/** SET then WAIT 1 on one connection: true when a replica acknowledged the write. */
export async function acknowledgedWrite(target: ClientTarget, password: string, key: string): Promise<boolean> {
  const client = connect(target, password);
  try {
    await client.connect();
    await client.set(key, '1');
    return Number(await client.call('WAIT', '1', '500')) >= 1;
  } finally {
    client.disconnect();
  }
}

/**
 * Waits until the master a majority of the sentinels name takes a write that a replica
 * acknowledges, as a Sentinel client would find it; returns the ms since `t0`.
 */
export async function writableAfter(group: RedisGroup, t0: number, timeoutMs: number, tag: string): Promise<number> {
  let n = 0;
  await waitFor(
    'a master that takes acknowledged writes',
    timeoutMs,
    async () => {
      const named = (await group.sentinelMasters()).filter((m) => m !== undefined);
      const host = named.find((m) => named.filter((x) => x === m).length > group.pods.length / 2);
      if (!host) return undefined;
      return (await acknowledgedWrite(group.pods[group.index(host)].redis, group.password, `${tag}:${n++}`)) ? true : undefined;
    },
    () => group.describe(),
    100,
  );
  return Math.round(performance.now() - t0);
}

/** promote's check reading the pods with redis-cli, as `kubectl exec` would in a cluster; `groupOf` maps a context to its group. */
export function redisCliExec(groupOf: (context: string) => RedisGroup): RedisExec {
  return (t, args) => {
    const group = groupOf(t.context);
    const pod = group.pods.find((p) => p.name === t.pod)!;
    const r = spawnSync('redis-cli', ['-h', pod.hostname, '-p', '6379', '--no-auth-warning', '-a', group.password, ...args], {
      encoding: 'utf8',
      timeout: 5000,
    });
    if (r.status !== 0 || /^(Could not connect|ERR|NOAUTH)/.test(r.stdout)) throw new Error(`${t.pod}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  };
}
