/**
 * Issue 22, item 2: Virtuoso's auth-validator holds OAUTH_CLIENT_SECRET, which is only of use
 * to call its OAuth provider (Google's OAuth 2.0 endpoints: the token and token-info endpoint
 * oauth2.googleapis.com, the signing keys at www.googleapis.com/oauth2/v3/certs). The flows
 * model (checks/flows, docs/flows.md) judges the connection on the committed dist/: the
 * Sidecar under REGISTRY_ONLY needs a ServiceEntry for the host, the NetworkPolicy an egress
 * rule for its addresses.
 */
import * as path from 'node:path';
import { EnvironmentWorld, checkFlows } from '../../checks/flows';
import type { Located } from '../../checks/objects';
import { GOOGLE_API_ADDRESSES, type Flow } from '../../checks/flows/intent';
import { loadAll } from '../../model';
import { ROOT } from '../helpers';
import { distClusters } from './dist';

const PROVIDER = ['oauth2.googleapis.com', 'www.googleapis.com'];

describe.each(loadAll(ROOT, { platform: 'virtuoso' }).map((e) => [e.env, e] as const))(
  'virtuoso %s: auth-validator reaches its OAuth provider',
  (envName, env) => {
    const clusters = distClusters('virtuoso').filter((c) => c.env === envName);
    const files: Located[] = clusters.flatMap((c) => c.objects.map((o) => ({ file: path.join('dist', o.file), obj: o.obj as Located['obj'] })));
    const byRegion = new Map(clusters.map((c) => [c.region, files.filter((f) => f.file.includes(`/${c.region}/`))]));
    const world = new EnvironmentWorld(env, byRegion);

    test.each(clusters.flatMap((c) => PROVIDER.map((host) => [`${c.region} → ${host}:443`, c.region, host] as const)))(
      '%s is allowed by every layer',
      (_, region, host) => {
        const flow: Flow = {
          kind: 'egress',
          from: { kind: 'workload', region, namespace: 'virtuoso', name: 'auth-validator' },
          to: { kind: 'external', name: host, host, ips: GOOGLE_API_ADDRESSES },
          port: 443,
          protocol: 'TCP',
          host,
          why: 'auth-validator calls its OAuth provider with OAUTH_CLIENT_SECRET',
        };
        const verdict = world.evaluate(flow);
        expect({ allowed: verdict.allowed, deniedBy: verdict.deniedBy?.detail }).toEqual({ allowed: true, deniedBy: undefined });
        expect(verdict.layers.map((l) => l.layer)).toEqual(expect.arrayContaining(['sidecar', 'egress']));
      },
    );

    test('the flows check counts the provider among the intended flows, and nothing else of auth-validator leaves the cluster', () => {
      const report = checkFlows(env, files);
      expect(report.problems).toEqual([]);
      const external = report.intended
        .filter((v) => v.flow.from.kind === 'workload' && v.flow.from.name === 'auth-validator' && v.flow.kind === 'egress')
        .map((v) => `${v.flow.to.kind === 'external' ? v.flow.to.name : ''}:${v.flow.port}`);
      expect(external.sort()).toEqual(PROVIDER.map((h) => `${h}:443`).sort());
    });
  },
);
