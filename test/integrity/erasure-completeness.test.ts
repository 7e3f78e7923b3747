import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger, type ActivityLoggerOptions } from '../../src/index.js';
import { skipReason, tamperTarget, type TamperTarget } from './databases.js';

/**
 * What an erasure leaves of a person, looked for where an auditor would look: every column of
 * the rows, on each database.
 */

const KEY = 'an application secret of 32 bytes';
const kinds = ['sqlite', 'postgres', 'mysql'] as const;

for (const kind of kinds) {
  const skip = skipReason(kind);
  describe.skipIf(Boolean(skip))(`erasure completeness on ${kind}`, () => {
    let target: TamperTarget;
    const loggers: ActivityLogger[] = [];

    const logger = (options: Partial<ActivityLoggerOptions> = {}) => {
      const created = createActivityLogger({
        store: target.store(),
        onError: (error) => {
          throw error;
        },
        ...options,
        integrity: { key: KEY, personal: ['email'], ...options.integrity },
      });
      loggers.push(created);
      return created;
    };

    /** Every row of the table as the database's client reads it, as one text. */
    const tableText = async () => JSON.stringify(await target.all(`select * from ${target.table}`));

    beforeEach(async () => {
      target = await tamperTarget(kind, `h5_erase_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`);
    });

    afterEach(async () => {
      for (const created of loggers.splice(0)) await created.close();
      await target.cleanup();
    });

    it('erases a personal key from changes too (a profile update holds the old and the new value), and the chain still verifies', async () => {
      const writer = logger();
      writer.log({
        action: 'user.update',
        actor: { type: 'user', id: 'admin', name: 'Admin' },
        target: { type: 'user', id: 'u42', name: 'Ada Lovelace' },
        changes: { before: { email: 'ada@old.example', plan: 'free' }, after: { email: 'ada@new.example', plan: 'pro' } },
      });
      writer.log({ action: 'user.view', actor: { type: 'user', id: 'u42', name: 'Ada Lovelace' }, target: { type: 'user', id: 'u7', name: 'Bob' }, metadata: { email: 'ada@new.example' } });
      await writer.flush();
      expect(await tableText()).toContain('ada@old.example');

      expect(await logger().erase({ targetType: 'user', targetId: 'u42' })).toBe(1);
      expect(await logger().erase({ actorId: 'u42' })).toBe(1);
      const text = await tableText();
      for (const value of ['ada@old.example', 'ada@new.example', 'Ada Lovelace']) expect(text).not.toContain(value);
      const [update] = (await logger().query({ action: 'user.update' })).items;
      // The key that is not personal stays, with what it changed.
      expect(update!.changes).toEqual({ email: '[ERASED]', plan: { before: 'free', after: 'pro' } });
      const [erasure] = (await logger().query({ action: 'activity.erase' })).items.filter((record) => (record.metadata?.subject as { targetId?: string }).targetId === 'u42');
      expect(erasure!.metadata?.fields).toContain('changes.email');
      const report = await logger().verify();
      expect(report.problems.filter((problem) => problem.kind !== 'erased')).toEqual([]);
      expect(report).toMatchObject({ ok: true, counts: { erased: 2, edited: 0 } });
    });
  });
}
