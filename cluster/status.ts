/**
 * `meridian status`: what each region cluster runs right now, read-only. Per region: its ArgoCD
 * Application's sync and health (from the ArgoCD cluster), each rendered workload's ready and
 * desired replicas and images against dist/, each ScaledObject's conditions and replicas
 * against its ceiling, each Redis group's master as its pods report it, and the pods that fail.
 *
 * Where the Redis master is: nothing a Redis pod does is written to the Kubernetes API (the pods
 * run without a service account token, docs/redis.md), and giving them one to label themselves
 * would let a cache write to the API. So the master is read from what the pods already say, in
 * their logs (`pods/log`, a read): in the primary region, each sentinel's latest
 * `+switch-master <set> <old> <port> <new> <port>` event (redis src/sentinel.c, sentinelEvent of
 * a failover's end) or, before any failover, the line start-sentinel.sh prints when it starts
 * (`sentinel monitors <host> (quorum N)`); in a secondary region, the line start-redis.sh prints
 * (`secondary region: starting as a replica of <host>`). A `+try-failover` after the latest
 * master line is a failover in progress. A log only covers the container's current run.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { allInOrder, ClusterClient, ClusterError, type LiveObject } from './kube';
import { objectLabel, type RegionTarget, type RenderedObject } from './fleet';

export interface ApplicationStatus {
  readonly name: string;
  /** `Synced`, `OutOfSync`, `Unknown`; `Missing` when there is no such Application. */
  readonly sync: string;
  /** `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`, `Unknown`. */
  readonly health: string;
  readonly revision?: string;
  /** Objects ArgoCD reports out of sync: `Deployment marketplace/api`. */
  readonly outOfSync: readonly string[];
}

export interface ImageStatus {
  readonly container: string;
  readonly live?: string;
  readonly rendered: string;
}

export interface WorkloadStatus {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly found: boolean;
  readonly ready: number;
  readonly desired: number;
  readonly images: readonly ImageStatus[];
}

export interface ScaledObjectStatus {
  readonly namespace: string;
  readonly name: string;
  readonly found: boolean;
  /** Condition → status (`True`, `False`, `Unknown`), with its reason. */
  readonly conditions: Readonly<Record<'Ready' | 'Active' | 'Fallback', { status: string; reason?: string }>>;
  /** Replicas of its target now. */
  readonly current?: number;
  readonly min?: number;
  readonly max?: number;
}

export interface RedisStatus {
  readonly name: string;
  readonly namespace: string;
  /** This region's role for the group (the spec). */
  readonly role: 'primary' | 'secondary';
  /** The region the spec puts the master in. */
  readonly specMasterRegion: string;
  /** The master's host as the pods report it; undefined when none reports one. */
  readonly master?: string;
  /** In the spec's master region (for a primary: a pod of this region's group). */
  readonly masterWhereSpecSays?: boolean;
  /** Pods whose report names `master` / pods that name a master (in a secondary region: pod 0, which replicates the primary region) / pods. */
  readonly agreeing: number;
  readonly reporting: number;
  readonly pods: number;
  readonly failoverInProgress: boolean;
  /** The master before the latest failover a sentinel reports. */
  readonly previousMaster?: string;
}

export interface PodFailure {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** `CrashLoopBackOff`, `ImagePullBackOff`, `NotReady`, `Failed` */
  readonly state: string;
  readonly restarts: number;
  /** `OOMKilled (exit 137)` */
  readonly lastTermination?: string;
}

export interface RegionStatus {
  readonly platform: string;
  readonly env: string;
  readonly region: string;
  readonly role: 'primary' | 'secondary';
  readonly context: string;
  readonly health: 'healthy' | 'degraded' | 'unreachable';
  /** Why the cluster could not be read. */
  readonly error?: string;
  readonly application?: ApplicationStatus;
  /** Why the Application could not be read. */
  readonly applicationError?: string;
  readonly workloads: readonly WorkloadStatus[];
  readonly scaledObjects: readonly ScaledObjectStatus[];
  readonly redis: readonly RedisStatus[];
  readonly failingPods: readonly PodFailure[];
  /** Each reason the region is degraded, one line each. */
  readonly problems: readonly string[];
}

export interface FleetStatus {
  readonly regions: readonly RegionStatus[];
  /** 0 healthy, 1 degraded, 2 a cluster (or ArgoCD) did not answer. */
  readonly exitCode: 0 | 1 | 2;
}

