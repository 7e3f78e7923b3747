import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { ChainCheckpointReader, CheckpointCursor, outsideCheckpointsByChain } from '../../src/integrity/checkpoint-reader.js';
import { checkpointSignature } from '../../src/integrity/checkpoints.js';
import { resolveIntegrity, type IntegrityCheckpoint } from '../../src/integrity/options.js';
import type { IntegrityProblem } from '../../src/integrity/verify.js';

/**
 * verify() reads a chain's checkpoints as it walks the chain: every one is checked, and only
 * those within reach of the record being checked are kept, so that a chain checkpointed at
 * every record costs no more memory than one checkpointed every thousand.
 */

const KEY = 'a checkpoint key of 32 bytes.....';
const integrity = resolveIntegrity({ key: KEY })!;
const key = Buffer.from(KEY);
const signed = (chain: string, seq: number, hash = `h${seq}`): IntegrityCheckpoint => {
  const unsigned = { chain, seq, hash, keyId: 'k1', at: new Date(Date.UTC(2026, 0, 1)).toISOString() };
  return { ...unsigned, signature: checkpointSignature(key, unsigned) };
};

describe('reading a chain\'s checkpoints as verify() walks it', () => {
  it('keeps only the places within reach, however many checkpoints the chain has, and finds each', async () => {
    const store = memoryStore();
    await store.insertCheckpoints!(Array.from({ length: 5000 }, (_, i) => signed('c', i + 1)));
    await store.insertCheckpoints!([signed('a', 7), signed('other', 1)]);
    const problems: IntegrityProblem[] = [];
    // One pass over the store's checkpoints in chain order: chain a's, then c's, then other's.
    const cursor = new CheckpointCursor(store, undefined);
    expect(await new ChainCheckpointReader(cursor, integrity, 'a', [], 100, (found) => void problems.push(found)).newest()).toEqual({ seq: 7, hash: 'h7' });
    const reader = new ChainCheckpointReader(cursor, integrity, 'c', [], 100, (found) => void problems.push(found));
    let most = 0;
    for (let seq = 1; seq <= 5000; seq++) {
      await reader.advance(seq);
      expect(reader.get(seq)).toBe(`h${seq}`);
      if (seq > 100) expect(reader.get(seq - 100)).toBe(`h${seq - 100}`);
      most = Math.max(most, reader.retained);
    }
    // Within reach (100 places): not the 5,000.
    expect(most).toBeLessThanOrEqual(100 + 1);
    expect(reader.get(1)).toBeUndefined();
    expect(await reader.newest()).toEqual({ seq: 5000, hash: 'h5000' });
    expect(await cursor.peek()).toMatchObject({ chain: 'other', seq: 1 });
    expect(problems).toEqual([]);
  });

  it('checks every checkpoint once, those given to verify() and the store\'s, in the order of their places', async () => {
    const store = memoryStore();
    const forged = { ...signed('c', 30), signature: 'f'.repeat(64) };
    const otherKey = { ...signed('c', 40), keyId: 'k0' };
    await store.insertCheckpoints!([signed('c', 10), signed('c', 20), forged, otherKey, signed('c', 2000)]);
    const outside = outsideCheckpointsByChain([signed('c', 20, 'another hash'), signed('c', 3000), signed('d', 1)], undefined);
    expect([...outside.keys()]).toEqual(['c', 'd']);
    const problems: IntegrityProblem[] = [];
    const reader = new ChainCheckpointReader(new CheckpointCursor(store, undefined), integrity, 'c', outside.get('c')!, 100, (found) => void problems.push(found));
    for (let seq = 1; seq <= 50; seq++) await reader.advance(seq);
    expect(problems.map((found) => [found.kind, found.seq])).toEqual([
      ['edited', 20],
      ['edited', 30],
      ['unknown-key', 40],
    ]);
    expect(problems[0]!.detail).toContain('disagree');
    // The newest place is the one kept outside, past the store's.
    expect(await reader.newest()).toEqual({ seq: 3000, hash: 'h3000' });
    expect(problems).toHaveLength(3);
  });

  it('keeps only the places within reach when the walk jumps ahead or reads the rest of a chain for its newest place', async () => {
    const store = memoryStore();
    await store.insertCheckpoints!(Array.from({ length: 5000 }, (_, i) => signed('c', i + 1)));
    const reader = new ChainCheckpointReader(new CheckpointCursor(store, undefined), integrity, 'c', [signed('c', 2500, 'another hash')], 100, () => {});
    // Held while reading: each checkpoint is checked, and the window is counted as it grows.
    let most = 0;
    const add = (reader as unknown as { add(checkpoint: IntegrityCheckpoint): void }).add.bind(reader);
    (reader as unknown as { add(checkpoint: IntegrityCheckpoint): void }).add = (checkpoint) => {
      add(checkpoint);
      most = Math.max(most, reader.retained);
    };
    // A chain whose records 11 to 3999 were deleted: the walk goes from place 10 to 4000.
    await reader.advance(10);
    await reader.advance(4000);
    expect(reader.get(4000)).toBe('h4000');
    expect(reader.get(3900)).toBe('h3900');
    expect(most).toBeLessThanOrEqual(100 + 1);
    // A verify that ends at `to` reads the rest of the chain for its newest place.
    expect(await reader.newest()).toEqual({ seq: 5000, hash: 'h5000' });
    expect(most).toBeLessThanOrEqual(100 + 1);
    expect(reader.retained).toBeLessThanOrEqual(100 + 1);
  });

  it('takes a checkpoint whose place is no number (text written into SQLite), reporting it, rather than stopping at it', async () => {
    const store = memoryStore();
    await store.insertCheckpoints!([signed('c', 5), { ...signed('c', 10), seq: Number('abc') }, signed('d', 5)]);
    const problems: IntegrityProblem[] = [];
    const cursor = new CheckpointCursor(store, undefined);
    const reader = new ChainCheckpointReader(cursor, integrity, 'c', [], 100, (found) => void problems.push(found));
    expect(await reader.newest()).toEqual({ seq: 5, hash: 'h5' });
    // The next chain's are next: verify()'s pass over the chains goes on.
    expect(await cursor.peek()).toMatchObject({ chain: 'd', seq: 5 });
    expect(problems).toEqual([expect.objectContaining({ kind: 'edited', chain: 'c', detail: expect.stringContaining('signature') })]);
  });
});
