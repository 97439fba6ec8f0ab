/**
 * The YAML text of a rendered object, byte for byte what the `yaml` library's `stringify` gives
 * with synth's options (YAML 1.1, block style, `lineWidth: 0`), without building the library's
 * document tree for every object (that was the largest single cost of rendering a fleet: about
 * a quarter of the CPU time at 10k objects, most of it creating nodes and testing every plain
 * string against the YAML 1.1 tags).
 *
 * It lays out only what is unambiguous: block maps and sequences, `{}`/`[]`, safe integers,
 * booleans, null, and strings made of letters, digits and `._/-` that start with a letter and
 * are no YAML 1.1 boolean or null word. Every other scalar is written by the library itself
 * (one call per distinct value, remembered), and an object the library would write differently
 * as a whole (a value appearing twice by reference, which it anchors; a multi-line or block
 * scalar; anything but plain JSON) goes to the library entirely. test/synth/yaml-fast.test.ts
 * compares both on every object of dist/, of the benchmark's fleet and on edge cases.
 */
import { stringify, type ToStringOptions } from 'yaml';

/** Plain in YAML 1.1 whatever the context: a letter first, then letters, digits, `.`, `_`, `/`, `-`. */
const SAFE = /^[A-Za-z][A-Za-z0-9._/-]*$/;
/** YAML 1.1 booleans and nulls spelled with letters only (checked case-insensitively: more than needed). */
const WORDS = /^(?:y|n|yes|no|true|false|on|off|null)$/i;
const MAX_SAFE_LENGTH = 128;
/** Scalars written by the library, by type and value; bounded. */
const MEMO_MAX = 50_000;

class Fallback extends Error {}

export class FastYaml {
  private readonly memo = new Map<string, string>();
  /** Objects the library wrote whole (for tests and the benchmark's curiosity). */
  public fallbacks = 0;

  constructor(private readonly options: ToStringOptions) {}

  stringify(value: unknown): string {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return this.library(value);
    const seen = new Set<object>();
    const out: string[] = [];
    try {
      this.map(value as Record<string, unknown>, '', out, seen);
    } catch (e) {
      if (!(e instanceof Fallback)) throw e;
      return this.library(value);
    }
    return out.join('');
  }

  private library(value: unknown): string {
    this.fallbacks++;
    return stringify(value, this.options);
  }

  /** A non-empty map's pairs, each line starting with `indent` (the first one's indent is the caller's when `first` is given). */
  private map(obj: Record<string, unknown>, indent: string, out: string[], seen: Set<object>, first = indent): void {
    if (seen.has(obj)) throw new Fallback();
    seen.add(obj);
    let lead = first;
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (v === undefined) throw new Fallback();
      out.push(lead, this.key(key), ':');
      lead = indent;
      this.value(v, indent, out, seen);
    }
  }

  private seq(arr: unknown[], indent: string, out: string[], seen: Set<object>, first = indent): void {
    if (seen.has(arr)) throw new Fallback();
    seen.add(arr);
    let lead = first;
    for (let i = 0; i < arr.length; i++) {
      if (!(i in arr)) throw new Fallback();
      out.push(lead, '-');
      lead = indent;
      this.value(arr[i], indent, out, seen, true);
    }
  }

  /**
   * After `key:` or `-`: ` scalar\n`, ` {}\n` / ` []\n`, or the nested collection one level in,
   * starting on the next line after a key and on the dash's own line after a dash.
   */
  private value(v: unknown, indent: string, out: string[], seen: Set<object>, afterDash = false): void {
    if (v === null || typeof v !== 'object') {
      out.push(' ', this.scalar(v, indent), '\n');
      return;
    }
    const inner = `${indent}  `;
    const first = afterDash ? ' ' : inner;
    if (Array.isArray(v)) {
      if (v.length === 0) return void out.push(' []\n');
      if (!afterDash) out.push('\n');
      this.seq(v, inner, out, seen, first);
    } else if (isPlainObject(v)) {
      if (Object.keys(v).length === 0) return void out.push(' {}\n');
      if (!afterDash) out.push('\n');
      this.map(v as Record<string, unknown>, inner, out, seen, first);
    } else throw new Fallback();
  }

  private key(k: string): string {
    if (k.length <= MAX_SAFE_LENGTH && SAFE.test(k) && !WORDS.test(k)) return k;
    const text = this.remembered(k);
    if (text.includes('\n')) throw new Fallback();
    return text;
  }

  /** @param indent the indentation of the line's key or dash: a block scalar's lines go one level in */
  private scalar(v: unknown, indent: string): string {
    switch (typeof v) {
      case 'string': {
        if (v.length <= MAX_SAFE_LENGTH && SAFE.test(v) && !WORDS.test(v)) return v;
        const text = this.remembered(v);
        return text.includes('\n') ? reindent(text, `${indent}  `) : text;
      }
      case 'number':
        return Number.isSafeInteger(v) && !Object.is(v, -0) ? String(v) : this.remembered(v);
      case 'boolean':
        return v ? 'true' : 'false';
      default:
        if (v === null) return 'null';
        throw new Fallback();
    }
  }

  /**
   * The library's text for one scalar, without its final newline: one line, or a literal block
   * scalar as the library writes it at the top level (its lines not indented). Anything else on
   * more than one line (a folded or quoted multi-line form, an indentation indicator, which
   * depends on the depth, a line of blanks) goes back to the library whole.
   */
  private remembered(v: string | number): string {
    const id = `${typeof v}:${v}`;
    let text = this.memo.get(id);
    if (text === undefined) {
      text = stringify(v, this.options).slice(0, -1);
      if (text.includes('\n') && !/^\|[-+]?\n/.test(text)) throw new Fallback();
      if (/\n[ \t]+(?:\n|$)/.test(text)) throw new Fallback();
      if (this.memo.size >= MEMO_MAX) this.memo.clear();
      this.memo.set(id, text);
    }
    return text;
  }
}

/** A top-level literal block scalar's text with its content lines moved in by `indent` (empty lines stay empty). */
function reindent(text: string, indent: string): string {
  return text.replace(/\n(?!\n|$)/g, `\n${indent}`);
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
