/**
 * Istio's CRDs check their durations (`timeout`, `perTryTimeout`, `interval`,
 * `baseEjectionTime`, ...) with a CEL rule, `duration(self) >= duration('1ms')`, which a
 * JSON Schema validator does not run. This teaches ajv that one rule, wherever the schemas
 * carry it, so a bad duration fails here rather than at `kubectl apply`. Other CEL rules are
 * left to the API server.
 */
import { _, KeywordCxt } from 'ajv';
import type Ajv from 'ajv';

export const DURATION_RULE = "duration(self) >= duration('1ms')";

/** CEL's duration syntax (Go's time.ParseDuration): `1h30m`, `1.5s`, `500ms`, `250us`. */
const DURATION = /^[-+]?([0-9]+(\.[0-9]+)?(h|m|s|ms|us|µs|ns))+$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };

/** Milliseconds of a CEL duration, or undefined when it is not one. */
export function durationMillis(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|µs|ns)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return value.startsWith('-') ? -total : total;
}

interface CelRule {
  rule?: string;
}

/** A CEL duration Istio accepts: at least 1ms. */
export function isIstioDuration(value: string): boolean {
  const ms = durationMillis(value);
  return ms !== undefined && ms >= 1;
}

/**
 * The rule as generated code (not a validate function), so that validators using it can be
 * kept as ajv standalone code (checks/compiled.ts): the code requires this module by a path
 * relative to validate/, where the cached validators are loaded.
 */
export function addCelDurationRule(ajv: Ajv): void {
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    schemaType: 'array',
    error: { message: 'must be a duration of at least 1ms, such as 500ms, 5s or 1m30s', params: () => _`{rule: ${DURATION_RULE}}` },
    code(cxt: KeywordCxt) {
      if (!(cxt.schema as CelRule[]).some((r) => r.rule === DURATION_RULE)) return;
      const check = cxt.gen.scopeValue('func', { ref: isIstioDuration, code: _`require("./durations").isIstioDuration` });
      cxt.fail(_`typeof ${cxt.data} == "string" && !${check}(${cxt.data})`);
    },
  });
}
