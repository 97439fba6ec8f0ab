/**
 * Schedules and time zones as KEDA's cron scaler reads them: robfig/cron with exactly the
 * five standard fields (no seconds, no descriptors such as @daily, no L/W/#) and a time zone
 * loaded by name from the IANA database. Parsing is cron-parser's; what it accepts beyond
 * robfig's standard parser is refused here, so a schedule that passes synth also loads in KEDA.
 */
import { CronExpressionParser } from 'cron-parser';

const FIELDS = ['minute', 'hour', 'day of month', 'month', 'day of week'];

/** Problems of a five-field cron schedule; [] when KEDA's cron scaler will accept it. */
export function cronErrors(expr: string): string[] {
  const fields = expr
    .trim()
    .split(/\s+/)
    .filter((f) => f !== '');
  if (fields.length === 0) return ['is empty'];
  if (fields[0].startsWith('@') || /^(CRON_)?TZ=/.test(fields[0])) {
    return [
      'must be five cron fields (minute hour day-of-month month day-of-week): descriptors and TZ= prefixes are not read by KEDA; set the time zone in timezone',
    ];
  }
  if (fields.length !== 5) {
    return [`must have 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}`];
  }
  const errors: string[] = [];
  fields.forEach((f, i) => {
    // cron-parser knows these Quartz extensions, robfig/cron does not.
    if (/#|\b(\d*[LW]|LW)\b/.test(f)) errors.push(`${FIELDS[i]} field "${f}": L, W and # are not supported by KEDA's cron parser`);
  });
  if (/(^|[^0-9])7($|[^0-9])/.test(fields[4]))
    errors.push(`day of week field "${fields[4]}": days run 0-6 (0 is Sunday); 7 is not accepted by KEDA's cron parser`);
  if (errors.length > 0) return errors;
  try {
    CronExpressionParser.parse(fields.join(' '), { tz: 'UTC' });
  } catch (e) {
    // cron-parser says "got value 61"; the problem line adds the whole schedule as "got".
    return [`is not a valid cron schedule: ${(e as Error).message.replace(/got value/g, 'value')}`];
  }
  return [];
}

let zones: Set<string> | undefined;

/**
 * Why `tz` is not an IANA time zone name KEDA can load, or undefined when it is. Only the
 * canonical names the runtime's ICU knows (plus UTC) are accepted, with their exact case:
 * Go loads zones from files, so "europe/paris" fails in KEDA even though ICU would take it.
 */
export function timezoneError(tz: string): string | undefined {
  zones ??= new Set(['UTC', ...Intl.supportedValuesOf('timeZone')]);
  if (zones.has(tz)) return undefined;
  const sameIgnoringCase = [...zones].find((z) => z.toLowerCase() === tz.toLowerCase());
  if (sameIgnoringCase) return `must be an IANA time zone name with its exact case: use "${sameIgnoringCase}"`;
  let resolved: string | undefined;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    resolved = undefined;
  }
  if (resolved && resolved !== tz && zones.has(resolved) && !/^[+-]/.test(tz)) return `is an alias: use the canonical IANA name "${resolved}"`;
  return 'must be an IANA time zone name such as Europe/Paris, America/New_York or UTC';
}

/**
 * The longest time between two consecutive runs of a cron schedule in its time zone, over the
 * year from 2024-01-01 (fixed, so renders are reproducible; a leap year with both DST
 * changes) or its first 2000 runs, whichever ends first.
 */
export function longestGapMinutes(expr: string, tz = 'Etc/UTC'): number {
  const it = CronExpressionParser.parse(expr, { tz, currentDate: new Date('2024-01-01T00:00:00Z'), endDate: new Date('2025-01-01T00:00:00Z') });
  let previous: number | undefined;
  let longest = 0;
  for (let i = 0; i < 2000 && it.hasNext(); i++) {
    const t = it.next().getTime();
    if (previous !== undefined) longest = Math.max(longest, t - previous);
    previous = t;
  }
  if (previous === undefined) throw new Error(`schedule "${expr}" never runs`);
  // A schedule running once a year or less: a year.
  return longest === 0 ? 366 * 1440 : longest / 60_000;
}
