/**
 * Every PromQL query Meridian renders into a ScaledObject (ggen's request rate, the Pub/Sub
 * backlog and Cloud Tasks depth over Cloud Monitoring metrics, free queries) must also parse
 * with Prometheus's own Go parser, through `promtool check rules`. Locally the test is skipped
 * loudly when promtool is missing; under CI it must run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { loadAll, loadEnvironments } from '../../../model';
import { promqlErrors } from '../../../kernel/promql';
import { render } from '../../../synth/render';
import { queues } from '../../fixtures/queues';
import { ROOT, tempDir } from '../../helpers';
import { findPromtool } from '../../promtool';

const PROMTOOL = findPromtool();
const promtool = PROMTOOL !== undefined && spawnSync(PROMTOOL, ['--version'], { encoding: 'utf8' }).status === 0;
if (!promtool && process.env.CI === 'true') throw new Error('promtool is required under CI (apt-get install prometheus)');
const maybe = promtool ? describe : describe.skip;

function renderedQueries(): string[] {
  const input = structuredClone(queues);
  (input.services!.ingest.autoscaling!.triggers as unknown[]).push({
    type: 'prometheus',
    name: 'p95',
    threshold: 0.5,
    query: 'histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{destination_workload="ingest"}[5m]))) / 1000',
  });
  const files = [...render(loadAll(ROOT, { platform: 'ggen' })).files, ...render(loadEnvironments({ file: 'platforms/queues.ts', input }, tempDir())).files];
  const queries = files
    .filter((f) => f.manifest.kind === 'ScaledObject')
    .flatMap((f) => (f.manifest as Record<string, any>).spec.triggers as Record<string, any>[])
    .filter((t) => t.type === 'prometheus')
    .map((t) => t.metadata.query as string);
  return [...new Set(queries)].sort();
}

/** `promtool check rules` on one recording rule per query: exit code and output. */
function checkRules(queries: string[]): { status: number | null; output: string } {
  const file = path.join(tempDir(), 'rules.yaml');
  fs.writeFileSync(file, stringify({ groups: [{ name: 'meridian', rules: queries.map((expr, i) => ({ record: `meridian:query_${i}`, expr })) }] }));
  const run = spawnSync(PROMTOOL!, ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

maybe('rendered PromQL against promtool', () => {
  test("every query rendered into a ScaledObject parses with Prometheus's Go parser", () => {
    const queries = renderedQueries();
    expect(queries.some((q) => q.includes('pubsub_googleapis_com:subscription_num_undelivered_messages'))).toBe(true);
    expect(queries.some((q) => q.includes('cloudtasks_googleapis_com:queue_depth'))).toBe(true);
    expect(queries.some((q) => q.includes('istio_requests_total'))).toBe(true);
    const { status, output } = checkRules(queries);
    expect(output).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(status).toBe(0);
  });

  test.each(['sum(rate(consumer_lag_total[2m])', 'max(lag) by', 'sum(x{a="b"}) / '])('fails in both parsers: %s', (query) => {
    expect(promqlErrors(query)).not.toEqual([]);
    expect(checkRules([query]).status).not.toBe(0);
  });
});
