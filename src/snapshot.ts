import { describeValue } from './describe.js';
import { normalizeThrown, ThrownObject } from './normalize-error.js';
import { EVENT_FIELDS } from './schema.js';
import { freeKey } from './text.js';

/**
 * The caller-side copy of an event. `log()` must return at once, never throw, and store what
 * the caller passed at that moment, whatever it is given: so this module copies plain data
 * (not a serialisation: strings are shared, not re-encoded) and turns everything that is not
 * JSON data into something that is, catching every throw on the way.
 *
 *  - circular references become `"[Circular]"`, nesting past {@link MAX_DEPTH} `"[Too deep]"`
 *  - BigInt becomes its decimal string, NaN and Infinity their names, a Date its ISO string
 *  - functions, symbols and `undefined` are omitted, as JSON does
 *  - Map becomes an object (keys that read the same as text kept apart by a ` (2)` suffix), Set an array, binary data `"[Binary N bytes]"`, an Error `{ name, message }`
 *  - a getter or Proxy trap that throws yields `"[Unreadable]"` for that value only, inside
 *    data (`metadata`, `changes`, `error`); in a field that names something (`id`, `action`,
 *    `status`, `tenantId`, `occurredAt`, the members of `actor`, `target` and `context`) it
 *    makes the event invalid, naming the field: no marker is ever stored as an id or a tenant
 *  - those naming fields take a primitive, a Date (its ISO string) or what `toJSON()` returns;
 *    any other object is left an empty object or array for validation to refuse, never one of
 *    the markers above (`"[Circular]"`, `"[Binary N bytes]"`...), which would pass as text
 *  - a `__proto__` key is copied as a plain own property, never as a prototype
 */

/** Deepest nesting copied; deeper values are replaced by a marker. */
export const MAX_DEPTH = 20;

type EventField = (typeof EVENT_FIELDS)[number];
const EVENT_FIELD_SET: ReadonlySet<string> = new Set(EVENT_FIELDS);

/** A copied event, as it waits in the queue. Validation happens later, in the flusher. */
export interface EventSnapshot {
  fields: Partial<Record<EventField, unknown>>;
  /** Top-level keys the event schema does not know; reported by name. */
  unknownKeys: string[] | undefined;
  /** Why the value could not be read as an event at all (not an object, unreadable). */
  problem: string | undefined;
}

type Copied = Pick<EventSnapshot, 'fields' | 'unknownKeys'>;
const NO_FIELDS: EventSnapshot['fields'] = Object.freeze({});

/**
 * Copies what a caller passed to `log()` into `into` (the queued entry itself, to spare an
 * allocation on the caller's path). Never throws.
 */
export function snapshotEvent<T extends EventSnapshot>(input: unknown, includeStack: boolean, into: T): T {
  const array = input !== null && typeof input === 'object' && isArray(input);
  if (array === 'unreadable') {
    into.fields = NO_FIELDS;
    into.problem = 'event: could not be read (a revoked Proxy)';
    return into;
  }
  if (input === null || typeof input !== 'object' || array) {
    into.fields = NO_FIELDS;
    into.problem = `event: must be an object with an "action", got ${describeValue(input)}`;
    return into;
  }
  let copied: Copied | undefined;
  try {
    copied = snapshotFast(input as Record<string, unknown>, includeStack);
  } catch {
    // A getter or Proxy trap threw: copy field by field, marking only what cannot be read.
    try {
      copied = snapshotCareful(input, includeStack);
    } catch (error) {
      into.fields = NO_FIELDS;
      into.problem = error instanceof UnreadableAt ? unreadableMessage(error.path) : 'event: could not be read (a Proxy or getter threw)';
      return into;
    }
  }
  into.fields = copied.fields;
  into.unknownKeys = copied.unknownKeys;
  return into;
}

/** `Array.isArray`, which throws for a revoked Proxy: such a value is unreadable, not an array. */
function isArray(value: object): boolean | 'unreadable' {
  try {
    return Array.isArray(value);
  } catch {
    return 'unreadable';
  }
}

/**
 * The common case, read into a fixed-shape object (cheap for V8). Undefined fields stay as
 * undefined properties; the flusher skips them.
 */
