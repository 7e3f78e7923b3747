import { ActivityLogError } from '../errors.js';
import type { ActivityRecord } from '../schema.js';
import type { ActivitySpool } from '../spool.js';
import { storableJson } from '../text.js';
import type { Batch, Batcher } from './batcher.js';
import { backoffDelay, unref, type Sleeper } from './retry.js';
import type { Counters } from './stats.js';
import type { BatchWriter } from './writer.js';

export interface SpoolRelayOptions {
  /** Events held in memory above which batches go straight to the spool. */
  highWater: number;
  /**
   * Events held in memory now: waiting, being written, and waiting for their bindings (a
   * request's async actor). The last cannot be spooled yet, but take room all the same.
   */
  held: () => number;
  /** Events per batch: above the mark only for want of room taken by waiting events, only full batches spill. */
  batchSize: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The spool's side of the pipeline: batches go to the spool instead of waiting for a store
 * that is down (`storeDown`, set by the first failure and cleared by the next success) or
 * slower than the event rate (the queue above its high-water mark), and a replayer forwards
 * them to the store, oldest first, once it answers: also what an earlier process left.
 *
 * The replayer is what finds out that the store answers again, so `storeDown` holds only
 * while it runs: when it stops with the spool empty or unreadable, the next batch tries the
 * store itself. And every batch the spool takes starts it (or, while it runs, makes it look
 * again before it stops), so nothing is left in the spool with no replay to forward it.
 */
export class SpoolRelay {
  /** The store failed and has not answered since: batches go to the spool. */
  storeDown = false;
  private spilling = false;
  private replaying: Promise<void> = Promise.resolve();
  /** Set and cleared by the replay loop itself, synchronously, as the batcher's drain does. */
  private replayRunning = false;
  /** A batch was spooled while the replay loop ran: it looks again before it stops. */
  private replayWanted = false;
  private readonly appends = new Set<Promise<void>>();
  private stopping = false;
  /** Set by close() when the store stopped making progress during its drain of the spool. */
  private drainAbandoned = false;
  /**
   * Set by close(): a write close() gave up on (the drain's, or a replay's past its second)
   * may answer later, and must not open the spool again to remove its batch, leaving the file
   * open. The batch stays in the spool; its ids make the next process's replay a no-op.
   */
  private closed = false;
  /**
   * Refusals of the spool (full, failed) reported in the burst under way: a burst is reported
   * once, at its first refused batch, as a full queue is (QUEUE_FULL); a long outage past
   * `maxBytes` would otherwise report every batch. Later drops of the burst are counted in
   * `stats().dropped`. A burst ends when the spool takes a batch again.
   */
  private readonly refusing = new Set<'SPOOL_FULL' | 'SPOOL_FAILED'>();

  constructor(
    private readonly spool: ActivitySpool,
    private readonly batcher: Batcher,
    private readonly writer: BatchWriter,
    private readonly options: SpoolRelayOptions,
    private readonly counters: Counters,
    private readonly report: (error: ActivityLogError) => void,
    private readonly sleeper: Sleeper,
  ) {}

  get name(): string {
    return this.spool.name;
  }

  /** After an event is queued or deferred: past the high-water mark, start moving batches to the spool. */
  checkHighWater(): void {
    if (this.spilling || this.stopping || !this.overHighWater()) return;
    this.spilling = true;
    // After the caller's turn: log() never writes.
    unref(setTimeout(() => void this.spill().finally(() => (this.spilling = false)), 0));
  }

  /**
   * Settles a batch as spooled, or as dropped when the spool refuses it. Never rejects.
   * `before` is told which (true: spooled) just before the batch settles, so that what it
   * reports is seen by whoever awaits `flush()`.
   */
  toSpool(batch: Batch, before?: (spooled: boolean) => void): Promise<void> {
    const append = this.append(batch, before).finally(() => this.appends.delete(append));
    this.appends.add(append);
    return append;
  }

  /** Forwards spooled batches to the store, oldest first, until the spool is empty. */
  startReplay(): Promise<void> {
    if (this.stopping) return this.replaying;
    if (this.replayRunning) this.replayWanted = true;
    else this.replaying = this.replayLoop();
    return this.replaying;
  }

  /** close(): stop spilling and replaying; resolves once the appends in progress are done. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.appends);
  }

  /** close(): how long the replay in progress may take to stop. */
  replayStopped(): Promise<void> {
    return this.replaying;
  }

