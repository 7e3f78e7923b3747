import type { ActivityCatalog } from './catalog.js';
import { diffChanges } from './changes.js';
import { formatUuidv7 } from './ids.js';
import { ActivityLogError } from './errors.js';
import type { Redactor } from './redact.js';
import { isValidEvent } from './fast-validate.js';
import type { PendingEvent } from './pipeline/pending.js';
import { EVENT_FIELDS, LIMITS, type ActivityRecord, type ParsedActivityEvent } from './schema.js';
import { schemas } from './schemas.js';
import { jsonData, UnreadableBinding } from './snapshot.js';
import { capJsonObject } from './size-cap.js';
import { finishThrown } from './normalize-error.js';
import { cutText, defineOwn, storableJson, storableText } from './text.js';
import { timeInputToMs } from './time.js';
import { formatIssues } from './validation.js';

/**
 * The flusher's half of `log()`: it turns a queued snapshot into a stored record, or into a
 * specific `INVALID_EVENT` reason. Validation, the text rule, redaction and size caps all
 * happen here, off the caller's path.
 */

export type { ActivityCatalog } from './catalog.js';

/** What materialising needs from the logger's options. */
export interface MaterializeConfig {
  redactor: Redactor;
  maxMetadataBytes: number;
  catalog: ActivityCatalog | undefined;
}

export type MaterializeResult = { record: ActivityRecord; error?: undefined } | { record?: undefined; error: ActivityLogError };

/** Validates, merges, redacts and caps one queued event. Never throws. */
export function materialize(pending: PendingEvent, config: MaterializeConfig): MaterializeResult {
  try {
    return materializeUnsafe(pending, config);
  } catch (cause) {
    return { error: invalid(pending, 'event: could not be processed', cause) };
  }
}

function materializeUnsafe(pending: PendingEvent, config: MaterializeConfig): MaterializeResult {
  const { bindings } = pending;
  if (pending.problem) return { error: invalid(pending, pending.problem) };
  if (pending.unknownKeys) {
    const names = pending.unknownKeys.map((key) => JSON.stringify(key)).join(', ');
    return {
      error: invalid(
        pending,
        `${pending.unknownKeys.length === 1 ? 'unknown field' : 'unknown fields'} ${names} (known: ${EVENT_FIELDS.join(', ')})`,
      ),
    };
  }

  // The snapshot's fields object is the candidate (a fixed shape; copying it key by key or
  // deleting keys would turn it into a slow dictionary-mode object). Undefined fields are absent.
  const fields = pending.fields as Record<string, unknown>;
  let candidate = fields;
  if (bindings) {
    const unreadable =
      (fields.actor === undefined && bindings.actor instanceof UnreadableBinding && bindings.actor) ||
      (fields.tenantId === undefined && (bindings.tenantId as unknown) instanceof UnreadableBinding && (bindings.tenantId as unknown as UnreadableBinding)) ||
      (bindings.context instanceof UnreadableBinding && bindings.context);
    if (unreadable) return { error: invalid(pending, unreadable.message) };
    candidate = {
      ...fields,
      actor: fields.actor ?? bindings.actor,
      tenantId: fields.tenantId ?? bindings.tenantId,
      context: mergeObjects(bindings.context, fields.context),
      metadata: mergeObjects(bindings.metadata, fields.metadata),
    };
  }
  const context = candidate.context;
  if (isPlainObject(context) && typeof context.userAgent === 'string' && context.userAgent.length > LIMITS.userAgent) {
    candidate = { ...candidate, context: { ...context, userAgent: cutText(context.userAgent, LIMITS.userAgent) } };
  }

  let event: ParsedActivityEvent;
  if (isValidEvent(candidate)) {
    event = normalizeValid(candidate);
  } else {
    // The slow path, for its messages: zod names each bad field and the rule it breaks.
    const { activityEventSchema } = schemas();
    const parsed = activityEventSchema.safeParse(candidate);
    if (!parsed.success) return { error: invalid(pending, formatIssues(parsed.error.issues, undefined, activityEventSchema)) };
    event = parsed.data;
  }

  // zod rebuilds records by assignment, which would turn an own "__proto__" key into a
  // prototype; the snapshot's copies are already plain JSON data, so keep those.
  let metadata = candidate.metadata as Record<string, unknown> | undefined;
  const changes = candidate.changes as { before?: Record<string, unknown> | null; after?: Record<string, unknown> | null } | undefined;
  const actionSchema = config.catalog && Object.hasOwn(config.catalog, event.action) ? config.catalog[event.action] : undefined;
  if (actionSchema) {
    const checked = actionSchema.safeParse(metadata ?? {});
    if (!checked.success) return { error: invalid(pending, formatIssues(checked.error.issues, 'metadata', actionSchema)) };
    // The schema's output may hold what is not JSON (a coerced Date or BigInt, a transform's
    // Map): made JSON as log() makes its input, or sealing and the store would meet a BigInt.
    const output = isPlainObject(checked.data) ? jsonData(checked.data) : undefined;
    metadata = isPlainObject(output) ? output : metadata;
  }

  // Text every store can hold (see text.ts), before redaction sees it and size caps count it.
  const { redactor, maxMetadataBytes } = config;
  const record: ActivityRecord = {
    id: event.id ?? pendingId(pending),
    occurredAt: event.occurredAt ?? new Date(pending.loggedAtMs),
    action: event.action,
    status: event.status ?? 'success',
  };
  if (event.actor) record.actor = party(event.actor, redactor);
  if (event.target) record.target = party(event.target, redactor) as NonNullable<ActivityRecord['target']>;
  if (event.tenantId !== undefined) record.tenantId = redactor.redactText(storableText(event.tenantId));
  if (metadata && Object.keys(metadata).length > 0) {
    record.metadata = capJsonObject(redactor.redact(storableJson(metadata)), maxMetadataBytes);
  }
  if (changes) {
    const diff = diffChanges(storableJson(changes.before), storableJson(changes.after));
    if (Object.keys(diff).length > 0) record.changes = capJsonObject(redactChanges(diff, redactor), maxMetadataBytes) as ActivityRecord['changes'];
  }
  if (event.error !== undefined) record.error = storableJson(finishThrown(event.error, redactor));
  if (event.context) {
    const context = dropUndefined(event.context);
    if (Object.keys(context).length > 0) record.context = redactor.redactContext(storableJson(context));
  }
  return { record };
}

