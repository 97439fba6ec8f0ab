/**
 * RE2, the engine Envoy (and so Istio) evaluates every regex with: Google's RE2 compiled to
 * WebAssembly (@adguard/re2-wasm), called below its JavaScript wrapper so the expression RE2
 * sees is exactly the rendered string (the wrapper rewrites JavaScript syntax first).
 *
 * Envoy compiles a `safe_regex` with `re2::RE2(regex, re2::RE2::Quiet)` (default options) and
 * matches with `re2::RE2::FullMatch`: the whole value must match, not a part of it
 * (envoy/source/common/common/regex.cc, CompiledGoogleReMatcher; the HeaderMatcher and
 * StringMatcher docs: "the entire value must match"). Istio's StringMatch `regex` becomes such a
 * matcher. `re2FullMatch` is that: RE2 anchored at both ends.
 *
 * The RE2 of this build predates named groups written `(?<name>...)` (it takes `(?P<name>...)`),
 * which newer RE2 releases accept: it errs on the side of refusing. Envoy's `re2.max_program_size`
 * limits are not modelled.
 */
import { WrappedRE2 } from '@adguard/re2-wasm/build/wasm/re2';

interface Compiled {
  readonly error?: string;
  readonly anchored?: WrappedRE2;
}

/** Embind objects live in the WebAssembly heap until deleted (not in the package's typings). */
const free = (re: WrappedRE2) => (re as unknown as { delete(): void }).delete();

/** Compiled expressions; the rendered fleet repeats the same few in every region. Bounded. */
const compiled = new Map<string, Compiled>();
const MAX_CACHED = 10_000;

function compile(regex: string): Compiled {
  let c = compiled.get(regex);
  if (c !== undefined) return c;
  if (compiled.size >= MAX_CACHED) {
    for (const old of compiled.values()) if (old.anchored) free(old.anchored);
    compiled.clear();
  }
  // The expression alone first: wrapped in a group, `a)|(b` would compile and mean something else.
  const alone = new WrappedRE2(regex, false, false, false, 0);
  const error = alone.ok() ? undefined : alone.error();
  free(alone);
  if (error !== undefined) {
    c = { error };
  } else {
    // RE2::FullMatch is RE2::ANCHOR_BOTH: the same as `^(?:re)\z` searched from the start.
    const anchored = new WrappedRE2(`^(?:${regex})\\z`, false, false, false, 0);
    if (anchored.ok()) c = { anchored };
    else {
      c = { error: anchored.error() };
      free(anchored);
    }
  }
  compiled.set(regex, c);
  return c;
}

/** Why RE2 refuses `regex` (its own message), or undefined when it compiles. */
export function re2Error(regex: string): string | undefined {
  return compile(regex).error;
}

/** `RE2::FullMatch(text, regex)`, as Envoy matches a header or path. Throws when RE2 refuses `regex`. */
export function re2FullMatch(regex: string, text: string): boolean {
  const c = compile(regex);
  if (c.error !== undefined) throw new Error(`RE2 refuses ${JSON.stringify(regex)}: ${c.error}`);
  return c.anchored!.match(text, 0, false).index === 0;
}
