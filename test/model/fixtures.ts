import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PlatformInput } from '../../model';
import { tempDir } from '../helpers';

/** A small valid platform: two regions, one service, one Redis group. */
export function shopPlatform(): PlatformInput {
  return {
    name: 'shop',
    project: 'shop-project-1',
    environments: ['staging', 'prod'],
    regions: {
      'us-east1': { role: 'primary', zones: ['us-east1-b', 'us-east1-c'] },
      'europe-west1': { role: 'secondary', zones: ['europe-west1-b'] },
    },
    namespaces: { shop: {} },
    routing: { weights: { 'us-east1': 60, 'europe-west1': 40 } },
    ingress: { hosts: ['shop.example.com'], tlsCredential: 'shop-tls' },
    services: {
      api: {
        namespace: 'shop',
        image: { repository: 'us-docker.pkg.dev/shop/apps/api', tag: '1.0.0' },
        ports: [{ name: 'http', port: 8080 }],
        probes: { readiness: { path: '/ready' } },
        autoscaling: { min: 2, max: 6, cpuUtilization: 70 },
        dependsOn: ['redis:cache'],
        secrets: { DB_PASSWORD: { secret: 'shop-db-password' } },
        traffic: { splitByRegion: true },
        expose: { paths: ['/'] },
      },
      worker: {
        namespace: 'shop',
        image: { repository: 'us-docker.pkg.dev/shop/apps/worker', tag: '1.0.0' },
        replicas: 2,
      },
    },
    redis: { cache: { namespace: 'shop', passwordSecret: 'shop-redis-password' } },
    gitops: { repoURL: 'https://git.example.com/fleet.git' },
  };
}

/**
 * A repository layout in a temporary folder: `platforms/<name>.ts` exporting `input`, and
 * `overlays/<name>/<env>.yaml` for each overlay given.
 */
export function fixtureRepo(input: unknown, overlays: Record<string, string> = {}, name = 'shop'): string {
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'platforms'));
  fs.writeFileSync(path.join(root, 'platforms', `${name}.ts`), `export default ${JSON.stringify(input, null, 2)};\n`);
  for (const [env, text] of Object.entries(overlays)) {
    fs.mkdirSync(path.join(root, 'overlays', name), { recursive: true });
    fs.writeFileSync(path.join(root, 'overlays', name, env.includes('.') ? env : `${env}.yaml`), text);
  }
  return root;
}
