/**
 * `activity-log/store`: what a storage adapter needs besides the contract. Stores receive
 * validated input and return pages the way the logger expects; these are the pieces the
 * built-in stores use to do so (query parsing, keyset cursors and pages, summary buckets, the
 * text rule every store stores by), and the schemas every shape is checked with.
 * The conformance suite a store proves itself with is `activity-log/testing`.
 */
import { schemas, type Schemas } from './schemas.js';
import type {
  ActivityRecord,
  NormalizedActivityFilter,
  NormalizedActivityQuery,
  NormalizedPurgeOptions,
  NormalizedSummaryQuery,
  ParsedActivityEvent,
  RecordIntegrity,
  ShapeSchema,
} from './types.js';
export type { ActivityStore, ChainPageQuery, ChainPosition, CheckpointPageQuery, StoreCapabilities } from './store.js';
export { canonicalForm, canonicalJson, chainHash, commitment, PERSONAL_FIELDS } from './integrity/canonical.js';
export { checkpointSignature } from './integrity/checkpoints.js';
export { storedTime } from './stored-time.js';
export { isActivityStore } from './store.js';
export { parseActivityQuery, parseActivityFilter, parseSummaryQuery, parsePurgeOptions, toPage, actionPrefix, asciiLowerCase } from './query.js';
export type { StoreQuery } from './query.js';
export { encodeCursor, decodeCursor, comparePageOrder, pagePosition } from './cursor.js';
export type { CursorPosition } from './cursor.js';
export { bucketKey, timeBucketKey, timeBucketing, SummaryCounter } from './summary.js';
export type { TimeBucketing, TimeRange } from './summary.js';
export type { UnitSegment } from './time-zone.js';
export { isUtc, zoneOffsetMs } from './time-zone.js';
export { storableText, storableJson, REPLACEMENT_CHARACTER } from './text.js';
export { EARLIEST_TIME_MS, LATEST_TIME_MS } from './time.js';
export { createRedactor } from './redact.js';
export type { Redactor } from './redact.js';
export { normalizeThrown } from './normalize-error.js';
export { isActivitySpool, DEFAULT_SPOOL_FILENAME, DEFAULT_SPOOL_MAX_BYTES } from './spool.js';
export type { ActivitySpool, SpooledBatch, SpoolOptions } from './spool.js';
export { ACTION_PATTERN, ACTION_FILTER_PATTERN, CONTEXT_FIELDS, EVENT_FIELDS, EVENT_ID_PATTERN, METADATA_KEY_PATTERN } from './schema.js';
export type {
  NormalizedActivityFilter,
  NormalizedActivityQuery,
  NormalizedPurgeOptions,
  NormalizedSummaryQuery,
  ParsedActivityEvent,
  SchemaIssue,
  ShapeSchema,
} from './types.js';

// The schemas every shape is checked with, typed by what they parse to (the declarations of
// this package never name zod's types: see src/types.ts), and built on first use.
/** What `log()` accepts, parsed: ids as strings, the time as a Date. */
export const activityEventSchema: ShapeSchema<ParsedActivityEvent> = lazySchema('activityEventSchema');
/** The filters of a count, a summary or an export. */
export const activityFilterSchema: ShapeSchema<NormalizedActivityFilter> = lazySchema('activityFilterSchema');
/** A query: the filters, a page size (default 50) and a cursor. */
export const activityQuerySchema: ShapeSchema<NormalizedActivityQuery> = lazySchema('activityQuerySchema');
/** A stored record. */
export const activityRecordSchema: ShapeSchema<ActivityRecord> = lazySchema('activityRecordSchema');
/** A record's place in its hash chain. */
export const recordIntegritySchema: ShapeSchema<RecordIntegrity> = lazySchema('recordIntegritySchema');
/** What `purge()` takes. */
export const purgeOptionsSchema: ShapeSchema<NormalizedPurgeOptions> = lazySchema('purgeOptionsSchema');
/** What `summarize()` takes. */
export const summaryQuerySchema: ShapeSchema<NormalizedSummaryQuery> = lazySchema('summaryQuerySchema');

/** A schema that builds the schemas (and loads zod) when it is first used. */
function lazySchema<Output>(name: keyof Schemas): ShapeSchema<Output> {
  const schema = () => schemas()[name] as unknown as ShapeSchema<Output>;
  return {
    parse: (data) => schema().parse(data),
    safeParse: (data) => schema().safeParse(data),
  };
}
