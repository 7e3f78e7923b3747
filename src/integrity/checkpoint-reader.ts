import type { ActivityStore, ChainPosition } from '../store.js';
import { checkpointSignature } from './checkpoints.js';
import type { IntegrityCheckpoint, ResolvedIntegrity } from './options.js';
import type { IntegrityProblem } from './problems.js';

/** Checkpoints read from the store at a time. */
const PAGE = 500;

/**
 * The store's checkpoints of every chain, in chain order (chain id, then place), read a page
 * at a time: verify() walks the chains in the same order, so one pass over them serves every
 * chain, with no query per chain. @internal
 */
export class CheckpointCursor {
  private page: IntegrityCheckpoint[] = [];
  private index = 0;
  private done: boolean;
  private after: ChainPosition | undefined;

  constructor(
    private readonly store: ActivityStore,
    private readonly only: string | undefined,
  ) {
    this.done = !store.checkpointPage;
  }

  /** The next checkpoint, not taken yet. */
  async peek(): Promise<IntegrityCheckpoint | undefined> {
    if (this.index < this.page.length) return this.page[this.index];
    if (this.done) return undefined;
    this.page = await this.store.checkpointPage!({ chain: this.only, after: this.after, limit: PAGE });
    this.index = 0;
    if (this.page.length < PAGE) this.done = true;
    const last = this.page[this.page.length - 1];
    if (last) this.after = { chain: last.chain, seq: last.seq };
    return this.page[0];
  }

  /** Takes the checkpoint peek() gave. */
  take(): void {
    this.index += 1;
  }
}

/**
 * One chain's checkpoints as `verify()` walks the chain: those the store keeps (from the
 * cursor, which must be at the chain's first) and those kept outside it (`verify({ checkpoints })`),
 * in the order of their places as the walk reaches them, each checked once (its key, its
 * signature, and that no other checkpoint names another hash for its place), and kept only
 * while the walk may still ask for its place: verify's memory does not grow with the chain,
 * however often it was checkpointed. @internal
 */
export class ChainCheckpointReader {
  /** The hash recorded for each place still within reach. */
  private readonly window = new Map<number, string>();
  /** The places of `window`, in the order they were read (ascending) from `oldest` on. */
  private readonly places: number[] = [];
  private oldest = 0;
  /** The next of `outside` to take. */
  private nextOutside = 0;
  private newestPlace = 0;
  private newestHash: string | undefined;

  /**
   * @param outside this chain's checkpoints given to verify(), in the order of their places
   * @param reach how many places behind the walk's record it may still ask about
   */
  constructor(
    private readonly cursor: CheckpointCursor,
    private readonly integrity: ResolvedIntegrity,
    readonly chain: string,
    private readonly outside: readonly IntegrityCheckpoint[],
    private readonly reach: number,
    private readonly problem: (found: IntegrityProblem) => void,
  ) {}

  /**
   * Reads the checkpoints up to place `seq`, and lets go of those more than `reach` places
   * behind it. Call it with each record's place, in the chain's order.
   */
  async advance(seq: number): Promise<void> {
    await this.readThrough(seq);
    this.forgetBefore(seq - this.reach);
  }

  /** Lets go of the places before `place`. */
  private forgetBefore(place: number): void {
    while (this.places.length > this.oldest && this.places[this.oldest]! < place) this.window.delete(this.places[this.oldest++]!);
    // The array of places is cut now and then, not at every record.
    if (this.oldest > 1024) {
      this.places.splice(0, this.oldest);
      this.oldest = 0;
    }
  }

  /** How many places' hashes are kept now (what the walk's memory holds of them). */
  get retained(): number {
    return this.window.size;
  }

  /** The hash a checkpoint recorded for place `seq`, if it is within reach. */
  get(seq: number): string | undefined {
    return this.window.get(seq);
  }

  /** Reads the rest of the chain's checkpoints; the newest place one names and its hash (place 0 when none). */
  async newest(): Promise<{ seq: number; hash: string | undefined }> {
    await this.readThrough(Number.POSITIVE_INFINITY);
    return { seq: this.newestPlace, hash: this.newestHash };
  }

  /** Takes this chain's checkpoints up to place `seq`, from both sources in the order of their places. */
  private async readThrough(seq: number): Promise<void> {
    // Not \`next.seq <= seq\`: a place that is no number (SQLite keeps the text a row was given
    // through its own client) compares false, and the checkpoint would never be taken: the
    // pass over chains without records would spin on it for ever, blocking the process.
    for (let next = await this.cursor.peek(); next?.chain === this.chain && !(next.seq > seq); next = await this.cursor.peek()) {
      this.takeOutside(next.seq);
      this.cursor.take();
      this.add(next);
    }
    this.takeOutside(seq);
  }

  private takeOutside(through: number): void {
    while (this.nextOutside < this.outside.length && this.outside[this.nextOutside]!.seq <= through) this.add(this.outside[this.nextOutside++]!);
  }

  /** Checks one checkpoint and, when it holds, keeps its place's hash. */
  private add(checkpoint: IntegrityCheckpoint): void {
    const key = this.integrity.keyOf(checkpoint.keyId);
    if (!key) {
      this.problem({ kind: 'unknown-key', chain: checkpoint.chain, seq: checkpoint.seq, detail: `checkpoint made with key "${checkpoint.keyId}", ${this.integrity.whyNoKey(checkpoint.keyId)}` });
      return;
    }
    if (checkpointSignature(key, checkpoint) !== checkpoint.signature) {
      this.problem({ kind: 'edited', chain: checkpoint.chain, seq: checkpoint.seq, detail: 'a checkpoint whose signature does not match' });
      return;
    }
    const known = this.window.get(checkpoint.seq);
    if (known !== undefined && known !== checkpoint.hash) {
      this.problem({ kind: 'edited', chain: checkpoint.chain, seq: checkpoint.seq, detail: 'two validly signed checkpoints disagree about one place' });
    }
    if (known === undefined) this.places.push(checkpoint.seq);
    this.window.set(checkpoint.seq, checkpoint.hash);
    // Checkpoints come in the order of their places, and the walk is at or past this one (or,
    // from newest(), past every place): those out of its reach go now, not once the reading
    // stops (a jump in the walk's places, or the rest of a chain read for its newest place,
    // would hold every checkpoint in between).
    this.forgetBefore(checkpoint.seq - this.reach);
    if (checkpoint.seq >= this.newestPlace) {
      this.newestPlace = checkpoint.seq;
      this.newestHash = checkpoint.hash;
    }
  }
}

/** The checkpoints given to verify() for each chain, in the order of their places. */
export function outsideCheckpointsByChain(checkpoints: readonly IntegrityCheckpoint[] | undefined, only: string | undefined): Map<string, IntegrityCheckpoint[]> {
  const byChain = new Map<string, IntegrityCheckpoint[]>();
  for (const checkpoint of checkpoints ?? []) {
    if (only !== undefined && checkpoint.chain !== only) continue;
    let list = byChain.get(checkpoint.chain);
    if (!list) byChain.set(checkpoint.chain, (list = []));
    list.push(checkpoint);
  }
  for (const list of byChain.values()) list.sort((a, b) => a.seq - b.seq);
  return byChain;
}
