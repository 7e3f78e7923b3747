import { ActivityLogError } from './errors.js';

/**
 * Refuses an options object with a key none of `known` names: a misspelt option (`personl`,
 * `batchsize`) would otherwise be ignored without a word, and what it meant to turn on stay
 * off. TypeScript catches these in an object literal; JavaScript, and options read from
 * configuration, do not. Throws `INVALID_OPTIONS` naming the key, the nearest known name, and
 * the known ones. @internal
 */
export function refuseUnknownOptions(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearest(key, known);
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      `${where}: unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}; the options are ${known.join(', ')}`,
    );
  }
}

/** The known name closest to `key` (case aside, within a third of its length in edits), if any. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions of one character each. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
