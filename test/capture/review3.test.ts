import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureChanges, removeChangeCapture } from '../../adapters/storage/kysely.js';
import type { ActivityLogger } from '../../src/index.js';
import { DIALECTS, uniqueName, useCaptureSuite, type CaptureDatabase, type Dialect } from './databases.js';

/**
 * Acceptance review of change capture (issue #15) from the packed tarball in a fresh app:
 * column types and names the earlier suites did not reach, where capture made the app's own
 * write fail or recorded the wrong thing.
 */

// Each database gets the tests of its own behaviour (itOn); those of none are left out.
const TESTED: Dialect[] = ['sqlite', 'postgres', 'mysql'];

for (const { dialect, available, reason } of DIALECTS.filter(({ dialect }) => TESTED.includes(dialect))) {
  if (!available) console.warn(`[capture review3] ${dialect} suite skipped: ${reason}`);
  describe.skipIf(!available)(`change capture review 3 on ${dialect}`, () => {
    const suite = useCaptureSuite(dialect, 'cap_a');
    const { captured, itOn } = suite;
    /** A schema (PostgreSQL) or database (MySQL) of its own, beside the connection's. */
    async function otherSchema(): Promise<string> {
      const schema = uniqueName('cap_a_schema');
      await d.outside(`create ${dialect === 'postgres' ? 'schema' : 'database'} ${d.q(schema)}`);
      dropAfter.push(schema);
      return schema;
    }
    const dropAfter: string[] = [];
    afterAll(async () => {
      for (const schema of dropAfter) await d.outside(`drop ${dialect === 'postgres' ? 'schema' : 'database'} if exists ${d.q(schema)}${dialect === 'postgres' ? ' cascade' : ''}`);
    });

    it('installs again on a table rebuilt since (dropped and made again with the same columns), instead of calling it unchanged', async () => {
      // Found in review: the record of the install still matched, so captureChanges answered
      // "unchanged" while the table had no triggers, and its writes went unrecorded. SQLite's
      // way to alter a table is this rebuild; a restore or a test reset does the same.
      const table = uniqueName('cap_a');
      const ddl = (name: string) => `create table ${d.q(name)} (id int primary key, title varchar(50))`;
      await d.outside(ddl(table));
      try {
        await captureChanges(d.db, activity, { [table]: { target: 'recipe' } });
        await d.outside(ddl(`${table}_new`));
        await d.outside(`drop table ${d.q(table)}`);
        await d.outside(`alter table ${d.q(`${table}_new`)} rename to ${d.q(table)}`);
        expect(await captureChanges(d.db, activity, { [table]: { target: 'recipe' } })).toEqual({ installed: [table], unchanged: [] });
        expect(await captureChanges(d.db, activity, { [table]: { target: 'recipe' } })).toEqual({ installed: [], unchanged: [table] });
        await d.outside(`insert into ${d.q(table)} values (1, 'by hand')`);
        await d.db.insertInto(table).values({ id: 2, title: 'by the app' }).execute();
        expect((await captured(table)).map((record) => record.target?.id)).toEqual(['1', '2']);
      } finally {
        await d.outside(`drop table if exists ${d.q(table)}`);
      }
    });

    it('a binary id and name (a BINARY(16) uuid) never fail the write, and are recorded as \\x and hex, as history() finds them', async () => {
      // Found in review: MySQL cast the id's bytes as text, and every write of the table failed
      // ("Invalid utf8mb4 character string"); SQLite recorded them as unreadable text.
      const table = uniqueName('cap_a');
      const binary = { sqlite: 'blob', postgres: 'bytea', mysql: 'binary(16)' }[dialect];
      await d.outside(`create table ${d.q(table)} (id ${binary} primary key, label ${dialect === 'mysql' ? 'varbinary(16)' : binary}, n int)`);
      try {
        await captureChanges(d.db, activity, { [table]: { target: 'device', name: 'label' } });
        await d.db.insertInto(table).values({ id: Buffer.from('0190a0000000700080000000000000ff', 'hex'), label: Buffer.from([0xff, 0xfe]), n: 1 }).execute();
        await d.db.updateTable(table).set({ n: 2 }).execute();
        const target = { type: 'device', id: '\\x0190a0000000700080000000000000ff', name: '\\xfffe' };
        expect((await captured(table)).map((record) => record.target)).toEqual([target, target]);
        expect((await activity.history(target)).items.map((record) => record.metadata?.operation)).toEqual(['update', 'insert']);
      } finally {
        await d.outside(`drop table if exists ${d.q(table)}`);
      }
    });

    it('refuses a view by name, as a missing table, before installing anything', async () => {
      // Found in review: SQLite and MySQL answered with the database's own error ("cannot
      // create AFTER trigger on view", "is not of type 'BASE TABLE'"), PostgreSQL with this one.
      const table = uniqueName('cap_a');
      const view = uniqueName('cap_a_view');
      await d.outside(`create table ${d.q(table)} (id int primary key, title varchar(20))`);
      await d.outside(`create view ${d.q(view)} as select * from ${d.q(table)}`);
      try {
        const refused = captureChanges(d.db, activity, { [view]: { target: 'recipe' } });
        await expect(refused).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
        await expect(refused).rejects.toThrow(`captureChanges: tables.${view}: no table "${view}" in the database (a view cannot be captured: name its tables)`);
      } finally {
        await d.outside(`drop view if exists ${d.q(view)}`);
        await d.outside(`drop table if exists ${d.q(table)}`);
      }
    });

    itOn('postgres')('a bytea id written from a session with bytea_output = escape is the same \\x and hex id', async () => {
      const table = uniqueName('cap_a');
      await d.outside(`create table ${d.q(table)} (id bytea primary key, n int)`);
      try {
        await captureChanges(d.db, activity, { [table]: { target: 'device' } });
        await d.db.insertInto(table).values({ id: Buffer.from([1, 2, 0xff]), n: 1 }).execute();
        await d.outside(`begin; set local bytea_output = escape; update ${d.q(table)} set n = 2; commit`);
        expect((await captured(table)).map((record) => record.target?.id)).toEqual(['\\x0102ff', '\\x0102ff']);
      } finally {
        await d.outside(`drop table if exists ${d.q(table)}`);
      }
    });

    itOn('sqlite')('a change of case or of trailing spaces is recorded in a NOCASE or RTRIM column, in a narrow and a wide table', async () => {
      // Found in review: the triggers compared with the column's own collation, so `soup` →
      // `Soup` in a `COLLATE NOCASE` column (emails, user names) was no change and not recorded.
      const extra = (count: number) => Array.from({ length: count }, (_, i) => `, c${i} text`).join('');
      for (const width of [0, 70]) {
        const table = uniqueName('cap_a');
        await d.outside(`create table ${d.q(table)} (id integer primary key, title text collate nocase, code text collate rtrim${extra(width)})`);
        await captureChanges(d.db, activity, { [table]: { target: 'recipe' } });
        await d.outside(`insert into ${d.q(table)} (id, title, code) values (1, 'soup', 'a')`);
        await d.db.updateTable(table).set({ title: 'Soup' }).execute();
        await d.outside(`update ${d.q(table)} set code = 'a  '`);
        await d.outside(`update ${d.q(table)} set title = 'Soup', code = 'a  '`);
        const updates = (await captured(table)).filter((record) => record.metadata?.operation === 'update');
        expect(updates.map((record) => record.changes)).toEqual([{ title: { before: 'soup', after: 'Soup' } }, { code: { before: 'a', after: 'a  ' } }]);
      }
    });

    // SQLite has no schemas: registered on PostgreSQL and MySQL only, as itOn does for one.
    (dialect === 'sqlite' ? ((() => undefined) as unknown as typeof it) : it)('removes capture from a table of another schema, also when every audited table is removed, and tells it apart from a same-named table of its own', async () => {
      // Found in review: an install with { schema } was recorded as if in the connection's own
      // schema. removeChangeCapture(db, [t], { schema }) dropped the triggers and answered [];
      // removeChangeCapture(db) looked for the table in the wrong schema and left its triggers.
      const table = uniqueName('cap_a');
      const named = await otherSchema();
      const everything = await otherSchema();
      for (const schema of [named, everything]) await d.outside(`create table ${d.q(schema)}.${d.q(table)} (id int primary key, title varchar(50))`);
      await d.outside(`create table ${d.q(table)} (id int primary key, title varchar(50))`);
      try {
        await captureChanges(d.db, activity, { [table]: { target: 'recipe' } }, { schema: named });
        await captureChanges(d.db, activity, { [table]: { target: 'recipe' } });
        expect(await removeChangeCapture(d.db, activity, [table], { schema: named })).toEqual([table]);
        await captureChanges(d.db, activity, { [table]: { target: 'recipe' } }, { schema: everything });
        expect(await removeChangeCapture(d.db, activity)).toContain(table);
        for (const [i, schema] of [named, everything].entries()) await d.outside(`insert into ${d.q(schema)}.${d.q(table)} values (${i}, 'not captured')`);
        await d.outside(`insert into ${d.q(table)} values (9, 'not captured')`);
        expect(await captured(table)).toEqual([]);
      } finally {
        await d.outside(`drop table if exists ${d.q(table)}`);
      }
    });

    let d: CaptureDatabase;
    let activity: ActivityLogger;
    beforeAll(() => void ({ d, activity } = suite));

    itOn('mysql')('a reinstall (new options, a new column, an upgrade) while another connection writes records every write', async () => {
      // Found in review: each trigger statement commits on its own, so the writes made between
      // the drop of the old triggers and the creation of the new ones were recorded by neither
      // (91 of 351 across 30 reinstalls). A rolling deploy reinstalls under live traffic.
      const table = uniqueName('cap_a');
      await d.outside(`create table ${d.q(table)} (id int auto_increment primary key, title varchar(20), a int, b int)`);
      try {
        await captureChanges(d.db, activity, { [table]: { target: 'recipe' } });
        let writing = true;
        let written = 0;
        const writer = (async () => {
          while (writing) {
            await d.outside(`insert into ${d.q(table)} (title) values ('x')`);
            written++;
          }
        })();
        for (let i = 0; i < 20; i++) {
          const result = await captureChanges(d.db, activity, { [table]: { target: 'recipe', ignore: [i % 2 ? 'a' : 'b'] } });
          expect(result.installed).toEqual([table]);
        }
        writing = false;
        await writer;
        expect(written).toBeGreaterThan(20);
        expect((await captured(table)).length).toBe(written);
      } finally {
        await d.outside(`drop table if exists ${d.q(table)}`);
      }
    });

    itOn('mysql')('BIT, spatial and ucs2/utf16/latin1 text columns never fail the write, and are recorded as numbers and text', async () => {
      const table = uniqueName('cap_a');
      await d.outside(
        `create table ${d.q(table)} (id int primary key, flags bit(8), mask bit(64), place point, shape geometry,
          wide varchar(20) character set utf16, old varchar(20) character set ucs2, latin varchar(20) character set latin1) default charset=utf8mb4`,
      );
      try {
        await captureChanges(d.db, activity, { [table]: { target: 'place', name: 'wide' } });
        await d.outside(
          `insert into ${d.q(table)} values (1, b'101', b'1111111111111111111111111111111111111111111111111111111111111111', point(1, 2),
            ST_GeomFromText('LINESTRING(0 0, 1 1)'), 'Zoë 寿司', 'é', 'café')`,
        );
        await d.outside(`update ${d.q(table)} set flags = b'110', wide = 'Zoë 🍣' where id = 1`);
        const [insert, update] = await captured(table);
        expect(insert!.changes).toEqual({
          id: { before: null, after: 1 },
          flags: { before: null, after: 5 },
          mask: { before: null, after: 18446744073709551615 },
          place: { before: null, after: 'POINT(1 2)' },
          shape: { before: null, after: 'LINESTRING(0 0,1 1)' },
          wide: { before: null, after: 'Zoë 寿司' },
          old: { before: null, after: 'é' },
          latin: { before: null, after: 'café' },
        });
        expect(insert!.target).toEqual({ type: 'place', id: '1', name: 'Zoë 寿司' });
        expect(update!.changes).toEqual({ flags: { before: 5, after: 6 }, wide: { before: 'Zoë 寿司', after: 'Zoë 🍣' } });
      } finally {
        await d.outside(`drop table if exists ${d.q(table)}`);
      }
    });
  });
}
