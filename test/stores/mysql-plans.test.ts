import * as kysely from 'kysely';
import mysql from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { mysqlDialect } from '../../adapters/storage/sql/mysql.js';
import { SqlStatements } from '../../adapters/storage/sql/statements.js';
import type { ActivityRecord } from '../../src/schema.js';
import { MYSQL_URL } from './databases.js';

/**
 * The plans MariaDB makes for the statements whose cost grows with the table: a purge batch
 * filtered by tenant, and a page of one hash chain. Each must read an index in order and stop
 * after its LIMIT. A sort of every matching row (`Using filesort`) makes a purge, or a
 * verify(), take time in the square of the rows it goes through.
 */

const skip = !MYSQL_URL && 'ACTIVITY_LOG_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test; CI always sets it)';
if (skip) console.warn(`[mysql plans] skipped: ${skip}`);

const ROWS = 20_000;
const BASE = Date.UTC(2024, 0, 1);

describe.skipIf(Boolean(skip))('MariaDB query plans', () => {
  const tableName = `al_plans_${Date.now().toString(36)}`;
  const pool = MYSQL_URL ? mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 }) : undefined;
  const db = new kysely.Kysely<unknown>({ dialect: new kysely.MysqlDialect({ pool: pool! }) });
  const statements = new SqlStatements(kysely, mysqlDialect, tableName, undefined);
  const store = MYSQL_URL ? mysqlStore({ uri: MYSQL_URL, tableName }) : undefined;
  const chain = '01900000-0000-7000-8000-00000000c0de';

  /** The rows of MariaDB's EXPLAIN of a statement, as `table: key (Extra)`. */
  const explain = async (fragment: kysely.RawBuilder<unknown>) => {
    const compiled = fragment.compile(db);
    const [rows] = await pool!.promise().query(`explain ${compiled.sql}`, compiled.parameters as unknown[]);
    return (rows as { table: string; key: string | null; Extra: string | null }[]).map((row) => `${row.table}: ${row.key} (${row.Extra ?? ''})`);
  };

  beforeAll(async () => {
    const records: ActivityRecord[] = Array.from({ length: ROWS }, (_, i) => ({
      id: `0190${String(i).padStart(8, '0')}-0000-7000-8000-000000000000`,
      occurredAt: new Date(BASE + i * 1000),
      action: 'recipe.view',
      status: 'success',
      actor: { type: 'user', id: `u_${i % 50}` },
      tenantId: `t_${i % 2}`,
      integrity: { chain, seq: i + 1, keyId: 'k1', prev: '', hash: `h${i}` },
    }));
    for (let start = 0; start < ROWS; start += 2000) await store!.insert(records.slice(start, start + 2000));
    const at = new Date(BASE).toISOString();
    await store!.insertCheckpoints!(Array.from({ length: 2000 }, (_, i) => ({ chain: i % 2 ? chain : 'another', seq: i + 1, hash: `h${i}`, keyId: 'k1', at, signature: 's' })));
    await pool!.promise().query(`analyze table \`${tableName}_checkpoints\``);
    await pool!.promise().query(`analyze table \`${tableName}\``);
  }, 120_000);

  afterAll(async () => {
    await store?.close?.();
    for (const suffix of ['', '_schema', '_checkpoints', '_leases']) await pool?.promise().query(`drop table if exists \`${tableName}${suffix}\``);
    await db.destroy();
  });

  it("purges one tenant's oldest rows from its index in order, without sorting all of them", async () => {
    const plan = await explain(statements.purgeBatch({ before: new Date(BASE + ROWS * 1000), tenantId: 't_1' } as never, 1000) as kysely.RawBuilder<unknown>);
    expect(plan.join('; ')).toContain(`${tableName}_tenant_idx`);
    expect(plan.join('; ')).not.toContain('filesort');
  });

  it('pages one chain from the chain index in order, after a place or within one', async () => {
    for (const after of [undefined, { chain, seq: 5000 }, { chain, seq: 5000, id: 'z' }]) {
      const plan = await explain(statements.selectChainPage({ chain: after ? undefined : chain, after, limit: 500 }) as unknown as kysely.RawBuilder<unknown>);
      expect(plan.join('; '), JSON.stringify(after)).toContain(`${tableName}_chain_idx`);
      expect(plan.join('; '), JSON.stringify(after)).not.toContain('filesort');
    }
  });

  it("pages one chain's checkpoints in order, without sorting them", async () => {
    for (const after of [undefined, { chain, seq: 500 }]) {
      const plan = await explain(statements.selectCheckpoints({ chain, after, limit: 500 }) as unknown as kysely.RawBuilder<unknown>);
      expect(plan.join('; '), JSON.stringify(after)).not.toContain('filesort');
    }
  });
});
