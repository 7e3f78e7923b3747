/**
 * `activity-log/store`: what a storage adapter needs besides the contract. Stores receive
 * validated input and return pages the way the logger expects; these are the pieces the
 * built-in stores use to do so (query parsing, keyset cursors and pages, summary buckets, the
 * text rule every store stores by), and the zod schemas every shape is inferred from.
 * The conformance suite a store proves itself with is `activity-log/testing`.
 */
export type { ActivityStore, ChainPageQuery, ChainPosition, CheckpointPageQuery, StoreCapabilities } from './store.js';
export { canonicalForm, canonicalJson, chainHash, commitment, PERSONAL_FIELDS } from './integrity/canonical.js';
export { checkpointSignature } from './integrity/checkpoints.js';
export { isActivityStore } from './store.js';
export { parseActivityQuery, parseActivityFilter, parseSummaryQuery, parsePurgeOptions, toPage, actionPrefix, asciiLowerCase } from './query.js';
export type { StoreQuery } from './query.js';
export { encodeCursor, decodeCursor, comparePageOrder } from './cursor.js';
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
export {
  ACTION_PATTERN,
  ACTION_FILTER_PATTERN,
  CONTEXT_FIELDS,
  EVENT_FIELDS,
  EVENT_ID_PATTERN,
  METADATA_KEY_PATTERN,
  activityEventSchema,
  activityFilterSchema,
  activityQuerySchema,
  activityRecordSchema,
  recordIntegritySchema,
  purgeOptionsSchema,
  summaryQuerySchema,
} from './schema.js';
export type {
  NormalizedActivityFilter,
  NormalizedActivityQuery,
  NormalizedPurgeOptions,
  NormalizedSummaryQuery,
  ParsedActivityEvent,
} from './schema.js';
