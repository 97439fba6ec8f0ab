import { Duration, Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-28';

/** `500ms`, `30s`, `5m`, `1h` (the spec's duration syntax) as a Duration. */
export function parseDuration(text: string): Duration {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`invalid duration "${text}": expected e.g. 500ms, 30s, 5m or 1h`);
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms':
      return Duration.millis(n);
    case 's':
      return Duration.seconds(n);
    case 'm':
      return Duration.minutes(n);
    default:
      return Duration.hours(n);
  }
}

/** A Duration in the form Istio and Envoy read: `1s`, `250ms`. */
export function formatDuration(d: Duration): string {
  const ms = d.toMilliseconds();
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** `250m`, `1.5` as a Cpu. */
export function parseCpu(text: string): Cpu {
  return text.endsWith('m') ? Cpu.millis(Number(text.slice(0, -1))) : Cpu.millis(Math.round(Number(text) * 1000));
}

const BINARY_UNITS: Record<string, (n: number) => Size> = {
  Ki: (n) => Size.kibibytes(n),
  Mi: (n) => Size.mebibytes(n),
  Gi: (n) => Size.gibibytes(n),
  Ti: (n) => Size.tebibytes(n),
};

/** `512Mi`, `2Gi` as a Size. */
export function parseSize(text: string): Size {
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti)$/.exec(text);
  if (!m) throw new Error(`invalid size "${text}": expected e.g. 512Mi or 2Gi`);
  return BINARY_UNITS[m[2]](Number(m[1]));
}

/** A Size as a Kubernetes quantity in the largest whole binary unit: `1536Mi`, `2Gi`. */
export function formatSize(s: Size): string {
  const kib = s.toKibibytes();
  if (kib % (1024 * 1024) === 0) return `${kib / (1024 * 1024)}Gi`;
  if (kib % 1024 === 0) return `${kib / 1024}Mi`;
  return `${kib}Ki`;
}
