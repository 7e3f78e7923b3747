import { encodeCursor, pagePosition, type CursorPosition } from './cursor.js';
import { parseActivityQuery, type StoreQuery } from './query.js';
import { refuseUnknownOptions } from './option-keys.js';
import { HISTORY_OPTIONS, MAX_PAGE_SIZE, type ActivityPage, type ActivityRecord, type HistoryOptions, type HistoryTarget } from './schema.js';
import { schemas, zod } from './schemas.js';
import type { ActivityStore } from './store.js';
import { parseOrThrow } from './validation.js';

/**
 * A target's history: the records of one target that carry `changes` (captured row changes
 * and the app's own records with changes alike), read through the store's ordinary query with
 * the target filter. Neither needs anything of a store beyond `query()`.
 */

/** The filter every read of one target's history is made with (`tenantId` for a pinned API). */
export interface HistoryFilter {
  targetType: string;
  targetId: string;
  tenantId?: string;
}

/** Records scanned per store query: records without changes of the same target are skipped, so a page reads ahead. */
const SCAN_PAGE = 200;

let historySchema: ReturnType<typeof buildHistorySchema> | undefined;
let stateAtSchema: ReturnType<typeof buildStateAtSchema> | undefined;

function buildHistorySchema() {
  const { historyTargetSchema, historyOptionsSchema } = schemas();
  return zod().strictObject({ target: historyTargetSchema, options: historyOptionsSchema });
}

function buildStateAtSchema() {
  const { historyTargetSchema, activityEventSchema } = schemas();
  // The time rule of every other time input (`occurredAt`): a Date, ISO 8601 text or epoch ms.
  return zod().strictObject({ target: historyTargetSchema, time: activityEventSchema.shape.occurredAt.unwrap() });
}

/**
 * Validates `history()`'s arguments: `INVALID_QUERY` naming each bad field (`target.id`,
 * `options.limit`, `options.cursor`...). The query a store receives: the target filter and
 * the page, cursor decoded.
 */
export function parseHistoryQuery(target: HistoryTarget, options: HistoryOptions | undefined): StoreQuery {
  refuseUnknownOptions('history', options, HISTORY_OPTIONS, 'INVALID_QUERY');
  const parsed = parseOrThrow((historySchema ??= buildHistorySchema()), { target, options: options ?? {} }, 'INVALID_QUERY', 'invalid history query');
  const { limit, cursor, from, to } = parsed.options;
  return parseActivityQuery({
    targetType: parsed.target.type,
    targetId: parsed.target.id,
    limit,
    ...(cursor !== undefined && { cursor }),
    ...(from !== undefined && { from }),
    ...(to !== undefined && { to }),
  });
}

/** Validates `stateAt()`'s arguments: the target's filter, and the moment. */
export function parseStateAt(target: HistoryTarget, time: Date | string | number): { filter: HistoryFilter; at: Date } {
  const parsed = parseOrThrow((stateAtSchema ??= buildStateAtSchema()), { target, time }, 'INVALID_QUERY', 'invalid stateAt');
  // The target's text as stored (the query parser applies the storable-text rule).
  const { targetType, targetId } = parseActivityQuery({ targetType: parsed.target.type, targetId: parsed.target.id });
  return { filter: { targetType: targetType!, targetId: targetId! }, at: parsed.time as Date };
}

/** Whether a record is a version: it carries at least one changed field. */
export function hasChanges(record: ActivityRecord): boolean {
  return record.changes !== undefined && Object.keys(record.changes).length > 0;
}

/**
 * One page of a target's versions, newest first: up to `query.limit` records with changes,
 * however many records without changes of the same target lie between them. The store is read
 * page by page after `query.after`; `nextCursor` is present only when a further version was
 * seen, and resumes right after the last record scanned before it, so no record is read twice
 * and none is skipped.
 */
export async function readHistory(store: ActivityStore, query: StoreQuery): Promise<ActivityPage> {
  const { limit, after: start, ...filter } = query;
  const items: ActivityRecord[] = [];
  let after = start;
  let lastScanned: ActivityRecord | undefined;
  for (;;) {
    const page = await store.query({ ...filter, limit: Math.min(MAX_PAGE_SIZE, Math.max(limit + 1, SCAN_PAGE)), ...(after && { after }) });
    for (const record of page.items) {
      if (hasChanges(record)) {
        // A version beyond the page: it proves a next page, which starts at it.
        if (items.length === limit) return { items, nextCursor: encodeCursor(lastScanned!) };
        items.push(record);
      }
      lastScanned = record;
    }
    if (!page.nextCursor || page.items.length === 0) return { items };
    after = pagePosition(page.items[page.items.length - 1]!);
  }
}

/**
 * The target's columns at `at` (inclusive), rebuilt from its changes. Applied oldest first, an
 * `insert` starts a fresh state from its `after` values, a `delete` ends the record, and any
 * other change merges its `after` values. Folded here from the newest change back, which gives
 * the same state in constant memory: a field takes the value of the newest change that names
 * it, and the walk stops at the first insert or delete it meets (nothing older can show
 * through either). Records of one millisecond follow page order, which ids make time order.
 */
export async function rebuildState(store: ActivityStore, filter: HistoryFilter, at: Date): Promise<Record<string, unknown> | undefined> {
  // `to` is exclusive: one millisecond on makes `at` itself inclusive.
  const query: StoreQuery = { ...filter, to: new Date(at.getTime() + 1), limit: SCAN_PAGE };
  const state: Record<string, unknown> = {};
  let seen = false;
  let after: CursorPosition | undefined;
  for (;;) {
    const page = await store.query(after ? { ...query, after } : query);
    for (const record of page.items) {
      if (!hasChanges(record)) continue;
      const operation = record.metadata?.operation;
      if (operation === 'delete') return seen ? state : undefined;
      seen = true;
      for (const [field, change] of Object.entries(record.changes!)) {
        // A change too large for maxMetadataBytes is stored as its marker ("[truncated: N
        // bytes]") in place of { before, after }: the column shows the marker, not undefined.
        if (!Object.hasOwn(state, field)) define(state, field, isChange(change) ? change.after : change);
      }
      if (operation === 'insert') return state;
    }
    if (!page.nextCursor || page.items.length === 0) return seen ? state : undefined;
    after = pagePosition(page.items[page.items.length - 1]!);
  }
}

function isChange(value: unknown): value is { after: unknown } {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, 'after');
}

/** Sets a field, `__proto__` included, as an own property. */
function define(target: Record<string, unknown>, field: string, value: unknown): void {
  Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true });
}
