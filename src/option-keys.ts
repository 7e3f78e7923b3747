import { ActivityLogError } from './errors.js';

/** The string keys of `T`, of every member when `T` is a union (`{ filename } | { database }`). */
type OptionKeys<T> = T extends unknown ? Extract<keyof T, string> : never;
/** `Listed` when it names every key of `All`, else a type no list is, naming what is missing. */
type EveryKey<All extends string, Listed extends readonly string[]> = [Exclude<All, Listed[number]>] extends [never] ? Listed : { missing: Exclude<All, Listed[number]> };

/**
 * The names of an options interface, for {@link refuseUnknownOptions}, checked against it by
 * the compiler both ways: a name the interface lacks, or a property of the interface left out
 * of the list, fails `tsc`. Keep the list next to the interface it mirrors.
 *
 * @example
 * const RETRY_OPTIONS = optionNames<RetryOptions>()(['maxAttempts', 'baseDelayMs', 'maxDelayMs']);
 * @internal
 */
export function optionNames<T>(): <const Listed extends readonly OptionKeys<T>[]>(names: Listed & EveryKey<OptionKeys<T>, Listed>) => Listed {
  return (names) => names;
}

/**
 * Refuses an options object with a key none of `known` names: a misspelt option (`personl`,
 * `batchsize`) would otherwise be ignored without a word, and what it meant to turn on stay
 * off. TypeScript catches these in an object literal; JavaScript, and options read from
 * configuration, do not. Throws `INVALID_OPTIONS` naming the key, the nearest known name, and
 * the known ones (or `code`). Setup code only: never per request or per `log()`. @internal
 */
export function refuseUnknownOptions(where: string, options: unknown, known: readonly string[], code: 'INVALID_OPTIONS' | 'INVALID_QUERY' = 'INVALID_OPTIONS'): void {
  // Anything but an object (undefined, a number, an array) is the caller's own check to name.
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return;
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearest(key, known);
    const problem = `unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`;
    // The issue too, as the zod checks give it: the admin API names a query's bad fields by it.
    throw new ActivityLogError(code, `${where}: ${problem}; the options are ${known.join(', ')}`, { details: { issues: [{ path: [key], message: problem }] } });
  }
}

/** The known name closest to `key` (case aside, within a third of its length in edits), if any. @internal */
export function nearest(key: string, known: readonly string[]): string | undefined {
  // A key this long is no misspelling of a field name; and the table below grows with it
  // (keys can come from logged data: a catalog schema's unknown metadata key).
  if (key.length > MAX_SUGGESTED_LENGTH) return undefined;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  const lower = key.toLowerCase();
  for (const name of known) {
    // The distance is at least the difference in length: no table needed to rule a name out.
    if (Math.abs(name.length - key.length) >= bestDistance) continue;
    const distance = editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Keys longer than this get no suggestion. */
const MAX_SUGGESTED_LENGTH = 64;

/** Edit distance: insertions, deletions, substitutions and swaps of neighbours, one each. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}
