import { decodeCursor, encodeCursor, type CursorPosition } from './cursor.js';
import {
  activityFilterSchema,
  activityQuerySchema,
  purgeOptionsSchema,
  summaryQuerySchema,
  type ActivityFilter,
  type ActivityPage,
  type ActivityQuery,
  type ActivityRecord,
  type NormalizedActivityFilter,
  type NormalizedActivityQuery,
  type NormalizedPurgeOptions,
  type NormalizedSummaryQuery,
  type PurgeOptions,
  type SummaryQuery,
} from './schema.js';
import { parseOrThrow } from './validation.js';

/** A validated query with its cursor decoded: what a store implements. */
export interface StoreQuery extends Omit<NormalizedActivityQuery, 'cursor'> {
  /** Records strictly after this position in page order (older), when paging. */
  after?: CursorPosition;
}

/**
 * Validates a query at the boundary of every store and of the logger. Throws an
 * `INVALID_QUERY` {@link ActivityLogError} naming each bad field; a store never sees bad input.
 */
export function parseActivityQuery(query: ActivityQuery | undefined = {}): StoreQuery {
  const parsed = parseOrThrow(activityQuerySchema, query, 'INVALID_QUERY', 'invalid query');
  const { cursor, ...rest } = parsed;
  return cursor === undefined ? rest : { ...rest, after: decodeCursor(cursor) };
}

/** Validates filters without paging (for `count`). */
export function parseActivityFilter(filter: ActivityFilter | undefined = {}): NormalizedActivityFilter {
  return parseOrThrow(activityFilterSchema, filter, 'INVALID_QUERY', 'invalid filter');
}

/** Validates a summary request. */
export function parseSummaryQuery(query: SummaryQuery): NormalizedSummaryQuery {
  return parseOrThrow(summaryQuerySchema, query, 'INVALID_QUERY', 'invalid summary query');
}

/** Validates purge options. */
export function parsePurgeOptions(options: PurgeOptions): NormalizedPurgeOptions {
  return parseOrThrow(purgeOptionsSchema, options, 'INVALID_QUERY', 'invalid purge options');
}

/**
 * Builds a page from up to `limit + 1` records in page order: the extra record only proves
 * that a next page exists, so the last page has no `nextCursor`.
 */
export function toPage(records: ActivityRecord[], limit: number): ActivityPage {
  if (records.length <= limit) return { items: records };
  const items = records.slice(0, limit);
  const last = items[items.length - 1]!;
  return { items, nextCursor: encodeCursor(last) };
}

/** For `action` filters: the prefix of `recipe.*` (with its dot), or undefined for an exact action. */
export function actionPrefix(action: string): string | undefined {
  return action.endsWith('.*') ? action.slice(0, -1) : undefined;
}
