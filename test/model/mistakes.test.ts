import { formatProblem, loadAll, ProblemError } from '../../model';
import { nearest } from '../../kernel/did-you-mean';
import { fixtureRepo, shopPlatform } from './fixtures';

function problems(input: unknown, overlays: Record<string, string> = {}): string[] {
  try {
    loadAll(fixtureRepo(input, overlays));
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

describe('spec mistakes, named precisely', () => {
  test('fails on a YAML syntax error with the line and a caret, and stops there for that environment', () => {
    // The base leaves the tag to the overlays: before, the broken overlay was skipped and the
    // platform file was blamed for the missing tag, after three lines of cut-off YAML errors.
    const p = shopPlatform() as any;
    delete p.services.api.image.tag;
    const out = problems(p, {
      staging: 'services:\n  api:\n    image: { tag: "1.0.0" }\n',
      prod: 'services:\n  api:\n    image:\n      tag: "2.0.0"\n  worker: [unclosed\n    replicas: 3\n',
    });
    expect(out).toEqual([
      'overlays/shop/prod.yaml: line 5, column 12: not valid YAML: Implicit keys of flow sequence pairs need to be on a single line\n  worker: [unclosed\n           ^',
    ]);
  });

  test('fails on a misspelt field with a did-you-mean', () => {
    const p = shopPlatform() as any;
    p.services.worker.replcias = 3;
    expect(problems(p)[0]).toMatch(
      /^platforms\/shop\.ts: services\.worker\.replcias: unknown field \(did you mean "replicas"\?\) \(allowed: namespace, image, /,
    );
  });

  test('suggests only near misses', () => {
    expect(nearest('replcias', ['replicas', 'regions'])).toBe('replicas');
    expect(nearest('imagee', ['image', 'args'])).toBe('image');
    expect(nearest('colour', ['namespace', 'image'])).toBeUndefined();
    expect(nearest('asia-south9', ['asia-south1', 'asia-south2', 'us-east1'])).toBe('asia-south1');
  });
});