function snapshotFast(source: Record<string, unknown>, includeStack: boolean): Copied {
  const { id, action, status, actor, target, tenantId, metadata, changes, error, context, occurredAt } = source;
  const fields: EventSnapshot['fields'] = {
    id: typeof id === 'string' || id === undefined ? id : copyScalar(id, 'id'),
    action: typeof action === 'string' || action === undefined ? action : copyScalar(action, 'action'),
    status: typeof status === 'string' || status === undefined ? status : copyScalar(status, 'status'),
    actor: actor === undefined ? undefined : copyActorOrTarget(actor, 'actor'),
    target: target === undefined ? undefined : copyActorOrTarget(target, 'target'),
    tenantId: typeof tenantId === 'string' || tenantId === undefined ? tenantId : copyScalar(tenantId, 'tenantId'),
    metadata: metadata === undefined ? undefined : copyValue(metadata, 1, []),
    changes: changes === undefined ? undefined : copyValue(changes, 1, []),
    error: error === undefined ? undefined : snapshotThrown(error, includeStack),
    context: context === undefined ? undefined : copyContext(context),
    occurredAt: copyTime(occurredAt),
  };
  const defined = definedCount(id, action, status, actor, target, tenantId, metadata, changes, error, context, occurredAt);
  const keys = Object.keys(source);
  if (keys.length === defined) return { fields, unknownKeys: undefined };
  const unknownKeys = keys.filter((key) => !EVENT_FIELD_SET.has(key));
  return { fields, unknownKeys: unknownKeys.length > 0 ? unknownKeys : undefined };
}

/** Field by field, each read guarded: for events whose getters or Proxy traps throw. */
function snapshotCareful(input: object, includeStack: boolean): Copied {
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
      if (!DATA_FIELDS.has(key)) throw new UnreadableAt(key);
      fields[key as EventField] = UNREADABLE;
      continue;
    }
    if (value === undefined) continue;
    if (key === 'actor' || key === 'target') fields[key] = copyActorOrTarget(value, key);
    else if (key === 'context') fields.context = copyContext(value);
    else if (key === 'error') fields.error = snapshotThrown(value, includeStack);
    else if (key === 'occurredAt') fields.occurredAt = copyTime(value);
    else if (DATA_FIELDS.has(key)) fields[key as EventField] = copyValue(value, 1, []);
    else fields[key as EventField] = copyScalar(value, key);
  }
  return { fields, unknownKeys };
}

/**
 * An Error or a string is normalised now; any other object is copied as data and described by
 * the flusher, which redacts its keys (see ThrownObject).
 */
function snapshotThrown(error: unknown, includeStack: boolean): unknown {
  if (error !== null && typeof error === 'object' && !(error instanceof Error)) {
    const copied = copyValue(error, 1, []);
    // An object that cannot be copied (a throwing Proxy) is described by normalizeThrown, which contains the throw.
    return copied !== null && typeof copied === 'object' ? new ThrownObject(copied) : normalizeThrown(error, includeStack);
  }
  return normalizeThrown(error, includeStack);
}

/** The bindings `with()` takes, copied; see {@link snapshotBindings}. */
export interface BindingsSnapshot {
  actor: unknown;
  tenantId: unknown;
  context: unknown;
  metadata: unknown;
}

/**
 * Copies what a caller passes to `with()` by the rules of an event's copy, into one fixed
 * shape (an absent field is `undefined`), with the actor and context in the same fixed-shape
 * literals as an event's: a request logger is bound on every request, and the flusher reads
 * these shapes for every event. Only the four fields bindings have are kept. `undefined` when
 * `value` is not an object. Never throws.
 */