export interface ReadOptions {
  readonly kubeconfig: KubeConfig;
  /** The kubeconfig context of the cluster ArgoCD runs in. */
  readonly argocdContext: string;
  readonly timeoutMs: number;
}

/** Reads every region in parallel; a region that does not answer is reported, the others are not held up. */
export async function readStatus(targets: readonly RegionTarget[], opts: ReadOptions): Promise<FleetStatus> {
  let argocd: ClusterClient | ClusterError;
  try {
    argocd = new ClusterClient(opts.kubeconfig, opts.argocdContext, opts.timeoutMs);
  } catch (e) {
    if (!(e instanceof ClusterError)) throw e;
    argocd = e;
  }
  const regions = await Promise.all(targets.map((t) => regionStatus(t, argocd, opts)));
  const exitCode = regions.some((r) => r.health === 'unreachable' || r.applicationError) ? 2 : regions.some((r) => r.health === 'degraded') ? 1 : 0;
  return { regions, exitCode };
}

async function regionStatus(t: RegionTarget, argocd: ClusterClient | ClusterError, opts: ReadOptions): Promise<RegionStatus> {
  const base = { platform: t.platform, env: t.env, region: t.region, role: t.plan.role, context: t.context };
  const appRead = readApplication(t, argocd).then(
    (application) => ({ application, applicationError: undefined }),
    (e: unknown) => {
      if (!(e instanceof ClusterError)) throw e;
      return { application: undefined, applicationError: e.message };
    },
  );
  try {
    const client = new ClusterClient(opts.kubeconfig, t.context, opts.timeoutMs);
    const [workloads, scaledObjects, redis, failingPods] = await allInOrder([
      readWorkloads(client, t),
      readScaledObjects(client, t),
      readRedis(client, t),
      readFailingPods(client, t),
    ]);
    const app = await appRead;
    const problems = regionProblems(app.application, workloads, scaledObjects, redis, failingPods);
    if (app.applicationError) problems.unshift(`ArgoCD: ${app.applicationError}`);
    return { ...base, health: problems.length > 0 ? 'degraded' : 'healthy', ...app, workloads, scaledObjects, redis, failingPods, problems };
  } catch (e) {
    if (!(e instanceof ClusterError)) throw e;
    const app = await appRead;
    return { ...base, health: 'unreachable', error: e.message, ...app, workloads: [], scaledObjects: [], redis: [], failingPods: [], problems: [e.message] };
  }
}

