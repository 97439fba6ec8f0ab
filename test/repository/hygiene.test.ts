/** The repository holds sources, not what tools and programs write when they run. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeTempDirs, ROOT, tempDir } from '../helpers';

const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });

test('no log, dump or scratch file is committed', () => {
  const tracked = git('ls-files', '-z').stdout.split('\0').filter(Boolean);
  expect(tracked.length).toBeGreaterThan(100);
  expect(tracked.filter((f) => /(^|\/)(dump\.rdb|appendonly\.aof|\.DS_Store)$|\.log$|^\.meridian\//.test(f))).toEqual([]);
});

test('.gitignore covers what the tools and real programs write at the root', () => {
  const written = [
    'node_modules/x',
    '.meridian/cdk8s-out/a.yaml',
    'coverage/lcov.info',
    'tsconfig.tsbuildinfo',
    'dist.tmp-1/a',
    'dist.old-1/a',
    's.log',
    'npm-debug.log',
    'dump.rdb',
    'appendonly.aof',
    '.promtool-1-2.log',
    '.DS_Store',
  ];
  const r = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: ROOT, input: written.join('\n'), encoding: 'utf8' });
  expect(r.stdout.trim().split('\n')).toEqual(written);
});

test('tempDir folders are removed after the test file', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'f'), 'x');
  removeTempDirs();
  expect(fs.existsSync(dir)).toBe(false);
});