export function snapshotBindings(value: unknown): BindingsSnapshot | undefined {
  if (value === null || typeof value !== 'object' || isArray(value) !== false) return undefined;
  try {
    const { actor, tenantId, context, metadata } = value as Record<string, unknown>;
    return {
      actor: actor === undefined ? undefined : copyActorOrTarget(actor, 'actor'),
      tenantId: typeof tenantId === 'string' || tenantId === undefined ? tenantId : copyScalar(tenantId, 'tenantId'),
      context: context === undefined ? undefined : copyContext(context),
      metadata: metadata === undefined ? undefined : copyValue(metadata, 1, []),
    };
  } catch {
    // A getter or Proxy trap threw: field by field. Metadata that cannot be read is marked, as
    // an event's is; an actor, tenant or context that cannot be read is bound as an
    // UnreadableBinding, which makes every event logged through the child invalid, naming it.
    const read = (key: string, copy: (field: unknown) => unknown): unknown => {
      try {
        const field = (value as Record<string, unknown>)[key];
        return field === undefined ? undefined : copy(field);
      } catch (error) {
        if (key === 'metadata') return UNREADABLE;
        return new UnreadableBinding(error instanceof UnreadableAt ? error.path : key);
      }
    };
    return {
      actor: read('actor', (field) => copyActorOrTarget(field, 'actor')),
      tenantId: read('tenantId', (field) => copyScalar(field, 'tenantId')),
      context: read('context', copyContext),
      metadata: read('metadata', (field) => copyValue(field, 1, [])),
    };
  }
}

/**
 * What `with()` binds in place of an actor, tenant or context it could not read: events
 * logged through that logger are refused (`INVALID_EVENT`) with {@link UnreadableBinding.message}.
 * Never stored. @internal
 */
export class UnreadableBinding {
  /** Not enumerable: spreading or merging this object must not turn it into data. */
  declare readonly message: string;
  constructor(path: string) {
    Object.defineProperty(this, 'message', { value: `${unreadableMessage(path)}, in what with() bound` });
  }
}

/** Thrown by the copies of naming fields: the field at `path` could not be read. */
class UnreadableAt {
  constructor(readonly path: string) {}
}

function unreadableMessage(path: string): string {
  return `${path}: could not be read (a Proxy or getter threw)`;
}

/** The fields that hold data, where what cannot be read is marked rather than refused. */
const DATA_FIELDS: ReadonlySet<string> = new Set(['metadata', 'changes', 'error']);

/**
 * A field that names something (an id, an action, a tenant, an actor's or context's member):
 * a primitive as it is (a BigInt as its decimal string; NaN, a function or a symbol stays as
 * it is, for validation to refuse), a Date as its ISO string, a value with `toJSON()` as what that returns (an ObjectId
 * as its hex string); any other object as an empty object or array, which validation refuses
 * naming the field. Throws {@link UnreadableAt} when the value cannot be read.
 */
function copyScalar(value: unknown, path: string): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'number':
    case 'undefined':
      return value;
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return value; // kept for validation to refuse by name: dropping it would lose the tenant or id without a word
  }
  if (value === null) return null;
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (Array.isArray(value)) return [];
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const json: unknown = toJSON.call(value);
      return json !== null && typeof json === 'object' ? (Array.isArray(json) ? [] : {}) : copyScalar(json, path);
    }
    return {};
  } catch {
    throw new UnreadableAt(path);
  }
}

/** `occurredAt`: a Date copied as a Date (an invalid one stays invalid, for validation to name). */
function copyTime(value: unknown): unknown {
  return value instanceof Date ? new Date(value.getTime()) : copyScalar(value, 'occurredAt');
}

/**
 * An actor, target or context that is not a plain object of primitives: its own enumerable
 * members, each copied as a naming field (unknown ones too, for validation to name). Throws
 * {@link UnreadableAt} naming the member (or the whole) that cannot be read.
 */
function copyPart(value: unknown, path: string): unknown {
  if (value === null || typeof value !== 'object') return copyScalar(value, path);
  let keys: string[];
  try {
    if (Array.isArray(value)) return [];
    if (value instanceof Date) return copyScalar(value, path);
    keys = Object.keys(value);
  } catch {
    throw new UnreadableAt(path);
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch {
      throw new UnreadableAt(`${path}.${key}`);
    }
    setOwn(out, key, copyScalar(item, `${path}.${key}`));
  }
  return out;
}

const UNREADABLE = '[Unreadable]';

/**
 * Copies actor, target and context into fixed-shape literals, cheaper than a generic copy
 * (these are on every event; see the log-call benchmark). Anything unusual (extra keys, a class instance,
 * a nested object) takes the generic path, so validation can still name it.
 */
