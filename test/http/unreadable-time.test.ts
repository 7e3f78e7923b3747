import { afterEach, describe, expect, it } from 'vitest';
import { createActivityLogsHandler } from '../../src/http/logs-handler.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { skipReason, tamperTarget, type TamperTarget } from '../integrity/databases.js';

/**
 * A stored time the library never writes, set through each database's own client: text in
 * SQLite's integer column, a number past the year 275760, PostgreSQL's `infinity`, a fraction
 * of a millisecond. A `Date` cannot hold it (it is read back invalid, or at its whole
 * millisecond), and a page's cursor, an export or an erasure that continued from that Date
 * stopped at the record or skipped records beside it. Every record must still be listed,
 * exported and paged through, at any page size; the unreadable time shown empty (CSV) or null (JSON).
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const IDS = ['evt-0', 'evt-1', 'evt-2', 'evt-3', 'evt-4', 'evt-5'];

/** What each database's own client writes into `occurred_at` of evt-1, evt-2 and evt-3. */
const FOREIGN_TIMES: Record<TamperTarget['kind'], (target: TamperTarget) => Promise<void>> = {
  async sqlite(target) {
    await target.run(`update ${target.table} set occurred_at = ? where id = ?`, ['garbage', 'evt-1']);
    await target.run(`update ${target.table} set occurred_at = ? where id = ?`, [1e300, 'evt-2']);
    await target.run(`update ${target.table} set occurred_at = occurred_at + 0.5 where id = ?`, ['evt-3']);
  },
  async postgres(target) {
    await target.run(`update ${target.table} set occurred_at = 'infinity' where id = ?`, ['evt-1']);
    await target.run(`update ${target.table} set occurred_at = '-infinity' where id = ?`, ['evt-2']);
    await target.run(`update ${target.table} set occurred_at = occurred_at + interval '1 microsecond' where id = ?`, ['evt-3']);
  },
  async mysql(target) {
    // datetime(3) holds whole milliseconds: widened first, as someone with DDL rights could.
    await target.run(`alter table ${target.table} modify occurred_at datetime(6) not null`);
    for (const id of ['evt-1', 'evt-2', 'evt-3']) await target.run(`update ${target.table} set occurred_at = occurred_at + interval 1 microsecond where id = ?`, [id]);
  },
};

for (const kind of ['sqlite', 'postgres', 'mysql'] as const) {
  const skip = skipReason(kind);
  if (skip) console.warn(`[unreadable-time] ${kind}: skipped, ${skip}`);

  describe.skipIf(Boolean(skip))(`a stored time the library never writes, on ${kind}`, () => {
    async function logWithForeignTimes(): Promise<ActivityLogger> {
      const target = await tamperTarget(kind, `al_time_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`);
      cleanups.push(() => target.cleanup());
      const writer = createActivityLogger({ store: target.store() });
      // Two records in the same millisecond as evt-3, one on each side of its id.
      const times = [1, 2, 3, 4, 4, 4].map((day) => new Date(Date.UTC(2026, 0, day)));
      IDS.forEach((id, i) => writer.log({ id, action: 'recipe.update', occurredAt: times[i]! }));
      await writer.close();
      await FOREIGN_TIMES[kind](target);
      const logger = createActivityLogger({ store: target.store(), onError: (error) => void cleanups.push(() => expect.unreachable(`${error.code}: ${error.message}`)) });
      cleanups.push(() => logger.close());
      return logger;
    }

    it('is paged through one record at a time, and exported one record per store page, every record once', async () => {
      const logger = await logWithForeignTimes();
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await logger.query({ action: 'recipe.update', limit: 1, ...(cursor && { cursor }) });
        seen.push(...page.items.map((record) => record.id));
        cursor = page.nextCursor;
      } while (cursor && seen.length < 20);
      expect(seen.sort()).toEqual(IDS);

      const handler = createActivityLogsHandler(logger, { authorize: () => true, exportPageSize: 1 });
      const csv = (await (await handler(new Request('http://x/export?format=csv&action=recipe.update'))).text()).split('\r\n').filter(Boolean).slice(1);
      expect(csv.map((line) => line.split(',')[0]).sort()).toEqual(IDS);
      const ndjson = (await (await handler(new Request('http://x/export?format=ndjson&action=recipe.update'))).text()).split('\n').filter(Boolean);
      const exported = ndjson.map((line) => JSON.parse(line) as { id: string; occurredAt: string | null });
      expect(exported.map((record) => record.id).sort()).toEqual(IDS);
      // A time no Date holds is empty in CSV and null in JSON; the rest as ISO 8601.
      const unreadable = kind === 'mysql' ? [] : ['evt-1', 'evt-2'];
      expect(exported.filter((record) => record.occurredAt === null).map((record) => record.id)).toEqual(expect.arrayContaining(unreadable));
      expect(exported.filter((record) => record.occurredAt === null)).toHaveLength(unreadable.length);
      for (const line of csv) expect(line.split(',')[1], line).toEqual(unreadable.includes(line.split(',')[0]!) ? '' : expect.stringMatching(/^2026-01-0\dT00:00:00\.000Z$/));
    });

  });
}
