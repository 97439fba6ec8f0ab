/** A write that fails half-way through leaves dist/ exactly as it was. */
import * as path from 'node:path';

// jest.mock factories may only use variables named mock*.
const mockFault = { writes: 0, failAfter: Infinity, renames: 0, renamesBeforeFailure: Infinity };
jest.mock('node:fs', () => {
  const real = jest.requireActual('node:fs');
  return {
    ...real,
    writeFileSync: (...args: unknown[]) => {
      if (++mockFault.writes > mockFault.failAfter) throw new Error('ENOSPC: no space left on device');
      return real.writeFileSync(...args);
    },
    renameSync: (...args: unknown[]) => {
      if (++mockFault.renames > mockFault.renamesBeforeFailure) {
        mockFault.renamesBeforeFailure = Infinity;
        throw new Error('EIO: i/o error, rename');
      }
      return real.renameSync(...args);
    },
  };
});

import * as fs from 'node:fs';
import { runSynth } from '../../cli/synth';
import { fixtureRepo, shopPlatform } from '../model/fixtures';
import { tempDir } from '../helpers';

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = fs.readFileSync(path.join(dir, p), 'utf8');
    }
  };
  walk('');
  return out;
}

test('fails when a write breaks half-way, and dist/ is untouched with no temporary folder left', () => {
  const quiet = { out: () => undefined, err: () => undefined };
  const root = fixtureRepo(shopPlatform());
  const dist = path.join(tempDir(), 'dist');
  expect(runSynth({ root, dist }, quiet).code).toBe(0);
  // Only files that differ are written: three of them, the second write fails.
  for (const env of ['staging', 'prod']) fs.writeFileSync(path.join(dist, `shop/${env}/us-east1/shop/deployment-api.yaml`), 'edited by hand\n');
  fs.rmSync(path.join(dist, 'shop/prod/us-east1/shop/service-api.yaml'));
  const before = snapshot(dist);

  mockFault.writes = 0;
  mockFault.failAfter = 1;
  try {
    expect(() => runSynth({ root, dist }, quiet)).toThrow('ENOSPC');
  } finally {
    mockFault.failAfter = Infinity;
  }
  expect(mockFault.writes).toBe(2);
  expect(snapshot(dist)).toEqual(before);
  expect(fs.readdirSync(path.dirname(dist))).toEqual(['dist']);
});

test('fails when a rename breaks half-way through the swap: the folders already swapped are put back', () => {
  const quiet = { out: () => undefined, err: () => undefined };
  const root = fixtureRepo(shopPlatform());
  const dist = path.join(tempDir(), 'dist');
  expect(runSynth({ root, dist }, quiet).code).toBe(0);
  // A file of each environment differs from what synth renders: each is swapped (two renames each), the stray file goes (one).
  for (const env of ['staging', 'prod']) fs.writeFileSync(path.join(dist, `shop/${env}/us-east1/shop/deployment-api.yaml`), 'edited by hand\n');
  fs.writeFileSync(path.join(dist, 'stray.yaml'), 'not rendered\n');
  const before = snapshot(dist);

  mockFault.renames = 0;
  mockFault.renamesBeforeFailure = 3;
  expect(() => runSynth({ root, dist }, quiet)).toThrow('EIO');
  expect(snapshot(dist)).toEqual(before);
  expect(fs.readdirSync(path.dirname(dist))).toEqual(['dist']);

  // Without the fault: the hand edits and the stray file are gone, the rest is as rendered.
  expect(runSynth({ root, dist }, quiet).code).toBe(0);
  const fresh = path.join(tempDir(), 'dist');
  expect(runSynth({ root, dist: fresh }, quiet).code).toBe(0);
  expect(snapshot(dist)).toEqual(snapshot(fresh));
});
