import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureChanges, removeChangeCapture } from '../../adapters/storage/kysely.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';
import { DIALECTS, openDatabase, uniqueName, type CaptureDatabase } from './databases.js';

/**
 * What captureChanges and removeChangeCapture refuse, and what they report, on the three real
 * databases: a newcomer's mistakes must be named before any trigger is made.
 */

for (const { dialect, available, reason } of DIALECTS) {
  if (!available) console.warn(`[capture options] ${dialect} suite skipped: ${reason}`);
  describe.skipIf(!available)(`change capture options on ${dialect}`, () => {
    let d: CaptureDatabase;
    let activity: ActivityLogger;

    beforeAll(async () => {
      d = await openDatabase(dialect);
      activity = createActivityLogger({ store: d.store, retry: { maxAttempts: 1 } });
    });
    afterAll(async () => {
      await activity?.close();
      await d?.cleanup();
    });

    it('refuses to capture the log table itself or a table of the log, and the log keeps working', async () => {
      activity.log({ action: 'before.capture' });
      await activity.flush();
      for (const table of [d.logTable, `${d.logTable}_capture`, `${d.logTable}_schema`, `${d.logTable}_leases`]) {
        await expect(captureChanges(d.db, activity, { [table]: { target: 'log' } })).rejects.toMatchObject({
          code: 'INVALID_OPTIONS',
          message: expect.stringMatching(new RegExp(`^captureChanges: tables\\.${table}: is (the log table itself|a table of the log "${d.logTable}"); its triggers would record the log's own writes`)),
        });
      }
      activity.log({ action: 'after.capture' });
      await activity.flush();
      expect(activity.stats()).toMatchObject({ written: 2, failed: 0 });
    });

    it("refuses to capture the log's checkpoints table, as its other tables", async () => {
      // <log>_checkpoints is the log's own table (integrity checkpoints, created by every
      // migration); with its key given as the id it was accepted and got triggers.
      const table = `${d.logTable}_checkpoints`;
      try {
        await expect(captureChanges(d.db, activity, { [table]: { target: 'log', id: 'seq' } })).rejects.toMatchObject({
          code: 'INVALID_OPTIONS',
          message: expect.stringMatching(new RegExp(`^captureChanges: tables\\.${table}: is a table of the log "${d.logTable}"`)),
        });
      } finally {
        await removeChangeCapture(d.db, activity, [table]);
      }
    });

    it('refuses a misspelt option naming the nearest one, before installing anything', async () => {
      const table = uniqueName('cap_o');
      await d.createRecipes(table);
      await expect(captureChanges(d.db, activity, { [table]: { target: 'recipe' } }, { shema: 'other' } as never)).rejects.toThrow(
        /^captureChanges: unknown option "shema" \(did you mean "schema"\?\); the options are schema, dialect$/,
      );
      await expect(captureChanges(d.db, activity, { [table]: { target: 'recipe', igore: ['title'] } as never })).rejects.toThrow(
        new RegExp(`^captureChanges: tables\\.${table}: unknown option "igore" \\(did you mean "ignore"\\?\\)`),
      );
      await expect(captureChanges(d.db, activity, { [table]: { target: 'recipe', actions: { create: 'recipe.made' } } as never })).rejects.toThrow(
        new RegExp(`^captureChanges: tables\\.${table}\\.actions: unknown option "create" \\(did you mean "created"\\?\\)`),
      );
      await expect(removeChangeCapture(d.db, [table], { tablename: 'x' } as never)).rejects.toThrow(/^removeChangeCapture: unknown option "tablename" \(did you mean "tableName"\?\)/);
      // Nothing was installed by the refused calls.
      expect(await removeChangeCapture(d.db, activity, [table])).toEqual([]);
    });

    // SQLite has no schemas: the two spellings exist on PostgreSQL and MySQL only.
    if (dialect !== 'sqlite') {
      it('takes a table named with the current schema spelt out and without it as one table, both ways', async () => {
        // Found in review: removing with the schema spelt out dropped the triggers, answered [],
        // and kept the record of the install without it, so the next captureChanges found the
        // table "unchanged" and installed nothing: its writes were no longer captured.
        const current = String(Object.values((await d.outside(dialect === 'postgres' ? 'select current_schema() as s' : 'select database() as s'))[0]!)[0]);
        for (const [install, remove] of [[{}, { schema: current }], [{ schema: current }, {}]] as const) {
          const table = uniqueName('cap_s');
          await d.createRecipes(table);
          await captureChanges(d.db, activity, { [table]: { target: 'recipe' } }, install);
          const removed = await removeChangeCapture(d.db, activity, [table], remove);
          const again = await captureChanges(d.db, activity, { [table]: { target: 'recipe' } });
          await d.db.insertInto(table).values({ id: 1, title: 'Captured?' }).execute();
          await activity.flush();
          expect({ removed, again, captured: await activity.count({ metadata: { table } }) }).toEqual({ removed: [table], again: { installed: [table], unchanged: [] }, captured: 1 });
        }
      });
    }

    it('reports as removed only the tables that had capture', async () => {
      const table = uniqueName('cap_o');
      await d.createRecipes(table);
      await captureChanges(d.db, activity, { [table]: { target: 'recipe' } });
      expect(await removeChangeCapture(d.db, activity, [table, 'never_audited_xyz'])).toEqual([table]);
      expect(await removeChangeCapture(d.db, activity, [table])).toEqual([]);
      await d.db.insertInto(table).values({ id: 1, title: 'Not captured' }).execute();
      expect(await activity.count({ metadata: { table } })).toBe(0);
    });
  });
}
