/**
 * Retention on PostgreSQL (issue #17): a purge of the oldest month (about 30 days) out of
 * 10,000,000 rows spread over 13 months, by batched delete on a plain table vs by partition
 * drop on a table made with `partitioning: 'monthly'`, both through `runRetention()` with the
 * same rows and the same rule. While each runs, a writer inserts one row at a time into the
 * same table (as an app's logger would, through its own connection) and the longest insert is
 * printed beside the longest insert of the same writer with no purge running (the anchor,
 * measured right after, on the same table, for as long as the pass took).
 *
 * Run: npx tsx --expose-gc test/bench/retention.bench.ts  (or npm run bench)
 * Env: BENCH_SCALE=0.1 scales the rows down; needs ACTIVITY_LOG_POSTGRES_URL (skipped without).
 */
import { Kysely, PostgresDialect } from 'kysely';
import * as kysely from 'kysely';
import pg from 'pg';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { MonthlyPartitions } from '../../adapters/storage/sql/partitions.js';
import { createActivityLogger } from '../../src/index.js';

const URL = process.env.ACTIVITY_LOG_POSTGRES_URL;
const ROWS = Math.round(10_000_000 * Number(process.env.BENCH_SCALE ?? 1));
const MONTHS = 13;
const DAY = 86_400_000;

const report = (name: string, value: string, note?: string) => console.log(`  ${name.padEnd(56)} ${value}${note ? `   ${note}` : ''}`);

function monthStart(months: number): number {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + months, 1);
}

/** Fills the table with ROWS rows spread evenly from the start of month -12 to now. */
async function fill(pool: pg.Pool, table: string): Promise<void> {
  const start = monthStart(-(MONTHS - 1));
  const span = Date.now() - start;
  const chunk = 500_000;
  for (let from = 1; from <= ROWS; from += chunk) {
    const to = Math.min(ROWS, from + chunk - 1);
    await pool.query(
      `insert into "${table}" (id, occurred_at, action, status, actor_type, actor_id, target_type, target_id, tenant_id, metadata, context)
       select lpad(to_hex(g), 12, '0') || '-bench-row', to_timestamp(($1::float8 + (g::float8 / $3) * $2) / 1000),
              case g % 3 when 0 then 'recipe.update' else 'recipe.view' end, 'success', 'user', 'u_' || (g % 50), 'recipe', 'r_' || g, 't_' || (g % 7),
              jsonb_build_object('recipeId', 'r_' || g, 'servings', 4, 'source', 'web'),
              jsonb_build_object('ip', '203.0.113.7', 'requestId', 'req-' || g, 'method', 'POST')
       from generate_series($4::bigint, $5::bigint) g`,
      [start, span, ROWS, from, to],
    );
  }
  // Settled as a table that has been running for a while: its statistics made, and the
  // write-ahead log of the load flushed, so that the anchor does not time a checkpoint.
  await pool.query(`vacuum analyze "${table}"`);
  await pool.query('checkpoint');
}

/** Inserts one row at a time until `until` resolves; the longest insert and how many. */
async function writer(pool: pg.Pool, table: string, until: Promise<unknown>): Promise<{ longestMs: number; inserts: number }> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  let longestMs = 0;
  let inserts = 0;
  while (!done) {
    const started = performance.now();
    await pool.query(`insert into "${table}" (id, occurred_at, action, status) values ($1, now(), 'recipe.view', 'success')`, [`w-${process.hrtime.bigint()}-${inserts}`]);
    longestMs = Math.max(longestMs, performance.now() - started);
    inserts++;
  }
  return { longestMs, inserts };
}

async function run(kind: 'batched delete' | 'partition drop'): Promise<void> {
  const table = `al_bench_ret_${kind === 'partition drop' ? 'part' : 'plain'}_${Date.now().toString(36)}`;
  const pool = new pg.Pool({ connectionString: URL, max: 3 });
  const store = postgresStore({ connectionString: URL!, tableName: table, ...(kind === 'partition drop' ? { partitioning: 'monthly' as const } : {}) });
  try {
    await store.migrate();
    if (kind === 'partition drop') {
      // The months that were "ahead" once, as a table partitioned for a year would have them.
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: URL, max: 1 }) }) });
      const partitions = new MonthlyPartitions(kysely, table, undefined);
      for (let month = -(MONTHS - 1); month <= 0; month += 4) await partitions.ensureAhead(db, monthStart(month), `bench:${table}`);
      await db.destroy();
    }
    const filling = performance.now();
    await fill(pool, table);
    report(`${kind}: ${ROWS.toLocaleString('en-US')} rows written in`, `${((performance.now() - filling) / 1000).toFixed(1)} s`);
    const count = async (where = 'true', parameters: unknown[] = []) => Number((await pool.query(`select count(*) as n from "${table}" where ${where}`, parameters)).rows[0].n);
    const boundary = new Date(monthStart(-(MONTHS - 2)));
    const expected = await count('occurred_at < $1', [boundary]);

    const before = await count();
    // The oldest month goes: every record before the start of month -11 (and the odd row in
    // the few milliseconds after it, as the cutoff is "now" minus days when the pass starts).
    const days = (Date.now() - boundary.getTime()) / DAY;
    const logger = createActivityLogger({ store, retention: { days, batchSize: 5000, intervalMs: 3_600_000 } });
    const started = performance.now();
    const pass = logger.runRetention();
    const during = await writer(pool, table, pass);
    const removed = await pass;
    const seconds = (performance.now() - started) / 1000;
    // The anchor: the same writer on the same table with nothing else running, for as long as
    // the pass took (a longest insert over more inserts tends to be longer).
    const idle = await writer(pool, table, new Promise((resolve) => setTimeout(resolve, seconds * 1000)));
    await logger.close();
    const after = await count();
    if (removed !== before + during.inserts + idle.inserts - after) throw new Error(`${kind}: reported ${removed} removed, the table lost ${before + during.inserts + idle.inserts - after}`);
    if ((await count('occurred_at < $1', [boundary])) !== 0 || removed! < expected || removed! > expected + 2) {
      throw new Error(`${kind}: removed ${removed}, expected the ${expected} rows before ${boundary.toISOString()}`);
    }
    report(`${kind}: purged ${removed!.toLocaleString('en-US')} rows (30-31 days) in`, `${seconds.toFixed(2)} s`, `${Math.round(removed! / seconds).toLocaleString('en-US')} rows/s`);
    report(`${kind}: longest insert while purging`, `${during.longestMs.toFixed(1)} ms`, `no purge, as long: ${idle.longestMs.toFixed(1)} ms (${idle.inserts} inserts); ${during.inserts} inserts meanwhile`);
  } finally {
    await store.close();
    await pool.query(`drop table if exists "${table}"; drop table if exists "${table}_schema"; drop table if exists "${table}_checkpoints"; drop table if exists "${table}_leases"`);
    await pool.end();
  }
}

if (!URL) {
  console.log('  skipped: ACTIVITY_LOG_POSTGRES_URL is not set');
} else {
  console.log(`Retention on PostgreSQL: the oldest of ${MONTHS} months out of ${ROWS.toLocaleString('en-US')} rows`);
  await run('batched delete');
  await run('partition drop');
}
