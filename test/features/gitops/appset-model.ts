/**
 * A model of how ArgoCD's ApplicationSet controller turns a list generator and a Go template
 * into Applications, for the subset Meridian renders (no ArgoCD controller runs here). It
 * follows argoproj/argo-cd:
 * - applicationset/generators/list.go: each element of `list.elements` is one parameter set;
 *   with goTemplate its values keep their JSON types (objects and lists stay whole);
 * - applicationset/utils/utils.go (Render, goTemplate with sprig and `missingkey=error`):
 *   `{{.key}}` in every string of `template`, and the templatePatch text rendered the same way
 *   (`{{ toJson .key }}` writes the value as JSON);
 * - applicationset/controllers/template/patch.go (applyTemplatePatch): the rendered patch,
 *   YAML turned to JSON, applied to the Application with a strategic merge patch; the
 *   Application's lists carry no merge keys, so lists are replaced and maps merged.
 */
import { parse } from 'yaml';

type Json = any;

function render(text: string, params: Record<string, unknown>): string {
  return text.replace(/\{\{\s*(toJson\s+)?\.([A-Za-z0-9_]+)\s*\}\}/g, (_m, toJson: string | undefined, key: string) => {
    if (!(key in params)) throw new Error(`map has no entry for key "${key}" (missingkey=error)`);
    return toJson ? JSON.stringify(params[key]) : String(params[key]);
  });
}

function renderDeep(v: Json, params: Record<string, unknown>): Json {
  if (typeof v === 'string') return render(v, params);
  if (Array.isArray(v)) return v.map((x) => renderDeep(x, params));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renderDeep(x, params)]));
  return v;
}

function mergePatch(target: Json, patch: Json): Json {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = { ...(target && typeof target === 'object' && !Array.isArray(target) ? target : {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The Applications an ApplicationSet with one list generator generates. */
export function generateApplications(appset: Json): Json[] {
  const spec = appset.spec;
  if (!spec.goTemplate) throw new Error('only goTemplate ApplicationSets are modelled');
  const elements: Record<string, unknown>[] = spec.generators.flatMap((g: Json) => g.list?.elements ?? []);
  return elements.map((params) => {
    const app = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', ...renderDeep(spec.template, params) };
    return spec.templatePatch ? mergePatch(app, parse(render(spec.templatePatch, params))) : app;
  });
}
