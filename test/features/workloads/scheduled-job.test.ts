import { Duration, Size } from 'cdk8s';
import { ScheduledJob, ScheduledJobProps } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const base: ScheduledJobProps = {
  name: 'cleanup',
  namespace: 'api',
  image: 'us-docker.pkg.dev/p/r/cleanup:1.0.0',
  schedule: '0 3 * * *',
  gcpServiceAccount: 'cleanup@p.iam.gserviceaccount.com',
};

function render(props: Partial<ScheduledJobProps> = {}) {
  const chart = testChart();
  new ScheduledJob(chart, 'cleanup', { ...base, ...props });
  return chart;
}

describe('ScheduledJob', () => {
  test('default output', () => {
    expect(manifests(render())).toMatchSnapshot();
  });

  test('runs never overlap, are bounded in time and keep a short history', () => {
    const spec = only(render(), 'CronJob').spec;
    expect(spec).toMatchObject({
      schedule: '0 3 * * *',
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    expect(spec.jobTemplate.spec).toMatchObject({ activeDeadlineSeconds: 1800, backoffLimit: 2, ttlSecondsAfterFinished: 86400 });
    expect(spec.jobTemplate.spec.template.spec.restartPolicy).toBe('Never');
  });

  test('settings given are used', () => {
    const spec = only(
      render({
        timeZone: 'Europe/Zurich',
        concurrencyPolicy: 'Replace',
        deadline: Duration.minutes(10),
        startingDeadline: Duration.seconds(60),
        backoffLimit: 0,
        memory: Size.mebibytes(512),
      }),
      'CronJob',
    ).spec;
    expect(spec).toMatchObject({ timeZone: 'Europe/Zurich', concurrencyPolicy: 'Replace', startingDeadlineSeconds: 60 });
    expect(spec.jobTemplate.spec).toMatchObject({ activeDeadlineSeconds: 600, backoffLimit: 0 });
    expect(spec.jobTemplate.spec.template.spec.containers[0].resources.limits.memory).toBe('1Gi');
  });

  test('the pod is hardened and runs as its own Workload Identity', () => {
    const pod = only(render(), 'CronJob').spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe('cleanup');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(only(render(), 'ServiceAccount').metadata.annotations).toEqual({ 'iam.gke.io/gcp-service-account': 'cleanup@p.iam.gserviceaccount.com' });
  });

  test('fails when the deadline is under a second', () => {
    expect(() => render({ deadline: Duration.millis(500) })).toThrow("ScheduledJob 'cleanup': deadline (500 millis) must be at least 1s");
  });
});
