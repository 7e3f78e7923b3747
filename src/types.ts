/**
 * The public shapes of events, records, queries and purges, written out by hand rather than
 * inferred from the zod schemas that check them (schema.ts), so that the package's type
 * declarations never import zod: an app type-checks with them on TypeScript 4.9 and newer,
 * zod or not. test/types/public-types.test-d.ts holds each one equal to what its schema
 * infers, so the two cannot drift.
 */

/** `success`, `failure` or `denied`. */
export type ActivityStatus = 'success' | 'failure' | 'denied';

/** Who did it, as passed by a caller. `type` is `user`, `admin`, `system`, `service`, `anonymous` or your own. */
export interface ActivityActor {
  type: string;
  /** Stored as a string. */
  id?: string | number | undefined;
  name?: string | undefined;
}

/** What was acted on, as passed by a caller. */
export interface ActivityTarget {
  type: string;
  /** Stored as a string. */
  id: string | number;
  name?: string | undefined;
}

/** Request context, as passed by a caller or the middleware. */
export interface ActivityContext {
  ip?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
  method?: string | undefined;
  route?: string | undefined;
  traceId?: string | undefined;
}

/** What a caller passes to `log()`. Only `action` is required. */
export interface ActivityEvent {
  /** A caller-supplied id (1-64 of letters, digits, `_ . : -`): a retried `log()` with it is stored once. */
  id?: string | undefined;
  /** Dotted lower-case, like `recipe.update`. */
  action: string;
  status?: ActivityStatus | undefined;
  actor?: ActivityActor | undefined;
  target?: ActivityTarget | undefined;
  tenantId?: string | number | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** Before and after; stored as the changed fields only. */
  changes?: { before?: Record<string, unknown> | null | undefined; after?: Record<string, unknown> | null | undefined } | undefined;
  /** Anything thrown; stored as `{ name, message, code? }`. */
  error?: unknown;
  context?: ActivityContext | undefined;
  /** A Date, an ISO 8601 string or epoch milliseconds. */
  occurredAt?: Date | string | number | undefined;
}

/** An event after validation, before it becomes a record: ids as strings, the time as a Date. */
export interface ParsedActivityEvent {
  id?: string | undefined;
  action: string;
  status?: ActivityStatus | undefined;
  actor?: { type: string; id?: string | undefined; name?: string | undefined } | undefined;
  target?: { type: string; id: string; name?: string | undefined } | undefined;
  tenantId?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  changes?: { before?: Record<string, unknown> | null | undefined; after?: Record<string, unknown> | null | undefined } | undefined;
  error?: unknown;
  context?: ActivityContext | undefined;
  occurredAt?: Date | undefined;
}

/** A normalised thrown value. */
export interface ActivityErrorInfo {
  name: string;
  message: string;
  code?: string | undefined;
  stack?: string | undefined;
}

/**
 * Stored changes: the changed fields only. A field's pair may be stored as a marker instead:
 * `"[truncated: N bytes]"` (over `maxMetadataBytes`) or `"[ERASED]"` (a `personal` key, after
 * `erase()`).
 */
export type ActivityChanges = Record<string, { before: unknown; after: unknown }>;

/**
 * A record's place in its logger's hash chain, with `integrity` on. `commitments` stand in
 * for the record's personal values in the hash, so that those can be erased.
 */
export interface RecordIntegrity {
  /** The chain: one per logger instance. */
  chain: string;
  /** The record's position in its chain, from 1. */
  seq: number;
  /** Which key the hash is made with. */
  keyId: string;
  /** The hash of the chain's previous record; empty for the first. */
  prev: string;
  /** HMAC-SHA256 of `prev` and the record's canonical form. */
  hash: string;
  /** 128 random bits (base64url) each personal field's salt derives from; gone after an erasure. */
  seed?: string | undefined;
  /** After an erasure: the salts of the personal fields still there, by path. */
  salts?: Record<string, string> | undefined;
  /** Each personal field's commitment, by path (`actor.name`, `metadata.email`...). */
  commitments?: Record<string, string> | undefined;
}

/** What a store keeps and returns: normalised, with defaults applied. */
export interface ActivityRecord {
  id: string;
  occurredAt: Date;
  action: string;
  status: ActivityStatus;
  actor?: { type: string; id?: string | undefined; name?: string | undefined } | undefined;
  target?: { type: string; id: string; name?: string | undefined } | undefined;
  tenantId?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  changes?: ActivityChanges | undefined;
  error?: ActivityErrorInfo | undefined;
  context?: ActivityContext | undefined;
  integrity?: RecordIntegrity | undefined;
}

