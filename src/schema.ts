import { EVENT_ID_PATTERN } from './cursor.js';

export { EVENT_ID_PATTERN };
import { optionNames } from './option-keys.js';
import type { ActivityContext, ActivityEvent, ActivityFilter, ActivityQuery, ActivityRecord, ActivityStatus, HistoryOptions, PurgeOptions, SummaryQuery } from './types.js';

/**
 * The rules of activity-log's shapes that every part reads: patterns, limits, the lists of
 * statuses, fields and summary dimensions. The zod schemas that check events, queries and
 * purges are built from these on first use (schemas.ts); the public types are in types.ts.
 */

/** The filters of {@link ActivityFilter}, for the check that refuses other keys in a query, a count or a summary. */
export const FILTER_OPTIONS = optionNames<ActivityFilter>()([
  'actorType',
  'actorId',
  'action',
  'status',
  'targetType',
  'targetId',
  'tenantId',
  'from',
  'to',
  'excludeAction',
  'excludeActionStatus',
  'requestId',
  'traceId',
  'search',
  'metadata',
]);
/** The keys of {@link ActivityQuery}: the filters and a page. */
export const QUERY_OPTIONS = optionNames<ActivityQuery>()([...FILTER_OPTIONS, 'limit', 'cursor']);
/** The keys of {@link SummaryQuery}. */
export const SUMMARY_OPTIONS = optionNames<SummaryQuery>()([...FILTER_OPTIONS, 'by', 'tz']);
/** The keys of {@link PurgeOptions}. */
export const PURGE_OPTIONS = optionNames<PurgeOptions>()(['before', 'tenantId', 'action', 'except', 'limit']);
/** The keys of {@link HistoryOptions}. */
export const HISTORY_OPTIONS = optionNames<HistoryOptions>()(['limit', 'cursor', 'from', 'to']);

/** `recipe.update`, `user.preferences.update`: lower-case segments joined by dots. */
export const ACTION_PATTERN = /^[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*$/;

/** Maximum lengths, shared by validation, stores (column sizes) and the HTTP layer. */
export const LIMITS = {
  action: 128,
  type: 64,
  id: 255,
  name: 255,
  ip: 64,
  userAgent: 512,
  requestId: 128,
  method: 16,
  route: 512,
  traceId: 64,
  errorMessage: 2000,
  errorName: 128,
  errorCode: 128,
  stack: 16_000,
} as const;

/** The statuses an activity can end in. */
export const ACTIVITY_STATUSES = ['success', 'failure', 'denied'] as const;

/** Actor types with a shared meaning; any other short string is allowed too. */
export const ACTOR_TYPES = ['user', 'admin', 'system', 'service', 'anonymous'] as const;

/** The top-level fields of an event, in the schema's order: the one list every part of the logger reads. */
export const EVENT_FIELDS = ['id', 'action', 'status', 'actor', 'target', 'tenantId', 'metadata', 'changes', 'error', 'context', 'occurredAt'] as const satisfies readonly (keyof ActivityEvent)[];

/** The fields of an event's `context`. */
export const CONTEXT_FIELDS = ['ip', 'userAgent', 'requestId', 'method', 'route', 'traceId'] as const satisfies readonly (keyof ActivityContext)[];

/** An action filter: an exact action, or every action under a prefix, `recipe.*`. */
export const ACTION_FILTER_PATTERN = new RegExp(`${ACTION_PATTERN.source.slice(0, -1)}(?:\\.\\*)?$`);

/** Largest page a query may ask for. */
export const MAX_PAGE_SIZE = 500;
/** Page size when none is given. */
export const DEFAULT_PAGE_SIZE = 50;

/** Longest free-text `search` a filter may carry. */
export const MAX_SEARCH_LENGTH = 200;

/** A metadata key a filter may name: an identifier, so every store can address it in SQL. */
export const METADATA_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The buckets `summarize()` can group by. */
export const SUMMARY_DIMENSIONS = ['action', 'status', 'actorType', 'hour', 'day'] as const;

/** Most exceptions one purge may carry: each is a condition of every delete statement. */
export const MAX_PURGE_EXCEPTIONS = 100;

export type {
  ActivityActor,
  ActivityChanges,
  ActivityContext,
  ActivityErrorInfo,
  ActivityEvent,
  ActivityFilter,
  ActivityQuery,
  ActivityRecord,
  ActivityStatus,
  ActivityTarget,
  HistoryOptions,
  HistoryTarget,
  NormalizedActivityFilter,
  NormalizedActivityQuery,
  NormalizedPurgeOptions,
  NormalizedSummaryQuery,
  ParsedActivityEvent,
  PurgeException,
  PurgeOptions,
  RecordIntegrity,
  SummaryDimension,
  SummaryQuery,
} from './types.js';

/** One page of results, newest first. `nextCursor` is absent on the last page. */
export interface ActivityPage {
  items: ActivityRecord[];
  nextCursor?: string;
}

/** One bucket of a summary: the group's key (an action, a status, an ISO hour or day) and its count. */
export interface SummaryBucket {
  key: string;
  /** For `hour` and `day`, the counts split by status, for a stacked chart. */
  byStatus?: Partial<Record<ActivityStatus, number>>;
  count: number;
}