/** Redacts a diff by field path, so a changed password is recorded as changed, with both values hidden. */
function redactChanges(diff: NonNullable<ActivityRecord['changes']>, redactor: Redactor) {
  const out: NonNullable<ActivityRecord['changes']> = {};
  for (const [field, { before, after }] of Object.entries(diff)) {
    defineOwn(
      out,
      field,
      redactor.isSensitive([field])
        ? { before: redactor.censor, after: redactor.censor }
        : { before: redactor.redact(before, [field]), after: redactor.redact(after, [field]) },
    );
  }
  return out;
}

function invalid(pending: PendingEvent, message: string, cause?: unknown): ActivityLogError {
  const action = pending.fields.action;
  return new ActivityLogError('INVALID_EVENT', message, {
    cause,
    details: { id: pendingId(pending), action: typeof action === 'string' ? action : undefined },
  });
}

function pendingId(pending: PendingEvent): string {
  const callerId = pending.fields.id;
  return typeof callerId === 'string' ? callerId : formatUuidv7(pending);
}

function mergeObjects(base: unknown, override: unknown): unknown {
  if (base === undefined) return override;
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged = { ...base };
  for (const [key, value] of Object.entries(override)) if (value !== undefined) defineOwn(merged, key, value);
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The fast path's equivalent of zod's output for a candidate `isValidEvent` accepted: ids as
 * strings, `occurredAt` as a Date. Nothing else differs between input and output.
 */
function normalizeValid(candidate: Record<string, unknown>): ParsedActivityEvent {
  const event = candidate as unknown as ParsedActivityEvent & { occurredAt?: unknown; tenantId?: unknown };
  const normalized: ParsedActivityEvent = { ...event, occurredAt: undefined };
  if (event.occurredAt !== undefined) {
    const occurredAt = event.occurredAt;
    normalized.occurredAt = occurredAt instanceof Date ? occurredAt : new Date(timeInputToMs(occurredAt));
  }
  if (typeof event.tenantId === 'number') normalized.tenantId = String(event.tenantId);
  return normalized;
}

/** An actor or target without undefined fields, its id as a string, its text storable and redacted. */
function party(value: { type: string; id?: string | number; name?: string }, redactor: Redactor): NonNullable<ActivityRecord['actor']> {
  const out: NonNullable<ActivityRecord['actor']> = { type: redactor.redactText(storableText(value.type)) };
  if (value.id !== undefined) out.id = redactor.redactText(storableText(String(value.id)));
  if (value.name !== undefined) out.name = redactor.redactText(storableText(value.name));
  return out;
}

function dropUndefined<T extends object>(value: T): T {
  const out = {} as T;
  for (const [key, item] of Object.entries(value)) if (item !== undefined) (out as Record<string, unknown>)[key] = item;
  return out;
}
