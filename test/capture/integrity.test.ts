import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureChanges } from '../../adapters/storage/kysely.js';
import { runWithActivityContext } from '../../src/context.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';
import { openDatabase, uniqueName, type CaptureDatabase } from './databases.js';

/**
 * Captured changes beside tamper evidence: the triggers' records are outside the loggers'
 * hash chains (the database writes them, without the key), so verify() counts them as
 * captured rather than reporting them unsealed, and still reports a record inserted behind
 * the loggers' backs that is not one of them. A real SQLite file.
 */
describe('change capture with integrity on', () => {
  let d: CaptureDatabase;
  let activity: ActivityLogger;
  let table: string;
  beforeAll(async () => {
    d = await openDatabase('sqlite');
    activity = createActivityLogger({ store: d.store, integrity: { key: 'k'.repeat(32) } });
    table = uniqueName('cap_int');
    await d.createRecipes(table);
    await captureChanges(d.db, activity, { [table]: { target: 'recipe', name: 'title' } });
  });
  afterAll(async () => {
    await activity?.close();
    await d?.cleanup();
  });

  it('verifies clean with captured records among sealed ones, and counts them', async () => {
    activity.log({ action: 'session.start' });
    await activity.flush();
    await runWithActivityContext(activity.with({ actor: { type: 'user', id: 'u1' } }), async () => {
      await d.db.insertInto(table).values({ id: 1, title: 'Soup' }).execute();
      await d.db.updateTable(table).set({ title: 'Stew' }).execute();
    });
    activity.log({ action: 'session.end' });
    await activity.flush();
    const report = await activity.verify();
    expect(report).toMatchObject({ ok: true, checked: 2, captured: 2 });
  });

  it('still reports an unsealed record that capture did not write', async () => {
    await d.outside(
      `insert into ${d.q(d.logTable)} (id, occurred_at, action, status, metadata) values ('01ffffff-ffff-7fff-bfff-ffffffffffff', ${Date.now() + 1000}, 'forged.entry', 'success', '{"table":"x"}')`,
    );
    const report = await activity.verify();
    expect(report.ok).toBe(false);
    expect(report.counts.unsealed).toBe(1);
    expect(report.problems[0]).toMatchObject({ kind: 'unsealed', id: '01ffffff-ffff-7fff-bfff-ffffffffffff' });
  });
});
