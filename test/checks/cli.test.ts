import * as fs from 'node:fs';
import * as path from 'node:path';
import { runValidate } from '../../cli/validate';
import { ROOT, tempDir } from '../helpers';
import { GOOD } from './fixture';

const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const scratch = () => {
  const d = tempDir();
  made.push(d);
  return d;
};

function run(dir: string): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = runValidate(dir, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** A copy of the good fixture, to break on disk. */
function copyOfGood(): string {
  const dir = path.join(scratch(), 'env');
  fs.cpSync(path.join(ROOT, GOOD), dir, { recursive: true });
  return dir;
}

describe('meridian validate [DIR]', () => {
  test('exits 0 on a clean folder and says how many objects it checked', () => {
    expect(run(path.join(ROOT, GOOD))).toEqual({ code: 0, out: ['validate: 44 objects, no problems'], err: [] });
  });

  test('fails with exit 1 and one line per problem, all of them', () => {
    const dir = copyOfGood();
    const file = path.join(dir, 'east/shop/cache.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('clusterIP: None', 'clusterIP: ""').replace('minAvailable: 2', 'minAvailable: 3'));
    expect(run(dir)).toEqual({
      code: 1,
      out: [
        `${file}: StatefulSet shop/cache: spec.serviceName: Service "cache-headless" is not headless (clusterIP: None): the pods get no stable DNS names`,
        `${file}: PodDisruptionBudget shop/cache: spec.minAvailable: 3 is not below the 3 minimum replicas of StatefulSet "cache": no pod could ever be evicted, and node drains would hang`,
      ],
      err: ['validate: 2 problem(s) in 44 objects'],
    });
  });

  test('fails with exit 1 on a Secret with data', () => {
    const dir = copyOfGood();
    const file = path.join(dir, 'east/shop/secret-leak.yaml');
    fs.writeFileSync(file, 'apiVersion: v1\nkind: Secret\nmetadata: { name: leak, namespace: shop }\nstringData: { password: hunter2 }\n');
    const result = run(dir);
    expect(result.code).toBe(1);
    expect(result.out).toEqual([
      `${file}: Secret shop/leak: stringData: secret values must not be committed: name the secret in Secret Manager and let External Secrets sync it`,
    ]);
  });

  test('checks one region folder against the other regions of its environment', () => {
    const env = copyOfGood();
    fs.mkdirSync(path.join(env, 'argocd/argocd'), { recursive: true });
    expect(run(path.join(env, 'east'))).toEqual({ code: 0, out: ['validate: 22 objects, no problems'], err: [] });
    expect(run(path.join(env, 'east/shop'))).toEqual({ code: 0, out: ['validate: 21 objects, no problems'], err: [] });
  });

  test('fails on a subset of another region when the folder is not part of an environment', () => {
    const east = path.join(copyOfGood(), 'east');
    expect(run(east).out).toEqual([
      `${east}/shop/web.yaml: DestinationRule shop/web: spec.subsets[1].labels: subset "west" (meridian.dev/region=west) selects no pods behind web.shop.svc.cluster.local in any cluster of ${path.dirname(east)}`,
    ]);
  });

  test('keeps going past a malformed object: its schema problems are the report', () => {
    const dir = copyOfGood();
    const file = path.join(dir, 'east/shop/networkpolicy-broken.yaml');
    fs.writeFileSync(
      file,
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata: { name: broken, namespace: shop }',
        'spec:',
        '  podSelector: { matchLabels: { app.kubernetes.io/name: web } }',
        '  ingress: [null, { from: everyone }]',
        '',
      ].join('\n'),
    );
    const result = run(dir);
    expect(result.code).toBe(1);
    expect(result.out).toEqual([
      `${file}: NetworkPolicy shop/broken: spec.ingress[0]: must be object`,
      `${file}: NetworkPolicy shop/broken: spec.ingress[1].from: must be array (got "everyone")`,
    ]);
  });

  test('exits 2 on a folder that does not exist', () => {
    const dir = path.join(scratch(), 'missing');
    expect(run(dir)).toEqual({ code: 2, out: [], err: [`${dir}: not a readable folder`] });
  });

  test('exits 2 on a file that is not YAML, and checks nothing', () => {
    const dir = copyOfGood();
    fs.writeFileSync(path.join(dir, 'east/shop/broken.yaml'), 'kind: [Service\n');
    const result = run(dir);
    expect(result.code).toBe(2);
    expect(result.out).toEqual([]);
    expect(result.err).toHaveLength(1);
    expect(result.err[0]).toMatch(new RegExp(`^${path.join(dir, 'east/shop/broken.yaml')}: not valid YAML: `));
  });
});

describe('meridian validate scans every rendered string for secrets', () => {
  test('fails on a ConfigMap added by hand with a token, without printing it (validate passed it before)', () => {
    const dir = copyOfGood();
    const token = ['xoxb', '123456789012', '1234567890123', 'AbCdEfGhIjKlMnOpQrStUvWx'].join('-');
    fs.writeFileSync(
      path.join(dir, 'east/shop/notify.yaml'),
      ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: notify', '  namespace: shop', 'data:', `  SLACK: "${token}"`, ''].join('\n'),
    );
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out.filter((l) => l.includes('notify'))).toEqual([
      `${dir}/east/shop/notify.yaml: ConfigMap shop/notify: data.SLACK: looks like a credential (secretlint slack (SLACK_TOKEN)): rendered output is committed to Git: take it from Secret Manager (secrets: in the spec, docs/secrets.md)`,
    ]);
    expect(r.out.join('\n')).not.toContain(token);
  });
});
