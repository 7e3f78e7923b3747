import type { IntegrityCheckpoint } from './options.js';

/**
 * Checkpoints waiting for one destination at most (about 5 MB); past it, the newest replaces
 * the newest waiting. Far above what a burst makes (one batch settling makes at most
 * `batchSize / checkpointRecords`): only a destination that stopped answering reaches it.
 */
export const MAX_WAITING_CHECKPOINTS = 10_000;

/**
 * Checkpoints on their way to one destination (the store, or `onCheckpoint`), delivered one
 * after another in order. A destination that hangs would otherwise hold every later checkpoint
 * in memory for as long as the process runs (one per `checkpointRecords` records). Past
 * {@link MAX_WAITING_CHECKPOINTS} waiting, a new checkpoint takes the place of the newest one
 * waiting: a checkpoint vouches for its chain up to its place, so the newer one covers what the
 * one it replaces did, and only a finer grain of proof is given up. @internal
 */
export class CheckpointQueue {
  private readonly waiting: IntegrityCheckpoint[] = [];
  private draining: Promise<void> | undefined;
  /** Checkpoints replaced since the destination last caught up. */
  private replaced = 0;

  /**
   * @param deliver hands one checkpoint over; never rejects (it reports its own failures).
   * @param onReplaced told once when the destination falls behind (first checkpoint replaced), with the newest waiting.
   */
  constructor(
    private readonly deliver: (checkpoint: IntegrityCheckpoint) => Promise<void>,
    private readonly onReplaced: (newest: IntegrityCheckpoint) => void,
    private readonly max = MAX_WAITING_CHECKPOINTS,
  ) {}

  push(checkpoint: IntegrityCheckpoint): void {
    if (this.waiting.length >= this.max) {
      this.waiting[this.waiting.length - 1] = checkpoint;
      if (this.replaced++ === 0) this.onReplaced(checkpoint);
    } else {
      this.waiting.push(checkpoint);
    }
    this.draining ??= this.drain();
  }

  /** Settles once every checkpoint pushed so far (and any pushed meanwhile) was delivered. */
  idle(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
      try {
        await this.deliver(next);
      } catch {
        // deliver reports its own failures; a queue that stopped here would hold the rest for ever.
      }
    }
    this.replaced = 0;
    this.draining = undefined;
  }
}
