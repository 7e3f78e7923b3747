import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteSpool } from '../../adapters/spool/sqlite.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
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

    it('erases the events of the subject the logger still held when erase() was called', async () => {
      const activity = logger();
      for (let i = 0; i < 50; i++) activity.log({ action: 'user.login', actor: { type: 'user', id: 'u42', name: 'Ada Lovelace' }, context: { ip: '10.4.2.42' } });
      expect(await activity.erase({ actorId: 'u42' })).toBe(50);
      await activity.flush();
      const text = await tableText();
      for (const value of ['Ada Lovelace', '10.4.2.42']) expect(text).not.toContain(value);
    });
  });
}

describe('erasure completeness in a SQLite file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'h5-erase-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** How many times `value` is in the file and its write-ahead log, byte for byte. */
  const occurrences = (filename: string, value: string) => {
    let found = 0;
    for (const file of [filename, `${filename}-wal`]) {
      if (existsSync(file)) found += readFileSync(file).toString('latin1').split(value).length - 1;
    }
    return found;
  };

  it("leaves none of an erased person's bytes in the file's free space or its write-ahead log, while the logger runs on", async () => {
    const filename = join(dir, 'activity.db');
    const activity = createActivityLogger({ store: sqliteStore({ filename, tableName: 'h5_erase' }), integrity: { key: KEY, personal: ['email'] } });
    try {
      // A long user agent: the rewritten row is much shorter than the one it replaces, so the
      // old one's bytes are left in the page's free space unless they are zeroed.
      const event = (i: number) => ({
        action: 'user.login',
        actor: { type: 'user', id: `u${i % 20}`, name: `Person ${i % 20} Qx` },
        metadata: { email: `p${i % 20}@mail.example` },
        context: { ip: `10.0.${i % 20}.77`, userAgent: `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Tag${i % 20}Qx` },
      });
      for (let i = 0; i < 400; i++) activity.log(event(i));
      await activity.flush();
      // Half of them copied into the file itself, half still only in the write-ahead log.
      const raw = new Database(filename);
      raw.pragma('wal_checkpoint(TRUNCATE)');
      raw.close();
      for (let i = 400; i < 800; i++) activity.log(event(i));
      await activity.flush();
      expect(occurrences(filename, 'Person 7 Qx')).toBeGreaterThanOrEqual(40);

      expect(await activity.erase({ actorId: 'u7' })).toBe(40);
      for (const value of ['Person 7 Qx', 'p7@mail.example', '10.0.7.77', 'Tag7Qx']) expect(occurrences(filename, value), value).toBe(0);
      // What the erasure left alone is still there.
      expect(occurrences(filename, 'Person 8 Qx')).toBeGreaterThan(0);
    } finally {
      await activity.close();
    }
  });

  it('leaves none of the batches a spool replayed in its file or its write-ahead log, while the spool stays open', async () => {
    const filename = join(dir, 'spool.db');
    const spool = sqliteSpool({ filename });
    try {
      const record = (i: number) => ({ id: `h5-${i}`, occurredAt: new Date(), action: 'user.login', status: 'success' as const, actor: { type: 'user' as const, id: 'u42', name: 'Ada Lovelace Spooled' } });
      for (let batch = 0; batch < 3; batch++) await spool.append(Array.from({ length: 20 }, (_, i) => record(batch * 20 + i)));
      expect(occurrences(filename, 'Ada Lovelace Spooled')).toBeGreaterThanOrEqual(60);
      // As the replay does: each batch removed once the store has it.
      for (let batch = await spool.peek(); batch; batch = await spool.peek()) await spool.remove(batch.id);
      expect(occurrences(filename, 'Ada Lovelace Spooled')).toBe(0);
    } finally {
      await spool.close();
    }
  });
});
