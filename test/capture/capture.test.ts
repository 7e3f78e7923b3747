import { isDeepStrictEqual } from 'node:util';
import { CamelCasePlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureChanges, removeChangeCapture } from '../../adapters/storage/kysely.js';
import { runWithActivityContext } from '../../src/context.js';
import { createActivityLogger, type ActivityLogger, type ActivityRecord } from '../../src/index.js';
import { DIALECTS, openDatabase, uniqueName, type CaptureDatabase } from './databases.js';

/**
 * Change capture on the three real databases: what the triggers record, for which writes,
 * attributed to whom. Every write here goes through the database (the app's Kysely, raw SQL,
 * or a second client outside the app), and every check reads the log back.
 */

for (const { dialect, available, reason } of DIALECTS) {
  if (!available) console.warn(`[capture] ${dialect} suite skipped: ${reason}`);
  describe.skipIf(!available)(`change capture on ${dialect}`, () => {
    let d: CaptureDatabase;
    let activity: ActivityLogger;
    let recipes: string;
    const bool = (value: boolean) => (dialect === 'sqlite' ? (value ? 1 : 0) : value);
    const user = (id: string) => activity.with({ actor: { type: 'user', id, name: `User ${id}` }, tenantId: 't1', context: { ip: '10.0.0.1', requestId: `req-${id}`, route: '/recipes/:id', method: 'PATCH' } });
    const asUser = <T>(id: string, fn: () => Promise<T>) => runWithActivityContext(user(id), fn);

    /** Every captured record of the audited table, oldest first. */
    async function captured(table = recipes): Promise<ActivityRecord[]> {
      const out: ActivityRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await activity.query({ limit: 500, cursor, metadata: { table } });
        out.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return out.reverse();
    }

    async function freshTable(options: Record<string, unknown> = {}): Promise<string> {
      const name = uniqueName('cap_r');
      await d.createRecipes(name);
      await captureChanges(d.db, activity, { [name]: { target: 'recipe', name: 'title', ignore: ['updated_at'], ...options } as never });
      return name;
    }

    beforeAll(async () => {
      d = await openDatabase(dialect);
      activity = createActivityLogger({ store: d.store });
      recipes = await freshTable();
    });
    afterAll(async () => {
      await activity?.close();
      await d?.cleanup();
    });

    it('records an insert, an update and a delete with the request actor, target, changes and context', async () => {
      const table = await freshTable();
      await asUser('u1', async () => {
        await d.db.insertInto(table).values({ id: 1, title: 'Soup', body: 'Hot', published: bool(false), rating: 4.5 }).execute();
        await d.db.updateTable(table).set({ title: 'Tomato soup', published: bool(true) }).where('id', '=', 1).execute();
        await d.db.deleteFrom(table).where('id', '=', 1).execute();
      });
      const [created, updated, deleted] = await captured(table);
      expect(created).toMatchObject({
        action: 'recipe.created',
        status: 'success',
        actor: { type: 'user', id: 'u1', name: 'User u1' },
        tenantId: 't1',
        target: { type: 'recipe', id: '1', name: 'Soup' },
        metadata: { table, operation: 'insert' },
        context: { ip: '10.0.0.1', requestId: 'req-u1', route: '/recipes/:id', method: 'PATCH' },
      });
      // An insert's after holds every column (ignored ones left out).
      expect(created!.changes).toEqual({
        id: { before: null, after: 1 },
        title: { before: null, after: 'Soup' },
        body: { before: null, after: 'Hot' },
        published: { before: null, after: false },
        rating: { before: null, after: 4.5 },
        data: { before: null, after: null },
        photo: { before: null, after: null },
        password_hash: { before: null, after: '[REDACTED]' },
        created_at: { before: null, after: null },
      });
      expect(updated).toMatchObject({ action: 'recipe.updated', target: { type: 'recipe', id: '1', name: 'Tomato soup' }, metadata: { operation: 'update' } });
      expect(updated!.changes).toEqual({ title: { before: 'Soup', after: 'Tomato soup' }, published: { before: false, after: true } });
      expect(deleted).toMatchObject({ action: 'recipe.deleted', target: { type: 'recipe', id: '1', name: 'Tomato soup' }, metadata: { operation: 'delete' } });
      expect(deleted!.changes!.title).toEqual({ before: 'Tomato soup', after: null });
      expect(deleted!.changes!.rating).toEqual({ before: 4.5, after: null });
      // UUIDv7 ids, in time order with the records the logger writes.
      for (const record of [created, updated, deleted]) expect(record!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(created!.id < updated!.id && updated!.id < deleted!.id).toBe(true);
    });

    it('cuts a bound name and context over the limits without splitting an emoji, so the write never fails', async () => {
      // Cut at 255 (512) units, the emoji would lose its second half: a lone surrogate that
      // PostgreSQL's jsonb and MariaDB's JSON check refuse, failing the app's own insert.
      const table = await freshTable();
      const bound = activity.with({
        actor: { type: 'user', id: 'u-emoji', name: `${'a'.repeat(254)}😀😀` },
        context: { userAgent: `${'b'.repeat(511)}😀`, route: `/${'r'.repeat(510)}😀` },
      });
      await runWithActivityContext(bound, () => d.db.insertInto(table).values({ id: 1, title: 'Soup' }).execute());
      const [created] = await captured(table);
      expect(created!.actor).toEqual({ type: 'user', id: 'u-emoji', name: 'a'.repeat(254) });
      expect(created!.context).toMatchObject({ userAgent: 'b'.repeat(511), route: `/${'r'.repeat(510)}` });
    });

    it('interleaves captured and logged records in time order', async () => {
      const table = await freshTable();
      await asUser('u2', async () => {
        activity.log({ action: 'recipe.edit-started', target: { type: 'recipe', id: '7' } });
        await activity.flush();
        await new Promise((resolve) => setTimeout(resolve, 3));
        await d.db.insertInto(table).values({ id: 7, title: 'Bread' }).execute();
        await new Promise((resolve) => setTimeout(resolve, 3));
        activity.log({ action: 'recipe.edit-finished', target: { type: 'recipe', id: '7' } });
        await activity.flush();
      });
      const page = await activity.query({ targetType: 'recipe', targetId: '7', limit: 10 });
      expect(page.items.map((record) => record.action)).toEqual(['recipe.edit-finished', 'recipe.created', 'recipe.edit-started']);
    });

    it('orders the changes of one row made in the same millisecond as they were made', async () => {
      const table = await freshTable();
      await asUser('fast', async () => {
        await d.db.insertInto(table).values({ id: 1, title: 'v0' }).execute();
        for (let i = 1; i <= 30; i++) await d.db.updateTable(table).set({ title: `v${i}` }).where('id', '=', 1).execute();
      });
      const records = await captured(table);
      expect(records.map((record) => record.target?.name)).toEqual(Array.from({ length: 31 }, (_, i) => `v${i}`));
    });

    it('records nothing for an update that changes nothing, or only ignored columns', async () => {
      const table = await freshTable();
      await d.db.insertInto(table).values({ id: 1, title: 'Same', body: 'x' }).execute();
      await d.db.updateTable(table).set({ title: 'Same', body: 'x' }).execute();
      await d.db.updateTable(table).set({ updated_at: dialect === 'postgres' ? new Date() : '2024-01-01 00:00:00' }).execute();
      expect((await captured(table)).map((record) => record.action)).toEqual(['recipe.created']);
    });

    it('records a change if and only if its transaction commits', async () => {
      const table = await freshTable();
      await expect(
        asUser('u3', () =>
          d.db.transaction().execute(async (trx) => {
            await trx.insertInto(table).values({ id: 1, title: 'Doomed' }).execute();
            throw new Error('roll back');
          }),
        ),
      ).rejects.toThrow('roll back');
      await asUser('u3', () =>
        d.db.transaction().execute(async (trx) => {
          await trx.insertInto(table).values({ id: 2, title: 'Kept' }).execute();
        }),
      );
      const records = await captured(table);
      expect(records.map((record) => record.target?.id)).toEqual(['2']);
    });

    it('records a 10,000-row bulk update and a bulk delete, one record per row', async () => {
      const table = await freshTable();
      // Inserted by the second client in chunks, so the inserts are captured too, as `database`.
      for (let start = 0; start < 10_000; start += 1000) {
        const values = Array.from({ length: 1000 }, (_, i) => `(${start + i + 1}, 'Recipe ${start + i + 1}')`).join(', ');
        await d.outside(`insert into ${d.q(table)} (id, title) values ${values}`);
      }
      await asUser('bulk', () => d.db.updateTable(table).set({ published: bool(true) }).execute());
      await asUser('bulk', () => d.db.deleteFrom(table).execute());
      const records = await captured(table);
      const count = (action: string) => records.filter((record) => record.action === action).length;
      expect([count('recipe.created'), count('recipe.updated'), count('recipe.deleted')]).toEqual([10_000, 10_000, 10_000]);
      const updates = records.filter((record) => record.action === 'recipe.updated');
      expect(new Set(updates.map((record) => record.target?.id)).size).toBe(10_000);
      expect(updates.every((record) => record.actor?.id === 'bulk' && isDeepStrictEqual(record.changes, { published: { before: false, after: true } }))).toBe(true);
      expect(new Set(records.map((record) => record.id)).size).toBe(30_000);
    }, 120_000);

    it('records raw SQL made through the app with the request actor', async () => {
      const table = await freshTable();
      await asUser('raw', async () => {
        await sql`insert into ${sql.table(table)} (id, title) values (1, 'Raw')`.execute(d.db);
        await sql.raw(`update ${d.q(table)} set title = 'Raw 2' where id = 1`).execute(d.db);
      });
      const records = await captured(table);
      expect(records.map((record) => [record.action, record.actor?.id])).toEqual([
        ['recipe.created', 'raw'],
        ['recipe.updated', 'raw'],
      ]);
    });

    it('records a write made outside the app with the database as the actor, and it succeeds', async () => {
      const table = await freshTable();
      await d.outside(`insert into ${d.q(table)} (id, title) values (1, 'By hand')`);
      await d.outside(`update ${d.q(table)} set title = 'By hand, again' where id = 1`);
      const records = await captured(table);
      expect(records).toHaveLength(2);
      const expected = dialect === 'postgres' ? { type: 'database', id: 'postgres', name: 'psql' } : dialect === 'mysql' ? { type: 'database', id: 'root' } : { type: 'database', id: 'sqlite' };
      for (const record of records) {
        expect(record.actor).toEqual(expected);
        expect(record.context).toBeUndefined();
        expect(record.tenantId).toBeUndefined();
      }
    });

    it('records an app write outside any request scope as the database, never with a previous request’s actor', async () => {
      const table = await freshTable();
      await asUser('before', () => d.db.insertInto(table).values({ id: 1, title: 'In a request' }).execute());
      await d.db.updateTable(table).set({ title: 'After the request' }).execute();
      // Another user of the same pool (not through Kysely) after the request's writes.
      await d.samePool(`update ${d.q(table)} set title = 'Same pool' where id = 1`);
      const records = await captured(table);
      expect(records.map((record) => record.actor?.type === 'database')).toEqual([false, true, true]);
      expect(records[0]!.actor?.id).toBe('before');
    });

    it('attributes 100 concurrent requests on one pool each to its own actor', async () => {
      const table = await freshTable();
      await d.outside(`insert into ${d.q(table)} (id, title) values ${Array.from({ length: 100 }, (_, i) => `(${i + 1}, 'R${i + 1}')`).join(', ')}`);
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          asUser(`c${i + 1}`, async () => {
            // Interleave: each request yields between its reads and its writes.
            await new Promise((resolve) => setTimeout(resolve, (i * 7) % 13));
            if (i % 2 === 0) {
              await d.db.transaction().execute(async (trx) => {
                await trx.selectFrom(table).select('id').where('id', '=', i + 1).execute();
                await new Promise((resolve) => setTimeout(resolve, i % 5));
                await trx.updateTable(table).set({ title: `R${i + 1} by c${i + 1}` }).where('id', '=', i + 1).execute();
              });
            } else {
              await d.db.updateTable(table).set({ title: `R${i + 1} by c${i + 1}` }).where('id', '=', i + 1).execute();
            }
          }),
        ),
      );
      const updates = (await captured(table)).filter((record) => record.action === 'recipe.updated');
      expect(updates).toHaveLength(100);
      for (const record of updates) expect(record.actor?.id).toBe(`c${record.target?.id}`);
    }, 60_000);

    it('never stores a redacted value: named columns and the logger’s sensitive terms', async () => {
      const table = await freshTable({ redact: ['body'] });
      await asUser('r', async () => {
        await d.db.insertInto(table).values({ id: 1, title: 'Secret soup', body: 'the-secret-body', password_hash: 'hash-value-123' }).execute();
        await d.db.updateTable(table).set({ body: 'another-secret', password_hash: 'hash-value-456' }).execute();
      });
      const records = await captured(table);
      expect(records[1]!.changes).toEqual({ body: { before: '[REDACTED]', after: '[REDACTED]' }, password_hash: { before: '[REDACTED]', after: '[REDACTED]' } });
      const stored = JSON.stringify(await d.outside(`select * from ${d.q(d.logTable)}`));
      for (const secret of ['the-secret-body', 'another-secret', 'hash-value-123', 'hash-value-456']) expect(stored).not.toContain(secret);
    });

    it('converts every column type to the same JSON on every database', async () => {
      const table = await freshTable();
      const createdAt = dialect === 'postgres' ? new Date('2024-05-01T10:20:30.123Z') : dialect === 'mysql' ? '2024-05-01 10:20:30.123' : '2024-05-01T10:20:30.123Z';
      await d.db
        .insertInto(table)
        .values({ id: 1, title: 'Types', published: bool(true), rating: 3.5, data: JSON.stringify({ tags: ['a', 'b'], n: 1, ok: true }), photo: Buffer.from([1, 2, 3]), created_at: createdAt })
        .execute();
      const [record] = await captured(table);
      const after = Object.fromEntries(Object.entries(record!.changes!).map(([key, value]) => [key, (value as { after: unknown }).after]));
      expect(after).toEqual({
        id: 1,
        title: 'Types',
        body: null,
        published: true,
        rating: 3.5,
        data: { tags: ['a', 'b'], n: 1, ok: true },
        photo: '[binary: 3 bytes]',
        password_hash: '[REDACTED]',
        created_at: '2024-05-01T10:20:30.123Z',
      });
    });

    it('compares text exactly: a change of case is a change', async () => {
      const table = await freshTable();
      await d.db.insertInto(table).values({ id: 1, title: 'soup' }).execute();
      await d.db.updateTable(table).set({ title: 'Soup' }).execute();
      expect((await captured(table)).map((record) => record.action)).toEqual(['recipe.created', 'recipe.updated']);
    });

    it('never fails a write for a value too long for the log: the name is cut', async () => {
      const table = await freshTable();
      const long = 'x'.repeat(400);
      await d.db.insertInto(table).values({ id: 1, title: dialect === 'mysql' ? long.slice(0, 200) : long }).execute();
      const [record] = await captured(table);
      expect(record!.target!.name!.length).toBeLessThanOrEqual(255);
    });

    it('lets a background job name itself for one transaction: activity.with({ actor }).changes(trx)', async () => {
      const table = await freshTable();
      await d.outside(`insert into ${d.q(table)} (id, title) values (1, 'Draft')`);
      const job = activity.with({ actor: { type: 'system', id: 'nightly-publish' } });
      await d.db.transaction().execute(async (trx) => {
        await job.changes(trx);
        await trx.updateTable(table).set({ published: bool(true) }).execute();
      });
      // The name ends with the transaction.
      await d.db.updateTable(table).set({ title: 'Later' }).execute();
      const [, published, later] = await captured(table);
      expect(published!.actor).toEqual({ type: 'system', id: 'nightly-publish' });
      expect(later!.actor?.type).toBe('database');
      await expect(job.changes(d.db)).rejects.toThrow(/transaction/);
    });

    it('reads the captured versions back: history() newest first, stateAt() at any moment', async () => {
      // A target type of its own: the other tests' tables hold recipes with the same ids.
      const table = await freshTable({ target: 'soup' });
      const moments: Date[] = [];
      const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
      await asUser('h', async () => {
        await d.db.insertInto(table).values({ id: 5, title: 'Soup', body: 'Hot', rating: 3 }).execute();
        await pause();
        moments.push(new Date());
        await pause();
        await d.db.updateTable(table).set({ title: 'Stew', rating: 4 }).where('id', '=', 5).execute();
        await pause();
        moments.push(new Date());
        await pause();
        await d.db.deleteFrom(table).where('id', '=', 5).execute();
        await pause();
        moments.push(new Date());
      });
      const target = { type: 'soup', id: 5 };
      const first = await activity.history(target, { limit: 2 });
      expect(first.items.map((record) => record.action)).toEqual(['soup.deleted', 'soup.updated']);
      const second = await activity.history(target, { limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((record) => record.action)).toEqual(['soup.created']);
      const atCreation = await activity.stateAt(target, moments[0]!);
      expect(atCreation).toMatchObject({ id: 5, title: 'Soup', body: 'Hot', rating: 3 });
      expect(await activity.stateAt(target, moments[1]!)).toMatchObject({ id: 5, title: 'Stew', body: 'Hot', rating: 4 });
      expect(await activity.stateAt(target, moments[2]!)).toBeUndefined();
      expect(await activity.stateAt(target, new Date(0))).toBeUndefined();
    });

    it('installs idempotently, removes, and reinstalls after a column is added', async () => {
      const table = await freshTable();
      const options = { [table]: { target: 'recipe', name: 'title', ignore: ['updated_at'] } };
      expect(await captureChanges(d.db, activity, options)).toEqual({ installed: [], unchanged: [table] });
      expect(await removeChangeCapture(d.db, [table])).toEqual([table]);
      await d.db.insertInto(table).values({ id: 1, title: 'Not captured' }).execute();
      expect(await captured(table)).toEqual([]);
      await d.outside(`alter table ${d.q(table)} add column cuisine ${dialect === 'mysql' ? 'varchar(50)' : 'text'}`);
      expect(await captureChanges(d.db, activity, options)).toEqual({ installed: [table], unchanged: [] });
      await d.db.updateTable(table).set({ cuisine: 'Thai' }).execute();
      const [record] = await captured(table);
      expect(record!.changes).toEqual({ cuisine: { before: null, after: 'Thai' } });
    });

    it('removes capture from every audited table of the log when no table is named', async () => {
      const a = await freshTable();
      const b = await freshTable();
      const removed = await removeChangeCapture(d.db, activity);
      expect(removed).toEqual(expect.arrayContaining([a, b]));
      await d.db.insertInto(a).values({ id: 1, title: 'x' }).execute();
      await d.outside(`insert into ${d.q(b)} (id, title) values (1, 'y')`);
      expect([...(await captured(a)), ...(await captured(b))]).toEqual([]);
      await expect(removeChangeCapture(d.db, [] as string[])).rejects.toThrow(/tables: must be a non-empty array/);
      // Each refusal names the function that was called, not its sibling.
      await expect(removeChangeCapture(d.db, ['bad name'])).rejects.toThrow(/^removeChangeCapture: tables\[0\]: must be letters, digits and "_"/);
      await expect(removeChangeCapture(d.db, undefined, { schema: '1x' })).rejects.toThrow(/^removeChangeCapture: schema: /);
      await expect(removeChangeCapture({} as typeof d.db)).rejects.toThrow(/^removeChangeCapture: db: must be your Kysely instance/);
      // Put back what the other tests use.
      await captureChanges(d.db, activity, { [recipes]: { target: 'recipe', name: 'title', ignore: ['updated_at'] } });
    });

    it('works with a Kysely that has a CamelCasePlugin: install, capture with the actor, remove', async () => {
      const name = uniqueName('cap_r');
      await d.createRecipes(name);
      const camel = d.db.withPlugin(new CamelCasePlugin());
      expect(await captureChanges(camel, activity, { [name]: { target: 'recipe', name: 'title', ignore: ['updated_at'] } })).toEqual({ installed: [name], unchanged: [] });
      await asUser('camel', () => camel.insertInto(name).values({ id: 1, title: 'Camel', passwordHash: 'secret-camel' }).execute());
      const [record] = await captured(name);
      expect(record).toMatchObject({ action: 'recipe.created', actor: { id: 'camel' } });
      expect(record!.changes!.password_hash).toEqual({ before: null, after: '[REDACTED]' });
      expect(await removeChangeCapture(camel, [name])).toEqual([name]);
    });

    it('installs from several processes at once without error (here: concurrent calls)', async () => {
      const name = uniqueName('cap_r');
      await d.createRecipes(name);
      const results = await Promise.all(Array.from({ length: 4 }, () => captureChanges(d.db, activity, { [name]: { target: 'recipe' } })));
      expect(results.filter((result) => result.installed.length === 1)).toHaveLength(1);
      await d.db.insertInto(name).values({ id: 1, title: 'Once' }).execute();
      expect(await captured(name)).toHaveLength(1);
    });

    it('refuses bad options with the field and the rule', async () => {
      await expect(captureChanges(d.db, activity, { [recipes]: { target: '' } })).rejects.toThrow(/tables\.\w+\.target: must be a non-empty string/);
      await expect(captureChanges(d.db, activity, { [recipes]: { target: 'recipe', redact: ['passwrd'] } })).rejects.toThrow(/redact\[0\]: table "\w+" has no column "passwrd"/);
      await expect(captureChanges(d.db, activity, { 'bad name': { target: 'recipe' } })).rejects.toThrow(/tables\.bad name: must be letters, digits/);
      await expect(captureChanges(d.db, activity, { missing_table_xyz: { target: 'recipe' } })).rejects.toThrow(/no table "missing_table_xyz"/);
      await expect(captureChanges(d.db, activity, { [recipes]: { target: 'recipe', actions: { updated: 'Not An Action' } } })).rejects.toThrow(/actions\.updated: must be a dotted lower-case action/);
      await expect(captureChanges(d.db, {} as never, { [recipes]: { target: 'recipe' } })).rejects.toThrow(/activity: must be a logger/);
      await expect(captureChanges({} as never, activity, { [recipes]: { target: 'recipe' } })).rejects.toThrow(/db: must be your Kysely instance/);
    });

    it('uses configured actions', async () => {
      const table = await freshTable({ actions: { created: 'dish.added', deleted: 'dish.removed' } });
      await d.db.insertInto(table).values({ id: 1, title: 'A' }).execute();
      await d.db.updateTable(table).set({ title: 'B' }).execute();
      await d.db.deleteFrom(table).execute();
      expect((await captured(table)).map((record) => record.action)).toEqual(['dish.added', 'recipe.updated', 'dish.removed']);
    });
  });
}
