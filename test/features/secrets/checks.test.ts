import { secretProblems } from '../../../features/secrets/checks';
import { Microservice, ScheduledJob } from '../../../features';
import { manifests, only, testChart } from '../../helpers';

const GITHUB = ['ghp', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'].join('_');

function deployment(env: unknown[], annotations?: Record<string, string>) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'api', namespace: 'shop' },
    spec: {
      template: { metadata: { labels: { app: 'api' }, annotations }, spec: { containers: [{ name: 'api', image: 'api:1', args: ['--port=8080'], env }] } },
    },
  };
}

describe('secretProblems (every rendered string)', () => {
  test('fails when an env literal is named like a secret; the value is never shown', () => {
    const problems = secretProblems(deployment([{ name: 'DB_PASSWORD', value: 'hunter2-correct-horse' }]));
    expect(problems).toEqual([
      {
        path: 'spec.template.spec.containers[0].env[0].value',
        message:
          "DB_PASSWORD is named like a secret and holds a literal value: rendered output is committed to Git: take it from Secret Manager (secrets: in the spec, docs/secrets.md); if it is not a secret, list DB_PASSWORD in the service's notSecret",
      },
    ]);
    expect(JSON.stringify(problems)).not.toContain('hunter2');
  });

  test('fails on a token in a ConfigMap, an annotation or an argument', () => {
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', annotations: { note: `use ${GITHUB}` } },
      data: { 'app.ini': `[gh]\ntoken = ${GITHUB}\n` },
    };
    expect(secretProblems(cm).map((p) => [p.path, p.message.split(':')[0]])).toEqual([
      ['metadata.annotations.note', 'looks like a credential (secretlint github (GITHUB_TOKEN))'],
      ['data.app.ini', 'looks like a credential (secretlint github (GITHUB_TOKEN))'],
    ]);
    const d = deployment([]);
    d.spec.template.spec.containers[0].args = [`--token=${GITHUB}`];
    expect(secretProblems(d).map((p) => p.path)).toEqual(['spec.template.spec.containers[0].args[0]']);
    expect(JSON.stringify(secretProblems(cm))).not.toContain(GITHUB);
  });

  test("a Secret's data is left to the policy check that refuses it whole (not reported twice)", () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { password: 'aHVudGVyMi1jb3JyZWN0LWhvcnNlLWJhdHRlcnk=' } };
    expect(secretProblems(secret)).toEqual([]);
  });

  test('passes valueFrom, plain configuration, and a variable the pod template marks as not secret', () => {
    expect(
      secretProblems(
        deployment([
          { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
          { name: 'API_URL', value: 'https://api.example.com' },
        ]),
      ),
    ).toEqual([]);
    expect(secretProblems(deployment([{ name: 'PUBLIC_KEY_ID', value: 'k-2024' }], { 'meridian.dev/not-secret': 'PUBLIC_KEY_ID' }))).toEqual([]);
    expect(secretProblems(deployment([{ name: 'PUBLIC_KEY_ID', value: 'k-2024' }])).map((p) => p.path)).toEqual([
      'spec.template.spec.containers[0].env[0].value',
    ]);
  });

  test('a CronJob marks its variables on the job template', () => {
    const cron = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'j' },
      spec: {
        jobTemplate: {
          spec: {
            template: {
              metadata: { annotations: { 'meridian.dev/not-secret': 'TOKEN_TTL' } },
              spec: {
                containers: [
                  {
                    name: 'j',
                    env: [
                      { name: 'TOKEN_TTL', value: '3600' },
                      { name: 'API_TOKEN', value: 'abc123' },
                    ],
                  },
                ],
              },
            },
          },
        },
      },
    };
    expect(secretProblems(cron).map((p) => p.path)).toEqual(['spec.jobTemplate.spec.template.spec.containers[0].env[1].value']);
  });
});

describe('notSecret, rendered and read back', () => {
  test('Microservice and ScheduledJob list notSecretEnv on the pod template, which the check honours', () => {
    const chart = testChart();
    new Microservice(chart, 'api', {
      name: 'api',
      namespace: 'shop',
      image: 'api:1',
      ports: [{ name: 'http', port: 8080 }],
      readiness: { path: '/ready', port: 8080 },
      gcpServiceAccount: 'api@p.iam.gserviceaccount.com',
      env: { PUBLIC_KEY_ID: 'k-2024', TOKEN_TTL: '3600' },
      notSecretEnv: ['TOKEN_TTL', 'PUBLIC_KEY_ID'],
    });
    new ScheduledJob(chart, 'cleanup', {
      name: 'cleanup',
      namespace: 'shop',
      image: 'cleanup:1',
      schedule: '@daily',
      gcpServiceAccount: 'cleanup@p.iam.gserviceaccount.com',
      env: { API_TOKEN_TTL: '60' },
      notSecretEnv: ['API_TOKEN_TTL'],
    });
    const deployment = only(chart, 'Deployment');
    expect(deployment.spec.template.metadata.annotations).toEqual({ 'meridian.dev/not-secret': 'PUBLIC_KEY_ID,TOKEN_TTL' });
    expect(only(chart, 'CronJob').spec.jobTemplate.spec.template.metadata.annotations).toEqual({ 'meridian.dev/not-secret': 'API_TOKEN_TTL' });
    for (const m of manifests(chart)) expect(secretProblems(m)).toEqual([]);
  });

  test('without notSecretEnv the pod template has no annotation', () => {
    const chart = testChart();
    new ScheduledJob(chart, 'cleanup', {
      name: 'cleanup',
      namespace: 'shop',
      image: 'cleanup:1',
      schedule: '@daily',
      gcpServiceAccount: 'c@p.iam.gserviceaccount.com',
    });
    expect(only(chart, 'CronJob').spec.jobTemplate.spec.template.metadata.annotations).toBeUndefined();
  });
});
