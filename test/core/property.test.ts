import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActivityLogger } from '../../src/index.js';
import { memoryStore } from '../../adapters/storage/memory.js';

/** Arbitrary values of every kind, including ones that are not JSON. */
const anyValue = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withObjectString: true, withBoxedValues: true }),
  fc.constantFrom(undefined, null, () => 1, Symbol('s'), new Date(Number.NaN), Number.NaN, -0),
);

/** Values shaped like events, some valid, many subtly not. */
const eventLike = fc.record(
  {
    action: fc.oneof(fc.constantFrom('recipe.create', 'user.login', 'a.b.c'), fc.string(), anyValue),
    status: fc.oneof(fc.constantFrom('success', 'failure', 'denied'), anyValue),
    actor: fc.oneof(fc.record({ type: fc.constantFrom('user', 'admin'), id: fc.oneof(fc.string(), fc.integer()) }), anyValue),
    target: fc.oneof(fc.record({ type: fc.string({ minLength: 1 }), id: fc.string({ minLength: 1 }) }), anyValue),
    metadata: anyValue,
    changes: fc.oneof(fc.record({ before: fc.object(), after: fc.object() }), anyValue),
    error: anyValue,
    occurredAt: fc.oneof(fc.date(), anyValue),
    tenantId: anyValue,
  },
  { requiredKeys: [] },
);

describe('log() on arbitrary input (property)', () => {
  it('never throws, returns quickly, and every call ends up written, invalid or dropped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(anyValue, eventLike), { maxLength: 40 }), fc.integer({ min: 5, max: 60 }), async (inputs, maxQueue) => {
        const activity = createActivityLogger({ store: memoryStore(), maxQueue, batchSize: Math.min(maxQueue, 10), onError: () => {} });
        for (const input of inputs) {
          const start = performance.now();
          expect(activity.log(input as never)).toBeUndefined();
          expect(performance.now() - start).toBeLessThan(250);
        }
        await activity.flush();
        const stats = activity.stats();
        expect(stats.written + stats.invalid + stats.dropped + stats.failed).toBe(inputs.length);
        expect(stats.queued).toBe(0);
        expect((await activity.query({ limit: 500 })).items).toHaveLength(stats.written);
      }),
      { numRuns: 300 },
    );
  });
});
