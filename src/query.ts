import { decodeCursor, encodeCursor, type CursorPosition } from './cursor.js';
import { schemas } from './schemas.js';
import {
  FILTER_OPTIONS,
  PURGE_OPTIONS,
  QUERY_OPTIONS,
  SUMMARY_OPTIONS,
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
import { ActivityLogError } from './errors.js';
import { refuseUnknownOptions } from './option-keys.js';
import { storableText } from './text.js';
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
  refuseUnknownOptions('query', query, QUERY_OPTIONS, 'INVALID_QUERY');
  refuseUnsafeMetadataKeys(query);
  // The cursor is decoded here, once, and a bad one is named beside every other bad field.
  let after: CursorPosition | undefined;
  let cursorProblem: ActivityLogError | undefined;
  const cursor = (query as { cursor?: unknown } | null)?.cursor;
  if (typeof cursor === 'string' && cursor.length <= 512) {
    try {
      after = decodeCursor(cursor);
    } catch (error) {
      if (!(error instanceof ActivityLogError)) throw error;
      cursorProblem = error;
    }
  }
  let parsed: NormalizedActivityQuery;
  try {
    parsed = storableFilter(parseOrThrow(schemas().activityQuerySchema, query, 'INVALID_QUERY', 'invalid query'));
  } catch (error) {
    throw cursorProblem && error instanceof ActivityLogError ? mergeProblems(error, cursorProblem) : error;
  }
  if (cursorProblem) throw cursorProblem;
  const { cursor: _cursor, ...rest } = parsed;
  return after === undefined ? rest : { ...rest, after };
}

/** One `INVALID_QUERY` error naming the problems of both. */
function mergeProblems(first: ActivityLogError, second: ActivityLogError): ActivityLogError {
  const issues = [...issuesOf(first), ...issuesOf(second)];
  return new ActivityLogError('INVALID_QUERY', `${first.message}; ${second.message}`, { details: { issues } });
}

/** The problems an `INVALID_QUERY` error names, as `{ path, message }`. */
export function issuesOf(error: ActivityLogError): { path: string[]; message: string }[] {
  const issues = error.details?.issues as { path: string[]; message: string }[] | undefined;
  return issues ?? [];
}

/** Validates filters without paging (for `count`). */
export function parseActivityFilter(filter: ActivityFilter | undefined = {}): NormalizedActivityFilter {
  refuseUnknownOptions('count', filter, FILTER_OPTIONS, 'INVALID_QUERY');
  refuseUnsafeMetadataKeys(filter);
  return storableFilter(parseOrThrow(schemas().activityFilterSchema, filter, 'INVALID_QUERY', 'invalid filter'));
}

/** Validates a summary request. */
export function parseSummaryQuery(query: SummaryQuery): NormalizedSummaryQuery {
  refuseUnknownOptions('summarize', query, SUMMARY_OPTIONS, 'INVALID_QUERY');
  refuseUnsafeMetadataKeys(query);
  return storableFilter(parseOrThrow(schemas().summaryQuerySchema, query, 'INVALID_QUERY', 'invalid summary query'));
}

/** Validates purge options. */
export function parsePurgeOptions(options: PurgeOptions): NormalizedPurgeOptions {
  refuseUnknownOptions('purge', options, PURGE_OPTIONS, 'INVALID_QUERY');
  const parsed = parseOrThrow(schemas().purgeOptionsSchema, options, 'INVALID_QUERY', 'invalid purge options');
  return {
    ...parsed,
    ...(parsed.tenantId !== undefined && { tenantId: storableText(parsed.tenantId) }),
    ...(parsed.except !== undefined && {
      except: parsed.except.map((exception) => (exception.tenantId === undefined ? exception : { ...exception, tenantId: storableText(exception.tenantId) })),
    }),
  };
}

/**
 * A metadata filter on `__proto__` (from JSON.parse, which makes it an own key) cannot be held
 * by the plain object a parsed filter is: dropped silently, the query would return every
 * record the other filters allow. It is refused instead.
 */
function refuseUnsafeMetadataKeys(input: unknown): void {
  if (input === null || typeof input !== 'object') return;
  const metadata = (input as { metadata?: unknown }).metadata;
  if (metadata !== null && typeof metadata === 'object' && Object.hasOwn(metadata, '__proto__')) {
    throw new ActivityLogError('INVALID_QUERY', 'invalid query: metadata: the key "__proto__" cannot be used as a filter', {
      details: { issues: [{ path: ['metadata', '__proto__'], message: 'the key "__proto__" cannot be used as a filter' }] },
    });
  }
}

const TEXT_FILTERS = ['actorType', 'actorId', 'targetType', 'targetId', 'tenantId', 'requestId', 'traceId', 'search'] as const;

/** Filter values by the text rule stored records follow (text.ts), so a filter finds what was logged. */
function storableFilter<T extends NormalizedActivityFilter>(filter: T): T {
  let out = filter;
  for (const key of TEXT_FILTERS) {
    const value = filter[key];
    if (value !== undefined && storableText(value) !== value) out = { ...out, [key]: storableText(value) };
  }
  if (filter.metadata) {
    const metadata: Record<string, string | number | boolean> = {};
    let changed = false;
    for (const [key, value] of Object.entries(filter.metadata)) {
      metadata[key] = typeof value === 'string' ? storableText(value) : value;
      if (metadata[key] !== value) changed = true;
    }
    if (changed) out = { ...out, metadata };
  }
  return out;
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

/** For `search`: the text with ASCII letters lower-cased, the one case folding every store does alike. */
export function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** The search filters of the `searchFilters` capability (see StoreCapabilities). */
export const SEARCH_FILTERS = ['excludeAction', 'excludeActionStatus', 'requestId', 'traceId', 'search'] as const;
