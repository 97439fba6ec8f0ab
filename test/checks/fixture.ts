import * as path from 'node:path';
import { formatProblem, ObjectFile, readObjects, validateObjects } from '../../checks';
import { ROOT } from '../helpers';

/** The passing fixture: two region clusters (east, west) of one environment. */
export const GOOD = 'test/fixtures/validate/good';
export const EAST = `${GOOD}/east`;
export const WEST = `${GOOD}/west`;

type Manifest = { kind: string; metadata: { name: string; namespace?: string; [k: string]: any }; [k: string]: any };

/** The good fixture as loaded from disk, with helpers to break it. */
export class Fixture {
  public readonly objects: ObjectFile[];

  constructor() {
    this.objects = readObjects(path.join(ROOT, GOOD)).map((o) => ({ file: path.relative(ROOT, o.file), manifest: o.manifest }));
  }

  /** The object of `kind` and `name` in a cluster (`east` by default). */
  get(kind: string, name: string, cluster: 'east' | 'west' = 'east'): Manifest {
    const found = this.objects.filter(
      (o) => o.file.startsWith(`${GOOD}/${cluster}/`) && o.manifest.kind === kind && (o.manifest as Manifest).metadata.name === name,
    );
    if (found.length !== 1) throw new Error(`fixture: expected one ${kind} ${name} in ${cluster}, found ${found.length}`);
    return found[0].manifest as Manifest;
  }

  remove(kind: string, name: string, cluster: 'east' | 'west' = 'east'): void {
    const m = this.get(kind, name, cluster);
    this.objects.splice(
      this.objects.findIndex((o) => o.manifest === m),
      1,
    );
  }

  removeCluster(cluster: 'east' | 'west'): void {
    for (let i = this.objects.length - 1; i >= 0; i--) if (this.objects[i].file.startsWith(`${GOOD}/${cluster}/`)) this.objects.splice(i, 1);
  }

  add(file: string, manifest: Manifest): void {
    this.objects.push({ file, manifest });
  }

  /** Every problem, formatted as `meridian validate` prints them. */
  problems(): string[] {
    return validateObjects(this.objects).map(formatProblem);
  }
}

/** The problems after one change to the good fixture. */
export function problemsAfter(change: (f: Fixture) => void): string[] {
  const f = new Fixture();
  change(f);
  return f.problems();
}
