import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../cli/main';
import { runSynth } from '../../cli/synth';
import { ROOT } from '../helpers';

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('meridian help and version', () => {
  test('--version prints the package version (there was none before)', () => {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    expect(run(['--version'])).toEqual({ code: 0, out: version, err: '' });
  });

  test('--help has examples', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Examples:\n  npx cdk8s synth ');
    expect(r.out).toContain('npx meridian validate dist/ggen/prod');
  });

  test('validate --help gives the output format and the exit codes', () => {
    const r = run(['validate', '--help']);
    expect(r.out).toContain('<file>: <Kind> <namespace>/<name>: <field.path>: <message>');
    expect(r.out).toContain('Exit codes: 0 no problems; 1 problems found; 2 unusable input');
    expect(run(['synth', '--help']).out).toContain('Exit codes: 0 rendered and valid; 1 invalid spec or output (dist/ untouched); 2 bad usage.');
  });

  test('fails on synth --platform nosuch naming the folder, with a did-you-mean (it named platforms/nosuch.ts before)', () => {
    const err: string[] = [];
    const r = runSynth({ platform: 'weathr', dist: path.join(ROOT, 'never-written') }, { out: () => undefined, err: (l) => err.push(l) });
    expect(r.code).toBe(1);
    expect(err[0]).toMatch(/^platforms\/: has no platform "weathr" \(did you mean "weather"\?\) \(platforms: .*\bweather\b.*\)$/);
    expect(fs.existsSync(path.join(ROOT, 'never-written'))).toBe(false);
  });
});
