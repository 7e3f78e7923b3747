import type { ActivityChanges } from './schema.js';

/**
 * Reduces `{ before, after }` to the fields that differ, each with its two values. A field
 * present on one side only is paired with `null` on the other. Values are JSON data (the
 * snapshot made them so), compared structurally.
 */
export function diffChanges(
  before: Record<string, unknown> | null | undefined,
  after: Record<string, unknown> | null | undefined,
): ActivityChanges {
  const from = before ?? {};
  const to = after ?? {};
  const diff: ActivityChanges = {};
  const keys = new Set([...Object.keys(from), ...Object.keys(to)]);
  for (const key of keys) {
    const a = Object.hasOwn(from, key) ? from[key] : null;
    const b = Object.hasOwn(to, key) ? to[key] : null;
    if (!jsonEqual(a, b)) {
      const entry = { before: a, after: b };
      if (key === '__proto__') Object.defineProperty(diff, key, { value: entry, enumerable: true, writable: true, configurable: true });
      else diff[key] = entry;
    }
  }
  return diff;
}

/** Structural equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => jsonEqual(item, other[i]));
  }
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  if (aKeys.length !== Object.keys(bRecord).length) return false;
  return aKeys.every((key) => Object.hasOwn(bRecord, key) && jsonEqual((a as Record<string, unknown>)[key], bRecord[key]));
}
