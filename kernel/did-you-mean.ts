import leven from 'leven';

/**
 * The candidates nearest to `word` when it is a near miss (edit distance at most a third of
 * its length, at least 1; case ignored), every one at that distance, in the order given:
 * `asia-south9` → `asia-south1`, `asia-south2`. None when `word` is itself a candidate.
 */
export function nearestAll(word: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string[] = [];
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === word) return [];
    const d = leven(word.toLowerCase(), c.toLowerCase());
    if (d > limit || d > bestDistance) continue;
    if (d < bestDistance) best = [];
    best.push(c);
    bestDistance = d;
  }
  return best;
}

/** The first of the nearest candidates (see nearestAll), for "did you mean" hints: `replcias` → `replicas`. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  return nearestAll(word, candidates)[0];
}

/**
 * ` (did you mean "x"?)`, ` (did you mean "x" or "y"?)` for equally near ones (up to three),
 * or '' when nothing is near.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const hits = nearestAll(word, candidates);
  if (hits.length === 0 || hits.length > 3) return '';
  const quoted = hits.map((h) => `"${h}"`);
  return ` (did you mean ${quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}` : quoted[0]}?)`;
}
