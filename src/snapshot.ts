import { normalizeThrown } from './normalize-error.js';

/**
 * The caller-side copy of an event. `log()` must return at once, never throw, and store what
 * the caller passed at that moment, whatever it is given: so this module copies plain data
 * (not a serialisation: strings are shared, not re-encoded) and turns everything that is not
 * JSON data into something that is, catching every throw on the way.
 *
 *  - circular references become `"[Circular]"`, nesting past {@link MAX_DEPTH} `"[Too deep]"`
 *  - BigInt becomes its decimal string, NaN and Infinity their names, a Date its ISO string
 *  - functions, symbols and `undefined` are omitted, as JSON does
 *  - Map becomes an object, Set an array, binary data `"[Binary N bytes]"`, an Error `{ name, message }`
 *  - a getter or Proxy trap that throws yields `"[Unreadable]"` for that value only
 *  - a `__proto__` key is copied as a plain own property, never as a prototype
 */

/** Deepest nesting copied; deeper values are replaced by a marker. */
export const MAX_DEPTH = 20;

/** Top-level fields of an event, in the order they are copied. */
export const EVENT_FIELDS = [
  'id',
  'action',
  'status',
  'actor',
  'target',
  'tenantId',
  'metadata',
  'changes',
  'error',
  'context',
  'occurredAt',
] as const;

type EventField = (typeof EVENT_FIELDS)[number];
const EVENT_FIELD_SET: ReadonlySet<string> = new Set(EVENT_FIELDS);

/** A copied event, as it waits in the queue. Validation happens later, in the flusher. */
export interface EventSnapshot {
  fields: Partial<Record<EventField, unknown>>;
  /** Top-level keys the event schema does not know; reported by name. */
  unknownKeys?: string[];
  /** Why the value could not be read as an event at all (not an object, unreadable). */
  problem?: string;
}

/** Copies what a caller passed to `log()`. Never throws. */
export function snapshotEvent(input: unknown, includeStack: boolean): EventSnapshot {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { fields: {}, problem: `event: must be an object with an "action", got ${typeName(input)}` };
  }
  try {
    const fields: EventSnapshot['fields'] = {};
    let unknownKeys: string[] | undefined;
    for (const key of Object.keys(input)) {
      if (!EVENT_FIELD_SET.has(key)) {
        (unknownKeys ??= []).push(key);
        continue;
      }
      let value: unknown;
      try {
        value = (input as Record<string, unknown>)[key];
      } catch {
        fields[key as EventField] = UNREADABLE;
        continue;
      }
      if (value === undefined) continue;
      if (key === 'error') fields.error = normalizeThrown(value, includeStack);
      else if (key === 'occurredAt') fields.occurredAt = value instanceof Date ? new Date(value.getTime()) : copyValue(value, 1, []);
      else fields[key as EventField] = copyValue(value, 1, []);
    }
    return unknownKeys ? { fields, unknownKeys } : { fields };
  } catch {
    return { fields: {}, problem: 'event: could not be read (a Proxy or getter threw)' };
  }
}

/** Copies bound context for `with()`; same rules as an event's fields. Never throws. */
export function snapshotPlain(value: unknown): unknown {
  return copyValue(value, 0, []);
}

const UNREADABLE = '[Unreadable]';

function copyValue(value: unknown, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  try {
    return copyObject(value as object, depth, ancestors);
  } catch {
    return UNREADABLE;
  }
}

function copyObject(value: object, depth: number, ancestors: object[]): unknown {
  if (ancestors.includes(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Too deep]';
  if (Array.isArray(value)) {
    ancestors.push(value);
    const length = value.length;
    const out = new Array<unknown>(length);
    for (let i = 0; i < length; i++) {
      let item: unknown;
      try {
        item = value[i];
      } catch {
        item = UNREADABLE;
      }
      const copied = copyValue(item, depth + 1, ancestors);
      out[i] = copied === undefined ? null : copied;
    }
    ancestors.pop();
    return out;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return normalizeThrown(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[Binary ${value.byteLength} bytes]`;
  if (value instanceof Map) {
    ancestors.push(value);
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) setOwn(out, String(key), copyValue(item, depth + 1, ancestors));
    ancestors.pop();
    return out;
  }
  if (value instanceof Set) return copyObject(Array.from(value), depth, ancestors);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    ancestors.push(value);
    const copied = copyValue(toJSON.call(value), depth, ancestors);
    ancestors.pop();
    return copied;
  }
  ancestors.push(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch {
      item = UNREADABLE;
    }
    setOwn(out, key, copyValue(item, depth + 1, ancestors));
  }
  ancestors.pop();
  return out;
}

/** Sets `key` as an own data property; `__proto__` would otherwise replace the prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) return;
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}