async function readApplication(t: RegionTarget, argocd: ClusterClient | ClusterError): Promise<ApplicationStatus> {
  if (argocd instanceof ClusterError) throw argocd;
  const app = await argocd.get('argoproj.io/v1alpha1', 'Application', t.application.namespace, t.application.name);
  if (!app) return { name: t.application.name, sync: 'Missing', health: 'Missing', outOfSync: [] };
  const status = (app.status ?? {}) as {
    sync?: { status?: string; revision?: string };
    health?: { status?: string };
    resources?: { kind?: string; namespace?: string; name?: string; status?: string }[];
  };
  return {
    name: t.application.name,
    sync: status.sync?.status ?? 'Unknown',
    health: status.health?.status ?? 'Unknown',
    revision: status.sync?.revision,
    outOfSync: (status.resources ?? []).filter((r) => r.status === 'OutOfSync').map((r) => objectLabel(r)),
  };
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet']);

type PodSpecLike = { containers?: { name: string; image?: string }[] };
const podSpecOf = (o: LiveObject | undefined) => ((o?.spec as { template?: { spec?: PodSpecLike } } | undefined)?.template?.spec ?? {}) as PodSpecLike;

async function readWorkloads(client: ClusterClient, t: RegionTarget): Promise<WorkloadStatus[]> {
  const rendered = t.objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  return allInOrder(
    rendered.map(async (r): Promise<WorkloadStatus> => {
      const live = await client.get(r.apiVersion, r.kind, r.namespace, r.name);
      const liveContainers = new Map((podSpecOf(live).containers ?? []).map((c) => [c.name, c.image]));
      const images = (podSpecOf(r.object).containers ?? []).map((c) => ({ container: c.name, live: liveContainers.get(c.name), rendered: c.image ?? '' }));
      const spec = (live?.spec ?? {}) as { replicas?: number };
      const status = (live?.status ?? {}) as { readyReplicas?: number };
      return {
        kind: r.kind,
        namespace: r.namespace ?? '',
        name: r.name,
        found: live !== undefined,
        ready: status.readyReplicas ?? 0,
        desired: spec.replicas ?? 1,
        images,
      };
    }),
  );
}

async function readScaledObjects(client: ClusterClient, t: RegionTarget): Promise<ScaledObjectStatus[]> {
  const rendered = t.objects.filter((o) => o.kind === 'ScaledObject');
  return allInOrder(
    rendered.map(async (r): Promise<ScaledObjectStatus> => {
      const live = await client.get(r.apiVersion, r.kind, r.namespace, r.name);
      const spec = (live?.spec ?? r.object.spec ?? {}) as {
        minReplicaCount?: number;
        maxReplicaCount?: number;
        scaleTargetRef?: { apiVersion?: string; kind?: string; name: string };
      };
      const conditions = ((live?.status as { conditions?: { type: string; status: string; reason?: string }[] } | undefined)?.conditions ?? []).reduce(
        (m, c) => ({ ...m, [c.type]: { status: c.status, reason: c.reason } }),
        {} as Record<string, { status: string; reason?: string }>,
      );
      const cond = (type: string) => conditions[type] ?? { status: 'Unknown' };
      let current: number | undefined;
      if (live && spec.scaleTargetRef) {
        const target = await client.get(
          spec.scaleTargetRef.apiVersion ?? 'apps/v1',
          spec.scaleTargetRef.kind ?? 'Deployment',
          r.namespace,
          spec.scaleTargetRef.name,
        );
        current = (target?.status as { replicas?: number } | undefined)?.replicas;
      }
      return {
        namespace: r.namespace ?? '',
        name: r.name,
        found: live !== undefined,
        conditions: { Ready: cond('Ready'), Active: cond('Active'), Fallback: cond('Fallback') },
        current,
        min: spec.minReplicaCount,
        max: spec.maxReplicaCount,
      };
    }),
  );
}

const MASTER_REGION_ANNOTATION = 'meridian.dev/redis-master-region';

async function readRedis(client: ClusterClient, t: RegionTarget): Promise<RedisStatus[]> {
  const groups = t.objects.filter((o) => o.kind === 'StatefulSet' && o.object.metadata?.annotations?.[MASTER_REGION_ANNOTATION] && t.plan.redis[o.name]);
  return allInOrder(groups.map((g) => readRedisGroup(client, t, g)));
}

async function readRedisGroup(client: ClusterClient, t: RegionTarget, g: RenderedObject): Promise<RedisStatus> {
  const plan = t.plan.redis[g.name];
  const spec = g.object.spec as { serviceName?: string; selector?: { matchLabels?: Record<string, string> } };
  const selector = Object.entries(spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = (await client.list('v1', 'Pod', { namespace: g.namespace, labelSelector: selector })).sort((a, b) =>
    String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
  );
  const reports = await allInOrder(
    pods.map(async (p) => {
      const log = await client.log(g.namespace ?? '', String(p.metadata?.name), plan.role === 'primary' ? 'sentinel' : 'redis');
      return log === undefined ? undefined : plan.role === 'primary' ? sentinelReport(log) : replicaReport(log);
    }),
  );
  const inRegion = (host: string) => host.split('.')[1] === spec.serviceName;
  // In a secondary region pod 0 replicates the primary region and the others replicate pod 0
  // (start-redis.sh): only pod 0's line names the master's region.
  const known = reports.filter((r): r is MasterReport => r?.master !== undefined && (plan.role === 'primary' || !inRegion(r.master)));
  const votes = new Map<string, number>();
  for (const r of known) votes.set(r.master!, (votes.get(r.master!) ?? 0) + 1);
  const [master, agreeing] = [...votes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0] ?? [undefined, 0];
  const masterWhereSpecSays = master === undefined ? undefined : plan.role === 'primary' ? inRegion(master) : (plan.upstreams ?? []).includes(master);
  return {
    name: g.name,
    namespace: g.namespace ?? '',
    role: plan.role,
    specMasterRegion: plan.masterRegion,
    master,
    masterWhereSpecSays,
    agreeing,
    reporting: known.length,
    pods: pods.length,
    failoverInProgress: reports.some((r) => r?.failoverInProgress),
    previousMaster: known.find((r) => r.master === master && r.previous)?.previous,
  };
}

interface MasterReport {
  readonly master?: string;
  readonly previous?: string;
  readonly failoverInProgress: boolean;
}

/** A sentinel's log: the master of its latest line that names one, and whether a failover started after it. */
export function sentinelReport(log: string): MasterReport {
  let master: string | undefined;
  let previous: string | undefined;
  let failoverInProgress = false;
  for (const line of log.split('\n')) {
    const switched = /[+]switch-master \S+ (\S+) \d+ (\S+) \d+/.exec(line);
    const monitors = /sentinel monitors (\S+) \(quorum/.exec(line);
    if (switched) [previous, master, failoverInProgress] = [switched[1], switched[2], false];
    else if (monitors) [previous, master, failoverInProgress] = [undefined, monitors[1], false];
    else if (/[+]try-failover /.test(line)) failoverInProgress = true;
    else if (/-failover-abort/.test(line)) failoverInProgress = false;
  }
  return { master, previous, failoverInProgress };
}

/** A secondary region's redis log: the host it replicates, from start-redis.sh's line or its watcher's latest move. */
export function replicaReport(log: string): MasterReport {
  // The start script's choice, then each move of the first pod's watcher (common.sh).
  const m = [...log.matchAll(/(?:secondary region: starting as a replica of|: replicating from) (\S+)/g)].pop();
  return { master: m?.[1], failoverInProgress: false };
}

/** Waiting reasons of a container that is on its way up, not failing. */
const STARTING = new Set(['ContainerCreating', 'PodInitializing']);

async function readFailingPods(client: ClusterClient, t: RegionTarget): Promise<PodFailure[]> {
  const namespaces = [...new Set(t.objects.filter((o) => WORKLOAD_KINDS.has(o.kind)).map((o) => o.namespace ?? ''))].sort();
  const lists = await allInOrder(namespaces.map((namespace) => client.list('v1', 'Pod', { namespace })));
  const failures: PodFailure[] = [];
  for (const pod of lists.flat()) {
    const status = (pod.status ?? {}) as {
      phase?: string;
      containerStatuses?: {
        name: string;
        ready?: boolean;
        restartCount?: number;
        state?: { waiting?: { reason?: string }; terminated?: { reason?: string } };
        lastState?: { terminated?: { reason?: string; exitCode?: number } };
      }[];
    };
    for (const c of status.containerStatuses ?? []) {
      const waiting = c.state?.waiting?.reason;
      const failing = status.phase === 'Failed' || (waiting !== undefined && !STARTING.has(waiting)) || (!c.ready && (c.restartCount ?? 0) > 0);
      if (!failing) continue;
      const last = c.lastState?.terminated;
      failures.push({
        namespace: pod.metadata?.namespace ?? '',
        pod: pod.metadata?.name ?? '?',
        container: c.name,
        state: status.phase === 'Failed' ? 'Failed' : (waiting ?? c.state?.terminated?.reason ?? 'NotReady'),
        restarts: c.restartCount ?? 0,
        lastTermination: last ? `${last.reason ?? 'terminated'} (exit ${last.exitCode ?? '?'})` : undefined,
      });
    }
  }
  return failures.sort((a, b) => `${a.namespace}/${a.pod}/${a.container}`.localeCompare(`${b.namespace}/${b.pod}/${b.container}`));
}

function regionProblems(
  app: ApplicationStatus | undefined,
  workloads: readonly WorkloadStatus[],
  scaledObjects: readonly ScaledObjectStatus[],
  redis: readonly RedisStatus[],
  pods: readonly PodFailure[],
): string[] {
  const out: string[] = [];
  if (app && (app.sync !== 'Synced' || app.health !== 'Healthy')) out.push(`Application ${app.name} is ${app.sync}, ${app.health}`);
  for (const w of workloads) {
    const label = objectLabel(w);
    if (!w.found) out.push(`${label} is not in the cluster`);
    else if (w.ready < w.desired) out.push(`${label}: ${w.ready} of ${w.desired} replicas ready`);
    for (const i of w.images)
      if (w.found && i.live !== i.rendered) out.push(`${label}: container ${i.container} runs ${i.live ?? '(none)'}, dist/ has ${i.rendered}`);
  }
  for (const s of scaledObjects) {
    const label = `ScaledObject ${s.namespace}/${s.name}`;
    if (!s.found) out.push(`${label} is not in the cluster`);
    else if (s.conditions.Ready.status !== 'True') out.push(`${label} is not Ready (${s.conditions.Ready.reason ?? s.conditions.Ready.status})`);
    if (s.conditions.Fallback.status === 'True') out.push(`${label} is in fallback: its triggers fail and KEDA holds the fallback replica count`);
  }
  for (const r of redis) {
    if (r.master === undefined) out.push(`Redis ${r.name}: no pod reports a master`);
    else if (!r.masterWhereSpecSays) out.push(`Redis ${r.name}: the master is ${r.master}, not where the spec puts it (${r.specMasterRegion})`);
    if (r.failoverInProgress) out.push(`Redis ${r.name}: a failover is in progress`);
    if (r.master !== undefined && r.agreeing < r.reporting)
      out.push(`Redis ${r.name}: pods disagree on the master (${r.agreeing} of ${r.reporting} name ${r.master})`);
  }
  for (const p of pods)
    out.push(`pod ${p.namespace}/${p.pod} container ${p.container}: ${p.state}${p.lastTermination ? `, last terminated ${p.lastTermination}` : ''}`);
  return out;
}

const short = (host: string) => host.split('.')[0];

/** The report for people: a block per region, then one summary line. */
export function formatStatus(status: FleetStatus): string[] {
  const lines: string[] = [];
  for (const r of status.regions) {
    lines.push(`${r.platform}/${r.env} ${r.region} (${r.role}, context ${r.context}): ${r.health.toUpperCase()}`);
    const app = r.application;
    lines.push(
      `  application  ${app ? `${app.name}: ${app.sync}, ${app.health}${app.revision ? ` at ${app.revision.slice(0, 12)}` : ''}${app.outOfSync.length ? `; out of sync: ${app.outOfSync.join(', ')}` : ''}` : `unknown: ${r.applicationError}`}`,
    );
    if (r.error) {
      lines.push(`  cluster      did not answer: ${r.error}`, '');
      continue;
    }
    const rows: string[][] = [];
    for (const w of r.workloads) {
      const images = [
        ...new Set(w.images.map((i) => (i.live === i.rendered ? tag(i.rendered) : `${tag(i.live ?? '(none)')} (dist/: ${tag(i.rendered)})`))),
      ].join(', ');
      rows.push([`  ${w.kind} ${w.namespace}/${w.name}`, w.found ? `${w.ready}/${w.desired} ready` : 'missing', images]);
    }
    for (const s of r.scaledObjects) {
      const c = s.conditions;
      const ceiling = s.current !== undefined && s.max !== undefined && s.current >= s.max ? ' (at max)' : '';
      rows.push([
        `  ScaledObject ${s.namespace}/${s.name}`,
        s.found ? `${s.current ?? '?'} of max ${s.max ?? '?'}${ceiling}` : 'missing',
        `Ready=${c.Ready.status} Active=${c.Active.status} Fallback=${c.Fallback.status}`,
      ]);
    }
    lines.push(...table(rows));
    for (const g of r.redis) {
      const moved = g.previousMaster ? `, moved from ${short(g.previousMaster)} by a failover` : '';
      const seen =
        g.master === undefined
          ? 'no pod reports a master'
          : g.role === 'primary'
            ? `master ${short(g.master)}${moved} (${g.agreeing} of ${g.pods} sentinels say so)`
            : `replicates ${g.master}`;
      lines.push(`  Redis ${g.namespace}/${g.name}: ${seen}; spec: master in ${g.specMasterRegion}${g.failoverInProgress ? '; FAILOVER IN PROGRESS' : ''}`);
    }
    for (const p of r.failingPods)
      lines.push(
        `  failing pod  ${p.namespace}/${p.pod} ${p.container}: ${p.state}, ${p.restarts} restarts${p.lastTermination ? `, last terminated ${p.lastTermination}` : ''}`,
      );
    for (const p of r.problems) lines.push(`  ! ${p}`);
    lines.push('');
  }
  const count = (h: RegionStatus['health']) => status.regions.filter((r) => r.health === h).length;
  lines.push(`status: ${status.regions.length} regions: ${count('healthy')} healthy, ${count('degraded')} degraded, ${count('unreachable')} did not answer`);
  const silent = status.regions.filter((r) => r.health === 'unreachable').map((r) => `${r.platform}/${r.env}/${r.region}`);
  if (silent.length > 0) lines.push(`partial: no answer from ${silent.join(', ')}`);
  return lines;
}

/** `registry/x/api:1.4.2` → `api:1.4.2`; digests kept short. */
function tag(image: string): string {
  const last = image.split('/').pop() ?? image;
  return last.replace(/@sha256:([0-9a-f]{12})[0-9a-f]+$/, '@sha256:$1');
}

/** Columns padded to their widest cell. */
export function table(rows: readonly string[][]): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}
