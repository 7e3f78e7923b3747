import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { uuidv7 } from '../../src/ids.js';
import { describeActivityStore as describeStoreConformance } from '../../adapters/testing/store-conformance.js';
import { sqliteContext } from './databases.js';

const capabilities = { sharedDatabase: true, transactions: true, migrations: true, killConnections: false, contentRefusal: true };

describeStoreConformance({
  name: 'sqlite store',
  setup: (tableName) => sqliteContext(tableName, 'sqlite'),
  // A directory that does not exist: the file cannot be opened.
  unreachableStore: () => sqliteStore({ filename: join('/nonexistent-dir', 'activity.db') }),
  capabilities,
});

describeStoreConformance({
  name: 'sqlite store (writes on the main thread)',
  setup: (tableName) => sqliteContext(tableName, 'sqlite-main-thread'),
  capabilities,
});

/**
 * The SQLite filter indexes are partial (rows with a null actor, target or tenant are left
 * out) and end with occurred_at and the rowid; the time index ends with occurred_at and id:
 * these check that the queries the store sends still
 * search those indexes rather than scanning the table, first page and keyset page alike.
 */
describe('sqlite store indexes', () => {
  it('serve every filtered page, also past the first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-plan-'));
    const filename = join(dir, 'activity.db');
    const store = sqliteStore({ filename });
    let db: Database.Database | undefined;
    try {
      await store.insert([
        { id: '0190f0e0-0000-7000-8000-000000000001', occurredAt: new Date(), action: 'recipe.view', status: 'success', actor: { type: 'user', id: 'u_1' } },
      ]);
      db = new Database(filename, { readonly: true });
      const plan = (where: string, ...args: unknown[]) =>
        (db!.prepare(`explain query plan select * from activity_logs where ${where} order by occurred_at desc, id desc limit 51`).all(...args) as { detail: string }[])
          .map((row) => row.detail)
          .join('; ');
      const keyset = 'occurred_at <= ? and (occurred_at < ? or id < ?)';
      const cases: [string, string, unknown[]][] = [
        ['actor_id = ?', 'activity_logs_actor_idx', ['u_1']],
        ['target_type = ? and target_id = ?', 'activity_logs_target_idx', ['recipe', 'r_1']],
        ['target_type = ?', 'activity_logs_target_idx', ['recipe']],
        ['tenant_id = ?', 'activity_logs_tenant_idx', ['t_1']],
        ['action = ?', 'activity_logs_action_idx', ['recipe.view']],
      ];
      for (const [where, index, args] of cases) {
        expect(plan(where, ...args), where).toContain(`USING INDEX ${index}`);
        expect(plan(`${where} and ${keyset}`, ...args, 1, 1, 'z'), `${where} (keyset)`).toContain(`USING INDEX ${index}`);
      }
      expect(plan(keyset, 1, 1, 'z')).toContain('USING INDEX activity_logs_time_idx');
      // Filters without an index of their own walk the time index in page order and stop
      // after a page, rather than sorting the whole table.
      for (const where of ['', 'status = ? and ', 'actor_type = ? and ']) {
        const args = where ? ['failure'] : [];
        for (const [clause, more] of [[`${where}1 = 1`, []], [`${where}${keyset}`, [1, 1, 'z']]] as const) {
          const detail = plan(clause, ...args, ...more);
          expect(detail, clause).toContain('activity_logs_time_idx');
          expect(detail, clause).not.toContain('TEMP B-TREE');
        }
      }
    } finally {
      db?.close();
      await store.close?.();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqliteStore({ filename: ":memory:" })', () => {
  it('keeps an in-memory database on one connection: what it writes, it reads, counts and purges', async () => {
    for (const filename of [':memory:', '']) {
      const store = sqliteStore({ filename });
      try {
        const old = { id: uuidv7(Date.UTC(2020, 0, 1)), occurredAt: new Date(Date.UTC(2020, 0, 1)), action: 'recipe.view', status: 'success' as const };
        const fresh = { id: uuidv7(), occurredAt: new Date(), action: 'recipe.view', status: 'success' as const };
        await store.insert([old, fresh]);
        expect(await store.get(fresh.id), filename).toEqual(fresh);
        expect(await store.count({}), filename).toBe(2);
        expect(await store.purge({ before: new Date(Date.UTC(2021, 0, 1)) }), filename).toBe(1);
        expect((await store.query({ limit: 10 })).items.map((record) => record.id), filename).toEqual([fresh.id]);
      } finally {
        await store.close();
      }
    }
  });
});
