/**
 * `meridian drift` against the fake API servers of test/cluster/fake-api.ts, through the real
 * @kubernetes/client-node over HTTPS, with ggen and PushNchat prod as dist/ renders them. The
 * healthy fleet carries everything a real server and its controllers add (defaults, status,
 * KEDA's replicas, ArgoCD's managedFields): none of it is drift.
 */
import * as path from 'node:path';
import { fleetTargets } from '../../cluster/fleet';
import { ownersOf } from '../../cluster/managed-fields';
import { main } from '../../cli/main';
import { ROOT, readmeExample } from '../helpers';
import { startFakeFleet, type FakeCluster, type FakeFleet } from './fake-api';
import { ARGOCD_MANAGER, find, healthyFleet } from './fleet-fixture';

const ggen = fleetTargets(ROOT, path.join(ROOT, 'dist'), { platform: 'ggen', env: 'prod' });
const pushnchat = fleetTargets(ROOT, path.join(ROOT, 'dist'), { platform: 'pushnchat', env: 'prod' });

jest.setTimeout(60_000);

let fleet: FakeFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

async function run(clusters: Record<string, FakeCluster>, args: string[], unreachable: string[] = []) {
  fleet = await startFakeFleet(clusters, unreachable);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--kubeconfig', fleet.kubeconfig, '--timeout', '5'], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** `kubectl edit` of the api Deployment: a new image and a new variable, now owned by kubectl-edit (an Update takes the fields it changes). */
function handEdited(): { clusters: Record<string, FakeCluster>; image: string } {
  const clusters = healthyFleet(ggen);
  const d = find(clusters['ggen-prod-us-east1'], 'Deployment', 'api');
  const api = d.spec.template.spec.containers.find((c: { name: string }) => c.name === 'api');
  const image: string = api.image;
  api.image = `${image}-hotfix`;
  api.env.push({ name: 'DEBUG', value: '1' });
  const applied = d.metadata.managedFields.find((m: { manager: string }) => m.manager === ARGOCD_MANAGER);
  delete applied.fieldsV1['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"api"}']['f:image'];
  d.metadata.managedFields.push({
    manager: 'kubectl-edit',
    operation: 'Update',
    apiVersion: 'apps/v1',
    time: '2026-12-05T08:12:00Z',
    fieldsType: 'FieldsV1',
    fieldsV1: {
      'f:spec': {
        'f:template': {
          'f:spec': { 'f:containers': { 'k:{"name":"api"}': { 'f:image': {}, 'f:env': { 'k:{"name":"DEBUG"}': { '.': {}, 'f:name': {}, 'f:value': {} } } } } },
        },
      },
    },
  });
  return { clusters, image };
}

describe('meridian drift', () => {
  it('finds no drift in a healthy ggen prod fleet: defaults, status, KEDA replicas and controllers are not drift', async () => {
    const r = await run(healthyFleet(ggen), ['drift', 'ggen', 'prod']);
    expect(r.err).toBe('');
    expect(r.out).toBe('### meridian drift: dist/ → live\n\n0 of 3 clusters drift: 0 objects changed, 0 missing from the cluster, 0 only in the cluster.');
    expect(r.code).toBe(0);
  });

  it('reports a hand-edited Deployment field by field, naming who set each field', async () => {
    const { clusters, image } = handEdited();
    const r = await run(clusters, ['drift', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    const n = ggen[1].objects.length;
    expect(r.out).toBe(
      [
        '### meridian drift: dist/ → live',
        '',
        '1 of 3 clusters drift: 1 objects changed, 0 missing from the cluster, 0 only in the cluster.',
        '',
        `#### \`ggen/prod/us-east1\` (context ggen-prod-us-east1): 1 changed of ${n} objects`,
        '',
        '```diff',
        '~ Deployment marketplace/api',
        '    spec.template.spec.containers[name=api].env[name=DEBUG]: (none) → {"name":"DEBUG","value":"1"} (set by kubectl-edit)',
        `    spec.template.spec.containers[name=api].image: ${JSON.stringify(image)} → ${JSON.stringify(`${image}-hotfix`)} (set by kubectl-edit)`,
        '```',
      ].join('\n'),
    );
  });

  it("is the README's example for a hand-edited Deployment", async () => {
    const { clusters } = handEdited();
    const r = await run(clusters, ['drift', 'ggen', 'prod']);
    expect(r.out).toBe(readmeExample('meridian drift ggen prod'));
  });

  it('reports an object missing from the cluster and a Meridian object dist/ no longer has', async () => {
    const clusters = healthyFleet(ggen);
    const c = clusters['ggen-prod-europe-west1'];
    c.objects = c.objects.filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'api'));
    c.objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'legacy-flags', namespace: 'marketplace', labels: { 'app.kubernetes.io/managed-by': 'meridian' } },
      data: { flags: 'x' },
    });
    // Made by a controller from a Meridian object: not Meridian's to report.
    c.objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'kube-root-ca.crt',
        namespace: 'marketplace',
        labels: { 'app.kubernetes.io/managed-by': 'meridian' },
        ownerReferences: [{ kind: 'Namespace', name: 'marketplace' }],
      },
    });
    const r = await run(clusters, ['drift', 'ggen', 'prod']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('```diff\n- PodDisruptionBudget marketplace/api\n+ ConfigMap marketplace/legacy-flags\n```');
  });

  it('reports every region it could read and names those it could not (exit 2)', async () => {
    const { clusters } = handEdited();
    delete clusters['ggen-prod-europe-west1'];
    const r = await run(clusters, ['drift', 'ggen', 'prod'], ['ggen-prod-europe-west1']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('~ Deployment marketplace/api');
    expect(r.out).toMatch(
      /#### `ggen\/prod\/europe-west1` \(context ggen-prod-europe-west1\): did not answer\n\n {4}context ggen-prod-europe-west1: the server cannot be reached \(ECONNREFUSED\)/,
    );
    expect(r.out.split('\n').pop()).toBe('partial: no answer from ggen/prod/europe-west1');
  });

  it('prints JSON for scripts', async () => {
    const { clusters, image } = handEdited();
    const r = await run(clusters, ['drift', 'ggen', 'prod', '-o', 'json']);
    const json = JSON.parse(r.out);
    expect(json.exitCode).toBe(1);
    expect(json.regions[1].changed[0].fields[1]).toMatchObject({
      path: 'spec.template.spec.containers[name=api].image',
      before: image,
      after: `${image}-hotfix`,
      managers: ['kubectl-edit'],
    });
  });

  it('finds no drift in a healthy PushNchat prod fleet', async () => {
    const r = await run(healthyFleet(pushnchat), ['drift', 'pushnchat', 'prod']);
    expect(r.err).toBe('');
    expect(r.out).toContain(`0 of ${pushnchat.length} clusters drift`);
    expect(r.code).toBe(0);
  });
});

