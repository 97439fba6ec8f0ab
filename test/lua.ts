/**
 * Running ArgoCD health scripts with a real Lua interpreter: Debian's lua5.1, the language
 * version ArgoCD's embedded interpreter (gopher-lua) implements. Locally the tests skip loudly
 * when it is missing; under CI=true they fail instead.
 */
import { spawnSync } from 'node:child_process';

const LUA = process.env.LUA ?? 'lua5.1';

/** Whether the interpreter runs here (after a loud warning when it does not, outside CI). */
export function haveLua(): boolean {
  const ok = spawnSync(LUA, ['-v'], { encoding: 'utf8', timeout: 10_000 }).status === 0;
  if (!ok && process.env.CI !== 'true') {
    process.stderr.write(`\n*** ${LUA} NOT FOUND: the ArgoCD health script tests are SKIPPED (apt-get install -y lua5.1); CI=true never skips. ***\n\n`);
  }
  return ok || process.env.CI === 'true';
}

/** A JSON value as a Lua table constructor (objects → keyed tables, arrays → 1-based sequences). */
export function luaValue(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v); // JSON string escapes are valid Lua escapes for the ASCII fixtures used
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(luaValue).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${luaValue(x)}`)
    .join(', ')}}`;
}

/** Runs an ArgoCD health script on `obj` as ArgoCD does (the script's chunk returns `hs`); returns hs. */
export function runHealthScript(script: string, obj: unknown): { status: string; message?: string } {
  const program = [
    `local obj = ${luaValue(obj)}`,
    `local hs = (function(obj)\n${script}\nend)(obj)`,
    'io.write(hs.status, "\\n", hs.message or "", "\\n")',
  ].join('\n');
  const r = spawnSync(LUA, ['-'], { input: program, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${LUA} failed: ${r.stderr || r.error}`);
  const [status, message] = r.stdout.split('\n');
  return { status, message: message || undefined };
}
