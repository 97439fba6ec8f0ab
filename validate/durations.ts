/**
 * Istio's CRDs check their durations (`timeout`, `perTryTimeout`, `interval`,
 * `baseEjectionTime`, ...) with a CEL rule, `duration(self) >= duration('1ms')`, which a
 * JSON Schema validator does not run. This teaches ajv that one rule, wherever the schemas
 * carry it, so a bad duration fails here rather than at `kubectl apply`. Other CEL rules are
 * left to the API server.
 */
import type Ajv from 'ajv';
import type { SchemaValidateFunction } from 'ajv/dist/types';

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

interface CelRule { rule?: string }

export function addCelDurationRule(ajv: Ajv): void {
  const validate: SchemaValidateFunction = (rules: CelRule[], data: unknown) => {
    if (typeof data !== 'string' || !rules.some((r) => r.rule === DURATION_RULE)) return true;
    const ms = durationMillis(data);
    if (ms !== undefined && ms >= 1) return true;
    validate.errors = [{ keyword: 'x-kubernetes-validations', message: 'must be a duration of at least 1ms, such as 500ms, 5s or 1m30s', params: { rule: DURATION_RULE } }];
    return false;
  };
  ajv.addKeyword({ keyword: 'x-kubernetes-validations', schemaType: 'array', errors: true, validate });
}
