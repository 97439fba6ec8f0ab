/**
 * Issue 22, item 3: every CronJob Meridian renders completes under the clusters it targets.
 * The pod-completion model (features/workloads/pod-completion.ts) follows Istio's injector
 * and the Kubernetes sidecar-containers rules; it is first tested on the upstream cases,
 * then run on every CronJob of dist/ with the cluster's declared native-sidecar support.
 */
import { ProblemError } from '../../kernel/problems';
import { ScheduledJob } from '../../features';
import { ClusterRuntime, istioInjectsNative, jobPodOutcome } from '../../features/workloads/pod-completion';
import { only, testChart } from '../helpers';
import { distClusters, named, ofKind } from './dist';
import { fixtureRepo, shopPlatform } from '../model/fixtures';
import { loadAll } from '../../model';
import {} from '../../model/errors';

const k128: ClusterRuntime = { sidecarContainers: false, kubeletMinor: 28 };
const k129: ClusterRuntime = { sidecarContainers: true, kubeletMinor: 29 };
const k133: ClusterRuntime = { sidecarContainers: true, kubeletMinor: 33 };
const meshNs = { 'istio-injection': 'enabled' };
const pod = (meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}, spec: Record<string, unknown> = {}) => ({
  metadata: meta,
  spec: { restartPolicy: 'Never', containers: [{ name: 'job' }], ...spec },
});

/** What a cluster Meridian renders for declares: 1.28 without the gate, or at least 1.29 with it. */
const runtimeOf = (nativeSidecars: boolean): ClusterRuntime => (nativeSidecars ? k129 : k128);

describe('pod completion model: upstream cases', () => {
  test("Istio's auto mode injects native sidecars only when every kubelet is at least 1.33 (TestDetectNativeSidecar)", () => {
    expect(istioInjectsNative({}, { ...k133, istioNativeSidecars: 'disabled' })).toBe(false);
    expect(istioInjectsNative({}, { ...k133, istioNativeSidecars: 'auto' })).toBe(true);
    expect(istioInjectsNative({}, { ...k128, istioNativeSidecars: 'auto' })).toBe(false);
    expect(istioInjectsNative({}, k129)).toBe(false);
    expect(istioInjectsNative({}, { ...k128, istioNativeSidecars: 'enabled' })).toBe(true);
  });

  test('the pod annotation sidecar.istio.io/nativeSidecar takes precedence over ENABLE_NATIVE_SIDECARS', () => {
    expect(istioInjectsNative({ 'sidecar.istio.io/nativeSidecar': 'true' }, k129)).toBe(true);
    expect(istioInjectsNative({ 'sidecar.istio.io/nativeSidecar': 'false' }, { ...k133, istioNativeSidecars: 'enabled' })).toBe(false);
  });

  test('a classic proxy keeps a Job pod running until its deadline', () => {
    const out = jobPodOutcome(pod(), meshNs, k128);
    expect(out).toMatchObject({ proxy: 'classic', phase: 'Failed', reason: 'DeadlineExceeded' });
    expect(out.blockedBy).toBe("container istio-proxy keeps running after the job's work is done, so the pod never finishes");
  });

  test('a native proxy is stopped when the last regular container exits', () => {
    const out = jobPodOutcome(pod({ annotations: { 'sidecar.istio.io/nativeSidecar': 'true' } }), meshNs, k129);
    expect(out).toMatchObject({ proxy: 'native', phase: 'Succeeded', reason: 'Completed' });
    expect(out.containers.map((c) => `${c.kind}:${c.name}`)).toEqual(['sidecar:istio-proxy', 'regular:job']);
  });

  test('without the SidecarContainers gate the API server drops restartPolicy: the proxy blocks as an init container', () => {
    const out = jobPodOutcome(pod({ annotations: { 'sidecar.istio.io/nativeSidecar': 'true' } }), meshNs, k128);
    expect(out).toMatchObject({ phase: 'Failed', blockedBy: "init container istio-proxy never exits, so the pod's containers never start" });
    const own = jobPodOutcome(pod({}, { initContainers: [{ name: 'cloud-sql-proxy', restartPolicy: 'Always' }] }), {}, k128, ['cloud-sql-proxy']);
    expect(own.containers[0]).toEqual({ name: 'cloud-sql-proxy', kind: 'init', behaviour: 'runs' });
    expect(jobPodOutcome(pod({}, { initContainers: [{ name: 'cloud-sql-proxy', restartPolicy: 'Always' }] }), {}, k129, ['cloud-sql-proxy']).phase).toBe(
      'Succeeded',
    );
  });

  test('injection follows the namespace label and the pod label sidecar.istio.io/inject', () => {
    expect(jobPodOutcome(pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), meshNs, k128)).toMatchObject({ proxy: 'none', phase: 'Succeeded' });
    expect(jobPodOutcome(pod(), { 'istio-injection': 'disabled' }, k128).proxy).toBe('none');
    expect(jobPodOutcome(pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), { 'istio-injection': 'disabled' }, k128).proxy).toBe('none');
    expect(jobPodOutcome(pod(), {}, k128).proxy).toBe('none');
    expect(jobPodOutcome(pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), {}, k128).proxy).toBe('classic');
  });

  test('a long-running regular container other than the proxy blocks completion too', () => {
    const out = jobPodOutcome(pod({}, { containers: [{ name: 'job' }, { name: 'cloud-sql-proxy' }] }), {}, k129, ['cloud-sql-proxy']);
    expect(out.phase).toBe('Failed');
  });
});

