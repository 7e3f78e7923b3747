import { randomBytes } from 'node:crypto';
import { uuidv7 } from '../ids.js';
import type { ActivityRecord } from '../schema.js';
import { canonicalForm, chainHash, commitment, personalPaths, valueAt } from './canonical.js';
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

  constructor(private readonly integrity: ResolvedIntegrity) {}

  /** Gives `record` the next place in the chain (`record.integrity`). */
  seal(record: ActivityRecord): void {
    this.seq += 1;
    record.integrity = sealed(record, this.integrity, this.chain, this.seq, this.prev);
    this.prev = record.integrity.hash;
  }

  /**
   * Seals a record written on its own, inside the caller's transaction (`logInTransaction`),
   * as a chain of one named by its id: a transaction that rolls back leaves no gap in the
   * logger's chain. Such a record proves that it was not edited; its deletion is not proven.
   */
  sealAlone(record: ActivityRecord): void {
    record.integrity = sealed(record, this.integrity, `tx:${record.id}`, 1, '');
  }
}

function sealed(record: ActivityRecord, integrity: ResolvedIntegrity, chain: string, seq: number, prev: string): NonNullable<ActivityRecord['integrity']> {
  const paths = personalPaths(record, integrity.personal);
  let salts: Record<string, string> | undefined;
  let commitments: Record<string, string> | undefined;
  if (paths.length > 0) {
    // A salt per field: erasing one field's value and salt leaves the others provable.
    const random = randomBytes(16 * paths.length).toString('hex');
    salts = {};
    commitments = {};
    paths.forEach((path, i) => {
      const salt = random.slice(i * 32, (i + 1) * 32);
      salts![path] = salt;
      commitments![path] = commitment(salt, path, valueAt(record, path));
    });
  }
  const hash = chainHash(integrity.key, prev, canonicalForm(record, chain, integrity.keyId, commitments));
  const out: NonNullable<ActivityRecord['integrity']> = { chain, seq, keyId: integrity.keyId, prev, hash };
  if (commitments !== undefined) {
    out.salts = salts;
    out.commitments = commitments;
  }
  return out;
}
