/**
 * Change capture (issue #15), printed side by side in one run, on each database (a SQLite
 * file, PostgreSQL, MariaDB):
 *
 *   1. A single-row UPDATE in its own transaction, on an audited table vs the same on an
 *      identical table without capture (same rows, same indexes), both through the same
 *      instrumented Kysely inside a request scope with an actor; the same without a scope
 *      (the database is then the actor).                              target audited/plain <= 1.3
 *   2. One UPDATE changing the title of all 10,000 rows, in its own transaction, audited vs
 *      not.                                                            target audited/plain <= 2
 *   3. The single-row change recorded by the app instead: `logInTransaction(trx, { action,
 *      target, changes: { before, after } })` after the update of the un-audited table, the
 *      before value known to the app (no extra read).                  anchor, no target
 *
 * Where a target misses, what the time goes to: the same write on a third identical table
 * whose trigger does nothing, and on a fourth whose trigger inserts a constant row into the
 * same log table (so: the cost of firing a row trigger at all, of the log table's insert and
 * its indexes, and the rest, building the changes' JSON and reading the context), plus on
 * PostgreSQL the trigger's own time from EXPLAIN ANALYZE.
 *
 * Fairness: the variants are interleaved round by round (this machine's speed drifts), medians
 * compared; before every timed sample the log table is emptied (outside the timed section), and
 * the bulk update alternately adds and removes a suffix of every title, on both tables alike
 * (PostgreSQL: vacuumed after each, untimed), so neither variant inherits log entries, longer
 * titles or dead rows the other did not.
 * Rows are realistic: unique titles, a body of a few hundred characters, a JSON column, a
 * rating, timestamps, one in ten with a photo and a redacted `password_hash` column.
 *
 * Run: npx tsx test/bench/capture.bench.ts  (or npm run bench)
 * Env: BENCH_REPEAT (5) rounds; BENCH_SCALE=0.1 scales the single-row counts down;
 *      ACTIVITY_LOG_POSTGRES_URL / ACTIVITY_LOG_MYSQL_URL enable the server databases (skipped,
 *      with a printed reason, when unset); BENCH_DB=sqlite,postgres,mysql picks databases.
 */
import { pathToFileURL } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { captureChanges } from '../../adapters/storage/kysely.js';
import { runWithActivityContext } from '../../src/context.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';
import { openDatabase, uniqueName, type CaptureDatabase, type Dialect } from '../capture/databases.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const ROUNDS = Math.max(1, Number(process.env.BENCH_REPEAT ?? 5));
/** Rows of each table; the bulk update changes all of them. */
const ROWS = 10_000;
/** Single-row transactions per timed sample. */
const SINGLES = Math.max(20, Math.round(100 * SCALE));
const SINGLE_TARGET = 1.3;
const BULK_TARGET = 2;

