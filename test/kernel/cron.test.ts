import { CronExpressionParser } from 'cron-parser';
import { fastLongestGapMinutes, iteratedLongestGapMinutes, longestGapMinutes } from '../../kernel/cron';

/** The answer before the fast paths: cron-parser's iteration, hasNext() then next(), run by run. */
function reference(expr: string, tz: string): number {
  const it = CronExpressionParser.parse(expr, { tz, currentDate: new Date('2024-01-01T00:00:00Z'), endDate: new Date('2025-01-01T00:00:00Z') });
  let previous: number | undefined;
  let longest = 0;
  for (let i = 0; i < 2000 && it.hasNext(); i++) {
    const t = it.next().getTime();
    if (previous !== undefined) longest = Math.max(longest, t - previous);
    previous = t;
  }
  if (previous === undefined) throw new Error(`schedule "${expr}" never runs`);
  return longest === 0 ? 366 * 1440 : longest / 60_000;
}

// The fast paths must give the reference's answer exactly: each case is run every way.
// Zones with one offset all year take the fast path for every schedule; zones with DST take
// it only while the runs read (at most 2000) stay on one side of a change.
const FIXED = ['UTC', 'Etc/UTC', 'Asia/Tokyo', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/Sao_Paulo', 'Etc/GMT+10'];
const DST = ['America/New_York', 'Europe/London', 'Australia/Sydney', 'Australia/Lord_Howe'];

const both = (expr: string, tz: string) => ({ fast: fastLongestGapMinutes(expr, tz), iterated: reference(expr, tz) });

describe('longestGapMinutes', () => {
  test.each([
    // The repository's own: hourly in UTC (fast) and daily in New York (iterated: it crosses both DST changes).
    ['15 * * * *', 'Etc/UTC', 60],
    ['30 3 * * *', 'America/New_York', 25 * 60],
    ['30 3 * * *', 'UTC', 1440],
    ['0 0 1 * *', 'UTC', 31 * 1440],
    ['0 0 * * 1', 'UTC', 7 * 1440],
    // Both day fields restricted: a day matching either runs (Mondays and the 1st), as robfig/cron does.
    ['0 0 1 * 1', 'UTC', 7 * 1440],
    ['0 12 13 * 5', 'Asia/Tokyo', 7 * 1440],
    // Runs once in the window (2025-01-01 00:00 UTC is its last instant, included): a year.
    ['0 0 1 1 *', 'UTC', 366 * 1440],
    ['0 0 29 2 *', 'UTC', 366 * 1440],
    // 200 runs a day on January 1-10 are the 2000 runs read: July is not reached.
    ['*/3 1-10 1-10 1,7 *', 'UTC', 14 * 60 + 3],
    // The window's first instant is not read, its last is: December 1 and January 1 2025, not January 1 2024.
    ['0 0 1 1,12 *', 'UTC', 31 * 1440],
    // The window is UTC's year: 2025-01-01 02:30 in Tokyo is 2024-12-31 17:30 UTC, inside; 2024-01-01 02:30 is not.
    ['30 2 1 1,7 *', 'Asia/Tokyo', 184 * 1440],
    // 2023-12-31 20:00 at UTC-10 is 2024-01-01 06:00 UTC, inside.
    ['0 20 31 12,1 *', 'Etc/GMT+10', 31 * 1440],
    // Workdays: Friday to Monday.
    ['0 9 * * 1-5', 'Asia/Kolkata', 3 * 1440],
    ['*/20 9-17 * * MON-FRI', 'UTC', 3 * 1440 - 8 * 60 - 40],
  ])('%s in %s: %d minutes', (expr, tz, minutes) => {
    expect(longestGapMinutes(expr, tz)).toBe(minutes);
    expect(iteratedLongestGapMinutes(expr, tz)).toBe(minutes);
    expect(reference(expr, tz)).toBe(minutes);
  });

  test('takes the fast path for a zone without DST, and for a DST zone within one side of a change', () => {
    expect(fastLongestGapMinutes('15 * * * *', 'Etc/UTC')).toBe(60);
    // 2000 runs every 5 minutes: January 1 to 7.
    expect(fastLongestGapMinutes('*/5 * * * *', 'America/New_York')).toBe(5);
    expect(fastLongestGapMinutes('* * * * *', 'Australia/Sydney')).toBe(1);
  });

  test('leaves runs across a DST change to cron-parser', () => {
    expect(fastLongestGapMinutes('30 3 * * *', 'America/New_York')).toBeUndefined();
    // Only March 10, the day New York skips 02:00-03:00.
    expect(fastLongestGapMinutes('*/5 * 10 3 *', 'America/New_York')).toBeUndefined();
    expect(fastLongestGapMinutes('0 0 1 1 *', 'Europe/London')).toBeUndefined();
    expect(longestGapMinutes('*/5 * 10 3 *', 'America/New_York')).toBe(reference('*/5 * 10 3 *', 'America/New_York'));
    // 200 runs a day on March 9-18 (across the change, after the skipped hour) are the 2000 runs read: July is not reached.
    expect(fastLongestGapMinutes('*/3 3-12 9-18 3,7 *', 'America/New_York')).toBeUndefined();
    expect(reference('*/3 3-12 9-18 3,7 *', 'America/New_York')).toBe(14 * 60 + 3);
    expect(longestGapMinutes('*/3 3-12 9-18 3,7 *', 'America/New_York')).toBe(14 * 60 + 3);
  });

  const schedules = [
    // steps
    '*/7 * * * *',
    '5-50/15 */5 * * *',
    '0 */6 */3 * *',
    '0 0 */10 */2 *',
    // ranges
    '0 2-4 * * *',
    '30 22-23 1-7 * *',
    '0 0 * 3-5 *',
    // lists
    '0,30 8,12,18 * * *',
    '15 1 1,15,31 * *',
    '0 6 * JAN,APR,JUL,OCT *',
    // both day fields restricted: union
    '0 0 1,15 * 1-5',
    '0 12 31 * 0',
    '45 23 29 2 SUN',
    '0 0 */2 * 1',
    '0 0 */1 * 6',
    // around the DST changes
    '30 1 * * *',
    '30 2 * * *',
    '0 1-3 * * *',
    '*/30 0-4 * 3,10,11 *',
    '0 0 * * *',
    '59 23 * * SAT',
  ];
  const zones = [...FIXED, ...DST];
  test.each(schedules.flatMap((expr, i) => [zones[i % zones.length], zones[(i * 5 + 3) % zones.length]].map((tz) => [expr, tz])))(
    '%s in %s: the same as iterated',
    (expr, tz) => {
      const { fast, iterated } = both(expr, tz);
      if (FIXED.includes(tz)) expect(fast).toBe(iterated);
      else expect([undefined, iterated]).toContain(fast);
      expect(longestGapMinutes(expr, tz)).toBe(iterated);
      // cron-parser's take(), which a zone's DST change leaves the work to.
      expect(iteratedLongestGapMinutes(expr, tz)).toBe(iterated);
    },
  );

  // Schedules drawn from a seeded generator: steps, ranges, lists and names in every field.
  const random = seeded(20);
  const field = (min: number, max: number, names?: string[]): string => {
    const pick = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
    const value = (v: number) => (names && random() < 0.3 ? names[v - min] : String(v));
    switch (pick(0, 5)) {
      case 0:
        return '*';
      case 1:
        return `*/${pick(2, Math.max(2, Math.floor((max - min) / 2)))}`;
      case 2: {
        const a = pick(min, max);
        return `${value(a)}-${value(pick(a, max))}`;
      }
      case 3: {
        const a = pick(min, max - 1);
        return `${a}-${pick(a + 1, max)}/${pick(2, 4)}`;
      }
      case 4:
        return [...new Set([pick(min, max), pick(min, max), pick(min, max)])].map(value).join(',');
      default:
        return value(pick(min, max));
    }
  };
  const months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
  const weekdays = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
  const drawn: [string, string][] = [];
  while (drawn.length < 40) {
    // Day of month within 1-28 so that every month has it (cron-parser refuses a day no listed month has).
    const expr = [field(0, 59), field(0, 23), field(1, 28), field(1, 12, months), field(0, 6, weekdays)].join(' ');
    drawn.push([expr, zones[Math.floor(random() * zones.length)]]);
  }
  test.each(drawn)('%s in %s (drawn): the same as iterated', (expr, tz) => {
    const { fast, iterated } = both(expr, tz);
    if (FIXED.includes(tz)) expect(fast).toBe(iterated);
    else expect([undefined, iterated]).toContain(fast);
  });

  test('fails on a schedule cron-parser refuses, as the iteration does', () => {
    expect(() => fastLongestGapMinutes('0 0 30 2 *')).toThrow('Invalid explicit day of month definition');
    expect(() => longestGapMinutes('0 0 30 2 *')).toThrow('Invalid explicit day of month definition');
  });
});

/** mulberry32: the same schedules on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
