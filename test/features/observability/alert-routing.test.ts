/**
 * Where every rendered cluster's alerts go, proven with the real Alertmanager tooling
 * (`amtool check-config`, `amtool config routes test`) on the configuration each cluster's
 * ExternalSecret writes: pages for production's critical alerts only, tickets for warnings
 * where anyone is notified, nothing for dev and previews. The credentials are placed where
 * External Secrets' template engine writes them (`{{ .<key> }}`), with stand-in values.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadAll } from '../../../model';
import { render, type Manifest } from '../../../synth/render';
import { AlertRouting } from '../../../features/observability/alert-routing';
import { ROOT, tempDir, testChart } from '../../helpers';
import { findAmtool, runAmtool } from '../../amtool';

const AMTOOL = findAmtool();
const files = render(loadAll(ROOT)).files;
const clusterOf = (p: string) => p.split('/').slice(0, 3).join('/');
type M = Manifest & { spec?: any; managedAlertmanager?: any };

const operatorConfigs = files.filter((f) => f.manifest.kind === 'OperatorConfig');
const secrets = new Map(
  files.filter((f) => f.manifest.kind === 'ExternalSecret' && f.manifest.metadata.namespace === 'gmp-public').map((f) => [clusterOf(f.path), f.manifest as M]),
);

/** The policy of issue 16, by environment name. */
function expected(env: string): { critical: string; warning: string } {
  if (env === 'prod') return { critical: 'page', warning: 'ticket' };
  if (env === 'staging') return { critical: 'ticket', warning: 'ticket' };
  return { critical: 'none', warning: 'none' };
}

test('every cluster with rules has its OperatorConfig (kubelet scraping on); previews have none', () => {
  const clusters = [...new Set(files.map((f) => clusterOf(f.path)).filter((k) => !k.endsWith('/argocd')))];
  for (const key of clusters) {
    const config = operatorConfigs.find((f) => clusterOf(f.path) === key)?.manifest as M | undefined;
    if (key.split('/')[1] === 'preview') {
      expect(`${key}: ${config === undefined}`).toBe(`${key}: true`);
      continue;
    }
    expect(config).toMatchObject({ metadata: { name: 'config', namespace: 'gmp-public' }, collection: { kubeletScraping: { interval: '30s' } } });
    const notified = expected(key.split('/')[1]).critical !== 'none';
    expect(`${key}: ${config!.managedAlertmanager?.configSecret?.name}`).toBe(`${key}: ${notified ? 'alertmanager' : undefined}`);
    expect(`${key}: ${secrets.has(key)}`).toBe(`${key}: ${notified}`);
  }
});

const d = AMTOOL ? describe : describe.skip;
d('amtool', () => {
  const dir = tempDir('meridian-amtool-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([...secrets.entries()])('%s: the configuration is valid and routes by severity', (key, secret) => {
    const [platform, env] = key.split('/');
    const template: string = secret.spec.target.template.data['alertmanager.yaml'];
    const keys = (secret.spec.data as { secretKey: string }[]).map((k) => k.secretKey);
    const stand = { pagerduty_routing_key: 'R0UT1NGKEY0123456789abcdef012345', ticket_webhook_url: 'https://tickets.example.com/hooks/alerts' } as Record<
      string,
      string
    >;
    let text = template;
    for (const k of keys) text = text.split(`{{ .${k} }}`).join(stand[k]);
    expect(text).not.toContain('{{');
    const file = path.join(dir, `${key.replace(/\//g, '_')}.yaml`);
    fs.writeFileSync(file, text);
    const check = runAmtool(AMTOOL!, ['check-config', file], dir);
    if (check.code !== 0) throw new Error(check.output);
    const want = expected(env);
    for (const severity of ['critical', 'warning'] as const) {
      const r = runAmtool(
        AMTOOL!,
        [
          'config',
          'routes',
          'test',
          `--config.file=${file}`,
          `--verify.receivers=${want[severity]}`,
          `severity=${severity}`,
          `platform=${platform}`,
          `env=${env}`,
          'alertname=X',
        ],
        dir,
      );
      expect(`${severity}: ${r.code} ${r.stdout.trim()}`).toBe(`${severity}: 0 ${want[severity]}`);
    }
    // Another environment's alerts (a cluster shared with a preview) are not routed by this tree.
    const other = runAmtool(AMTOOL!, ['config', 'routes', 'test', `--config.file=${file}`, 'severity=critical', `platform=${platform}`, 'env=preview'], dir);
    expect(other.stdout.trim()).toBe('none');
  });
});

describe('AlertRouting', () => {
  const base = { store: 's', match: { platform: 'p', env: 'prod' }, groupBy: ['alertname'], inhibitEqual: ['alertname'] };
  test('fails when a severity pages without a pager secret', () => {
    expect(() => new AlertRouting(testChart(), 'R', { ...base, critical: 'page', warning: 'none' })).toThrow(
      "AlertRouting 'R': pagerSecret is required: critical alerts page",
    );
  });
  test('fails when a severity makes tickets without a ticket secret', () => {
    expect(() => new AlertRouting(testChart(), 'R', { ...base, critical: 'none', warning: 'ticket' })).toThrow(
      "AlertRouting 'R': ticketSecret is required: warning alerts make tickets",
    );
  });
  test('nowhere to send: no Secret, the managed Alertmanager keeps its empty default', () => {
    const chart = testChart();
    new AlertRouting(chart, 'R', { ...base, critical: 'none', warning: 'none' });
    const out = chart.toJson();
    expect(out.map((o) => o.kind)).toEqual(['OperatorConfig']);
    expect(out[0].managedAlertmanager).toBeUndefined();
  });
});
