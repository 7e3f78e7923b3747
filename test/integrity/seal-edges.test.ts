import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/index.js';
import { chainHasher } from '../../src/integrity/hmac.js';
import type { ActivityRecord } from '../../src/schema.js';

const reference = (key: Uint8Array, prev: string, form: string) => createHmac('sha256', key).update(prev).update('\n').update(form).digest('hex');

describe('chainHasher, at the edges', () => {
  const keys: Uint8Array[] = [
    Buffer.alloc(16, 1),
    Buffer.alloc(64, 2),
    Buffer.alloc(65, 3),
    Buffer.alloc(500, 4),
    // A key that is a view into a larger buffer (a pooled Buffer.from(string) is one).
    Buffer.from('a pooled key of thirty-two bytes!'),
    new Uint8Array(Buffer.alloc(200, 9).buffer, 50, 70),
  ];
  const texts = [
    '',
    'plain',
    '\ud800',
    'a\udc00b',
    '\ud83d\ude00 emoji',
    'end with a high surrogate \ud83d',
    'é'.repeat(3000),
    '\u{10ffff}'.repeat(1500),
    'x'.repeat(5000),
    '\ud800'.repeat(2000),
    'y'.repeat(200_000),
  ];

  it('matches createHmac for keys of 16-500 bytes, lone surrogates, and texts that grow and shrink its buffer', () => {
    for (const key of keys) {
      const hasher = chainHasher(key);
      for (const prev of ['', 'ab'.repeat(32), '\udbff']) {
        for (const form of texts) expect(hasher(prev, form)).toBe(reference(key, prev, form));
        // Again, in reverse: a long text leaves the grown buffer behind for the short ones.
        for (const form of [...texts].reverse()) expect(hasher(prev, form)).toBe(reference(key, prev, form));
      }
    }
  });

  it('keeps the bytes of the key it was given, whatever other hashers do in between', () => {
    const a = chainHasher(Buffer.alloc(32, 1));
    const b = chainHasher(Buffer.alloc(32, 2));
    expect(a('p', 'f')).toBe(reference(Buffer.alloc(32, 1), 'p', 'f'));
    expect(b('p', 'f'.repeat(10_000))).toBe(reference(Buffer.alloc(32, 2), 'p', 'f'.repeat(10_000)));
    expect(a('p', 'f')).toBe(reference(Buffer.alloc(32, 1), 'p', 'f'));
  });
});

/**
 * `integrity.personal` takes any metadata key the schema allows, `constructor` and `toString`
 * among them. A record whose metadata lacks such a key holds no personal value there: before
 * 7490b45 nothing was committed; the sealer must not commit to what the metadata object
 * inherits (Object.prototype.constructor), which verify() then finds tampered.
 */
describe('personal metadata keys that name Object.prototype members', () => {
  for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
    it(`seals and verifies a record whose metadata has no "${name}" (personal: ['${name}'])`, async () => {
      const store = memoryStore();
      const logger = createActivityLogger({ store, integrity: { key: 'an application secret of 32 bytes', personal: [name] } });
      logger.log({ action: 'recipe.update', metadata: { servings: 4 } });
      logger.log({ action: 'recipe.update', metadata: { [name]: 'personal', servings: 2 } });
      await logger.flush();
      const records = (await store.query({ limit: 10 } as never)).items;
      const without = records.find((record) => record.metadata?.servings === 4)!;
      const report = await logger.verify();
      expect(report.problems.map((problem) => problem.kind)).toEqual([]);
      expect(without.integrity?.commitments).toBeUndefined();
      expect(await logger.verify()).toMatchObject({ ok: true, checked: 2 });
      await logger.close();
    });
  }
});

describe('a record that cannot be sealed', () => {
  it('takes no place in the chain: the next record gets the place it would have had', async () => {
    const { Sealer } = await import('../../src/integrity/sealer.js');
    const { resolveIntegrity } = await import('../../src/integrity/options.js');
    const sealer = new Sealer(resolveIntegrity({ key: 'a key of at least sixteen bytes' })!);
    const record = (id: string, metadata: Record<string, unknown>): ActivityRecord => ({ id, occurredAt: new Date(0), action: 'recipe.view', status: 'success', metadata });
    // Not JSON: the canonical form cannot be written (the logger never hands over such data;
    // this stands for any failure of the seal).
    expect(() => sealer.seal(record('r1', { n: 1n }))).toThrow(TypeError);
    const next = record('r2', { n: 1 });
    sealer.seal(next);
    expect(next.integrity).toMatchObject({ seq: 1, prev: '' });
  });
});
