import { ActivityLogError, isActivityLogError } from '../errors.js';
import type { ActivityRecord } from '../schema.js';
import type { ChainTracker } from '../integrity/tracker.js';
import type { ActivityStore } from '../store.js';
import { backoffDelay, type Sleeper } from './retry.js';
import type { Counters } from './stats.js';

/** What became of a batch's records once the store answered. */
export interface WriteOutcome {
  written: number;
  /** Records the store refused for their content, each already reported. */
  rejected: number;
}

export interface WriterOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The logger's hash chain, told which records the store took and which it refused. */
  chain?: ChainTracker | undefined;
}

/**
 * Writes batches to the store. A batch the store refuses for its content (`RECORD_REJECTED`)
 * is split in halves until the refused records are alone: the rest are written, and each
 * refused one is reported with the store's reason. Any other rejection (a connection, a lock)
 * is the store being unavailable: `writeWithRetries` retries it with backoff, `writeOnce`
 * throws it for the caller (the spool relay) to decide.
 */
export class BatchWriter {
  /** The store's error since its last successful write, so a drop at close() can say why. */
  lastFailure: unknown;
  /**
   * The last error of each batch being retried: with two batches in flight, the other one's
   * success must not erase why this one is still waiting.
   */
  private readonly failures = new WeakMap<readonly ActivityRecord[], unknown>();

  constructor(
    private readonly store: ActivityStore,
    private readonly options: WriterOptions,
    private readonly counters: Counters,
    private readonly report: (error: ActivityLogError) => void,
    private readonly sleeper: Sleeper,
    /** Called after each write the store took: progress, for close()'s patience. */
    private readonly progressed: () => void,
  ) {}

  /**
   * One attempt: O(refused × log(batch)) inserts when some records are refused; ids make the
   * halves already written a no-op when the whole batch is tried again. Throws when the store
   * is unavailable.
   */
  async writeOnce(records: readonly ActivityRecord[]): Promise<WriteOutcome> {
    try {
      await this.store.insert(records);
      this.lastFailure = undefined;
      this.progressed();
      this.options.chain?.stored(records);
      return { written: records.length, rejected: 0 };
    } catch (cause) {
      if (!isActivityLogError(cause, 'RECORD_REJECTED')) {
        this.lastFailure = cause;
        throw cause;
      }
      this.progressed();
      if (records.length === 1) {
        this.options.chain?.lost(records);
        this.reportRejected(records[0]!, cause);
        return { written: 0, rejected: 1 };
      }
      const middle = Math.ceil(records.length / 2);
      const first = await this.writeOnce(records.slice(0, middle));
      const second = await this.writeOnce(records.slice(middle));
      return { written: first.written + second.written, rejected: first.rejected + second.rejected };
    }
  }

  /**
   * Attempts until the store takes the batch, or the attempts are used up (`'failed'`,
   * reported as `STORE_FAILED`): after `maxAttempts`, or at the first failure once
   * `closing()`. `'abandoned'` when close() settled the batch meanwhile. `keepAlive()` says
   * whether someone awaits the outcome, so the backoff holds the process open.
   */
  async writeWithRetries(
    records: readonly ActivityRecord[],
    when: { abandoned: () => boolean; closing: () => boolean; keepAlive: () => boolean },
  ): Promise<WriteOutcome | 'failed' | 'abandoned'> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeOnce(records);
      } catch (cause) {
        this.failures.set(records, cause);
        if (when.abandoned()) return 'abandoned';
        if (attempt >= maxAttempts || when.closing()) {
          this.report(
            new ActivityLogError(
              'STORE_FAILED',
              `store "${this.store.name}" rejected a batch of ${records.length} events ${attempt} times; they are counted as failed`,
              { cause, details: { count: records.length, attempts: attempt } },
            ),
          );
          return 'failed';
        }
        this.counters.retries++;
        await this.sleeper.sleep(backoffDelay(attempt, baseDelayMs, maxDelayMs), when.keepAlive());
        if (when.abandoned()) return 'abandoned';
      }
    }
  }

  /** Why the store has not taken `records` yet: their own last error, else the store's. */
  failureOf(records: readonly ActivityRecord[]): unknown {
    return this.failures.get(records) ?? this.lastFailure;
  }

  private reportRejected(record: ActivityRecord, cause: ActivityLogError): void {
    const field = typeof cause.details?.field === 'string' ? cause.details.field : undefined;
    const reason = typeof cause.details?.reason === 'string' ? cause.details.reason : cause.message;
    this.report(
      new ActivityLogError(
        'RECORD_REJECTED',
        `event ${record.id} (${record.action}): ${field ? `${field}: ` : ''}refused by store "${this.store.name}": ${reason}; the other events of its batch were written`,
        { cause, details: { id: record.id, action: record.action, field, reason } },
      ),
    );
  }
}
