import { ActivityLogError } from '../../src/errors.js';
import type { ActivityRecord } from '../../src/schema.js';

/**
 * `toHaveLogged` and `toHaveLoggedTimes` for vitest and jest (`expect.extend(activityMatchers)`).
 * Plain synchronous matchers over what a memory store holds: they read, never flush, so a test
 * awaits `logger.flush()` first and the message says so when it did not. No runner is imported:
 * what the runner offers (`equals`, `utils.diff`) comes in through `this`.
 */

/**
 * An asymmetric matcher of either runner (`expect.any(String)`, `expect.stringContaining('ou')`).
 * vitest and `@types/jest` type them `any`; `@jest/globals` types them as objects of this shape.
 */
export interface AsymmetricMatcherLike {
  asymmetricMatch(other: unknown): boolean;
}

/** What a value of `T` may be matched with: itself, in part, a RegExp for a string, or an asymmetric matcher. */
export type ActivityPattern<T> =
  | AsymmetricMatcherLike
  | (T extends string
      ? string | RegExp
      : T extends Date
        ? Date
        : T extends readonly (infer U)[]
          ? ActivityPattern<U>[]
          : T extends object
            ? { [K in keyof T]?: ActivityPattern<T[K]> }
            : T);

/** A partial record to match: every key given must match the record's value, recursively. */
export type ExpectedActivity = ActivityPattern<ActivityRecord>;

/**
 * The matchers' signatures, to add to the runner's types.
 *
 * @example
 * // vitest.d.ts
 * import 'vitest';
 * import type { ActivityMatchers } from 'activity-log/testing';
 * declare module 'vitest' {
 *   interface Matchers<T = any> extends ActivityMatchers<T> {}
 * }
 */
export interface ActivityMatchers<R = unknown> {
  /** The logger (or memory store, or array of records) holds at least one record matching `expected`. */
  toHaveLogged(expected: ExpectedActivity): R;
  /** Exactly `times` records match `expected`. */
  toHaveLoggedTimes(times: number, expected: ExpectedActivity): R;
}

/** The part of jest's and vitest's matcher context these matchers use; each is optional. */
export interface ActivityMatcherContext {
  isNot?: boolean;
  equals?: (a: unknown, b: unknown) => boolean;
  utils?: {
    diff?: (a: unknown, b: unknown, options?: Record<string, unknown>) => string | null | undefined;
    stringify?: (value: unknown) => string;
  };
}

/** What a matcher returns to jest and vitest. */
export interface ActivityMatcherResult {
  pass: boolean;
  message: () => string;
}

/** The records to match and, from a logger, the counters behind the message's hints. */
interface Subject {
  noun: string;
  records: ActivityRecord[];
  stats?: { queued: number; invalid: number; dropped: number; failed: number; lastError?: { code?: string; message?: string } | undefined };
}

const NEAREST = 3;

/**
 * The matchers, to install once: `expect.extend(activityMatchers)` (in a setup file, or at the
 * top of a test file). `received` is a logger over a memory store (from `createTestLogger()`,
 * or any child of it), a `memoryStore()`, or an array of records.
 *
 * Matching is partial and deep, like `toMatchObject`: each key of `expected` must match; arrays
 * match element by element with the same length; a Date matches a Date of the same time; a
 * RegExp matches a string it finds itself in; asymmetric matchers (`expect.any(String)`) work.
 * `action: 'recipe.*'` is the literal action: pass `/^recipe\./` to match a family.
 *
 * @example
 * expect.extend(activityMatchers);
 * await logger.flush();
 * expect(logger).toHaveLogged({ action: 'recipe.update', actor: { id: '42' }, status: 'success' });
 * expect(logger).toHaveLoggedTimes(0, { action: /^admin\./ });
 */
