import { ActivityLogError, isActivityLogError } from '../errors.js';
import type { ActivityRecord } from '../schema.js';
import type { ChainTracker } from '../integrity/tracker.js';
import type { ActivityStore } from '../store.js';
import { backoffDelay, unref, withinTime, type Sleeper, type TimerHolder } from './retry.js';
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
  /** How long one insert is waited for before the attempt counts as failed. */
  attemptTimeoutMs: number;
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
  /** The store's latest error, kept after a success: the reason a batch never sent waited. */
  private latestFailure: unknown;
  /**
   * The last error of each batch being retried: with two batches in flight, the other one's
   * success must not erase why this one is still waiting.
   */
  private readonly failures = new WeakMap<readonly ActivityRecord[], unknown>();
  /** Inserts sent and not yet answered, by batch (see `insert`). */
  private readonly running = new Map<string, RunningInsert>();
  /** The timers of attempts waiting for an insert: they hold the process open until `release()`. */
  private readonly waits = new Set<ReturnType<typeof setTimeout>>();
  private released = false;
  /** Failures of inserts an attempt waited for but did not send (an earlier attempt's, still running). */
  private readonly inherited = new WeakSet<object>();

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
      await this.insert(records);
      this.lastFailure = undefined;
      this.progressed();
      this.options.chain?.stored(records);
      return { written: records.length, rejected: 0 };
    } catch (cause) {
      if (!isActivityLogError(cause, 'RECORD_REJECTED')) {
        this.lastFailure = cause;
        this.latestFailure = cause;
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

  /**
   * The store's insert of `records`, waited for `attemptTimeoutMs` at most: past that the
   * attempt throws, as for any unavailable store, so `flush()` settles even when the database
   * never answers. The insert itself cannot be called back; it is kept, and the next attempt
   * of the same records waits for it again instead of sending another (a hung database would
   * otherwise take one more connection per attempt). If it commits late, ids make the batch's
   * next write, or its replay from the spool, a no-op.
   */
  private async insert(records: readonly ActivityRecord[]): Promise<void> {
    const key = batchKey(records);
    let running = this.running.get(key);
    const joined = running !== undefined;
    if (!running) {
      const sent: RunningInsert = { done: this.send(records), since: Date.now(), count: records.length };
      const settled = () => {
        if (this.running.get(key) === sent) this.running.delete(key);
      };
      sent.done.then(settled, settled);
      this.running.set(key, sent);
      running = sent;
    }
    const { attemptTimeoutMs } = this.options;
    if (!(await withinTime(running.done, attemptTimeoutMs, this.holder))) {
      throw new ActivityLogError(
        'STORE_FAILED',
        `store "${this.store.name}" did not answer an insert of ${records.length} events within retry.attemptTimeoutMs (${attemptTimeoutMs} ms); the attempt counts as failed`,
        { details: { count: records.length, timeoutMs: attemptTimeoutMs } },
      );
    }
    try {
      await running.done;
    } catch (cause) {
      if (joined && typeof cause === 'object' && cause !== null) this.inherited.add(cause);
      throw cause;
    }
  }

  /**
   * Whether `cause` is the failure of an insert sent by an earlier attempt, which this one only
   * waited for: the store has not refused anything sent since (close()'s drain of the spool
   * tries once more rather than leaving the spool behind for a stale failure).
   */
  failedEarlier(cause: unknown): boolean {
    return typeof cause === 'object' && cause !== null && this.inherited.has(cause);
  }

  /**
   * close(), once it has settled: an attempt still waiting for an insert (close() gave up on
   * its batch) no longer holds the process open; nobody waits for its answer any more.
   */
  release(): void {
    this.released = true;
    for (const timer of this.waits) unref(timer);
  }

  /** The timers of waiting attempts: they hold the process open until `release()`. */
  private readonly holder: TimerHolder = {
    hold: (timer) => {
      if (this.released) unref(timer);
      else this.waits.add(timer);
    },
    drop: (timer) => {
      this.waits.delete(timer);
    },
  };

  /** `store.insert`, a synchronous throw turned into a rejection. */
  private send(records: readonly ActivityRecord[]): Promise<void> {
    try {
      return Promise.resolve(this.store.insert(records));
    } catch (cause) {
      return Promise.reject(cause);
    }
  }

  /**
   * An insert still unanswered, as the reason a batch was not written: the batch's own, else
   * (for a batch never sent) the oldest one the store is stuck on.
   */
  private unanswered(records?: readonly ActivityRecord[]): ActivityLogError | undefined {
    const running = records ? this.running.get(batchKey(records)) : this.running.values().next().value;
    if (!running) return undefined;
    return new ActivityLogError(
      'STORE_FAILED',
      `store "${this.store.name}" has not answered an insert of ${running.count} events sent ${Date.now() - running.since} ms ago`,
      { details: { count: running.count, waitedMs: Date.now() - running.since } },
    );
  }

  /**
   * Why the store has not taken `records` yet: their own last error, their insert still
   * unanswered, the store's last error, an earlier insert it has not answered, or its latest
   * error before a success.
   */
  failureOf(records: readonly ActivityRecord[]): unknown {
    return this.failures.get(records) ?? this.unanswered(records) ?? this.lastFailure ?? this.unanswered() ?? this.latestFailure;
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

/** An insert sent to the store and not yet answered. */
interface RunningInsert {
  done: Promise<void>;
  since: number;
  count: number;
}

/**
 * Names a batch across attempts and replays (a replay rebuilds the array): every id, in order.
 * Its ends and size are not enough: ids a caller gives (idempotency keys) can repeat at both
 * ends of two batches in flight together, and the second would take the first's insert for
 * its own, counting its other records written when they were never sent.
 */
function batchKey(records: readonly ActivityRecord[]): string {
  return JSON.stringify(records.map((record) => record.id));
}