describe('ownersOf', () => {
  // Field sets as the API server writes them (kubernetes website, "Server-Side Apply", managedFields example).
  const object = {
    metadata: {
      managedFields: [
        { manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:test-label': {} } }, 'f:data': { 'f:key': {} } } },
        { manager: 'kube-controller-manager', operation: 'Update', subresource: 'scale', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
        {
          manager: 'argocd-controller',
          operation: 'Apply',
          fieldsV1: { 'f:spec': { 'f:ports': { 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:name': {} } }, 'f:finalizers': { 'v:"a"': {} } } },
        },
      ],
    },
    spec: { replicas: 3, ports: [{ port: 80, protocol: 'TCP', name: 'http' }], finalizers: ['a'] },
    data: { key: 'v' },
  };
  it('follows f:, k: (by merge keys) and v: path elements', () => {
    expect(ownersOf(object, ['data', 'key'])).toEqual(['kubectl']);
    expect(ownersOf(object, ['spec', 'replicas'])).toEqual(['kube-controller-manager']);
    expect(ownersOf(object, ['spec', 'ports', 0, 'name'])).toEqual(['argocd-controller']);
    expect(ownersOf(object, ['spec', 'ports', 0, 'targetPort'])).toEqual([]);
    expect(ownersOf(object, ['spec', 'finalizers', 0])).toEqual(['argocd-controller']);
    expect(ownersOf(object, ['metadata', 'labels', 'other'])).toEqual([]);
  });
});