/** The filters of a query, a count, a summary and an export, as a caller writes them. */
export interface ActivityFilter {
  actorType?: string | undefined;
  actorId?: string | number | undefined;
  /** Exact action, or `prefix.*` for every action under a prefix. */
  action?: string | undefined;
  status?: ActivityStatus | undefined;
  targetType?: string | undefined;
  targetId?: string | number | undefined;
  tenantId?: string | number | undefined;
  /** Inclusive lower bound on `occurredAt`. */
  from?: Date | string | number | undefined;
  /** Exclusive upper bound on `occurredAt`. */
  to?: Date | string | number | undefined;
  /** Leaves out the records of an action or a prefix (`activity.*`: the log's own reads). */
  excludeAction?: string | undefined;
  /** With `excludeAction`: leaves out only its records of this status (`success`: reads, not refusals). */
  excludeActionStatus?: ActivityStatus | undefined;
  /** The records of one request: `context.requestId` equal to this. */
  requestId?: string | undefined;
  /** The records of one trace: `context.traceId` equal to this. */
  traceId?: string | undefined;
  /** Free text over action, actor name and target name (ASCII letters in either case). */
  search?: string | undefined;
  /** Equality on top-level metadata keys, e.g. `{ recipeId: 'r_1' }`. */
  metadata?: Record<string, string | number | boolean> | undefined;
}

/** The filters after validation: what stores receive. Ids are strings, times are Dates. */
export interface NormalizedActivityFilter {
  actorType?: string | undefined;
  actorId?: string | undefined;
  action?: string | undefined;
  status?: ActivityStatus | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  tenantId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  excludeAction?: string | undefined;
  excludeActionStatus?: ActivityStatus | undefined;
  requestId?: string | undefined;
  traceId?: string | undefined;
  search?: string | undefined;
  metadata?: Record<string, string | number | boolean> | undefined;
}

/** A query as a caller writes it: the filters, and a page. Results are newest first. */
export interface ActivityQuery extends ActivityFilter {
  /** 1 to 500; 50 when absent. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

/** A query after validation and defaults: what stores receive. */
export interface NormalizedActivityQuery extends NormalizedActivityFilter {
  limit: number;
  cursor?: string | undefined;
}

/** The record whose history `history()` and `stateAt()` read: a target's type and id (a record's `target` will do; its `name` is ignored). */
export interface HistoryTarget {
  type: string;
  /** Stored as a string. */
  id: string | number;
  /** Accepted, whatever it holds, so that a record's `target` (or an app's own object) can be passed as it is; not part of the filter. */
  name?: unknown;
}

/** A page of a target's history, as a caller asks for it. Newest first. */
export interface HistoryOptions {
  /** Versions per page, 1 to 500; 50 when absent. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
  /** Inclusive lower bound on `occurredAt`. */
  from?: Date | string | number | undefined;
  /** Exclusive upper bound on `occurredAt`. */
  to?: Date | string | number | undefined;
}

/** The buckets `summarize()` can group by. */
export type SummaryDimension = 'action' | 'status' | 'actorType' | 'hour' | 'day';

/** A summary request: what to group by, and the same filters as a query. */
export interface SummaryQuery extends ActivityFilter {
  by: SummaryDimension;
  /** The IANA time zone `hour` and `day` buckets follow; UTC when absent. */
  tz?: string | undefined;
}

/** A summary request, validated. */
export interface NormalizedSummaryQuery extends NormalizedActivityFilter {
  by: SummaryDimension;
  tz?: string | undefined;
}

/** A set of records a purge leaves alone: those of one tenant, of one action (or prefix), or both. */
export interface PurgeException {
  tenantId?: string | undefined;
  action?: string | undefined;
}

/** What `purge()` deletes: records older than `before`, optionally of one tenant or action. */
export interface PurgeOptions {
  before: Date | string | number;
  tenantId?: string | number | undefined;
  action?: string | undefined;
  /** Records matching any of these stay. */
  except?: { tenantId?: string | number | undefined; action?: string | undefined }[] | undefined;
  /** At most this many, oldest first. */
  limit?: number | undefined;
}

/** A purge request, validated. */
export interface NormalizedPurgeOptions {
  before: Date;
  tenantId?: string | undefined;
  action?: string | undefined;
  except?: PurgeException[] | undefined;
  limit?: number | undefined;
}

/** One problem a schema found, as zod reports it. */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
}

/**
 * One of the schemas the shapes above are checked with (zod underneath), typed by what it
 * parses to, without zod's own types.
 */
export interface ShapeSchema<Output> {
  /** The parsed value, or throws with every problem. */
  parse(data: unknown): Output;
  /** The parsed value, or the problems. */
  safeParse(data: unknown): { success: true; data: Output } | { success: false; error: { readonly issues: readonly SchemaIssue[] } };
}
