import type { ActivityLogError } from '../errors.js';
import type { ActivityRecord } from '../schema.js';
import type { ActivityStore } from '../store.js';
import { CheckpointKeeper, type CheckpointsClosing } from './checkpoints.js';
import type { ResolvedIntegrity } from './options.js';
import { Sealer } from './sealer.js';

/**
 * A logger's chain as the write path sees it: records are sealed as they leave the queue
 * (batcher), and their end is told (writer, spool relay, close) so that checkpoints follow
 * what the store holds. @internal
 */
export class ChainTracker {
  private readonly sealer: Sealer;
  private readonly keeper: CheckpointKeeper;

  constructor(integrity: ResolvedIntegrity, store: ActivityStore, report: (error: ActivityLogError) => void) {
    this.sealer = new Sealer(integrity);
    this.keeper = new CheckpointKeeper(this.sealer.chain, integrity, store, report);
  }

  /** The next place in the chain, for a record leaving the queue. */
  seal(record: ActivityRecord): void {
    this.sealer.seal(record);
  }

  /** A chain of its own, for a record written in the caller's transaction. */
  sealAlone(record: ActivityRecord): void {
    this.sealer.sealAlone(record);
  }

  /** These records are in the store. */
  stored(records: readonly ActivityRecord[]): void {
    this.keeper.settled(records, true);
  }

  /**
   * These records are in the spool. They are settled now, not when they reach the store:
   * another process sharing the spool file may forward them and this logger never hear of it,
   * and a chain waiting for them would make no checkpoint again. A checkpoint still names
   * only stored records: this logger's replay tells `stored` when it writes them.
   */
  spooled(records: readonly ActivityRecord[]): void {
    this.keeper.settled(records, false);
  }

  /** These records will never be (failed, dropped, refused; each reported where it happened). */
  lost(records: readonly ActivityRecord[]): void {
    this.keeper.settled(records, false);
  }

  /** The last checkpoint, before the store closes: when `onCheckpoint` has it, and when the store has. */
  close(): CheckpointsClosing {
    return this.keeper.close();
  }
}
