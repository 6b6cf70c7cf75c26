/** Edit distance between two words (Levenshtein), for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * The candidate closest to a mistyped word (case-insensitive), when it is plausibly a typo:
 * within a third of the length of `lengthOf` (the typed word or the candidate).
 */
export function closest(typed: string, candidates: Iterable<string>, lengthOf: 'typed' | 'candidate' = 'candidate'): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(typed.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const length = lengthOf === 'typed' ? typed.length : best.length;
  return bestDistance <= Math.max(1, Math.floor(length / 3)) ? best : undefined;
}
