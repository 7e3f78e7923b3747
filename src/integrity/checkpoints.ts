import { ActivityLogError } from '../errors.js';
import type { ActivityRecord } from '../schema.js';
import type { ActivityStore } from '../store.js';
import { canonicalJson, sign } from './canonical.js';
import { CheckpointQueue, MAX_WAITING_CHECKPOINTS } from './checkpoint-queue.js';
import type { IntegrityCheckpoint, ResolvedIntegrity } from './options.js';

/** The signature of a checkpoint: HMAC-SHA256 over the canonical JSON of its other fields. */
export function checkpointSignature(key: Uint8Array, checkpoint: Omit<IntegrityCheckpoint, 'signature'>): string {
  const { chain, seq, hash, keyId, at } = checkpoint;
  return sign(key, canonicalJson({ at, chain, hash, keyId, seq }));
}

/** The last checkpoint at close: when `onCheckpoint` has it, when the store has, and which it is (`seq` 0: none). */
export interface CheckpointsClosing {
  sunk: Promise<void>;
  stored: Promise<void>;
  chain: string;
  seq: number;
}

/**
 * Makes the checkpoints of one chain: every `checkpointRecords` records, every
 * `checkpointMs` when the chain has grown, and one at close. A checkpoint names the newest
 * record of the chain that is stored and has every earlier record of the chain settled
 * (stored, spooled, or lost and reported): a checkpoint never runs ahead of what the store holds,
 * also when batches settle out of order (a spill to the spool overtakes a slow write).
 * Each goes to the store (when it keeps checkpoints) and to `onCheckpoint`. @internal
 */
export class CheckpointKeeper {
  /** The lowest sequence number not settled yet. */
  private next = 1;
  /** Settled records ahead of `next`, by sequence number. */
  private readonly ahead = new Map<number, { hash: string; stored: boolean }>();
  private lastStored: { seq: number; hash: string } | undefined;
  private lastCheckpointSeq = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /**
   * The checkpoints being written to the store, and those being handed to `onCheckpoint`: two
   * queues, each in order, so that a store that hangs or is slow never holds back the copy
   * kept outside the database (the one that proves a truncation), each bounded.
   */
  private readonly toStore: CheckpointQueue;
  private readonly toSink: CheckpointQueue;
  /** The newest checkpoints the store kept and refused: what a failing `onCheckpoint` can say of the store's copy. */
  private storedSeq = 0;
  private refusedSeq = 0;
  /** close() made the last checkpoint. */
  private closed = false;