const report = (name: string, value: string, note?: string) => console.log(`  ${name.padEnd(58)} ${value}${note ? `   ${note}` : ''}`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');
const list = (values: number[], digits = 3) => `(${values.map((v) => v.toFixed(digits)).join(', ')})`;

// ---- the rows --------------------------------------------------------------------------------

const ADJECTIVES = ['Slow-roasted', 'Smoky', 'Crispy', 'Lemony', 'Spiced', 'Charred', 'Creamy', 'Herby', 'Sticky', 'Golden', 'Brown-butter', 'Garlicky'];
const INGREDIENTS = ['tomato and fennel', 'chickpea', 'miso aubergine', 'leek and potato', 'harissa carrot', 'mushroom', 'squash and sage', 'lentil', 'salmon', 'chicken thigh', 'tofu', 'cauliflower'];
const DISHES = ['pasta', 'soup', 'traybake', 'stew', 'salad', 'risotto', 'curry', 'tart', 'flatbreads', 'noodles', 'gratin', 'pie'];
const CUISINES = ['italian', 'levantine', 'japanese', 'french', 'indian', 'mexican', 'thai', 'british'];

/** The title of recipe `id`, unique among the 10,000. */
function titleOf(id: number): string {
  const i = id - 1;
  return `${ADJECTIVES[i % 12]} ${INGREDIENTS[Math.floor(i / 12) % 12]} ${DISHES[Math.floor(i / 144) % 12]} No. ${id}`;
}

function row(id: number, dialect: Dialect): Record<string, unknown> {
  const created = new Date(Date.UTC(2025, 0, 1) + id * 3_600_000);
  const updated = new Date(created.getTime() + (id % 90) * 86_400_000);
  const time = (date: Date) => (dialect === 'sqlite' ? date.toISOString() : date);
  return {
    id,
    title: titleOf(id),
    body:
      `Heat the oven to ${160 + (id % 8) * 10}°C. Toss the ${INGREDIENTS[id % 12]} with olive oil, salt and a pinch of chilli, ` +
      `spread on a tray and roast for ${20 + (id % 25)} minutes, turning once. Meanwhile cook the base, reserve a cup of the water, ` +
      `then bring everything together with lemon zest, parsley and plenty of black pepper. Serves ${2 + (id % 5)}.`,
    published: id % 4 === 0 ? 0 : 1,
    rating: ((id * 37) % 50) / 10,
    data: JSON.stringify({ servings: 2 + (id % 5), minutes: 20 + (id % 70), cuisine: CUISINES[id % 8], tags: ['dinner', id % 3 === 0 ? 'vegetarian' : 'meat', 'weeknight'] }),
    photo: id % 10 === 0 ? Buffer.alloc(2048, id % 256) : null,
    password_hash: id % 50 === 0 ? `$2b$12$${'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV'.slice(id % 7, (id % 7) + 31)}abcdefghijklmnopqrstu` : null,
    created_at: time(created),
    updated_at: time(updated),
  };
}

// ---- one database ----------------------------------------------------------------------------

interface Bench {
  cap: CaptureDatabase;
  db: Kysely<any>;
  activity: ActivityLogger;
  /** The logger of the request scope: `activity.with({ actor })`, as the middleware makes it. */
  scoped: ActivityLogger;
  audited: string;
  plain: string;
  /** Each table's current titles, as the app knows them (the anchor's `before`). */
  titles: Map<string, string[]>;
  edits: number;
}

const q = (cap: CaptureDatabase, name: string) => (cap.dialect === 'mysql' ? `\`${name}\`` : `"${name}"`);

async function emptyLog(bench: Bench): Promise<void> {
  const { cap } = bench;
  if (cap.dialect === 'sqlite') {
    await cap.outside(`delete from ${q(cap, cap.logTable)}`);
    await cap.outside('pragma wal_checkpoint(truncate)');
  } else {
    await cap.outside(`truncate table ${q(cap, cap.logTable)}`);
  }
}

async function logCount(bench: Bench): Promise<number> {
  const rows = await bench.cap.outside(`select count(*) as n from ${q(bench.cap, bench.cap.logTable)}`);
  return Number(rows[0]!.n);
}

/** Empties `table` and fills it with the same 10,000 rows (its triggers' records are then purged). */
async function refill(bench: Bench, table: string): Promise<void> {
  const { cap, db } = bench;
  if (cap.dialect === 'sqlite') await cap.outside(`delete from ${q(cap, table)}`);
  else await cap.outside(`truncate table ${q(cap, table)}`);
  for (let from = 1; from <= ROWS; from += 500) {
    const rows = Array.from({ length: Math.min(500, ROWS - from + 1) }, (_, i) => row(from + i, cap.dialect));
    await db.insertInto(table).values(rows).execute();
  }
  bench.titles.set(table, Array.from({ length: ROWS + 1 }, (_, id) => (id === 0 ? '' : titleOf(id))));
  if (cap.dialect === 'postgres') await cap.outside(`vacuum analyze ${q(cap, table)}`);
}

/** ms per single-row update transaction, over SINGLES of them on ids spread over the table. */
async function singles(bench: Bench, table: string, mode: 'scoped' | 'unscoped' | 'app'): Promise<number> {
  const { db } = bench;
  const titles = bench.titles.get(table)!;
  const run = async () => {
    const started = performance.now();
    for (let k = 0; k < SINGLES; k++) {
      const id = ((bench.edits * 7919) % ROWS) + 1;
      const before = titles[id]!;
      const after = `${titleOf(id)} (edit ${++bench.edits})`;
      await db.transaction().execute(async (trx) => {
        await trx.updateTable(table).set({ title: after }).where('id', '=', id).execute();
        if (mode === 'app') {
          await bench.scoped.logInTransaction(trx, { action: 'recipe.updated', target: { type: 'recipe', id: String(id), name: after }, changes: { before: { title: before }, after: { title: after } } });
        }
      });
      titles[id] = after;
    }
    return (performance.now() - started) / SINGLES;
  };
  return mode === 'unscoped' ? run() : runWithActivityContext(bench.scoped, run);
}

const SUFFIX = ' (second edition)';

/**
 * ms of one UPDATE of all 10,000 titles in its own transaction, in the request scope: round by
 * round the titles get a suffix and lose it again, so they do not grow. Afterwards (not timed)
 * PostgreSQL vacuums the table: every variant starts from the same state, not from the other's
 * dead rows.
 */
async function bulk(bench: Bench, table: string, round: number): Promise<number> {
  const { db, cap } = bench;
  const title =
    round % 2 === 0
      ? cap.dialect === 'mysql'
        ? sql`concat(title, ${SUFFIX})`
        : sql`title || ${SUFFIX}`
      : cap.dialect === 'mysql'
        ? sql`left(title, char_length(title) - ${SUFFIX.length})`
        : sql`substr(title, 1, length(title) - ${SUFFIX.length})`;
  const ms = await runWithActivityContext(bench.scoped, async () => {
    const started = performance.now();
    await db.transaction().execute((trx) => trx.updateTable(table).set({ title }).execute());
    return performance.now() - started;
  });
  const titles = bench.titles.get(table)!;
  for (let id = 1; id <= ROWS; id++) titles[id] = round % 2 === 0 ? titles[id] + SUFFIX : titles[id]!.slice(0, -SUFFIX.length);
  if (cap.dialect === 'postgres') await cap.outside(`vacuum analyze ${q(cap, table)}`);
  return ms;
}

async function open(dialect: Dialect): Promise<Bench> {
  const cap = await openDatabase(dialect);
  const activity = createActivityLogger({ store: cap.store, onError: (error) => console.error(error) });
  await cap.store.migrate();
  const audited = uniqueName('bench_recipes_audited');
  const plain = uniqueName('bench_recipes_plain');
  await cap.createRecipes(audited);
  await cap.createRecipes(plain);
  await captureChanges(cap.db, activity, { [audited]: { target: 'recipe', id: 'id', name: 'title' } });
  const scoped = activity.with({
    actor: { type: 'user', id: 'u_1042', name: 'Ada Lovelace' },
    tenantId: 't_7',
    context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', requestId: 'req-8f3a', method: 'PATCH', route: '/recipes/:id' },
  }) as ActivityLogger;
  const bench: Bench = { cap, db: cap.db, activity, scoped, audited, plain, titles: new Map(), edits: 0 };
  await refill(bench, audited);
  await refill(bench, plain);
  await emptyLog(bench);
  return bench;
}

type SingleVariant = 'plain, scoped' | 'audited, scoped' | 'audited, unscoped' | 'plain, unscoped' | 'plain + logInTransaction';
const SINGLE_VARIANTS: SingleVariant[] = ['plain, scoped', 'audited, scoped', 'audited, unscoped', 'plain, unscoped', 'plain + logInTransaction'];

async function single(bench: Bench, variant: SingleVariant): Promise<number> {
  const table = variant.startsWith('audited') ? bench.audited : bench.plain;
  const mode = variant.endsWith('unscoped') ? 'unscoped' : variant.includes('logInTransaction') ? 'app' : 'scoped';
  return singles(bench, table, mode);
}

async function runDatabase(dialect: Dialect): Promise<void> {
  const label = { sqlite: 'SQLite (file, WAL)', postgres: 'PostgreSQL', mysql: 'MariaDB' }[dialect];
  console.log(`\n${label}: ${ROWS} rows per table, ${SINGLES} single-row transactions per sample, ${ROUNDS} interleaved rounds`);
  const started = performance.now();
  const bench = await open(dialect);
  try {
    // A warm-up round of every variant, not counted (JIT, caches, prepared plans).
    for (const variant of SINGLE_VARIANTS) await single(bench, variant);
    await emptyLog(bench);

    const singleTimes = new Map<SingleVariant, number[]>(SINGLE_VARIANTS.map((variant) => [variant, []]));
    const bulkTimes = { plain: [] as number[], audited: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      // Rotated each round, so no variant always runs first or after the same one.
      const order = SINGLE_VARIANTS.map((_, i) => SINGLE_VARIANTS[(i + round) % SINGLE_VARIANTS.length]!);
      for (const variant of order) {
        await emptyLog(bench);
        singleTimes.get(variant)!.push(await single(bench, variant));
      }
      for (const which of round % 2 === 0 ? (['plain', 'audited'] as const) : (['audited', 'plain'] as const)) {
        const table = which === 'audited' ? bench.audited : bench.plain;
        await emptyLog(bench);
        bulkTimes[which].push(await bulk(bench, table, round));
        const logged = await logCount(bench);
        if (logged !== (which === 'audited' ? ROWS : 0)) throw new Error(`bulk update of ${which}: ${logged} log records, expected ${which === 'audited' ? ROWS : 0}`);
      }
    }

    const anchor = median(singleTimes.get('plain, scoped')!);
    for (const variant of SINGLE_VARIANTS) {
      const times = singleTimes.get(variant)!;
      report(`single-row update: ${variant}`, `${median(times).toFixed(3)} ms`, list(times));
    }
    const singleRatio = median(singleTimes.get('audited, scoped')!) / anchor;
    report(`ratio single audited / plain, scoped (target <= ${SINGLE_TARGET})`, singleRatio.toFixed(3), verdict(singleRatio <= SINGLE_TARGET));
    report('ratio single audited / plain, unscoped', (median(singleTimes.get('audited, unscoped')!) / median(singleTimes.get('plain, unscoped')!)).toFixed(3));
    report('ratio single plain scoped / plain unscoped (the context)', (anchor / median(singleTimes.get('plain, unscoped')!)).toFixed(3));
    report('ratio single app logInTransaction / plain (anchor)', (median(singleTimes.get('plain + logInTransaction')!) / anchor).toFixed(3));
    report('ratio single audited / app logInTransaction', (median(singleTimes.get('audited, scoped')!) / median(singleTimes.get('plain + logInTransaction')!)).toFixed(3));
    report(`bulk update of ${ROWS} rows: plain`, `${median(bulkTimes.plain).toFixed(1)} ms`, list(bulkTimes.plain, 1));
    report(`bulk update of ${ROWS} rows: audited`, `${median(bulkTimes.audited).toFixed(1)} ms`, list(bulkTimes.audited, 1));
    const bulkRatio = median(bulkTimes.audited) / median(bulkTimes.plain);
    report(`ratio bulk audited / plain (target <= ${BULK_TARGET})`, bulkRatio.toFixed(3), verdict(bulkRatio <= BULK_TARGET));
    if (singleRatio > SINGLE_TARGET || bulkRatio > BULK_TARGET) await diagnose(bench, { single: singleRatio > SINGLE_TARGET, bulk: bulkRatio > BULK_TARGET });
  } finally {
    await bench.cap.cleanup();
  }
  console.log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

// ---- where the time goes, where a target misses ------------------------------------------------

type Layer = 'no trigger' | 'empty row trigger' | 'constant row into log copy, PK only' | 'constant row into log table' | 'full capture';
const LAYERS: Layer[] = ['no trigger', 'empty row trigger', 'constant row into log copy, PK only', 'constant row into log table', 'full capture'];

/**
 * Tables identical to the audited one with cheaper triggers: one that fires and does nothing,
 * one that inserts a constant record (a time-ordered unique id, the row's id and title, fixed
 * JSON) into a copy of the log table with its primary key only, and one that inserts the same
 * into the log table itself (its primary key and six secondary indexes).
 */
async function layerTables(bench: Bench): Promise<{ tables: Map<Layer, string>; drop: () => Promise<void> }> {
  const { cap } = bench;
  const log = cap.logTable;
  const copy = `${log}_nix`;
  const [empty, copied, logged] = [uniqueName('bench_recipes_empty'), uniqueName('bench_recipes_copy'), uniqueName('bench_recipes_log')];
  for (const table of [empty, copied, logged]) await cap.createRecipes(table);
  const columns = 'id, occurred_at, action, status, actor_type, actor_id, actor_name, target_type, target_id, target_name, tenant_id, metadata, changes, context';
  const changes = `'{"title": {"before": "Slow-roasted tomato and fennel pasta No. 1", "after": "Slow-roasted tomato and fennel pasta No. 1 (edit 1)"}}'`;
  const metadata = `'{"table": "recipes", "operation": "update"}'`;
  const context = `'{"ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "requestId": "req-8f3a", "method": "PATCH", "route": "/recipes/:id"}'`;
  const values = (id: string, at: string, rowId: string) =>
    `(${id}, ${at}, 'recipe.updated', 'success', 'user', 'u_1042', 'Ada Lovelace', 'recipe', ${rowId}, new.title, 't_7', ${metadata}, ${changes}, ${context})`;
  const drops: string[] = [];
  if (cap.dialect === 'postgres') {
    await cap.outside(`create table "${copy}" as select * from "${log}" with no data`);
    await cap.outside(`alter table "${copy}" add primary key (id)`);
    drops.push(`drop table if exists "${copy}"`);
    const fn = async (name: string, table: string, body: string) => {
      await cap.outside(`create function "${name}"() returns trigger language plpgsql as $f$ begin ${body} return null; end $f$`);
      await cap.outside(`create trigger bench_layer after update on "${table}" for each row execute function "${name}"()`);
      drops.push(`drop function if exists "${name}"() cascade`);
    };
    const insert = (into: string) =>
      `insert into "${into}" (${columns}) values ${values(`lpad(to_hex((extract(epoch from clock_timestamp()) * 1000000)::bigint), 14, '0') || gen_random_uuid()::text`, 'clock_timestamp()', 'new.id::text')};`;
    await fn(`${empty}_fn`, empty, '');
    await fn(`${copied}_fn`, copied, insert(copy));
    await fn(`${logged}_fn`, logged, insert(log));
  } else if (cap.dialect === 'mysql') {
    await cap.outside(`create table \`${copy}\` as select * from \`${log}\` limit 0`);
    await cap.outside(`alter table \`${copy}\` add primary key (id)`);
    drops.push(`drop table if exists \`${copy}\``);
    const insert = (into: string) =>
      `insert into \`${into}\` (${columns}) values ${values(`concat(lpad(hex(timestampdiff(microsecond, '1970-01-01', utc_timestamp(6))), 14, '0'), uuid())`, 'utc_timestamp(3)', 'cast(new.id as char)')};`;
    await cap.outside(`create trigger \`${empty}_au\` after update on \`${empty}\` for each row begin end`);
    await cap.outside(`create trigger \`${copied}_au\` after update on \`${copied}\` for each row begin ${insert(copy)} end`);
    await cap.outside(`create trigger \`${logged}_au\` after update on \`${logged}\` for each row begin ${insert(log)} end`);
  } else {
    const ddl = String((await cap.outside(`select sql from sqlite_master where type = 'table' and name = ?`, [log]))[0]!.sql);
    await cap.outside(ddl.replace(`"${log}"`, `"${copy}"`));
    drops.push(`drop table if exists "${copy}"`);
    const insert = (into: string) =>
      `insert into "${into}" (${columns}) values ${values(`printf('%014x', cast((julianday('now') - 2440587.5) * 86400000000 as integer)) || hex(randomblob(12))`, `cast(round((julianday('now') - 2440587.5) * 86400000) as integer)`, 'cast(new.id as text)')};`;
    // Temporary, as the app connection's capture triggers are; the stored ones have the same cost.
    await bench.db.executeQuery(sql.raw(`create temp trigger "${empty}_au" after update on main."${empty}" begin select 1; end`).compile(bench.db));
    await bench.db.executeQuery(sql.raw(`create temp trigger "${copied}_au" after update on main."${copied}" begin ${insert(copy)} end`).compile(bench.db));
    await bench.db.executeQuery(sql.raw(`create temp trigger "${logged}_au" after update on main."${logged}" begin ${insert(log)} end`).compile(bench.db));
  }
  const tables = new Map<Layer, string>([
    ['no trigger', bench.plain],
    ['empty row trigger', empty],
    ['constant row into log copy, PK only', copied],
    ['constant row into log table', logged],
    ['full capture', bench.audited],
  ]);
  return { tables, drop: async () => { for (const statement of drops) await cap.outside(statement).catch(() => undefined); } };
}

/** Empties the log table and its copy. */
async function emptyLogs(bench: Bench): Promise<void> {
  await emptyLog(bench);
  const { cap } = bench;
  await cap.outside(cap.dialect === 'sqlite' ? `delete from "${cap.logTable}_nix"` : `truncate table ${q(cap, `${cap.logTable}_nix`)}`);
}

/** PostgreSQL: the capture trigger's share of an UPDATE, as EXPLAIN ANALYZE reports it (rolled back). */
async function explainTrigger(bench: Bench, where: string): Promise<string> {
  let line = '';
  const rollback = new Error('rollback');
  await runWithActivityContext(bench.scoped, () =>
    bench.db
      .transaction()
      .execute(async (trx) => {
        const { rows } = await sql
          .raw<{ 'QUERY PLAN': unknown }>(`explain (analyze, format json) update "${bench.audited}" set title = title || ' (explained)' ${where}`)
          .execute(trx);
        const plan = (rows[0]!['QUERY PLAN'] as { 'Execution Time': number; Triggers?: { 'Trigger Name': string; Time: number; Calls: number }[] }[])[0]!;
        const trigger = plan.Triggers?.find((t) => t['Trigger Name'] === 'activity_log_capture');
        const total = plan['Execution Time'];
        line = trigger
          ? `trigger ${trigger.Time.toFixed(2)} ms of ${total.toFixed(2)} ms (${((trigger.Time / total) * 100).toFixed(0)} %), ${trigger.Calls} calls, ${((trigger.Time * 1000) / trigger.Calls).toFixed(1)} µs a row`
          : `no trigger time reported (${total.toFixed(2)} ms)`;
        throw rollback;
      })
      .catch((error: unknown) => {
        if (error !== rollback) throw error;
      }),
  );
  return line;
}

/**
 * SQLite: Kysely's SqliteDialect prepares every statement it runs, and SQLite compiles the
 * triggers of a table into every statement that writes it. On a connection set up as the app's
 * (the scope database attached, the same temporary triggers, the stored ones standing aside),
 * the time to prepare the single-row UPDATE and to run it once prepared, audited vs plain.
 */
async function sqlitePrepare(bench: Bench): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  const { cap, db } = bench;
  const file = String((await cap.outside(`select file from pragma_database_list where name = 'main'`))[0]!.file);
  const { rows } = await sql<{ sql: string }>`select sql from temp.sqlite_master where type = 'trigger' and tbl_name = ${bench.audited}`.execute(db);
  const connection = new Database(file, { timeout: 5000 });
  try {
    connection.exec(`attach database ':memory:' as activity_log_scope; create table activity_log_scope.context (id integer primary key, ctx text)`);
    for (const row of rows) connection.exec(row.sql.replace(/^create trigger/i, 'create temp trigger'));
    const times = { prepare: new Map<string, number[]>(), run: new Map<string, number[]>() };
    for (let round = 0; round < 3; round++) {
      for (const table of round % 2 === 0 ? [bench.plain, bench.audited] : [bench.audited, bench.plain]) {
        const text = `update "${table}" set "title" = ? where "id" = ?`;
        let started = performance.now();
        for (let i = 0; i < 200; i++) connection.prepare(text);
        (times.prepare.get(table) ?? times.prepare.set(table, []).get(table)!).push((performance.now() - started) / 200);
        const statement = connection.prepare(text);
        const edit = connection.transaction((i: number) => statement.run(`${titleOf(i + 1)} (prepared ${round})`, i + 1));
        started = performance.now();
        for (let i = 0; i < 200; i++) edit(i * 37);
        (times.run.get(table) ?? times.run.set(table, []).get(table)!).push((performance.now() - started) / 200);
      }
    }
    const m = (which: 'prepare' | 'run', table: string) => median(times[which].get(table)!);
    report('  SQLite: prepare the UPDATE, plain / audited', `${m('prepare', bench.plain).toFixed(3)} / ${m('prepare', bench.audited).toFixed(3)} ms`, `ratio ${(m('prepare', bench.audited) / m('prepare', bench.plain)).toFixed(1)} (Kysely prepares it for every call)`);
    report('  SQLite: run it prepared, in a transaction, plain / audited', `${m('run', bench.plain).toFixed(3)} / ${m('run', bench.audited).toFixed(3)} ms`, `ratio ${(m('run', bench.audited) / m('run', bench.plain)).toFixed(2)}`);
  } finally {
    connection.close();
  }
}

async function indexCount(bench: Bench): Promise<number> {
  const { cap } = bench;
  const rows =
    cap.dialect === 'postgres'
      ? await cap.outside('select count(*) as n from pg_indexes where tablename = $1', [cap.logTable])
      : cap.dialect === 'mysql'
        ? await cap.outside('select count(distinct index_name) as n from information_schema.statistics where table_schema = database() and table_name = ?', [cap.logTable])
        : await cap.outside(`select count(*) + 1 as n from sqlite_master where type = 'index' and tbl_name = ? and sql is not null`, [cap.logTable]);
  return Number(rows[0]!.n);
}

/** Each layer's time for the workloads that missed, interleaved over rounds; medians, and each layer's share. */
async function diagnose(bench: Bench, missed: { single: boolean; bulk: boolean }): Promise<void> {
  const rounds = Math.min(ROUNDS, 3);
  console.log(`  where the time goes (same workload on identical tables with cheaper triggers, ${rounds} rounds; log table: ${await indexCount(bench)} indexes incl. primary key):`);
  const { tables, drop } = await layerTables(bench);
  try {
    // The same rows, and the titles' suffix where the main rounds left the others' (an odd number of bulk rounds: added).
    for (const table of [...tables.values()]) if (table !== bench.plain && table !== bench.audited) await refill(bench, table);
    if (ROUNDS % 2 === 1) for (const table of [bench.plain, bench.audited]) await bulk(bench, table, 1);
    await emptyLogs(bench);
    const single = new Map<Layer, number[]>(LAYERS.map((layer) => [layer, []]));
    const many = new Map<Layer, number[]>(LAYERS.map((layer) => [layer, []]));
    for (let round = 0; round < rounds; round++) {
      const order = LAYERS.map((_, i) => LAYERS[(i + round) % LAYERS.length]!);
      if (missed.single) {
        for (const layer of order) {
          await emptyLogs(bench);
          single.get(layer)!.push(await singles(bench, tables.get(layer)!, 'scoped'));
        }
      }
      if (missed.bulk) {
        for (const layer of order) {
          await emptyLogs(bench);
          many.get(layer)!.push(await bulk(bench, tables.get(layer)!, round));
        }
      }
    }
    const print = (what: string, times: Map<Layer, number[]>, unit: (ms: number) => string) => {
      const base = median(times.get('no trigger')!);
      const full = median(times.get('full capture')!);
      let previous = base;
      for (const layer of LAYERS) {
        const value = median(times.get(layer)!);
        const share = layer === 'no trigger' ? '' : `, +${unit(value - previous)} over the line above (${(((value - previous) / (full - base)) * 100).toFixed(0)} % of the capture's cost)`;
        report(`  ${what}: ${layer}`, unit(value), `ratio ${(value / base).toFixed(2)}${share}`);
        previous = value;
      }
    };
    if (missed.single) print('single', single, (ms) => `${ms.toFixed(3)} ms`);
    if (missed.bulk) print('bulk', many, (ms) => `${ms.toFixed(1)} ms`);
    if (bench.cap.dialect === 'sqlite' && missed.single) await sqlitePrepare(bench);
    if (bench.cap.dialect === 'postgres') {
      if (missed.single) report('  EXPLAIN ANALYZE, single-row update', await explainTrigger(bench, 'where id = 4242'));
      if (missed.bulk) report(`  EXPLAIN ANALYZE, ${ROWS}-row update`, await explainTrigger(bench, ''));
    }
  } finally {
    await drop();
  }
}

async function main(): Promise<void> {
  console.log(`change capture benchmarks (BENCH_SCALE=${SCALE}, ${ROUNDS} interleaved rounds)`);
  const only = process.env.BENCH_DB?.split(',');
  const started = performance.now();
  for (const dialect of ['sqlite', 'postgres', 'mysql'] as const) {
    if (only && !only.includes(dialect)) continue;
    const url = dialect === 'postgres' ? process.env.ACTIVITY_LOG_POSTGRES_URL : dialect === 'mysql' ? process.env.ACTIVITY_LOG_MYSQL_URL : 'file';
    if (!url) {
      console.log(`\n${dialect}: skipped, ${dialect === 'postgres' ? 'ACTIVITY_LOG_POSTGRES_URL' : 'ACTIVITY_LOG_MYSQL_URL'} is not set`);
      continue;
    }
    await runDatabase(dialect);
  }
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
