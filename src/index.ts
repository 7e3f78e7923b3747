/**
 * activity-log: who did what, to which thing, when, from where, and whether it worked.
 *
 * The root is the logger and what an app passes to it or gets back. The rest lives in
 * subpaths: stores (`activity-log/memory`, `/sqlite`, `/postgres`, `/mysql`, `/kysely`),
 * framework middleware (`/express`, `/fastify`, `/hono`), the web-standard admin API and
 * request scope (`/http`), helpers for store authors (`/store`), and a test logger, matchers
 * and the store conformance suite (`/testing`).
 */
export { createActivityLogger } from './logger.js';
export type { ActivityLogger, ActivityLoggerOptions, ActivityStats, CatalogEvent, RetryOptions } from './logger.js';
export type { ActivityBindings } from './bindings.js';
export type { ActivityCatalog, CatalogInput, CatalogIssue, CatalogSchema } from './catalog.js';
export { ActivityLogError, isActivityLogError } from './errors.js';
export type { ActivityLogErrorCode, ActivityLogErrorOptions } from './errors.js';
export { currentActivity, tryCurrentActivity, runWithActivityContext } from './context.js';
export type { InvalidActivityLogRegister, RegisteredActivityLogger } from './register.js';
export { installShutdownHandlers } from './shutdown.js';
export type { ShutdownOptions } from './shutdown.js';
export type { ActivityStore, StoreCapabilities } from './store.js';
export type { ActivitySpool, SpoolOptions } from './spool.js';
export type { IntegrityCheckpoint, IntegrityOptions } from './integrity/options.js';
export type { IntegrityProblem, IntegrityProblemKind, VerifyOptions, VerifyReport } from './integrity/verify.js';
export type { EraseSubject } from './integrity/erase.js';
export type { RetentionOptions, RetentionRule } from './retention/options.js';
export { ERASED } from './integrity/canonical.js';
export { rateLimitedWarn } from './report.js';
export type { ErrorHandler } from './report.js';
export { DEFAULT_REDACT_TERMS, DEFAULT_REDACT_WORDS, REDACTED } from './redact.js';
export type { RedactOptions } from './redact.js';
export { uuidv7, uuidv7Time } from './ids.js';
export { ACTIVITY_STATUSES, ACTOR_TYPES, DEFAULT_PAGE_SIZE, LIMITS, MAX_PAGE_SIZE, SUMMARY_DIMENSIONS } from './schema.js';
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
  HistoryOptions,
  HistoryTarget,
  PurgeOptions,
  RecordIntegrity,
  SummaryBucket,
  SummaryDimension,
  SummaryQuery,
} from './schema.js';
