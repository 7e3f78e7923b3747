/**
 * Text every store can hold, and holds the same.
 *
 * PostgreSQL refuses U+0000 in text columns (`invalid byte sequence for encoding "UTF8": 0x00`)
 * and in jsonb (`unsupported Unicode escape sequence`), and refuses a lone surrogate in jsonb;
 * MariaDB's JSON check refuses lone surrogates too; SQLite stores both, but a lone surrogate in
 * a text column comes back as U+FFFD while the same one in a JSON column comes back as itself.
 * So one rule applies to every string of a record (keys included) before any store sees it:
 *
 *   **U+0000 and every lone surrogate (an unpaired U+D800–U+DFFF) become U+FFFD.**
 *
 * Valid surrogate pairs (emoji, every astral character) are kept. U+FFFD is one UTF-16 unit,
 * like what it replaces, so every length limit that held before still holds. Filters are
 * normalised by the same rule, so a query for what was logged finds what was stored.
 */

/** What replaces a character no store can hold: U+FFFD REPLACEMENT CHARACTER. */
export const REPLACEMENT_CHARACTER = '\uFFFD';

const hasNativeWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` with U+0000 and lone surrogates replaced by U+FFFD; the same string when there are none. */
export function storableText(text: string): string {
  const wellFormed = hasNativeWellFormed ? text.isWellFormed() : !LONE_SURROGATE.test(text);
  LONE_SURROGATE.lastIndex = 0;
  if (wellFormed && !text.includes('\0')) return text;
  const fixed = wellFormed ? text : hasNativeWellFormed ? text.toWellFormed() : text.replace(LONE_SURROGATE, REPLACEMENT_CHARACTER);
  return fixed.includes('\0') ? fixed.replaceAll('\0', REPLACEMENT_CHARACTER) : fixed;
}

/**
 * `text` cut to at most `max` UTF-16 units without splitting a surrogate pair: when the cut
 * would fall between an emoji's two halves, the whole character goes. A half left behind is a
 * lone surrogate, which PostgreSQL's jsonb and MariaDB's JSON check refuse (a captured write
 * would fail with it) and which every store would otherwise show as U+FFFD.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  const next = text.charCodeAt(max);
  const splitsPair = last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
  return text.slice(0, splitsPair ? max - 1 : max);
}

/**
 * A JSON value (plain objects, arrays, primitives) with {@link storableText} applied to every
 * string and every key. Copy-on-write: a value with nothing to change is returned as it is.
 * Keys are data: a `__proto__` key stays an own property, and two keys that become equal keep
 * both values (the second is stored under its key with a numeric suffix, ` (2)`), so nothing
 * is lost.
 */
export function storableJson<T>(value: T): T {
  return walk(value) as T;
}

function walk(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = walk(value[i]);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  let changed = false;
  const fixedKeys = new Array<string>(keys.length);
  const fixedValues = new Array<unknown>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const fixedKey = storableText(key);
    const item = walk(source[key]);
    fixedKeys[i] = fixedKey;
    fixedValues[i] = item;
    if (fixedKey !== key || item !== source[key]) changed = true;
  }
  if (!changed) return value;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    // Two keys that differed only by what was replaced: keep both.
    defineOwn(out, freeKey(out, fixedKeys[i]!), fixedValues[i]);
  }
  return out;
}

/**
 * `key`, or where `target` has it already, the first of `key (2)`, `key (3)`... it has not:
 * two keys that became the same text keep both their values.
 */
export function freeKey(target: Record<string, unknown>, key: string): string {
  let free = key;
  for (let n = 2; Object.hasOwn(target, free); n++) free = `${key} (${n})`;
  return free;
}

/** Sets `key` as an own enumerable data property, `__proto__` included. */
export function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