export const activityMatchers = {
  toHaveLogged(this: ActivityMatcherContext, received: unknown, expected: ExpectedActivity): ActivityMatcherResult {
    const subject = subjectOf(received, 'toHaveLogged');
    checkExpected(expected, 'toHaveLogged');
    const scored = score(this, subject.records, expected);
    const matching = scored.filter((entry) => entry.ok);
    const pass = matching.length > 0;
    // A record found stays found; "none" can still change while events are queued.
    if (!pass || this.isNot) {
      const unsettled = failWhileQueued(this, subject, `${this.isNot ? 'not ' : ''}to have logged a record matching ${show(this, expected)}`);
      if (unsettled) return unsettled;
    }
    return {
      pass,
      message: () =>
        pass
          ? `expected ${subject.noun} not to have logged a record matching ${show(this, expected)}; it logged ${plural(matching.length, 'matching record')}:\n` +
            listRecords(matching) +
            hints(subject)
          : `expected ${subject.noun} to have logged a record matching ${show(this, expected)}; ${nearest(this, subject, scored, expected)}` + hints(subject),
    };
  },

  toHaveLoggedTimes(this: ActivityMatcherContext, received: unknown, times: number, expected: ExpectedActivity): ActivityMatcherResult {
    if (typeof times !== 'number' || !Number.isInteger(times) || times < 0) {
      throw new ActivityLogError('INVALID_OPTIONS', `toHaveLoggedTimes: times (the first argument) must be a non-negative integer, got ${describeValue(times)}`);
    }
    const subject = subjectOf(received, 'toHaveLoggedTimes');
    checkExpected(expected, 'toHaveLoggedTimes');
    const scored = score(this, subject.records, expected);
    const matching = scored.filter((entry) => entry.ok);
    const pass = matching.length === times;
    const what = `${plural(times, 'record')} matching ${show(this, expected)}`;
    const unsettled = failWhileQueued(this, subject, `${this.isNot ? 'not ' : ''}to have logged exactly ${what}`);
    if (unsettled) return unsettled;
    return {
      pass,
      message: () => {
        if (pass) return `expected ${subject.noun} not to have logged exactly ${what}; it did:\n${listRecords(matching)}${hints(subject)}`;
        const found = `expected ${subject.noun} to have logged ${what}; it logged ${matching.length}`;
        // Too many: the surplus are the records to look at. Too few: the nearest misses.
        if (matching.length > 0) return `${found}:\n${listRecords(matching)}${hints(subject)}`;
        return `${found}; ${nearest(this, subject, scored, expected)}${hints(subject)}`;
      },
    };
  },
};

/** The records behind `received`, oldest first, or an error saying what the matchers take. */
function subjectOf(received: unknown, matcher: string): Subject {
  if (Array.isArray(received)) {
    const bad = received.findIndex((item) => item === null || typeof item !== 'object');
    if (bad === -1) return { noun: 'the records', records: received as ActivityRecord[] };
  } else if (received !== null && typeof received === 'object') {
    const candidate = received as { all?: unknown; store?: { all?: unknown }; stats?: unknown };
    // A memory store lists newest first; the matchers read oldest first, as the test logged them.
    if (typeof candidate.all === 'function') return { noun: 'the store', records: (candidate.all as () => ActivityRecord[])().reverse() };
    if (typeof candidate.stats === 'function' && typeof candidate.store?.all === 'function') {
      return {
        noun: 'the logger',
        records: (candidate.store.all as () => ActivityRecord[])().reverse(),
        stats: (candidate.stats as () => Subject['stats'])(),
      };
    }
  }
  throw new ActivityLogError(
    'INVALID_OPTIONS',
    `${matcher}: expects a logger over a memory store (createTestLogger(), or a child from its with()), a memoryStore(), ` +
      `or an array of activity records; got ${describeValue(received)}`,
  );
}

function checkExpected(expected: unknown, matcher: string): void {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected)) {
    throw new ActivityLogError('INVALID_OPTIONS', `${matcher}: expected must be an object of the fields to match, got ${describeValue(expected)}`);
  }
  checkPattern(expected, 'expected', matcher, new Set());
}

/**
 * Refuses what a record can never hold and the matching would otherwise read as "anything":
 * a Map or Set (no own keys to compare) or a Symbol key (records have none).
 */
