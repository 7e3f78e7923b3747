/**
 * A short description of a value for error messages: a string quoted (and cut at 60
 * characters), a number or boolean as written (`-1`, `NaN`), otherwise its kind. Never
 * throws, never prints a whole object.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'object') return typeof value;
  try {
    if (value instanceof Date) return 'a Date';
    if (Array.isArray(value)) return 'an array';
  } catch {
    // A revoked Proxy throws on both.
  }
  return 'an object';
}
