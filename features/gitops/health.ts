/**
 * Health checks ArgoCD lacks for kinds Meridian renders, as the `argocd-cm` keys the ArgoCD docs
 * give (operator manual, "Resource Health": `resource.customizations.health.<group>_<kind>`).
 * Progressive sync moves to the next wave only on Healthy, so a kind whose failure ArgoCD cannot
 * see would let a broken wave pass. Each script is tested with a Lua interpreter
 * (test/features/gitops/health.test.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The Lua script per kind (`<group>/<kind>`), from `features/gitops/health/`. */
const SCRIPTS: Readonly<Record<string, string>> = {
  'monitoring.googleapis.com/PodMonitoring': 'managed-prometheus.lua',
  'monitoring.googleapis.com/ClusterPodMonitoring': 'managed-prometheus.lua',
  'monitoring.googleapis.com/Rules': 'managed-prometheus.lua',
  'monitoring.googleapis.com/ClusterRules': 'managed-prometheus.lua',
  'monitoring.googleapis.com/GlobalRules': 'managed-prometheus.lua',
};

/** The file a kind's script is read from. */
export function healthScriptFile(groupKind: string): string | undefined {
  const file = SCRIPTS[groupKind];
  return file && path.join(__dirname, 'health', file);
}

/** `argocd-cm` data for the kinds among `groupKinds` that need a check. */
export function healthCustomizations(groupKinds: Iterable<string>): Record<string, string> {
  const data: Record<string, string> = {};
  for (const gk of [...new Set(groupKinds)].sort()) {
    const file = healthScriptFile(gk);
    if (!file) continue;
    const [group, kind] = gk.split('/');
    data[`resource.customizations.health.${group}_${kind}`] = fs.readFileSync(file, 'utf8');
  }
  return data;
}
