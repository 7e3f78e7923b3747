import { Buffer } from 'node:buffer';
import { randomBytes, randomFillSync } from 'node:crypto';
import { uuidv7 } from '../ids.js';
import type { ActivityRecord } from '../schema.js';
import { canonicalFormOf, commitment, derivedSalt, holds, personalFields, type PersonalField, type SplitCommitment } from './canonical.js';
import { chainHasher } from './hmac.js';
import type { ResolvedIntegrity } from './options.js';

/**
 * Links the records of one logger into its hash chain, in the order they leave the queue.
 * Runs in the flusher, never in `log()`. Each logger instance has a chain of its own, so that
 * many app instances never wait on one shared head. @internal
 */
export class Sealer {
  /** This logger's chain: a UUIDv7, so chains sort by when their logger started. */
  readonly chain = uuidv7();
  private seq = 0;
  private prev = '';

  /** The fields committed to rather than hashed as they are, in the order of their paths. */
  private readonly fields: readonly PersonalField[];
  /** HMAC-SHA256 under the logger's key, its pads worked out once. */
  private readonly hashChain: (prev: string, form: string) => string;

  constructor(private readonly integrity: ResolvedIntegrity) {
    // In path order, so that the commitments are made in the order the canonical form lists them.
    this.fields = [...personalFields(integrity.personal)].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    this.hashChain = chainHasher(integrity.key);
  }

  /** Gives `record` the next place in the chain (`record.integrity`). */
  seal(record: ActivityRecord): void {
    // The place is taken only once the seal is made: a record that cannot be sealed (it throws)
    // leaves no gap in the chain.
    const integrity = this.sealed(record, this.chain, this.seq + 1, this.prev);
    this.seq += 1;
    record.integrity = integrity;
    this.prev = integrity.hash;
  }

  /**
   * Seals a record written on its own, inside the caller's transaction (`logInTransaction`),
   * as a chain of one named by its id: a transaction that rolls back leaves no gap in the
   * logger's chain. Such a record proves that it was not edited; its deletion is not proven.
   */
  sealAlone(record: ActivityRecord): void {
    record.integrity = this.sealed(record, `tx:${record.id}`, 1, '');
  }

  private sealed(record: ActivityRecord, chain: string, seq: number, prev: string): NonNullable<ActivityRecord['integrity']> {
    let seed: string | undefined;
    let commitments: Record<string, string> | undefined;
    let split: SplitCommitment[] | undefined;
    for (const field of this.fields) {
      if (!holds(record, field)) continue;
      const value = (record as unknown as Record<string, Record<string, unknown>>)[field.head]![field.key];
      if (seed === undefined) {
        // A salt per field, derived from one seed: erasing one field's value and salt leaves the
        // others provable (erase() then keeps their salts instead of the seed).
        seed = randomBase64url(16);
        commitments = {};
        split = [];
      }
      const committed = commitment(derivedSalt(seed, field.path), field.path, value);
      commitments![field.path] = committed;
      split!.push([field.head, field.key, committed]);
    }
    const keyId = this.integrity.keyId;
    const hash = this.hashChain(prev, canonicalFormOf(record, chain, keyId, commitments, split));
    const out: NonNullable<ActivityRecord['integrity']> = { chain, seq, keyId, prev, hash };
    if (commitments !== undefined) {
      out.seed = seed;
      out.commitments = commitments;
    }
    return out;
  }
}

/** Random bytes drawn from a pool refilled 4 KiB at a time: one `randomBytes` call per record costs more than the rest of the seal. */
const pool = new Uint8Array(4096);
let used = pool.length;

function randomBase64url(bytes: number): string {
  if (bytes > pool.length) return randomBytes(bytes).toString('base64url');
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const text = Buffer.from(pool.buffer, used, bytes).toString('base64url');
  used += bytes;
  return text;
}
