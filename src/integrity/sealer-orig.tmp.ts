import { Buffer } from 'node:buffer';
import { randomBytes, randomFillSync } from 'node:crypto';
import { uuidv7 } from '../ids.js';
import type { ActivityRecord } from '../schema.js';
import { canonicalFormOf, chainHash, commitment, derivedSalt, holds, personalFields, type PersonalField, type SplitCommitment } from './canonical.js';
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

  /** The fields committed to rather than hashed as they are. */
  private readonly fields: readonly PersonalField[];

  constructor(private readonly integrity: ResolvedIntegrity) {
    this.fields = personalFields(integrity.personal);
  }

  /** Gives `record` the next place in the chain (`record.integrity`). */
  seal(record: ActivityRecord): void {
    this.seq += 1;
    record.integrity = sealed(record, this.integrity, this.fields, this.chain, this.seq, this.prev);
    this.prev = record.integrity.hash;
  }

  /**
   * Seals a record written on its own, inside the caller's transaction (`logInTransaction`),
   * as a chain of one named by its id: a transaction that rolls back leaves no gap in the
   * logger's chain. Such a record proves that it was not edited; its deletion is not proven.
   */
  sealAlone(record: ActivityRecord): void {
    record.integrity = sealed(record, this.integrity, this.fields, `tx:${record.id}`, 1, '');
  }
}

function sealed(
  record: ActivityRecord,
  integrity: ResolvedIntegrity,
  fields: readonly PersonalField[],
  chain: string,
  seq: number,
  prev: string,
): NonNullable<ActivityRecord['integrity']> {
  let seed: string | undefined;
  let commitments: Record<string, string> | undefined;
  let split: SplitCommitment[] | undefined;
  for (const field of fields) {
    if (!holds(record, field)) continue;
    if (seed === undefined) {
      // A salt per field, derived from one seed: erasing one field's value and salt leaves the
      // others provable (erase() then keeps their salts instead of the seed).
      seed = randomBase64url(16);
      commitments = {};
      split = [];
    }
    const value = (record as unknown as Record<string, Record<string, unknown>>)[field.head]![field.key];
    const committed = commitment(derivedSalt(seed, field.path), field.path, value);
    commitments![field.path] = committed;
    split!.push([field.head, field.key, committed]);
  }
  const hash = chainHash(integrity.key, prev, canonicalFormOf(record, chain, integrity.keyId, commitments, split));
  const out: NonNullable<ActivityRecord['integrity']> = { chain, seq, keyId: integrity.keyId, prev, hash };
  if (commitments !== undefined) {
    out.seed = seed;
    out.commitments = commitments;
  }
  return out;
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
