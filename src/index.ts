/**
 * activity-log: who did what, to which thing, when, from where, and whether it worked.
 *
 * The core: the logger, the event schema, the store contract, request scope and the
 * helpers storage adapters share. Stores and framework integrations are subpath exports
 * (`activity-log/memory`, `activity-log/sqlite`, `activity-log/express`, ...).
 */
export { createActivityLogger, backoffDelay } from './logger.js';
export type {
  ActivityLogger,
  ActivityLoggerOptions,
  ActivityStats,
  CatalogEvent,
  RetryOptions,
} from './logger.js';
export type { ActivityBindings, ActivityCatalog } from './materialize.js';
export { ActivityLogError, isActivityLogError } from './errors.js';
export type { ActivityLogErrorCode, ActivityLogErrorOptions } from './errors.js';
export { currentActivity, tryCurrentActivity, runWithActivityContext } from './context.js';
export type { InvalidActivityLogRegister, RegisteredActivityLogger } from './register.js';
export { installShutdownHandlers } from './shutdown.js';
export type { ShutdownOptions } from './shutdown.js';
export type { ActivityStore, StoreCapabilities } from './store.js';
export { isActivitySpool, DEFAULT_SPOOL_FILENAME, DEFAULT_SPOOL_MAX_BYTES } from './spool.js';
export type { ActivitySpool, SpooledBatch, SpoolOptions } from './spool.js';
export { isActivityStore } from './store.js';
export { rateLimitedWarn } from './report.js';
export type { ErrorHandler } from './report.js';
export { createRedactor, DEFAULT_REDACT_TERMS, DEFAULT_REDACT_WORDS, REDACTED } from './redact.js';
export type { RedactOptions, Redactor } from './redact.js';
export { normalizeThrown } from './normalize-error.js';
export { storableText, storableJson, REPLACEMENT_CHARACTER } from './text.js';
export { EARLIEST_TIME_MS, LATEST_TIME_MS } from './time.js';
export { uuidv7, uuidv7Time } from './ids.js';
export { encodeCursor, decodeCursor, comparePageOrder } from './cursor.js';
export type { CursorPosition } from './cursor.js';
export { parseActivityQuery, parseActivityFilter, parseSummaryQuery, parsePurgeOptions, toPage, actionPrefix } from './query.js';
export type { StoreQuery } from './query.js';
export { bucketKey, sortBuckets } from './summary.js';
export {
  ACTION_PATTERN,
  ACTIVITY_STATUSES,
  ACTOR_TYPES,
  DEFAULT_PAGE_SIZE,
  LIMITS,
  MAX_PAGE_SIZE,
  SUMMARY_DIMENSIONS,
  activityEventSchema,
  activityFilterSchema,
  activityQuerySchema,
  activityRecordSchema,
  purgeOptionsSchema,
  summaryQuerySchema,
} from './schema.js';
export type {
  ActivityActor,
  ActivityChanges,
  ActivityContext,
  ActivityErrorInfo,
  ActivityEvent,
  ActivityFilter,
  ActivityPage,
  ActivityQuery,
  ActivityRecord,
  ActivityStatus,
  ActivityTarget,
  NormalizedActivityFilter,
  NormalizedActivityQuery,
  NormalizedPurgeOptions,
  NormalizedSummaryQuery,
  PurgeOptions,
  SummaryBucket,
  SummaryDimension,
  SummaryQuery,
} from './schema.js';

// The web-standard HTTP layer the framework shims share; usable directly on any fetch runtime.
export {
  createActivityLogsHandler,
  csvCell,
  EXPORT_CSV_COLUMNS,
  createRequestScopeFactory,
  extractRequestContext,
  isWellFormedRequestId,
  traceIdFromTraceparent,
  clientIpFromHeaders,
  compileCapturePolicy,
  statusOf,
} from './http/index.js';
export type {
  ActivityLogsHandler,
  ActivityLogsOptions,
  ParameterProblem,
  ActivityMiddlewareOptions,
  ActivityRequestScope,
  ActorResult,
  RequestScopeFactory,
  RequestScopeInput,
  CaptureMode,
  CaptureOptions,
  CapturePolicy,
  CaptureDecision,
  RouteCapture,
  RequestLike,
  RequestContextOptions,
  ExtractedRequestContext,
} from './http/index.js';
