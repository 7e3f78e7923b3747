/**
 * Every error this library raises or reports is an {@link ActivityLogError} with a stable
 * `code`, so callers can branch on the kind of failure without parsing messages.
 */

/** The kinds of failure, stable across releases. */
export type ActivityLogErrorCode =
  /** An event failed validation; `message` names the field and the rule. */
  | 'INVALID_EVENT'
  /** The bounded queue was full and events were dropped (reported once per burst). */
  | 'QUEUE_FULL'
  /** `log()` was called after `close()`; the event was dropped. */
  | 'LOGGER_CLOSED'
  /** The store rejected a batch on every attempt; the batch is counted as failed. */
  | 'STORE_FAILED'
  /**
   * The store refused a record for its content (a value its database cannot hold), not for
   * its connection. A store's `insert` rejects with this code so the logger can tell the two
   * apart; the logger then writes the rest of the batch and reports each refused record with
   * this code (naming the field when the store can tell), counted as `invalid`.
   */
  | 'RECORD_REJECTED'
  /** Options given to a factory are wrong; thrown at start-up, never from `log()`. */
  | 'INVALID_OPTIONS'
  /** A query's filters, limit or cursor are wrong. */
  | 'INVALID_QUERY'
  /** An optional peer dependency (a driver or framework) is not installed. */
  | 'MISSING_PEER'
  /** An optional peer dependency is installed in a version that cannot run safely on this Node.js; `details` name both. */
  | 'INCOMPATIBLE_PEER'
  /** `currentActivity()` was called outside a request scope. */
  | 'NO_ACTIVITY_CONTEXT'
  /** A store found its table in a schema version this release does not know. */
  | 'SCHEMA_VERSION'
  /** A user callback (such as `actor()` in the middleware) threw; the request went on. */
  | 'CALLBACK_FAILED'
  /** The store does not implement an optional method, or a filter it has no capability for. */
  | 'UNSUPPORTED'
  /** The spool reached `maxBytes`; the events that did not fit were dropped and counted. */
  | 'SPOOL_FULL'
  /** The spool itself failed (its file could not be written); the events were dropped and counted. */
  | 'SPOOL_FAILED'
  /** A background retention pass failed (its `cause` says why); the next pass tries again. */
  | 'RETENTION_FAILED';

/** Options for {@link ActivityLogError}. */
export interface ActivityLogErrorOptions {
  /** The underlying error, passed on as the standard `cause`. */
  cause?: unknown;
  /** Structured facts about the failure (event id, field names, counts). */
  details?: Record<string, unknown>;
}

/**
 * The one error class of activity-log.
 *
 * @example
 * createActivityLogger({ store, onError(err) { if (err.code === 'STORE_FAILED') alert(err) } });
 */
export class ActivityLogError extends Error {
  override readonly name = 'ActivityLogError';
  readonly code: ActivityLogErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ActivityLogErrorCode, message: string, options: ActivityLogErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.details) this.details = options.details;
  }
}

/** True when `value` is an {@link ActivityLogError}, optionally of the given code. */
export function isActivityLogError(value: unknown, code?: ActivityLogErrorCode): value is ActivityLogError {
  return value instanceof ActivityLogError && (code === undefined || value.code === code);
}
