/**
 * Numbers and promises the documents state about a platform, held against what renders (issue
 * 22, item 9): the README's error-rate thresholds per platform against the rendered
 * `ServiceErrorRateHigh` rules of every environment, and the trigger types docs/autoscaling.md's
 * seed mapping promises against the ScaledObjects in dist/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers';
import { distClusters, ofKind } from '../seeds/dist';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const autoscalingDoc = fs.readFileSync(path.join(ROOT, 'docs/autoscaling.md'), 'utf8');

/** The README's section per platform: `### <title> (`platforms/<p>.ts`, ...)` up to the next heading. */
function readmeSections(): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of readme.split(/^#{2,3} /m)) {
    const m = /^[^\n]*\(`platforms\/([a-z0-9-]+)\.ts`/.exec(part);
    if (m) out.set(m[1], part);
  }
  return out;
}

/** Seed number (`001`) → platform, from the README's table of platforms. */
function platformOfSeed(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of readme.matchAll(/^\| ([a-z0-9-]+) \| (\d{3}) \|/gm)) out.set(m[2], m[1]);
  return out;
}

interface Stated {
  readonly value: number;
  readonly severity?: 'warning' | 'critical';
  readonly text: string;
}

/** What a section states about error-rate alerts: each percentage of the clause, with its severity when named. */
export function statedErrorRates(section: string): Stated[] {
  const out: Stated[] = [];
  for (const clause of section.matchAll(/error-rate alerts?[^|;]*/gi)) {
    for (const n of clause[0].matchAll(/([0-9]+(?:\.[0-9]+)?) %(?: \((warning|critical)\))?/g)) {
      out.push({ value: Number(n[1]), severity: n[2] as Stated['severity'], text: clause[0].trim() });
    }
  }
  return out;
}

/** The rendered ServiceErrorRateHigh thresholds of a platform, per severity, over every environment and region. */
function renderedErrorRates(platform: string): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>([
    ['warning', new Set()],
    ['critical', new Set()],
  ]);
  for (const c of distClusters(platform)) {
    for (const rules of [...ofKind(c, 'Rules'), ...ofKind(c, 'ClusterRules')]) {
      for (const g of rules.spec.groups ?? []) {
        for (const r of g.rules ?? []) {
          if (r.alert !== 'ServiceErrorRateHigh') continue;
          const m = / > ([0-9.]+)$/.exec(r.expr);
          if (!m) throw new Error(`${platform}: ServiceErrorRateHigh has no threshold: ${r.expr}`);
          out.get(r.labels.severity)!.add(Number(m[1]));
        }
      }
    }
  }
  return out;
}

describe('README: error-rate thresholds per platform are the rendered ones', () => {
  test('the parser reads a clause with severities, and one without', () => {
    expect(statedErrorRates('| x | error-rate alerts at 0.5 % (warning) and 1 % (critical) over 5 min |')).toEqual([
      expect.objectContaining({ value: 0.5, severity: 'warning' }),
      expect.objectContaining({ value: 1, severity: 'critical' }),
    ]);
    expect(statedErrorRates("| x | error-rate alert at the seed's 0.1 % |").map((s) => [s.value, s.severity])).toEqual([[0.1, undefined]]);
  });

  const sections = [...readmeSections()];
  test('the README has a section per seed platform', () => {
    expect(sections.map(([p]) => p).sort()).toEqual(['bytspot', 'ggen', 'pushnchat', 'virtuoso', 'weather']);
  });

  test.each(sections.filter(([, s]) => statedErrorRates(s).length > 0))('%s', (platform, section) => {
    const rendered = renderedErrorRates(platform);
    const all = new Set([...rendered.get('warning')!, ...rendered.get('critical')!]);
    for (const s of statedErrorRates(section)) {
      const allowed = s.severity ? rendered.get(s.severity)! : all;
      expect({ stated: `${s.value} %${s.severity ? ` (${s.severity})` : ''}`, in: s.text, rendered: [...allowed].sort() }).toEqual({
        stated: `${s.value} %${s.severity ? ` (${s.severity})` : ''}`,
        in: s.text,
        rendered: expect.arrayContaining([s.value]),
      });
    }
  });

  test('Virtuoso states its thresholds', () => {
    expect(statedErrorRates(new Map(sections).get('virtuoso')!).length).toBeGreaterThan(0);
  });
});

describe('docs/autoscaling.md: the seed mapping promises only triggers that render', () => {
  const mapping = autoscalingDoc.split(/^## Seed mapping$/m)[1].split(/^## /m)[0];
  const seeds = platformOfSeed();
  const rows = [...mapping.matchAll(/^\| ([^|]+) \((\d{3})[^|]*\) \| ([^|]*) \| ([^|]*) \|$/gm)].map((m) => ({
    platform: seeds.get(m[2])!,
    seed: m[2],
    promised: [...new Set([...m[4].matchAll(/type: ([a-z-]+)/g), ...m[4].matchAll(/`([a-z-]+)` trigger/g)].map((t) => t[1]))],
  }));

  test('every seed platform has a row', () => {
    expect(rows.map((r) => r.platform).sort()).toEqual(['ggen', 'pushnchat', 'virtuoso', 'weather']);
  });

  test.each(rows.map((r) => [`${r.platform} (${r.seed})`, r] as const))('%s', (_, row) => {
    // Each ScaledObject's triggers as the spec declared them (pubsub and cloud-tasks render as
    // Managed Prometheus queries, docs/autoscaling.md), and KEDA's own type for cron.
    const rendered = new Set<string>();
    for (const c of distClusters(row.platform)) {
      for (const so of ofKind(c, 'ScaledObject')) {
        for (const t of c.spec.services[so.metadata.name]?.autoscaling?.triggers ?? []) rendered.add(t.type);
        for (const t of so.spec.triggers as { type: string }[]) if (t.type === 'cron') rendered.add('cron (KEDA)');
      }
    }
    for (const type of row.promised) {
      expect({ type, rendered: rendered.has(type) && (type !== 'cron' || rendered.has('cron (KEDA)')) }).toEqual({ type, rendered: true });
    }
  });
});
