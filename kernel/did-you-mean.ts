import leven from 'leven';

/**
 * The candidate nearest to `word` when it is a near miss (edit distance at most a third of
 * its length, at least 1; case ignored), for "did you mean" hints: `replcias` → `replicas`.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === word) return undefined;
    const d = leven(word.toLowerCase(), c.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)`, or '' when nothing is near. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const hit = nearest(word, candidates);
  return hit === undefined ? '' : ` (did you mean "${hit}"?)`;
}