  /**
   * close(), once the queue is written and the replay has stopped: forwards what the spool
   * still holds while the store takes it, so that a process whose spool is on a disk that goes
   * with it (a container's) leaves nothing behind. Stops at the spool's end, at the first
   * failure (what is left waits for the next process to replay it), or at `abandonDrain()`.
   */
  async drainAtClose(): Promise<void> {
    await this.replaying;
    await this.replayBatches(true);
  }

  /** close(): the store stopped making progress; the drain stops after the write in progress. */
  abandonDrain(): void {
    this.drainAbandoned = true;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.spool.close();
  }

  /** While the queue stays above the high-water mark, moves batches to the spool beside the write in progress. */
  private async spill(): Promise<void> {
    while (!this.stopping && this.overHighWater()) {
      const batch = await this.batcher.take();
      // Stopped while this prepared it: close() finished it and moves it to the spool itself.
      if (!batch || batch.settled || this.stopping) break;
      if (batch.records.length === 0) this.batcher.settle(batch, 'written');
      else await this.toSpool(batch);
    }
    void this.startReplay();
  }

  /**
   * Whether a batch should go to the spool now: events wait in the queue and memory is above
   * the mark. When the queue alone is not above it (events waiting for a request's actor take
   * the room, and they cannot be spooled), only a full batch goes: a store that keeps up takes
   * the rest directly, rather than the spool taking every event one at a time.
   */
  private overHighWater(): boolean {
    const { batcher, options } = this;
    if (batcher.waiting === 0 || options.held() <= options.highWater) return false;
    return batcher.held > options.highWater || batcher.waiting >= options.batchSize;
  }

  private async append(batch: Batch, before?: (spooled: boolean) => void): Promise<void> {
    try {
      await this.spool.append(batch.records);
      this.refusing.clear();
      before?.(true);
      this.batcher.settle(batch, 'spooled');
      void this.startReplay();
    } catch (cause) {
      const code = cause instanceof ActivityLogError && cause.code === 'SPOOL_FULL' ? 'SPOOL_FULL' : 'SPOOL_FAILED';
      if (batch.records.length > 0 && !this.refusing.has(code)) {
        this.refusing.add(code);
        this.report(this.describeRefusal(code, cause, batch.records.length));
      }
      before?.(false);
      this.batcher.settle(batch, 'dropped');
    }
  }

  /** The report of a burst of refusals, at its first batch. */
  private describeRefusal(code: 'SPOOL_FULL' | 'SPOOL_FAILED', cause: unknown, dropped: number): ActivityLogError {
    const further = 'further drops until the spool takes a batch again are counted in stats().dropped, not reported one by one';
    if (code === 'SPOOL_FULL' && cause instanceof ActivityLogError) {
      return new ActivityLogError('SPOOL_FULL', `${cause.message} (${further})`, { cause, details: { ...cause.details, dropped } });
    }
    return new ActivityLogError(code, `spool "${this.spool.name}" could not take ${dropped} events${peerAdvice(cause)}; they are dropped (${further})`, {
      cause,
      details: { dropped },
    });
  }

  private async replayLoop(): Promise<void> {
    this.replayRunning = true;
    try {
      await this.replayBatches();
    } finally {
      // In the same step as the loop's last look at the spool: a batch spooled from here on
      // starts a new loop. The store is tried by the next batch rather than taken for down with
      // no replay left to find out otherwise (a spool that was empty, full or unreadable).
      this.replayRunning = false;
      if (!this.stopping) this.storeDown = false;
    }
  }

