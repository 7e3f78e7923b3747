import { defineOwn } from './text.js';

/**
 * Caps the serialised size of a JSON object. Values are replaced whole, largest first, by a
 * marker that says how large they were, so what is stored is always valid JSON and never a
 * value silently cut in the middle.
 */

/** Bytes of `text` in UTF-8. */
export function utf8Length(text: string): number {
  const NodeBuffer = (globalThis as { Buffer?: { byteLength(text: string, encoding: string): number } }).Buffer;
  if (NodeBuffer) return NodeBuffer.byteLength(text, 'utf8');
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The marker stored in place of a value that did not fit. */
export function truncatedMarker(bytes: number): string {
  return `[truncated: ${bytes} bytes]`;
}

/** Key under which a whole object is summarised when even its markers do not fit. */
export const TRUNCATED_KEY = '_truncated';

/**
 * An upper bound of the UTF-8 JSON size of `value`, computed without serialising, that stops
 * counting once past `limit`. Most metadata is small, and this proves it cheaply.
 */
function jsonSizeUpperBound(value: unknown, limit: number): number {
  switch (typeof value) {
    case 'string':
      return value.length * 6 + 2; // every UTF-16 unit as a \uXXXX escape at worst
    case 'number':
      return 24;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      let size = 2;
      if (Array.isArray(value)) {
        for (const item of value) {
          size += jsonSizeUpperBound(item, limit) + 1;
          if (size > limit) return size;
        }
        return size;
      }
      for (const key of Object.keys(value)) {
        size += key.length * 6 + 4 + jsonSizeUpperBound((value as Record<string, unknown>)[key], limit);
        if (size > limit) return size;
      }
      return size;
    }
    default:
      return 0;
  }
}

/** Returns `value` unchanged when its JSON fits in `maxBytes`, else a copy with the largest values replaced. */
export function capJsonObject(value: Record<string, unknown>, maxBytes: number): Record<string, unknown> {
  if (jsonSizeUpperBound(value, maxBytes) <= maxBytes) return value;
  const total = utf8Length(JSON.stringify(value));
  if (total <= maxBytes) return value;
  const sizes = Object.keys(value)
    .map((key) => ({ key, bytes: utf8Length(JSON.stringify(value[key]) ?? '') }))
    .sort((a, b) => b.bytes - a.bytes);
  const out: Record<string, unknown> = { ...value };
  let remaining = total;
  for (const { key, bytes } of sizes) {
    const marker = truncatedMarker(bytes);
    remaining += utf8Length(JSON.stringify(marker)) - bytes;
    defineOwn(out, key, marker);
    if (remaining <= maxBytes) return out;
  }
  return { [TRUNCATED_KEY]: truncatedMarker(total) };
}
