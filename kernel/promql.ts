/**
 * PromQL syntax checks with the Prometheus project's own grammar (the Lezer parser its web
 * UI uses), so a broken query fails synth instead of failing silently in KEDA or a rule.
 */
import { parser } from '@prometheus-io/lezer-promql';

/**
 * Queries already parsed, and their errors: the same expression is checked where it is
 * written (spec, construct) and again in the rendered object, and most repeat in every region
 * and environment. Bounded: cleared when it holds MAX_CACHED queries.
 */
const parsed = new Map<string, readonly string[]>();
const MAX_CACHED = 50_000;

/** Syntax errors of a PromQL expression, each naming the column and the text there; [] when valid. */
export function promqlErrors(query: string): string[] {
  let errors = parsed.get(query);
  if (errors === undefined) {
    if (parsed.size >= MAX_CACHED) parsed.clear();
    errors = parse(query);
    parsed.set(query, errors);
  }
  return [...errors];
}

function parse(query: string): string[] {
  if (query.trim() === '') return ['is empty'];
  const errors: string[] = [];
  parser.parse(query).iterate({
    enter: (node) => {
      if (!node.type.isError) return;
      const near = query.slice(node.from, node.from + 20);
      errors.push(near ? `syntax error at column ${node.from + 1} near "${near}"` : `syntax error at column ${node.from + 1}: unexpected end of query`);
    },
  });
  return errors;
}

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  /** The matched value, unquoted. */
  readonly value: string;
}

/** One instant-vector selector of a query (inside a range selector, a subquery or a function alike). */
export interface VectorSelector {
  /** The metric name, written before the braces or as `__name__="..."`; undefined when only matched by regex or not at all. */
  readonly metric?: string;
  /** The label matchers in the braces, `__name__` excepted. */
  readonly matchers: readonly LabelMatcher[];
  /** The selector's text in the query. */
  readonly text: string;
  /** Offset in the query where a matcher can be inserted: before the closing brace, or after the metric name when there are no braces. */
  readonly insertAt: number;
  /** The selector has braces and at least one matcher in them (an inserted matcher needs a comma). */
  readonly hasMatchers: boolean;
  /** The selector has braces. */
  readonly hasBraces: boolean;
}

/** Unquotes a PromQL string literal ("…", '…' with Go escapes, or `…` raw). */
function unquote(literal: string): string {
  const quote = literal[0];
  const body = literal.slice(1, -1);
  if (quote === '`') return body;
  return body.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' })[c as 'n'] ?? c);
}

/** The selectors of queries already read, bounded as `parsed` is (the checks read each rule's query in every scope). */
const selectorsOf = new Map<string, readonly VectorSelector[]>();

/** Every vector selector of a valid query, in the order written. Throws on invalid PromQL. */
export function vectorSelectors(query: string): VectorSelector[] {
  let selectors = selectorsOf.get(query);
  if (selectors === undefined) {
    const errors = promqlErrors(query);
    if (errors.length > 0) throw new Error(`not valid PromQL: ${errors.join('; ')}`);
    if (selectorsOf.size >= MAX_CACHED) selectorsOf.clear();
    selectors = readSelectors(query);
    selectorsOf.set(query, selectors);
  }
  return [...selectors];
}

function readSelectors(query: string): VectorSelector[] {
  const out: VectorSelector[] = [];
  const text = (n: { from: number; to: number }) => query.slice(n.from, n.to);
  parser.parse(query).iterate({
    enter: (ref) => {
      if (ref.name !== 'VectorSelector') return;
      const node = ref.node;
      let metric: string | undefined;
      const matchers: LabelMatcher[] = [];
      const identifier = node.getChild('Identifier');
      if (identifier) metric = text(identifier);
      const braces = node.getChild('LabelMatchers');
      if (braces) {
        for (let m = braces.firstChild; m; m = m.nextSibling) {
          if (m.name === 'QuotedLabelName') {
            // `{"metric.name"}`: a metric name written as a string (Prometheus 3 UTF-8 names).
            metric = unquote(text(m.getChild('StringLiteral')!));
            continue;
          }
          if (m.name !== 'UnquotedLabelMatcher' && m.name !== 'QuotedLabelMatcher') continue;
          const nameNode = m.getChild('LabelName') ?? m.getChild('QuotedLabelName')?.getChild('StringLiteral');
          const op = m.getChild('MatchOp');
          const values = m.getChildren('StringLiteral');
          if (!nameNode || !op || values.length === 0) continue;
          const name = nameNode.name === 'LabelName' ? text(nameNode) : unquote(text(nameNode));
          const matcher = { name, op: text(op) as MatchOp, value: unquote(text(values[values.length - 1])) };
          if (name === '__name__' && matcher.op === '=') metric = matcher.value;
          else if (name !== '__name__') matchers.push(matcher);
        }
      }
      out.push({
        metric,
        matchers,
        text: text(node),
        insertAt: braces ? braces.to - 1 : node.to,
        hasMatchers: braces ? /[^\s{}]/.test(text(braces)) : false,
        hasBraces: braces !== null,
      });
      return false;
    },
  });
  return out;
}
