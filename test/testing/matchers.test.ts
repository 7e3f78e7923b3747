import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { activityMatchers, createTestLogger, type TestLogger } from '../../adapters/testing/index.js';
import { createActivityLogger } from '../../src/index.js';

beforeAll(() => {
  expect.extend(activityMatchers);
});

/** The message of the assertion `run` fails with, without colours; fails the test when it passes. */
function failureOf(run: () => void): string {
  try {
    run();
  } catch (error) {
    return String((error as Error).message).replace(/\x1b\[[0-9;]*m/g, '');
  }
  throw new Error('the assertion passed; it should have failed');
}

const AT = new Date('2026-05-04T10:00:00.000Z');

describe('activityMatchers', () => {
  let logger: TestLogger;

  beforeEach(async () => {
    // A long interval: nothing is written unless the test flushes, so the queued hint is testable.
    logger = createTestLogger({ flushIntervalMs: 60_000, onError: () => undefined });
    const admin = logger.with({ actor: { type: 'admin', id: '42', name: 'Ada' } });
    admin.log({ action: 'recipe.create', target: { type: 'recipe', id: 'r1', name: 'Soup' }, metadata: { slug: 'soup', tags: ['hot', 'vegan'] }, occurredAt: AT });
    admin.log({ action: 'recipe.update', target: { type: 'recipe', id: 'r1', name: 'Soup' }, metadata: { slug: 'soup-2', tags: ['hot'] } });
    logger.log({ action: 'recipe.update', status: 'failure', target: { type: 'recipe', id: 'r9' }, metadata: { reason: 'recipe_not_found' } });
    await logger.flush();
  });
  afterEach(() => logger.close());

  describe('toHaveLogged', () => {
    it('passes on a partial, deep match of one record', () => {
      expect(logger).toHaveLogged({ action: 'recipe.update', actor: { id: '42' }, status: 'success' });
      expect(logger).toHaveLogged({ action: 'recipe.update', status: 'failure', target: { id: 'r9' }, metadata: { reason: 'recipe_not_found' } });
      // Every key must match in the same record: the failure has no actor.
      expect(logger).not.toHaveLogged({ action: 'recipe.update', status: 'failure', actor: { id: '42' } });
      expect(logger).not.toHaveLogged({ action: 'recipe.delete' });
    });

    it('fails with the nearest records, nearest first, and a diff of the fields that differ', () => {
      const message = failureOf(() => expect(logger).toHaveLogged({ action: 'recipe.update', actor: { id: '42' }, metadata: { slug: 'soup-3' } }));
      expect(message).toMatch(/^expected the logger to have logged a record matching .*recipe\.update.*; it logged 3 records, the nearest 3:/s);
      // The update by 42 matches 2 of 3 fields, the others 1: it comes first, and its diff names soup-2 against soup-3.
      const [first, second] = message.split(/\n#\d /).slice(1);
      expect(first).toMatch(/^recipe\.update \([0-9a-f-]{36} at [0-9TZ:.-]+\), 2 of 3 fields match:/);
      expect(first).toContain('soup-3');
      expect(first).toContain('soup-2');
      expect(first).not.toContain('hot');
      expect(second).toMatch(/^recipe\.(create|update) \(.*\), 1 of 3 fields match:/);
    });

    it('says when nothing was logged', () => {
      const empty = createTestLogger();
      expect(failureOf(() => expect(empty).toHaveLogged({ action: 'recipe.update' }))).toMatch(/recipe\.update.*; it logged no records\.$/s);
      return empty.close();
    });

    it('names the matching records when .not fails', () => {
      const [failure] = logger.records().filter((record) => record.status === 'failure');
      const message = failureOf(() => expect(logger).not.toHaveLogged({ target: { id: 'r9' } }));
      expect(message).toMatch(/^expected the logger not to have logged a record matching .*r9.*; it logged 1 matching record:\n {2}- recipe\.update \(/s);
      expect(message).toContain(failure!.id);
      expect(message).toContain('recipe_not_found');
    });

    it('takes asymmetric matchers', () => {
      expect(logger).toHaveLogged({ action: 'recipe.create', actor: { name: expect.any(String) }, target: { name: expect.stringContaining('ou') } });
      expect(logger).toHaveLogged({ metadata: { tags: expect.arrayContaining(['vegan']) } });
      expect(logger).not.toHaveLogged({ action: 'recipe.create', actor: { id: expect.any(Number) } });
      const message = failureOf(() => expect(logger).toHaveLogged({ target: { name: expect.stringContaining('Stew') } }));
      expect(message).toContain('StringContaining "Stew"');
    });

    it('matches a Date by its time', () => {
      expect(logger).toHaveLogged({ action: 'recipe.create', occurredAt: new Date(AT.getTime()) });
      expect(logger).not.toHaveLogged({ action: 'recipe.create', occurredAt: new Date(AT.getTime() + 1) });
      expect(logger).not.toHaveLogged({ occurredAt: AT.toISOString() as never });
    });

    it('matches a RegExp against a string, and takes a string literally (no globs)', () => {
      expect(logger).toHaveLogged({ action: /^recipe\./, target: { id: /^r\d$/ } });
      const global = /^recipe\./g;
      expect(logger).toHaveLoggedTimes(3, { action: global });
      // Again with the same /g pattern: its lastIndex must not change the answer.
      expect(logger).toHaveLoggedTimes(3, { action: global });
      expect(logger).not.toHaveLogged({ action: 'recipe.*' });
      expect(logger).not.toHaveLogged({ action: /^admin\./ });
    });

    it('matches arrays element by element, with the same length', () => {
      expect(logger).toHaveLogged({ metadata: { tags: ['hot', 'vegan'] } });
      expect(logger).toHaveLogged({ metadata: { tags: ['hot'] } });
      expect(logger).toHaveLoggedTimes(0, { metadata: { tags: ['vegan', 'hot'] } });
      expect(logger).toHaveLoggedTimes(0, { metadata: { tags: ['hot', 'vegan', 'spicy'] } });
      expect(logger).toHaveLoggedTimes(0, { metadata: { tags: [] } });
    });

    it('reads through a child logger, a memory store and an array of records', () => {
      const child = logger.with({ tenantId: 't1' });
      expect(child).toHaveLogged({ action: 'recipe.create', actor: { id: '42' } });
      expect(logger.store).toHaveLoggedTimes(2, { action: 'recipe.update' });
      expect(logger.records()).toHaveLogged({ status: 'failure' });
      expect([]).not.toHaveLogged({ action: 'recipe.update' });
      expect(failureOf(() => expect(logger.store).toHaveLogged({ action: 'x' }))).toMatch(/^expected the store to have logged/);
      expect(failureOf(() => expect(logger.records()).toHaveLogged({ action: 'x' }))).toMatch(/^expected the records to have logged/);
    });

    it('refuses anything else, saying what it takes', async () => {
      const sqlLike = createActivityLogger({ store: { ...memoryStore(), all: undefined } as never });
      for (const received of [{}, 'recipe.update', null, sqlLike, [1, 2]]) {
        expect(failureOf(() => expect(received).toHaveLogged({ action: 'recipe.update' }))).toMatch(
          /^toHaveLogged: expects a logger over a memory store \(createTestLogger\(\), or a child from its with\(\)\), a memoryStore\(\), or an array of activity records; got /,
        );
      }
      expect(failureOf(() => expect(logger).toHaveLogged('recipe.update' as never))).toMatch(/^toHaveLogged: expected must be an object of the fields to match, got the string "recipe.update"/);
      await sqlLike.close();
    });
  });

  describe('toHaveLoggedTimes', () => {
    it('passes on the exact count', () => {
      expect(logger).toHaveLoggedTimes(2, { action: 'recipe.update' });
      expect(logger).toHaveLoggedTimes(1, { action: 'recipe.update', status: 'success' });
      expect(logger).toHaveLoggedTimes(0, { action: 'recipe.delete' });
      expect(logger).not.toHaveLoggedTimes(1, { action: 'recipe.update' });
    });

    it('lists the matching records when there are more, and the nearest when there are none', () => {
      const tooMany = failureOf(() => expect(logger).toHaveLoggedTimes(1, { action: 'recipe.update' }));
      expect(tooMany).toMatch(/^expected the logger to have logged 1 record matching .*; it logged 2:\n {2}- recipe\.update .*\n {2}- recipe\.update /s);
      const tooFew = failureOf(() => expect(logger).toHaveLoggedTimes(2, { action: 'recipe.delete' }));
      expect(tooFew).toMatch(/^expected the logger to have logged 2 records matching .*recipe\.delete.*; it logged 0; it logged 3 records, the nearest 3:/s);
      const not = failureOf(() => expect(logger).not.toHaveLoggedTimes(2, { action: 'recipe.update' }));
      expect(not).toMatch(/^expected the logger not to have logged exactly 2 records matching .*; it did:\n {2}- recipe\.update/s);
    });

    it('refuses a count that is not a non-negative integer, naming the argument', () => {
      for (const times of [-1, 1.5, Number.NaN, '2', undefined]) {
        expect(failureOf(() => expect(logger).toHaveLoggedTimes(times as number, { action: 'recipe.update' }))).toMatch(
          /^toHaveLoggedTimes: times \(the first argument\) must be a non-negative integer, got /,
        );
      }
    });
  });

  it('refuses a pattern no record can hold, rather than read it as "anything": a Map, a Set, Symbol keys', async () => {
    logger.log({ action: 'recipe.tag', metadata: { m: 1 } });
    await logger.flush();
    expect(failureOf(() => expect(logger).toHaveLogged({ metadata: { m: new Map([['x', 2]]) } } as never))).toMatch(/^toHaveLogged: expected\.metadata\.m must be a plain object, an array or a value a record holds, got a Map/);
    expect(failureOf(() => expect(logger).toHaveLogged({ [Symbol('x')]: 'x' } as never))).toMatch(/^toHaveLogged: expected has Symbol keys/);
    expect(failureOf(() => expect(logger).toHaveLoggedTimes(1, { tags: new Set(['a']) } as never))).toMatch(/got a Set/);
    // Plain objects, null-prototype ones included, still match.
    expect(logger).toHaveLogged(Object.assign(Object.create(null) as object, { action: 'recipe.tag' }));
  });

  describe('hints', () => {
    it('says how many events are still queued when the test did not flush', () => {
      logger.log({ action: 'recipe.delete' });
      logger.log({ action: 'recipe.delete' });
      const message = failureOf(() => expect(logger).toHaveLogged({ action: 'recipe.delete' }));
      expect(message).toContain('2 events still queued: await logger.flush() before asserting');
      expect(failureOf(() => expect(logger).toHaveLogged({ action: 'recipe.create', status: 'failure' }))).toContain('2 events still queued');
    });

    it('fails .not.toHaveLogged and toHaveLoggedTimes while events are queued, since the answer could still change', async () => {
      logger.log({ action: 'recipe.archive' });
      expect(failureOf(() => expect(logger).not.toHaveLogged({ action: 'recipe.archive' }))).toContain('cannot tell yet: 1 event still queued');
      expect(failureOf(() => expect(logger).toHaveLoggedTimes(0, { action: 'recipe.archive' }))).toContain('cannot tell yet: 1 event still queued');
      expect(failureOf(() => expect(logger).not.toHaveLoggedTimes(1, { action: 'recipe.archive' }))).toContain('cannot tell yet');
      await logger.flush();
      expect(logger).toHaveLoggedTimes(1, { action: 'recipe.archive' });
      expect(failureOf(() => expect(logger).not.toHaveLogged({ action: 'recipe.archive' }))).toContain('not to have logged a record matching');
    });

    it('has no queued hint once flushed', async () => {
      logger.log({ action: 'recipe.delete' });
      await logger.flush();
      expect(logger).toHaveLogged({ action: 'recipe.delete' });
      expect(failureOf(() => expect(logger).toHaveLogged({ action: 'recipe.view' }))).not.toContain('queued');
    });

    it('says how many events were not stored, with the last error', async () => {
      logger.log({ action: 'recipe.update', actor: { id: '42' } as never });
      await logger.flush();
      const message = failureOf(() => expect(logger).toHaveLogged({ action: 'recipe.update', actor: { id: '42' }, status: 'failure' }));
      expect(message).toMatch(/1 event not stored \(invalid 1, dropped 0, failed 0\); last error: INVALID_EVENT: .*actor\.type/);
    });
  });

  it('works without the runner context, with a plain listing of the differences', () => {
    const result = activityMatchers.toHaveLogged.call({}, logger.records(), { action: 'recipe.create', metadata: { slug: 'stew', tags: ['hot', 'vegan'] }, occurredAt: AT });
    expect(result.pass).toBe(false);
    const [first, second] = result.message().split(/\n#\d /).slice(1);
    // Only what differs: the slug; the matching tags and date are not listed.
    expect(first).toMatch(/^recipe\.create \(.*\), 4 of 5 fields match:\n {2}metadata\.slug: expected "stew", got "soup"\n?$/);
    expect(second).toContain('occurredAt: expected Date(2026-05-04T10:00:00.000Z), got Date(');
    expect(activityMatchers.toHaveLoggedTimes.call({}, logger.records(), 1, { action: 'recipe.create', target: { name: /^So/ } }).pass).toBe(true);
  });
});
