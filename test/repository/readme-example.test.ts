/**
 * The README's example platform (the first `ts` block of "Writing a platform") and its
 * overlay example (the `yaml` block of "Overlays") are rendered here as a new user would:
 * a repository with those two files, `meridian synth`, every check the synth runs (schema,
 * cross-references, policies, flows). Docs that stop rendering fail this test (issue 19).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { runSynth } from '../../cli/synth';
import { ROOT, tempDir } from '../helpers';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The first fenced block of `lang` after `heading`. */
function block(heading: string, lang: string): string {
  const from = readme.indexOf(`\n${heading}\n`);
  if (from < 0) throw new Error(`README has no heading "${heading}"`);
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(readme.slice(from));
  if (!match) throw new Error(`README has no ${lang} block after "${heading}"`);
  return match[1];
}

describe("the README's example platform", () => {
  const platform = block('## Writing a platform', 'ts');
  const overlay = block('### Overlays', 'yaml');
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'platforms'));
  fs.mkdirSync(path.join(root, 'overlays', 'shop'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'platforms', 'shop.ts'),
    platform
      .replace("from '../model'", `from ${JSON.stringify(path.join(ROOT, 'model'))}`)
      .replace("from './_fleet'", `from ${JSON.stringify(path.join(ROOT, 'platforms', '_fleet'))}`),
  );
  fs.writeFileSync(path.join(root, 'overlays', 'shop', 'prod.yaml'), overlay);
  // Staging gets the same images: the README shows only prod's overlay.
  const tags = (parse(overlay) as { services: Record<string, unknown> }).services;
  fs.writeFileSync(path.join(root, 'overlays', 'shop', 'staging.yaml'), `services: ${JSON.stringify(tags)}\n`);
  const dist = path.join(root, 'dist');
  const lines: string[] = [];
  const { code } = runSynth({ root, dist }, { out: (l) => lines.push(l), err: (l) => lines.push(l) });

  test('renders with every check passing', () => {
    expect([code, lines.filter((l) => !/^ {2}shop\/|^rendered /.test(l))]).toEqual([0, []]);
  });

  test('renders what the README says: gRPC probes, the OIDC issuer, the Pub/Sub trigger, the weighted split', () => {
    const read = (f: string) => parse(fs.readFileSync(path.join(dist, 'shop/prod/us-east1/shop', f), 'utf8'));
    const pricing = read('deployment-pricing.yaml').spec.template.spec.containers.find((c: { name: string }) => c.name === 'pricing');
    expect([pricing.readinessProbe.grpc, pricing.livenessProbe.grpc]).toEqual([{ port: 9090, service: 'shop.Pricing' }, { port: 9090 }]);
    expect(read('requestauthentication-api.yaml').spec.jwtRules).toEqual([
      expect.objectContaining({ issuer: 'https://auth.example.com/', jwks_uri: 'https://auth.example.com/.well-known/jwks.json', audiences: ['shop-api'] }),
    ]);
    // The Pub/Sub backlog, read from Managed Prometheus (docs/autoscaling.md).
    const [trigger] = read('scaledobject-pricing.yaml').spec.triggers;
    expect([trigger.name, trigger.type, trigger.metadata.query.includes('price-updates')]).toEqual(['pubsub-backlog', 'prometheus', true]);
    const weighted = read('virtualservice-api-ingress.yaml').spec.http.find((r: { name: string }) => r.name === 'weighted');
    expect(weighted.route.map((r: { destination: { subset: string }; weight: number }) => [r.destination.subset, r.weight])).toEqual([
      ['us-east1', 70],
      ['europe-west1', 30],
    ]);
  });
});