  /** The replay loop; `atClose`, close()'s drain: no waiting between attempts, the first failure ends it. */
  private async replayBatches(atClose = false): Promise<void> {
    const spool = this.spool;
    let attempt = 0;
    /** close()'s drain: a batch whose failure was that of an insert sent before it is tried once more. */
    let retriedStale = false;
    /** Batches in a row that another process sharing the spool file took out first. */
    let overtaken = 0;
    while ((atClose ? !this.drainAbandoned : !this.stopping) && !this.closed) {
      this.replayWanted = false;
      let spooled;
      try {
        spooled = await spool.peek();
      } catch (cause) {
        this.report(new ActivityLogError('SPOOL_FAILED', `spool "${spool.name}" could not be read${peerAdvice(cause)}`, { cause }));
        return;
      }
      if (!spooled) {
        if (this.replayWanted) continue;
        return;
      }
      if (spooled.unreadable !== undefined) {
        const readable = spooled.records.length;
        const setAside = spooled.unreadableRecords;
        // Records set aside one by one are counted invalid, as a record the store refuses on replay is.
        if (setAside !== undefined) this.counters.invalid += setAside;
        const rest = readable > 0 ? `the replay goes on with its ${readable} other records` : 'the replay goes on without it';
        const what = readable > 0 ? `${setAside ?? 'some'} of its records could not be read back and were kept aside` : 'could not be read back and was kept aside';
        this.report(
          new ActivityLogError('SPOOL_FAILED', `spool "${spool.name}": batch ${spooled.id} ${what} (${spooled.unreadable}); ${rest}`, {
            details: { batchId: spooled.id, unreadable: setAside, replayed: readable },
          }),
        );
        if (readable === 0) {
          try {
            await spool.remove(spooled.id);
          } catch {
            // The spool has set it aside already.
          }
          continue;
        }
      }
      let outcome;
      try {
        // Through the same text rule as live events (a spool left by an older release may
        // hold text a store cannot take), and split like a live batch when the store refuses
        // some records for their content: one batch can never hold the replay up.
        outcome = await this.writer.writeOnce(spooled.records.map(storableRecord));
      } catch (cause) {
        if (atClose && !retriedStale && !this.closed && this.writer.failedEarlier(cause)) {
          retriedStale = true;
          continue;
        }
        if (atClose || this.closed) return;
        this.storeDown = true;
        attempt++;
        await this.sleeper.sleep(backoffDelay(attempt, this.options.baseDelayMs, this.options.maxDelayMs), false);
        continue;
      }
      // Only now, with the store's commit done, does the batch leave the spool (not once
      // close() has closed it: it is left for the next process).
      if (this.closed) return;
      let removed;
      try {
        removed = await spool.remove(spooled.id);
      } catch (cause) {
        // A full disk refuses the delete too (SQLite writes it to the WAL). The store has the
        // batch and answers: live batches go to it, and this one is tried again (its ids make
        // the second insert a no-op) until the spool lets it go.
        this.report(new ActivityLogError('SPOOL_FAILED', `spool "${spool.name}" could not remove a replayed batch (the store has it); the replay tries again`, { cause, details: { batchId: spooled.id } }));
        if (atClose) return;
        this.storeDown = false;
        await this.sleeper.sleep(backoffDelay(++attempt, this.options.baseDelayMs, this.options.maxDelayMs), false);
        continue;
      }
      attempt = 0;
      retriedStale = false;
      this.storeDown = false;
      // Processes sharing a spool file (cluster workers) each forward its oldest batch; ids keep
      // one copy in the store, and only the one that took the batch out of the file counts it.
      // The others stand back a while (longer each time they are overtaken again), rather than
      // all of them sending every batch to a store that has just come back. Never for good: if
      // the one forwarding stops (killed, closed), the next look finds its batches.
      if (removed === false) {
        if (!atClose) await this.sleeper.sleep(backoffDelay(++overtaken, this.options.baseDelayMs, this.options.maxDelayMs), false);
        continue;
      }
      overtaken = 0;
      this.counters.replayed += outcome.written;
      this.counters.invalid += outcome.rejected;
    }
  }
}

/** A record read back from a spool, with its text made storable (text.ts); dates stay dates. */
function storableRecord(record: ActivityRecord): ActivityRecord {
  const { occurredAt, ...rest } = record;
  const fixed = storableJson(rest);
  return fixed === rest ? record : { ...fixed, occurredAt };
}

/**
 * What a spool's failure says, when it tells the app what to do: the spool's driver is not
 * installed (`spool: true` in an app on PostgreSQL without better-sqlite3) or cannot run here,
 * or its file holds another log's batches. Other causes stay in `cause`: a disk's error is for
 * the log, not the message.
 */
function peerAdvice(cause: unknown): string {
  if (!(cause instanceof ActivityLogError)) return '';
  // The spool's driver, or a file that belongs to another log.
  const advice = cause.code === 'MISSING_PEER' || cause.code === 'INCOMPATIBLE_PEER' || (cause.code === 'SPOOL_FAILED' && cause.details?.destination !== undefined);
  return advice ? `: ${cause.message}` : '';
}
