/**
 * Every host a platform exposes answers in every region whose gateway the global load balancer
 * may pick (issue 17, item 2): the committed dist/ of every platform, checked by the same rule
 * `meridian validate` runs (features/traffic/checks.ts), and the admin UI's route in PushNchat's
 * regions without the admin service. Before: europe-west6 and me-west1 had no route for
 * admin.pushnchat.example.com (404 there).
 */
import * as path from 'node:path';
import { formatProblem, readObjects } from '../../checks';
import { groupClusters } from '../../checks/objects';
import { routingProblems } from '../../features/traffic/checks';
import { ROOT } from '../helpers';
import { checkFlows, describeFlow, describeLayer } from '../../checks/flows';
import { loadAll } from '../../model';
import { distClusters } from './dist';

describe('every exposed host is routed by every region gateway', () => {
  test('no Gateway of dist/ lacks a host another region of its environment routes', () => {
    const objects = readObjects(path.join(ROOT, 'dist')).map((o) => ({ file: path.relative(ROOT, o.file), obj: o.manifest as never }));
    const problems = groupClusters(objects)
      .flatMap(routingProblems)
      .map(formatProblem)
      .filter((p) => p.includes('no VirtualService bound to this Gateway routes host'));
    expect(problems).toEqual([]);
  });

  test("PushNchat's admin host is routed in every region, to the admin Service the mesh reaches in africa-south1", () => {
    for (const c of distClusters('pushnchat').filter((d) => d.env === 'prod')) {
      const routes = c.objects
        .map((o) => o.obj)
        .filter((o) => o.kind === 'VirtualService' && (o.spec.gateways ?? []).includes('istio-ingress/pushnchat-gateway'))
        .filter((o) => o.spec.hosts.includes('admin.pushnchat.example.com'));
      expect([c.region, routes.map((r) => r.spec.http.map((h: any) => h.route.map((d: any) => d.destination.host)).flat(2))]).toEqual([
        c.region,
        [['admin.pushnchat.svc.cluster.local']],
      ]);
    }
  });

  test('the cross-region route is allowed by every policy layer (flows, as the mesh evaluates them)', () => {
    const env = loadAll(ROOT, { platform: 'pushnchat', env: 'prod' })[0];
    const files = distClusters('pushnchat')
      .filter((d) => d.env === 'prod')
      .flatMap((d) => d.objects.map((o) => ({ file: o.file, obj: o.obj as never })));
    const report = checkFlows(env, files);
    const admin = report.intended.filter((v) => v.flow.kind === 'edge' && describeFlow(v.flow).includes('pushnchat/admin'));
    expect(admin.map((v) => `${describeFlow(v.flow)}: ${v.allowed ? 'allowed' : 'denied'}`)).toEqual([
      'africa-south1/ingress-gateway → africa-south1/pushnchat/admin:3000 GET /: allowed',
      'europe-west6/ingress-gateway → africa-south1/pushnchat/admin:3000 GET /: allowed',
      'me-west1/ingress-gateway → africa-south1/pushnchat/admin:3000 GET /: allowed',
    ]);
    expect(admin[1].layers.map(describeLayer)).toEqual([
      'the ingress routes [VirtualService pushnchat/admin-ingress]: routed to admin',
      expect.stringMatching(/^NetworkPolicy egress: egress of europe-west6\/ingress-gateway to [0-9.]+:15443$/),
      'NetworkPolicy ingress [NetworkPolicy pushnchat/admin]: ingress of africa-south1/pushnchat/admin:3000 through the east-west gateway',
      'AuthorizationPolicy [AuthorizationPolicy pushnchat/admin-from-ingress-gateway]: allow (principal cluster.local/ns/istio-ingress/sa/istio-ingressgateway)',
    ]);
    expect(report.problems).toEqual([]);
  });
});
