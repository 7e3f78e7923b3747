import { ACTION_PATTERN, ACTIVITY_STATUSES, CONTEXT_FIELDS, EVENT_FIELDS, EVENT_ID_PATTERN, LIMITS } from './schema.js';
import { isStorableTime, timeInputToMs } from './time.js';

/**
 * The event rules of `activityEventSchema`, as plain checks, much cheaper than a zod parse:
 * every event passes here, and the flusher's share of a row's cost must stay small (see the
 * storage benchmark's end-to-end ratio). It only answers "valid or not": an invalid event
 * goes through zod for the message naming the field and the rule.
 *
 * A property test (test/core/fast-validate.test.ts) checks on arbitrary input that this
 * agrees with the zod schema, so the two cannot drift apart unnoticed.
 */

const STATUSES: ReadonlySet<unknown> = new Set(ACTIVITY_STATUSES);
const EVENT_ID = EVENT_ID_PATTERN;
/** Each context field's length limit (LIMITS names them alike). */
const CONTEXT_LIMITS: ReadonlyMap<string, number> = new Map(CONTEXT_FIELDS.map((field) => [field, LIMITS[field]]));

/** True when `candidate` would pass `activityEventSchema`. */
export function isValidEvent(candidate: Record<string, unknown>): boolean {
  const { id, action, status, actor, target, tenantId, metadata, changes, context, occurredAt } = candidate;
  if (id !== undefined && (typeof id !== 'string' || !EVENT_ID.test(id))) return false;
  if (typeof action !== 'string' || action.length > LIMITS.action || !ACTION_PATTERN.test(action)) return false;
  if (status !== undefined && !STATUSES.has(status)) return false;
  if (actor !== undefined && !isParty(actor, false)) return false;
  if (target !== undefined && !isParty(target, true)) return false;
  if (tenantId !== undefined && !isIdValue(tenantId)) return false;
  if (metadata !== undefined && !isRecord(metadata)) return false;
  if (changes !== undefined && !isChanges(changes)) return false;
  if (context !== undefined && !isContext(context)) return false;
  if (occurredAt !== undefined && !isDateInput(occurredAt)) return false;
  for (const key in candidate) if (!KNOWN.has(key)) return false;
  return true;
}

const KNOWN: ReadonlySet<string> = new Set(EVENT_FIELDS);

/** True when `value` would pass as an event's `actor` (`{ type, id?, name? }`, within the limits). @internal */
export function isValidActor(value: unknown): boolean {
  return isParty(value, false);
}

/** True when `value` would pass as an event's `tenantId` (a 1-255 character string or a finite number). @internal */
export function isValidTenantId(value: unknown): boolean {
  return isIdValue(value);
}

/** A plain object, as zod's `z.record` requires (not an array, Date, Map or class instance). */
function isRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Any non-array object, as zod's `z.object` requires (it then checks the keys). */
function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isText(value: unknown, max: number): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= max;
}

function isIdValue(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value); // String(n) is 1-24 characters
  return isText(value, LIMITS.id);
}

function isParty(value: unknown, idRequired: boolean): boolean {
  if (!isObject(value)) return false;
  for (const key in value) if (key !== 'type' && key !== 'id' && key !== 'name') return false;
  const { type, id, name } = value;
  if (!isText(type, LIMITS.type)) return false;
  if (id === undefined ? idRequired : !isIdValue(id)) return false;
  return name === undefined || (typeof name === 'string' && name.length <= LIMITS.name);
}

function isChanges(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const key in value) if (key !== 'before' && key !== 'after') return false;
  const { before, after } = value;
  return (before == null || isRecord(before)) && (after == null || isRecord(after));
}

function isContext(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const key in value) {
    const max = CONTEXT_LIMITS.get(key);
    const item = value[key];
    if (max === undefined || (item !== undefined && !isText(item, max))) return false;
  }
  return true;
}

function isDateInput(value: unknown): boolean {
  if (!(value instanceof Date) && typeof value !== 'string' && typeof value !== 'number') return false;
  return isStorableTime(timeInputToMs(value));
}
