import { loadAll } from '../../model';
import { render } from '../../synth/render';
import { formatProblem, validateObjects } from '../../checks';
import { ROOT } from '../helpers';

/** Every platform × environment × region, rendered and validated as synth does it. */
describe('golden: every platform renders with zero problems', () => {
  const rendering = render(loadAll(ROOT));
  const objects = rendering.files.map((f) => ({ file: `dist/${f.path}`, manifest: f.manifest }));

  test('no schema, cross-reference or baseline problem', () => {
    expect(validateObjects(objects).map(formatProblem)).toEqual([]);
  });

  test('every meshed namespace of every region cluster has its baseline', () => {
    const namespaces = objects.filter((o) => o.manifest.kind === 'Namespace');
    expect(namespaces.length).toBeGreaterThan(0);
    for (const ns of namespaces) {
      const folder = ns.file.split('/').slice(0, 4).join('/');
      const name = ns.manifest.metadata.name;
      const inNs = (kind: string, objName: string) =>
        objects.some((o) => o.file.startsWith(`${folder}/${name}/`) && o.manifest.kind === kind && o.manifest.metadata.name === objName);
      expect([
        folder,
        name,
        inNs('PeerAuthentication', 'default'),
        inNs('AuthorizationPolicy', 'allow-nothing'),
        inNs('NetworkPolicy', 'default-deny'),
      ]).toEqual([folder, name, true, true, true]);
    }
  });
});