  constructor(
    private readonly chain: string,
    private readonly integrity: ResolvedIntegrity,
    private readonly store: ActivityStore,
    private readonly report: (error: ActivityLogError) => void,
  ) {
    const behind = (code: 'STORE_FAILED' | 'CALLBACK_FAILED', who: string) => (newest: IntegrityCheckpoint) =>
      report(
        new ActivityLogError(
          code,
          `${who} has not taken the last ${MAX_WAITING_CHECKPOINTS} checkpoints of chain ${chain}: until it catches up, each new one replaces the newest waiting (it covers the same records and more)`,
          { details: { chain, seq: newest.seq } },
        ),
      );
    this.toStore = new CheckpointQueue((checkpoint) => this.keepInStore(checkpoint), behind('STORE_FAILED', `store "${store.name}"`));
    this.toSink = new CheckpointQueue((checkpoint) => this.handToSink(checkpoint), behind('CALLBACK_FAILED', 'integrity.onCheckpoint'));
    this.timer = setInterval(() => this.checkpointIfGrown(), integrity.checkpointMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /**
   * Records of this logger reached their end: `stored` in the store, or not (lost and
   * reported elsewhere, or spooled: in the spool, whoever replays it, this logger or another
   * process sharing the file, maybe never telling this one). A record stored after it was
   * settled (this logger's replay of its spooled batch) may still be the newest to checkpoint.
   */
  settled(records: readonly ActivityRecord[], stored: boolean): void {
    for (const record of records) {
      const integrity = record.integrity;
      if (!integrity || integrity.chain !== this.chain) continue;
      if (integrity.seq < this.next) {
        if (stored) this.storedLate(integrity.seq, integrity.hash);
        continue;
      }
      // Batches settle in order almost always: the next record moves the chain on at once.
      if (integrity.seq === this.next && this.ahead.size === 0) this.advance(integrity.hash, stored);
      else this.ahead.set(integrity.seq, { hash: integrity.hash, stored });
    }
    let entry = this.ahead.get(this.next);
    while (entry) {
      this.ahead.delete(this.next);
      this.advance(entry.hash, entry.stored);
      entry = this.ahead.get(this.next);
    }
  }

  /** A record settled before (spooled) is in the store now: every record before it is settled too. */
  private storedLate(seq: number, hash: string): void {
    if (this.lastStored && this.lastStored.seq >= seq) return;
    this.lastStored = { seq, hash };
    if (seq - this.lastCheckpointSeq >= this.integrity.checkpointRecords) this.checkpointIfGrown();
  }

  /** The record at `next` settled. */
  private advance(hash: string, stored: boolean): void {
    if (stored) this.lastStored = { seq: this.next, hash };
    this.next += 1;
    // Every `checkpointRecords` records, at the record that completes them.
    if (this.lastStored && this.lastStored.seq - this.lastCheckpointSeq >= this.integrity.checkpointRecords) this.checkpointIfGrown();
  }

  /**
   * close(): the last checkpoint, after those still being written. Never rejects. `sunk`
   * settles once `onCheckpoint` has every checkpoint, `stored` once the store has: close()
   * waits less for a store it already knows is not answering.
   */
  close(): CheckpointsClosing {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.checkpointIfGrown();
    // The last one: a write close() gave up on may still commit (and be told here) after close()
    // returned, when the sink may be gone and the store is closed.
    this.closed = true;
    return { sunk: this.toSink.idle(), stored: this.toStore.idle(), chain: this.chain, seq: this.lastCheckpointSeq };
  }

  private checkpointIfGrown(): void {
    if (this.closed) return;
    const last = this.lastStored;
    if (!last || last.seq <= this.lastCheckpointSeq) return;
    this.lastCheckpointSeq = last.seq;
    const { key, keyId } = this.integrity;
    const unsigned = { chain: this.chain, seq: last.seq, hash: last.hash, keyId, at: new Date().toISOString() };
    const checkpoint: IntegrityCheckpoint = { ...unsigned, signature: checkpointSignature(key, unsigned) };
    // One after another in each queue, so that the store and the sink see them in order. Each
    // its own object: the two run side by side now, and a sink that changes the one it is
    // given (a Date for its own database) must not change what the store is about to write.
    if (this.store.insertCheckpoints) this.toStore.push({ ...checkpoint });
    if (this.integrity.onCheckpoint) this.toSink.push({ ...checkpoint });
  }

  private async keepInStore(checkpoint: IntegrityCheckpoint): Promise<void> {
    try {
      await this.store.insertCheckpoints!([checkpoint]);
      this.storedSeq = Math.max(this.storedSeq, checkpoint.seq);
    } catch (cause) {
      this.refusedSeq = Math.max(this.refusedSeq, checkpoint.seq);
      this.report(new ActivityLogError('STORE_FAILED', `store "${this.store.name}" could not keep checkpoint ${checkpoint.seq} of chain ${checkpoint.chain}`, { cause }));
    }
  }

  private async handToSink(checkpoint: IntegrityCheckpoint): Promise<void> {
    try {
      await this.integrity.onCheckpoint!(checkpoint);
    } catch (cause) {
      // The two copies are made side by side: the store's is said to be kept only once it is.
      const kept = !this.store.insertCheckpoints
        ? 'the store keeps no checkpoints: this one is lost'
        : this.storedSeq >= checkpoint.seq
          ? 'the checkpoint is kept in the store only'
          : this.refusedSeq >= checkpoint.seq
            ? `the store could not keep checkpoint ${checkpoint.seq} either: it is lost`
            : 'the checkpoint is kept in the store only, once the store has it (it has not answered yet)';
      this.report(new ActivityLogError('CALLBACK_FAILED', `integrity.onCheckpoint threw; ${kept}`, { cause }));
    }
  }
}
