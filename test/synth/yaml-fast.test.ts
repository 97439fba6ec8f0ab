/**
 * FastYaml writes what the `yaml` library writes with synth's options, byte for byte: on every
 * object the repository's platforms render, on the benchmark's fleet, and on the scalars YAML 1.1
 * reads as something other than a string. (Its speed is measured by `npm run bench`.)
 */
import { stringify } from 'yaml';
import { loadAll } from '../../model';
import { loadEnvironments } from '../../model/load';
import { render } from '../../synth/render';
import { FastYaml } from '../../synth/yaml-fast';
import { syntheticPlatform } from '../../scripts/synthetic-fleet';
import { ROOT, tempDir } from '../helpers';

jest.setTimeout(120_000);

const OPTIONS = { keepUndefined: true, lineWidth: 0, version: '1.1', directives: false } as const;

function expectSame(objects: readonly unknown[]): FastYaml {
  const fast = new FastYaml(OPTIONS);
  const differ = objects.filter((o) => fast.stringify(o) !== stringify(o, OPTIONS));
  expect(differ.slice(0, 3).map((o) => [fast.stringify(o), stringify(o, OPTIONS)])).toEqual([]);
  return fast;
}

test("every object of the repository's platforms", () => {
  const rendering = render(loadAll(ROOT, {}));
  expect(rendering.files.length).toBeGreaterThan(1000);
  const fast = expectSame(rendering.files.map((f) => f.manifest));
  // The fast path does the work: only objects with multi-line strings go to the library whole.
  expect(fast.fallbacks).toBeLessThan(rendering.files.length / 4);
});

test("every object of the benchmark's fleet", () => {
  const rendering = render(loadEnvironments({ file: 'platforms/fleet.ts', input: syntheticPlatform(8) }, tempDir()));
  expectSame(rendering.files.map((f) => f.manifest));
});

test('scalars YAML 1.1 reads as other types, odd keys, nesting, shared and non-JSON values', () => {
  const words = ['y', 'Y', 'n', 'N', 'yes', 'No', 'ON', 'off', 'True', 'FALSE', 'null', 'Null', '~', '', ' ', 'yEs'];
  const numbers = [
    '0',
    '0755',
    '0x1F',
    '0b101',
    '1_000',
    '190:20:30',
    '1.5',
    '.5',
    '1e3',
    '.inf',
    '-.Inf',
    '.NaN',
    '2001-12-14',
    '2001-12-14t21:59:43.10-05:00',
  ];
  const odd = [
    'a: b',
    'a #b',
    '#a',
    '-a',
    '- a',
    '?a',
    '@a',
    '`a',
    '!a',
    '&a',
    '*a',
    '|a',
    '>a',
    "'a'",
    '"a"',
    '%a',
    '<<',
    '=',
    'a\tb',
    'é',
    'a b',
    ' a',
    'a ',
    'x'.repeat(300),
    'line\nnext',
    'end\n',
    '{a}',
    '[a]',
    'a,b',
    'a:b',
    'a.b/c-d_e',
  ];
  const scalars = [...words, ...numbers, ...odd, 0, -0, 1, -1, 1.5, 2 ** 53, 1e21, NaN, Infinity, true, false, null];
  const objects: unknown[] = scalars.map((v) => ({ key: v, list: [v, [v], { k: v }], nested: { deep: [{ a: v, b: [] }, {}] } }));
  objects.push(Object.fromEntries(scalars.filter((v) => typeof v === 'string').map((v, i) => [v, i])));
  const shared = { a: 1 };
  objects.push(
    { one: shared, two: shared },
    { when: new Date(0) },
    { gap: undefined },
    { sparse: Object.assign(new Array<number>(3), { 0: 1, 2: 3 }) },
    { nothing: {} },
    [],
    [1, 'a'],
    'text',
    5,
    null,
    {},
  );
  objects.push({ seqs: [[], [[1, 2], []], [{}]], maps: { a: { b: { c: [{ d: { e: [1] } }] } } } });
  const fast = expectSame(objects);
  expect(fast.fallbacks).toBeGreaterThan(0);
});
