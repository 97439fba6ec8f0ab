/**
 * Issue 15, item 10: the exec probes of the Redis pods must leave no zombie behind. busybox's
 * `timeout` (what `rcli` runs, as in the alpine image) leaves a watcher process that is
 * re-parented to PID 1 of the PID namespace when the command ends first; redis-server and
 * redis-sentinel, PID 1 of their containers, never reap it.
 *
 * Model of the kubelet's PID namespaces (Kubernetes docs, "Share Process Namespace between
 * Containers in a Pod"; kubernetes/build/pause/linux/pause.c reaps every child on SIGCHLD with
 * waitpid(-1, WNOHANG)): without `shareProcessNamespace` each container is its own namespace and
 * its command is PID 1; with it, the pod's pause process is PID 1 (here a Perl loop doing what
 * pause.c does) and the containers' processes are its descendants. The pod runs the real
 * redis-server; the rendered readiness probe runs inside the namespace (nsenter), with the
 * rendered ConfigMap, environment and busybox userland, the way the kubelet's exec does.
 */
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRedis, FAST, Harness, renderRedis, sleep, waitFor } from './harness';

type Obj = Record<string, any>;

const PAUSE =
  'use POSIX ":sys_wait_h"; $SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 }; my $pid = fork; if (!$pid) { exec @ARGV or die } sleep 1 while 1;';

describeRedis('Redis pods leave no zombies behind their probes (real redis-server, busybox userland)', () => {
  const h = new Harness(7);
  const rendered = renderRedis({ namespace: 'redis-zombies', regions: ['us-central1'], redis: FAST }).get('us-central1')!;
  const started: ChildProcess[] = [];

  afterAll(async () => {
    for (const p of started) if (p.exitCode === null && p.pid) process.kill(p.pid, 'SIGKILL');
    await h.cleanup();
  }, 30_000);

  /** Starts redis-server as the rendered pod would run it, probes it `probes` times, returns the zombies left in the pod. */
  async function zombiesAfterProbes(shareProcessNamespace: boolean, probes: number): Promise<number> {
    const pod = rendered.statefulSet.spec.template.spec;
    const c = pod.containers.find((x: Obj) => x.name === 'redis');
    const dir = fs.mkdtempSync(path.join(h.root, 'pod-'));
    for (const d of ['config', 'data', 'tmp']) fs.mkdirSync(path.join(dir, d));
    for (const [file, text] of Object.entries(rendered.configMap.data as Record<string, string>)) fs.writeFileSync(path.join(dir, 'config', file), text);
    const map = (v: string) => {
      const m = (c.volumeMounts as Obj[]).find((x) => v === x.mountPath || v.startsWith(`${x.mountPath}/`));
      return m ? path.join(dir, m.name, v.slice(m.mountPath.length)) : v;
    };
    const address = h.address();
    const env: NodeJS.ProcessEnv = { PATH: h.path, LISTEN_ADDR: address };
    for (const e of c.env as Obj[]) {
      if (e.value !== undefined) env[e.name] = map(e.value);
      else if (e.name === 'REDIS_PASSWORD') env[e.name] = h.password;
      else if (e.name === 'POD_NAME') env[e.name] = 'cache-0';
    }
    const server = ['redis-server', '--bind', address, '--port', '6379', '--requirepass', h.password, '--save', '', '--dir', path.join(dir, 'data')];
    // PID 1 of the namespace: pause (the shared namespace), or the container's own command.
    const argv = shareProcessNamespace ? ['perl', '-e', PAUSE, ...server] : server;
    const ns = spawn('unshare', ['--pid', '--fork', '--kill-child', ...argv], { stdio: 'ignore' });
    started.push(ns);
    const pid1 = await waitFor('PID 1 of the pod', 5000, async () => {
      const children = fs.readFileSync(`/proc/${ns.pid}/task/${ns.pid}/children`, 'utf8').trim();
      return children ? Number(children.split(' ')[0]) : undefined;
    });
    try {
      const probe = (c.readinessProbe.exec.command as string[]).map(map);
      await waitFor('redis to answer the readiness probe', 10_000, async () => {
        try {
          execFileSync('nsenter', ['-t', String(pid1), '-p', '--', ...probe], { env, stdio: 'ignore', timeout: 5000 });
          return true;
        } catch {
          return undefined;
        }
      });
      for (let i = 0; i < probes; i++) execFileSync('nsenter', ['-t', String(pid1), '-p', '--', ...probe], { env, stdio: 'ignore', timeout: 5000 });
      // busybox timeout's watcher notices its parent is gone within a second.
      await sleep(1500);
      // Every process of the namespace is a descendant of its PID 1: count the zombies among them.
      const zombies = (pid: number): number =>
        fs
          .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
          .trim()
          .split(' ')
          .filter(Boolean)
          .map(Number)
          .reduce((n, child) => {
            try {
              const state = fs.readFileSync(`/proc/${child}/stat`, 'utf8').replace(/^.*\) /, '')[0];
              return n + (state === 'Z' ? 1 : zombies(child));
            } catch {
              return n;
            }
          }, 0);
      return zombies(pid1);
    } finally {
      if (ns.exitCode === null) ns.kill('SIGKILL');
      await new Promise((r) => (ns.exitCode !== null ? r(undefined) : ns.once('exit', r)));
    }
  }

  test('the pod shares one PID namespace, whose pause process reaps what the probes leave', async () => {
    expect(rendered.statefulSet.spec.template.spec.shareProcessNamespace).toBe(true);
    const shared = await zombiesAfterProbes(true, 10);
    // The manifest as it was (each container its own namespace, redis-server PID 1), for comparison:
    const own = await zombiesAfterProbes(false, 10);
    // eslint-disable-next-line no-console
    console.log(`zombies after 10 readiness probes (${h.userland} userland): ${own} with redis-server as PID 1, ${shared} with the shared namespace`);
    expect(shared).toBe(0);
    if (h.userland === 'busybox') expect(own).toBeGreaterThan(0);
  }, 60_000);
});
