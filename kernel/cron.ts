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

/** The window `longestGapMinutes` reads: runs after its start, up to and including its end. */
const WINDOW_START = Date.UTC(2024, 0, 1);
const WINDOW_END = Date.UTC(2025, 0, 1);
const MAX_RUNS = 2000;
const MINUTE = 60_000;
const DAY = 1440 * MINUTE;

const longestGaps = new Map<string, number>();

/**
 * The longest time between two consecutive runs of a cron schedule in its time zone, over the
 * year from 2024-01-01 (fixed, so renders are reproducible; a leap year with both DST
 * changes) or its first 2000 runs, whichever ends first.
 *
 * Its answer is the one cron-parser's iteration gives (`iteratedLongestGapMinutes`), which
 * costs up to 2000 steps of luxon date arithmetic, about 0.15 s for an hourly schedule. So
 * each (schedule, zone) is worked out once per process (the same schedules repeat across
 * regions and environments), and where the zone's UTC offset does not change over the runs
 * read, without iterating (`fastLongestGapMinutes`).
 */
export function longestGapMinutes(expr: string, tz = 'Etc/UTC'): number {
  const key = `${tz}\n${expr}`;
  let gap = longestGaps.get(key);
  if (gap === undefined) {
    gap = fastLongestGapMinutes(expr, tz) ?? iteratedLongestGapMinutes(expr, tz);
    longestGaps.set(key, gap);
  }
  return gap;
}

/** `longestGapMinutes` by cron-parser's iteration, run by run: the reference the fast path is tested against. */
export function iteratedLongestGapMinutes(expr: string, tz = 'Etc/UTC'): number {
  const it = CronExpressionParser.parse(expr, { tz, currentDate: new Date(WINDOW_START), endDate: new Date(WINDOW_END) });
  // take() is next() until it throws (past the end): what hasNext() then next() give, at half
  // the cost, as hasNext() finds the next run and forgets it.
  return longestGap(
    expr,
    it.take(MAX_RUNS).map((d) => d.getTime()),
  );
}

/**
 * `longestGapMinutes` without iterating, or undefined where this cannot be sure of the same
 * answer: the runs are listed from the fields cron-parser parsed (its sets of minutes, hours,
 * days, months and weekdays, and whether day of month and day of week are wildcards, for
 * cron-parser's rule that two restricted day fields match either), one UTC offset for the
 * whole window read. Declines a zone whose offset changes within the runs read (a DST change:
 * skipped and repeated hours are cron-parser's to place), seconds other than 0, and L, W or #.
 */
export function fastLongestGapMinutes(expr: string, tz = 'Etc/UTC'): number | undefined {
  const { second, minute, hour, dayOfMonth, month, dayOfWeek } = CronExpressionParser.parse(expr, {
    tz,
    currentDate: new Date(WINDOW_START),
    endDate: new Date(WINDOW_END),
  }).fields;
  const numbers = (values: readonly (number | string)[]): number[] | undefined =>
    values.every((v) => typeof v === 'number') ? (values as number[]) : undefined;
  const minutes = numbers(minute.values);
  const hours = numbers(hour.values);
  const days = numbers(dayOfMonth.values);
  const months = numbers(month.values);
  const weekdays = numbers(dayOfWeek.values);
  if (!minutes || !hours || !days || !months || !weekdays) return undefined;
  if (second.values.length !== 1 || second.values[0] !== 0) return undefined;
  if (dayOfMonth.hasLastChar || dayOfWeek.hasLastChar || dayOfWeek.nthDay > 0) return undefined;

  const offsets = new ZoneOffsets(tz);
  const offset = offsets.minutesAt(WINDOW_START);
  if (offset === undefined) return undefined;
  const dayIn = new Set(days);
  const monthIn = new Set(months);
  const weekdayIn = new Set(weekdays.map((d) => d % 7));
  const domRestricted = !dayOfMonth.isWildcard;
  const dowRestricted = !dayOfWeek.isWildcard;
  // cron-parser's #matchDayOfMonth, rule by rule.
  const dayMatches = (dom: number, dow: number) => {
    const matchedDom = dayIn.has(dom);
    const matchedDow = weekdayIn.has(dow);
    return (domRestricted && dowRestricted && (matchedDom || matchedDow)) || (matchedDom && !dowRestricted) || (!domRestricted && dowRestricted && matchedDow);
  };

  // Wall-clock times in the zone as UTC milliseconds of the same fields: instant = wall - offset.
  const shift = offset * MINUTE;
  const firstWall = WINDOW_START + shift;
  const lastWall = WINDOW_END + shift;
  const runs: number[] = [];
  scan: for (let day = Math.floor(firstWall / DAY) * DAY; day <= lastWall; day += DAY) {
    const date = new Date(day);
    if (!monthIn.has(date.getUTCMonth() + 1) || !dayMatches(date.getUTCDate(), date.getUTCDay())) continue;
    for (const h of hours) {
      for (const m of minutes) {
        const wall = day + h * 3_600_000 + m * MINUTE;
        if (wall <= firstWall) continue;
        if (wall > lastWall || runs.length === MAX_RUNS) break scan;
        runs.push(wall - shift);
      }
    }
  }
  // The offset must hold from before the first run read to after the last (or the window's end).
  const until = runs.length === MAX_RUNS ? runs[runs.length - 1] : WINDOW_END;
  if (!offsets.constant(WINDOW_START - DAY, until + DAY, offset)) return undefined;
  return longestGap(expr, runs);
}

function longestGap(expr: string, runs: readonly number[]): number {
  if (runs.length === 0) throw new Error(`schedule "${expr}" never runs`);
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i] - runs[i - 1]);
  // A schedule running once a year or less: a year.
  return longest === 0 ? 366 * 1440 : longest / MINUTE;
}

/** A time zone's UTC offsets, from the runtime's ICU (which luxon, and so cron-parser, reads too). */
class ZoneOffsets {
  /** Every six hours: no zone changes its offset and back within that. */
  static readonly STEP = 6 * 3_600_000;
  private readonly format: Intl.DateTimeFormat;
  constructor(tz: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
  }
  /** Minutes east of UTC at `t` ("GMT+05:30" → 330, "GMT" → 0), or undefined for an offset with seconds. */
  minutesAt(t: number): number | undefined {
    const name = this.name(t);
    if (name === 'GMT') return 0;
    const m = /^GMT([+-])(\d\d):(\d\d)$/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : undefined;
  }
  /** Whether the offset is `minutes` at `from`, at `to` and every STEP between. */
  constant(from: number, to: number, minutes: number): boolean {
    for (let t = from; ; t = Math.min(t + ZoneOffsets.STEP, to)) {
      if (this.minutesAt(t) !== minutes) return false;
      if (t === to) return true;
    }
  }
  private name(t: number): string {
    return this.format.formatToParts(t).find((p) => p.type === 'timeZoneName')?.value ?? '';
  }
}
