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