describe('ScheduledJob: the pod completes in the clusters it is rendered for', () => {
  const base = { name: 'cleanup', namespace: 'api', image: 'r/p/cleanup:1.0.0', schedule: '0 3 * * *', gcpServiceAccount: 'c@p.iam.gserviceaccount.com' };
  const template = (mesh?: 'native-sidecar' | 'outside') => {
    const chart = testChart();
    new ScheduledJob(chart, 'cleanup', { ...base, mesh });
    return only(chart, 'CronJob').spec.jobTemplate.spec.template;
  };

  test('outside (the default): not injected, completes on 1.28', () => {
    expect(template().metadata.labels['sidecar.istio.io/inject']).toBe('false');
    expect(jobPodOutcome(template(), meshNs, k128)).toMatchObject({ proxy: 'none', phase: 'Succeeded' });
  });

  test('native-sidecar: asks Istio for a native proxy, completes from 1.29 (where Istio auto mode would inject a classic one)', () => {
    expect(template('native-sidecar').metadata.annotations).toEqual({ 'sidecar.istio.io/nativeSidecar': 'true' });
    expect(jobPodOutcome(template('native-sidecar'), meshNs, k129)).toMatchObject({ proxy: 'native', phase: 'Succeeded' });
    expect(jobPodOutcome(template('native-sidecar'), meshNs, k128).phase).toBe('Failed');
  });
});

describe('dist/: every CronJob completes in its cluster', () => {
  const clusters = ['bytspot', 'virtuoso', 'weather', 'pushnchat', 'ggen'].flatMap(distClusters);

  test('the Virtuoso cleanup jobs are among them', () => {
    const jobs = clusters.filter((c) => c.platform === 'virtuoso').flatMap((c) => ofKind(c, 'CronJob').map((j) => j.metadata.name));
    expect(new Set(jobs)).toEqual(new Set(['cleanup-sessions', 'cleanup-results']));
  });

  test.each(clusters.flatMap((c) => ofKind(c, 'CronJob').map((j) => [`${c.platform}/${c.env}/${c.region} ${j.metadata.name}`, c, j] as const)))(
    '%s',
    (_, cluster, job) => {
      const ns = named(cluster, 'Namespace', job.metadata.namespace!);
      const runtime = runtimeOf(cluster.spec.nativeSidecars);
      const out = jobPodOutcome(job.spec.jobTemplate.spec.template, ns.metadata.labels, runtime);
      expect({ phase: out.phase, blockedBy: out.blockedBy }).toEqual({ phase: 'Succeeded', blockedBy: undefined });
      if (out.proxy === 'none') {
        // Outside the mesh its NetworkPolicy is all it has: the Google APIs it declares, and the metadata server.
        const labels = job.spec.jobTemplate.spec.template.metadata.labels;
        const policy = ofKind(cluster, 'NetworkPolicy').find(
          (p) =>
            p.metadata.namespace === job.metadata.namespace &&
            Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
            Object.keys(p.spec.podSelector.matchLabels ?? {}).length > 0,
        );
        expect(policy?.spec.egress).toEqual(
          expect.arrayContaining([{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: expect.any(Array) } }], ports: [{ port: 443, protocol: 'TCP' }] }]),
        );
      }
    },
  );
});

describe('spec: a job that calls mesh services needs native sidecars where it runs', () => {
  test('fails when a job depends on a service in a region without native sidecars', () => {
    const platform = shopPlatform();
    (platform.jobs as Record<string, unknown>) = {
      report: { namespace: 'shop', image: { repository: 'r.example/p/report', tag: '1' }, schedule: '0 3 * * *', dependsOn: ['api'] },
    };
    let problems: string[] = [];
    try {
      loadAll(fixtureRepo(platform));
    } catch (e) {
      if (!(e instanceof ProblemError && e.source === 'spec')) throw e;
      problems = e.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`);
    }
    expect(problems).toContain(
      'platforms/shop.ts: jobs.report.dependsOn: needs the mesh, but the job runs in us-east1 without native sidecars (regions.<region>.nativeSidecars): there its pod runs outside the mesh, because a classic Istio proxy would keep it running until its deadline, and mesh services admit only mTLS callers; call Google APIs through egress, or run the job where the cluster has native sidecars (got ["api"])',
    );
  });
});
