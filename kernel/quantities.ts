/** The spec's duration and size syntax as numbers, for the checks that compare them. */

/** Milliseconds of a `duration` string (`500ms`, `30s`, `5m`, `1h`); NaN when it is not one. */
export function durationMs(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  return m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'] : NaN;
}

/** Kibibytes of a `byteQuantity` string (`512Mi`); NaN when it is not one. */
export function sizeKi(text: string): number {
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti)$/.exec(text);
  return m ? Number(m[1]) * { Ki: 1, Mi: 1024, Gi: 1024 ** 2, Ti: 1024 ** 3 }[m[2] as 'Ki' | 'Mi' | 'Gi' | 'Ti'] : NaN;
}