function checkPattern(value: unknown, path: string, matcher: string, seen: Set<object>): void {
  if (value === null || typeof value !== 'object' || isAsymmetric(value) || value instanceof Date || value instanceof RegExp || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkPattern(item, `${path}[${index}]`, matcher, seen));
    return;
  }
  // A plain object of any realm (jest runs tests in a context of their own): its prototype is null or a root.
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype !== null && Object.getPrototypeOf(prototype) !== null) {
    const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw new ActivityLogError('INVALID_OPTIONS', `${matcher}: ${path} must be a plain object, an array or a value a record holds, got a ${kind}`);
  }
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new ActivityLogError('INVALID_OPTIONS', `${matcher}: ${path} has Symbol keys, which no record has; name fields with strings`);
  }
  for (const [key, item] of Object.entries(value)) checkPattern(item, `${path}.${key}`, matcher, seen);
}

/** How far a record is from `expected`: leaf paths in all, those that match, and the record seen through `expected`. */
interface Scored {
  record: ActivityRecord;
  leaves: number;
  matched: number;
  ok: boolean;
  /** The record projected onto the keys of `expected`, a matching leaf shown as its expected value so a diff shows only misses. */
  projected: unknown;
  /** The paths that do not match. */
  misses: string[];
}

function score(context: ActivityMatcherContext, records: ActivityRecord[], expected: unknown): Scored[] {
  return records.map((record) => {
    const misses: string[] = [];
    const result = compare(context, expected, record, '', misses);
    return { record, leaves: result.leaves, matched: result.matched, ok: result.matched === result.leaves, projected: result.projected, misses };
  });
}

interface Comparison {
  leaves: number;
  matched: number;
  projected: unknown;
}

function compare(context: ActivityMatcherContext, expected: unknown, actual: unknown, path: string, misses: string[]): Comparison {
  const leaf = (ok: boolean): Comparison => {
    if (!ok) misses.push(path || '(record)');
    return { leaves: 1, matched: ok ? 1 : 0, projected: ok ? expected : actual };
  };
  if (isAsymmetric(expected)) return leaf(context.equals ? context.equals(actual, expected) : expected.asymmetricMatch(actual));
  if (expected instanceof RegExp) {
    // search() ignores lastIndex, so a /g pattern matches the same way every time.
    return leaf(typeof actual === 'string' ? actual.search(expected) !== -1 : actual instanceof RegExp && String(actual) === String(expected));
  }
  if (expected instanceof Date) return leaf(actual instanceof Date && actual.getTime() === expected.getTime());
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length || expected.length === 0) {
      return leaf(Array.isArray(actual) && actual.length === expected.length);
    }
    return combine(expected.map((item, index) => compare(context, item, actual[index], `${path}[${index}]`, misses)), (parts) => parts);
  }
  if (expected !== null && typeof expected === 'object') {
    const keys = Object.keys(expected);
    // An object expected where the record has none, or `{}` (any object): one leaf, so the diff shows the whole value.
    if (keys.length === 0 || actual === null || typeof actual !== 'object') return leaf(keys.length === 0 && actual !== null && typeof actual === 'object');
    const parts = keys.map((key) =>
      compare(context, (expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], path ? `${path}.${key}` : key, misses),
    );
    return combine(parts, (projected) => Object.fromEntries(keys.map((key, index) => [key, projected[index]])));
  }
  return leaf(context.equals ? context.equals(actual, expected) : Object.is(actual, expected));
}

function combine(parts: Comparison[], shape: (projected: unknown[]) => unknown): Comparison {
  let leaves = 0;
  let matched = 0;
  for (const part of parts) {
    leaves += part.leaves;
    matched += part.matched;
  }
  return { leaves, matched, projected: shape(parts.map((part) => part.projected)) };
}

function isAsymmetric(value: unknown): value is { asymmetricMatch(other: unknown): boolean } {
  return value !== null && typeof value === 'object' && typeof (value as { asymmetricMatch?: unknown }).asymmetricMatch === 'function';
}

/** "it logged N records, the nearest K:" and a diff of each, nearest first. */
function nearest(context: ActivityMatcherContext, subject: Subject, scored: Scored[], expected: unknown): string {
  const total = subject.records.length;
  if (total === 0) return 'it logged no records.';
  // Stable sort: among equally near records, the earliest logged comes first.
  const ranked = [...scored].sort((a, b) => b.matched - a.matched).slice(0, NEAREST);
  const head = `it logged ${plural(total, 'record')}, ${ranked.length === 1 ? 'the nearest' : `the nearest ${ranked.length}`}:`;
  return [head, ...ranked.map((entry, index) => `\n#${index + 1} ${label(entry.record)}, ${entry.matched} of ${entry.leaves} fields match:\n${difference(context, expected, entry)}`)].join('\n');
}

