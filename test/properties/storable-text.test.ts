import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityRecord } from '../../src/index.js';
import { storableJson, storableText } from '../../src/for-store-authors.js';
import { everyStore, type EveryStore } from '../stores/databases.js';

/**
 * Any Unicode text in every text field and in metadata keys and values (fast-check's full
 * code-point range, lone surrogates and NUL mixed in) reads back the same from every store:
 * the memory store, SQLite, PostgreSQL and MySQL/MariaDB, and it is the documented rule's form
 * of what was logged (U+0000 and lone surrogates as U+FFFD, nothing else changed).
 */

const codePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const anyUnit = fc.oneof({ weight: 6, arbitrary: codePoint }, { weight: 2, arbitrary: loneSurrogate }, { weight: 1, arbitrary: fc.constant('\u0000') });
const text = (maxLength: number) => fc.string({ unit: anyUnit, minLength: 1, maxLength });
const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, text(12), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.string({ unit: anyUnit, maxLength: 8 }), tie('value'), { maxKeys: 3 })),
})).value;

const event = fc.record({
  actor: fc.record({ type: text(30), id: text(30), name: text(30) }),
  target: fc.record({ type: text(30), id: text(30), name: text(30) }),
  tenantId: text(30),
  metadata: fc.dictionary(fc.string({ unit: anyUnit, maxLength: 10 }), value, { maxKeys: 5 }),
  error: fc.record({ name: text(20), message: text(40) }),
  context: fc.record({ userAgent: text(40), route: text(40), requestId: text(40) }),
});

let every: EveryStore;
let targets: EveryStore['targets'] = [];
beforeAll(async () => {
  every = await everyStore('storable text', `text_prop_${Date.now().toString(36)}`, { redact: false });
  targets = every.targets;
}, 60_000);
afterAll(() => every?.cleanup());

let counter = 0;

describe('text every store can hold (property)', () => {
  it('reads any Unicode text back the same from every store, as the documented rule makes it', async () => {
    expect(targets.length).toBeGreaterThanOrEqual(2);
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 4 }), async (events) => {
        const ids = events.map(() => `txt-${++counter}`);
        const occurredAt = new Date();
        for (const { logger } of targets) events.forEach((input, i) => logger.log({ id: ids[i]!, action: 'text.property', occurredAt, ...input }));
        for (const { logger } of targets) await logger.flush();
        for (const [i, input] of events.entries()) {
          const reads = await Promise.all(targets.map(async ({ name, store }) => ({ name, record: await store.get(ids[i]!) })));
          const reference = reads[0]!.record!;
          expect(reference, 'the memory store holds the event').toBeDefined();
          expect(reference.occurredAt).toEqual(occurredAt);
          expect(withoutTime(reference)).toEqual({
            id: ids[i],
            action: 'text.property',
            status: 'success',
            actor: mapText(input.actor),
            target: mapText(input.target),
            tenantId: storableText(input.tenantId),
            ...(Object.keys(input.metadata).length > 0 ? { metadata: storableJson(input.metadata) } : {}),
            error: mapText(input.error),
            context: mapText(input.context),
          });
          for (const { name, record } of reads.slice(1)) expect({ name, record }).toEqual({ name, record: reference });
          expect(JSON.stringify(reference)).not.toMatch(/\\u0000|\\ud[89a-f][0-9a-f]{2}/i);
        }
        for (const { logger } of targets) expect(logger.stats()).toMatchObject({ invalid: 0, failed: 0, dropped: 0 });
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

function withoutTime(record: ActivityRecord): Omit<ActivityRecord, 'occurredAt'> {
  const { occurredAt: _occurredAt, ...rest } = record;
  return rest;
}

function mapText<T extends Record<string, string>>(value: T): T {
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, storableText(item)])) as T;
}
