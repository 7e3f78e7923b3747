import type { ActivityRecord, NormalizedSummaryQuery, SummaryBucket } from './schema.js';

/** Summary semantics shared by every store: bucket keys and bucket order. */

/** The bucket key of a record: an ISO hour (`2026-01-02T03:00:00.000Z`) or day (`2026-01-02`) for time. */
export function bucketKey(
  record: Pick<ActivityRecord, 'action' | 'status' | 'actor'>,
  occurredAtMs: number,
  by: NormalizedSummaryQuery['by']): string {
  switch (by) {
    case 'action':
      return record.action;
    case 'status':
      return record.status;
    case 'actorType':
      return record.actor?.type ?? '(none)';
    case 'hour':
      return new Date(Math.floor(occurredAtMs / 3_600_000) * 3_600_000).toISOString();
    case 'day':
      return new Date(Math.floor(occurredAtMs / 86_400_000) * 86_400_000).toISOString().slice(0, 10);
    default:
      return assertNever(by);
  }
}

/** Time buckets in time order; others by count, descending, then key. */
export function sortBuckets(buckets: SummaryBucket[], by: NormalizedSummaryQuery['by']): SummaryBucket[] {
  if (by === 'hour' || by === 'day') return buckets.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return buckets.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function assertNever(value: never): never {
  throw new Error(`unknown summary dimension ${String(value)}`);
}