function difference(context: ActivityMatcherContext, expected: unknown, entry: Scored): string {
  const diff = context.utils?.diff?.(expected, entry.projected, { expand: false });
  if (diff) return indent(diff);
  return entry.misses.map((path) => `  ${path}: expected ${show(context, at(expected, path))}, got ${show(context, at(entry.projected, path))}`).join('\n');
}

/** The value at a path as `compare` writes them (`a.b[2].c`). */
function at(value: unknown, path: string): unknown {
  if (path === '(record)') return value;
  let current = value;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function listRecords(entries: Scored[]): string {
  const shown = entries.slice(0, NEAREST).map((entry) => `  - ${label(entry.record)}: ${oneLine(entry.record)}`);
  if (entries.length > NEAREST) shown.push(`  ... and ${entries.length - NEAREST} more`);
  return shown.join('\n');
}

/**
 * A failing result (whether or not under `.not`) while the logger still has events queued:
 * the answer could change once they are stored, so no assertion on it may pass yet.
 */
function failWhileQueued(context: ActivityMatcherContext, subject: Subject, claim: string): ActivityMatcherResult | undefined {
  const queued = subject.stats?.queued ?? 0;
  if (queued === 0) return undefined;
  return {
    pass: context.isNot === true,
    message: () => `expected ${subject.noun} ${claim}; cannot tell yet: ${plural(queued, 'event')} still queued: await logger.flush() before asserting`,
  };
}

/** What the counters of a logger add: events not yet written, and events that never will be. */
function hints(subject: Subject): string {
  const stats = subject.stats;
  if (!stats) return '';
  const lines: string[] = [];
  if (stats.queued > 0) lines.push(`${plural(stats.queued, 'event')} still queued: await logger.flush() before asserting`);
  const lost = stats.invalid + stats.dropped + stats.failed;
  if (lost > 0) {
    const last = stats.lastError ? `; last error: ${stats.lastError.code}: ${stats.lastError.message}` : '';
    lines.push(`${plural(lost, 'event')} not stored (invalid ${stats.invalid}, dropped ${stats.dropped}, failed ${stats.failed})${last}`);
  }
  return lines.length > 0 ? `\n\n${lines.join('\n')}` : '';
}

function label(record: ActivityRecord): string {
  const when = record.occurredAt instanceof Date ? ` at ${record.occurredAt.toISOString()}` : '';
  return `${String(record.action)} (${String(record.id)}${when})`;
}

function show(context: ActivityMatcherContext, value: unknown): string {
  if (context.utils?.stringify) return context.utils.stringify(value);
  return oneLine(value);
}

/** Marks a rendering that JSON would quote, to unquote it after (`Date(...)`, `/re/`, `undefined`). */
const BARE = '\u0001';
const UNQUOTE = /"\\u0001(.*?)\\u0001"/g;

/** A compact one-line rendering that keeps Dates, RegExps, undefined and asymmetric matchers readable. */
function oneLine(value: unknown): string {
  try {
    const json = JSON.stringify(value, function (key, item: unknown) {
      const raw = (this as Record<string, unknown>)[key];
      if (raw instanceof Date) return `${BARE}Date(${Number.isNaN(raw.getTime()) ? 'invalid' : raw.toISOString()})${BARE}`;
      if (raw instanceof RegExp) return `${BARE}${String(raw)}${BARE}`;
      if (isAsymmetric(raw)) {
        const named = raw as { toAsymmetricMatcher?: () => string };
        return `${BARE}${typeof named.toAsymmetricMatcher === 'function' ? named.toAsymmetricMatcher() : String(raw)}${BARE}`;
      }
      if (item === undefined) return `${BARE}undefined${BARE}`;
      return item;
    });
    return json.replace(UNQUOTE, (_match, text: string) => JSON.parse(`"${text}"`) as string);
  } catch {
    return String(value);
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object with keys ${JSON.stringify(Object.keys(value as object).slice(0, 5))}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