function copyActorOrTarget(value: unknown, path: 'actor' | 'target'): unknown {
  if (isPlainRecord(value)) {
    try {
      const { type, id, name } = value;
      if (allPrimitive(type, id, name) && Object.keys(value).length === definedCount(type, id, name)) return { type, id, name };
    } catch {
      // A getter threw: copyPart names it.
    }
  }
  return copyPart(value, path);
}

function copyContext(value: unknown): unknown {
  if (isPlainRecord(value)) {
    try {
      const { ip, userAgent, requestId, method, route, traceId } = value;
      if (
        allPrimitive(ip, userAgent, requestId, method, route, traceId) &&
        Object.keys(value).length === definedCount(ip, userAgent, requestId, method, route, traceId)
      ) {
        return { ip, userAgent, requestId, method, route, traceId };
      }
    } catch {
      // A getter threw: copyPart names it.
    }
  }
  return copyPart(value, 'context');
}

/** A plain object; false for one whose prototype cannot be read (a Proxy), which copyPart then names. */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  try {
    return Object.getPrototypeOf(value) === Object.prototype;
  } catch {
    return false;
  }
}

function allPrimitive(...values: unknown[]): boolean {
  for (const value of values) {
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean' && type !== 'undefined') return false;
  }
  return true;
}

function definedCount(...values: unknown[]): number {
  let count = 0;
  for (const value of values) if (value !== undefined) count++;
  return count;
}

/**
 * A value made JSON data by the rules of an event's copy (a BigInt as its decimal string, a
 * Date as its ISO string, a Map as an object, NaN as "NaN", undefined dropped...): for what the
 * library is handed after `log()` has copied the event, such as a catalog schema's output
 * (`z.coerce.date()`, `z.coerce.bigint()`, a transform). Never throws.
 */
export function jsonData(value: unknown): unknown {
  return copyValue(value, 1, []);
}

function copyValue(value: unknown, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // -0 is no JSON value (JSON.stringify(-0) is "0"): every SQL store reads it back as 0.
      return Number.isFinite(value) ? value || 0 : String(value);
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
  if (depth > MAX_DEPTH) return '[Too deep]';
  if (ancestors.includes(value)) return '[Circular]';
  const proto: unknown = Object.getPrototypeOf(value);
  // Fast paths first: events are almost always object literals and arrays.
  if (proto === Array.prototype) return copyArray(value as unknown[], depth, ancestors);
  if ((proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    return copyProperties(value, depth, ancestors);
  }
  if (Array.isArray(value)) return copyArray(value, depth, ancestors);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return normalizeThrown(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[Binary ${value.byteLength} bytes]`;
  if (value instanceof Map) {
    ancestors.push(value);
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) {
      const copied = copyValue(item, depth + 1, ancestors);
      if (copied === undefined) continue;
      // Keys that read the same as text (1 and '1', two objects) keep both values, as the text
      // rule keeps two keys it made equal: the second under its key with a suffix, ` (2)`.
      setOwn(out, freeKey(out, String(key)), copied);
    }
    ancestors.pop();
    return out;
  }
  if (value instanceof Set) return copyArray(Array.from(value), depth, ancestors);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    ancestors.push(value);
    const copied = copyValue(toJSON.call(value), depth, ancestors);
    ancestors.pop();
    return copied;
  }
  return copyProperties(value, depth, ancestors);
}

function copyArray(value: unknown[], depth: number, ancestors: object[]): unknown[] {
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
    const copied = typeof item === 'string' ? item : copyValue(item, depth + 1, ancestors);
    out[i] = copied === undefined ? null : copied;
  }
  ancestors.pop();
  return out;
}

/** Own enumerable string-keyed properties, as JSON.stringify reads them. */
function copyProperties(value: object, depth: number, ancestors: object[]): Record<string, unknown> {
  ancestors.push(value);
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch {
      item = UNREADABLE;
    }
    const copied = typeof item === 'string' ? item : copyValue(item, depth + 1, ancestors);
    if (copied === undefined) continue;
    if (key === '__proto__') setOwn(out, key, copied);
    else out[key] = copied;
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
