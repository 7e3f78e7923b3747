/**
 * Storage benchmarks (issue #3), printed side by side in one run:
 *
 *   1. SQLite: events/s end to end (log() -> flush -> sqliteStore) vs raw better-sqlite3
 *      (1000-row transactions, cached prepared statement).            target >= 0.90
 *   2. PostgreSQL: postgresStore vs raw `pg` multi-row inserts of 1000. target >= 0.90
 *   3. MariaDB: mysqlStore vs raw `mysql2` multi-row inserts of 1000.   target >= 0.90
 *   4. Query on 1,000,000 SQLite events: first page and page 2,000 (keyset) of an actorId +
 *      time-range filter, and page 2,000 by OFFSET.                    target deep/first <= 2
 *   5. An admin summary (`GET /summary?by=hour`, ten at a time) over those 1,000,000 events,
 *      next to a route under a fixed load from autocannon in another process: the longest
 *      event-loop stall of the server. Anchors in the same run: the route alone, and the same
 *      summaries run on the main thread (a Kysely SqliteDialect store, as reads ran before).
 *                                                                      target stall <= 10 ms
 *
 * Same row shape everywhere: the store's own table (21 columns, 6 secondary indexes), ~200-byte
 * metadata, UUIDv7 ids. Raw writers insert into a table the store migrated, so the shape is
 * identical.
 *
 * Run: npx tsx test/bench/storage.bench.ts  (or npm run bench)
 * Anchors (issue #14): the raw writers insert rows made before their timed loop, the logger gets
 * events made before its timed loop, with unique targets, five metadata keys and the request
 * context; variants interleaved over BENCH_REPEAT (3) rounds, medians compared.
 *
 * Env: BENCH_SCALE=0.1 scales every size down; BENCH_PART=writes runs parts 1-3 alone; ACTIVITY_LOG_POSTGRES_URL / ACTIVITY_LOG_MYSQL_URL
 *      enable the server databases (skipped, with a printed reason, when unset).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import mysql from 'mysql2';
import pg from 'pg';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { COLUMN_KINDS, COLUMNS } from '../../adapters/storage/sql/columns.js';
import { postgresDialect } from '../../adapters/storage/sql/postgres.js';
import { encodeCursor } from '../../src/cursor.js';
import { uuidv7 } from '../../src/ids.js';
import { createActivityLogger } from '../../src/logger.js';
import { parseActivityQuery } from '../../src/query.js';
import type { ActivityEvent } from '../../src/schema.js';
import type { ActivityStore } from '../../src/store.js';
import { BATCH, throughLogger } from './through-logger.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const scaled = (n: number) => Math.max(1000, Math.round((n * SCALE) / 1000) * 1000);

interface Result {
  name: string;
  value: string;
  note?: string;
}
const results: Result[] = [];
const report = (name: string, value: string, note?: string) => {
  results.push({ name, value, note });
  console.log(`  ${name.padEnd(52)} ${value}${note ? `   ${note}` : ''}`);
};
const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');

/**
 * One event of the benchmark's shape, as an app logs it: an actor, a target of its own (unique
 * ids, as real traffic has: every target index entry is new), a tenant, five metadata keys and
 * the request context the middleware binds (ip, user agent, request id, method, route).
 */
function event(i: number): ActivityEvent {
  return {
    action: i % 3 === 0 ? 'recipe.update' : 'recipe.view',
    actor: { type: 'user', id: `u_${i % 5000}`, name: 'Ada Lovelace' },
    target: { type: 'recipe', id: `r_${i}` },
    tenantId: `t_${i % 7}`,
    metadata: {
      recipeId: `r_${i}`,
      title: 'Slow-roasted tomato and fennel pasta',
      servings: 4,
      tags: ['dinner', 'vegetarian', 'quick'],
      source: 'web',
    },
    context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', requestId: `req-${i}`, method: 'POST', route: '/recipes/:id' },
  };
}

/** The row a raw writer inserts for event i: the same values the store writes. */
function rawRow(i: number, encodeTime: (ms: number) => unknown): unknown[] {
  const e = event(i);
  const now = Date.now();
  return [
    uuidv7(now),
    encodeTime(now),
    e.action,
    'success',
    e.actor!.type,
    String(e.actor!.id),
    e.actor!.name,
    e.target!.type,
    String(e.target!.id),
    null,
    String(e.tenantId),
    JSON.stringify(e.metadata),
    null,
    null,
    JSON.stringify(e.context),
    // The hash chain's columns, empty without `integrity`.
    null,
    null,
    null,
    null,
    null,
    null,
  ];
}

/** The raw writer's parameters, one flat array per 1000-row statement, made before its timed loop. */
function rawBatches(count: number, encodeTime: (ms: number) => unknown): unknown[][] {
  const batches: unknown[][] = [];
  for (let i = 0; i < count; i += BATCH) {
    const params: unknown[] = [];
    for (let j = i; j < i + BATCH; j++) params.push(...rawRow(j, encodeTime));
    batches.push(params);
  }
  return batches;
}

/**
 * The same rows as {@link rawBatches}, each batch bound as one array per column: the shape of
 * PostgreSQL's `unnest` insert, which the store uses there.
 */
function rawColumnBatches(count: number, encodeTime: (ms: number) => unknown): unknown[][][] {
  const batches: unknown[][][] = [];
  for (let i = 0; i < count; i += BATCH) {
    const columns: unknown[][] = COLUMNS.map(() => []);
    for (let j = i; j < i + BATCH; j++) rawRow(j, encodeTime).forEach((value, c) => columns[c]!.push(value));
    batches.push(columns);
  }
  return batches;
}

/** The same records the logger would build, for timing `store.insert` on its own; rows/s. */
async function directInsert(store: ActivityStore, n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const records = [];
    for (let j = i; j < i + BATCH; j++) {
      const e = event(j);
      const now = Date.now();
      records.push({
        id: uuidv7(now),
        occurredAt: new Date(now),
        action: e.action,
        status: 'success' as const,
        actor: { type: 'user', id: String(e.actor!.id), name: e.actor!.name! },
        target: { type: 'recipe', id: String(e.target!.id) },
        tenantId: String(e.tenantId),
        metadata: e.metadata!,
        context: e.context!,
      });
    }
    await store.insert(records);
  }
  return n / ((performance.now() - started) / 1000);
}

const placeholders = (rows: number, numbered: boolean) =>
  Array.from(
    { length: rows },
    (_, r) => `(${COLUMNS.map((_, c) => (numbered ? `$${r * COLUMNS.length + c + 1}` : '?')).join(', ')})`,
  ).join(', ');

/** Rounds of each variant, interleaved; the medians are compared. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Raw, direct store.insert and end to end, interleaved over rounds on an emptied table;
 * medians. Both sides get their input made before their timed loop: the logger the events
 * (`log()` is timed, and stamps the id and time), the raw writer its rows (ids and times
 * included), so the anchor does the insert and nothing else the logger does not also do.
 */
async function compareWrites(options: {
  label: string;
  n: number;
  reset: () => Promise<void>;
  raw: (n: number) => Promise<number>;
  store: () => Promise<ActivityStore>;
  /** The database server's CPU so far (clock ticks), when it runs on this machine. */
  serverTicks?: () => number | undefined;
}): Promise<void> {
  const { n } = options;
  const events = Array.from({ length: n }, (_, i) => event(i));
  const raws: number[] = [];
  const directs: number[] = [];
  const ends: number[] = [];
  // The server's CPU per row (µs) of each variant, where it can be read.
  const serverCpu: Record<'raw' | 'direct' | 'end', number[]> = { raw: [], direct: [], end: [] };
  const serverBefore = () => options.serverTicks?.();
  const serverAfter = (variant: 'raw' | 'direct' | 'end', before: number | undefined) => {
    const after = options.serverTicks?.();
    if (before !== undefined && after !== undefined) serverCpu[variant].push(((after - before) * (1e6 / CLOCK_TICKS)) / n);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['raw', 'direct', 'end'] as const) : (['end', 'direct', 'raw'] as const);
    for (const variant of order) {
      await options.reset();
      if (variant === 'raw') {
        const before = serverBefore();
        raws.push(await options.raw(n));
        serverAfter('raw', before);
        continue;
      }
      const store = await options.store();
      const before = serverBefore();
      if (variant === 'direct') directs.push(await directInsert(store, n));
      else ends.push(await throughLogger(store, n, (i) => events[i]!));
      serverAfter(variant, before);
      await store.close?.();
    }
  }
  const raw = median(raws);
  const direct = median(directs);
  const endToEnd = median(ends);
  const noop: ActivityStore = {
    name: 'noop',
    insert: async () => undefined,
    query: async () => ({ items: [] }),
    get: async () => undefined,
    purge: async () => 0,
  };
  const loggerOnly = Math.max(await throughLogger(noop, n, (i) => events[i]!), await throughLogger(noop, n, (i) => events[i]!));
  report(`raw ${options.label}`, `${Math.round(raw)} rows/s`, `(${raws.map(Math.round).join(', ')})`);
  report('store.insert() alone (records prebuilt)', `${Math.round(direct)} rows/s`, `ratio ${(direct / raw).toFixed(2)}`);
  report('log() -> flush -> store (end to end)', `${Math.round(endToEnd)} events/s`, `(${ends.map(Math.round).join(', ')})`);
  report('  logger alone, no-op store (ceiling)', `${Math.round(loggerOnly)} events/s`);
  report('ratio end to end / raw (target >= 0.90)', (endToEnd / raw).toFixed(3), verdict(endToEnd / raw >= 0.9));
  if (serverCpu.raw.length > 0 && serverCpu.direct.length > 0) {
    const cpu = (variant: 'raw' | 'direct' | 'end') => (serverCpu[variant].length ? `${median(serverCpu[variant]).toFixed(1)}` : '-');
    report('  database server CPU per row, µs (raw / direct / end)', `${cpu('raw')} / ${cpu('direct')} / ${cpu('end')}`, '(its processes on this machine, from /proc)');
  }
}

/** Clock ticks per second of /proc's CPU times (Linux's USER_HZ). */
const CLOCK_TICKS = 100;

/**
 * The CPU time so far of every process of this machine named `name` (a local database server),
 * in clock ticks; undefined where /proc cannot be read or no such process runs.
 */
function serverTicksOf(name: string): () => number | undefined {
  return () => {
    let ticks = 0;
    let found = false;
    try {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const open = stat.indexOf('(');
          const close = stat.lastIndexOf(')');
          if (stat.slice(open + 1, close) !== name) continue;
          const fields = stat.slice(close + 2).split(' ');
          ticks += Number(fields[11]) + Number(fields[12]);
          found = true;
        } catch {
          // The process ended meanwhile.
        }
      }
    } catch {
      return undefined;
    }
    return found ? ticks : undefined;
  };
}

// ---- 1. SQLite writes ------------------------------------------------------------------------

async function sqliteWrites(dir: string): Promise<void> {
  const n = scaled(100_000);
  console.log(`\nSQLite writes (${n} events; 1000-row transactions)`);
  let file = 0;
  let current = '';
  await compareWrites({
    label: 'better-sqlite3 (prepared statement)',
    n,
    // A fresh file per run: every run starts from an empty table and index.
    reset: async () => {
      current = join(dir, `writes-${file++}.db`);
      const created = sqliteStore({ filename: current, tableName: 'activity_logs' });
      await created.migrate();
      await created.close();
    },
    raw: async (count) => {
      const db = new Database(current);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const insert = db.prepare(`insert into activity_logs (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`);
      const rows = Array.from({ length: count }, (_, i) => rawRow(i, (ms) => ms));
      const insertBatch = db.transaction((from: number) => {
        for (let i = from; i < from + BATCH; i++) insert.run(rows[i]);
      });
      const started = performance.now();
      for (let i = 0; i < count; i += BATCH) insertBatch(i);
      const rate = count / ((performance.now() - started) / 1000);
      db.close();
      return rate;
    },
    store: async () => {
      const store = sqliteStore({ filename: current, tableName: 'activity_logs' });
      await store.migrate();
      return store;
    },
  });

  // Where the 1000-row transactions run: what the event loop sees (the bench's own log() loop
  // blocks for a few ms per 1000 events in both cases).
  for (const writer of ['worker', 'main'] as const) {
    const store = sqliteStore({ filename: join(dir, `writer-${writer}.db`), tableName: 'activity_logs', writer });
    await store.migrate();
    const delays = { p99: 0, max: 0 };
    const rate = await throughLogger(store, n, event, {}, delays);
    report(`  end to end, writer: '${writer}'`, `${Math.round(rate)} events/s`, `event-loop delay p99 ${delays.p99.toFixed(1)} ms, max ${delays.max.toFixed(1)} ms`);
  }
}

// ---- 2. PostgreSQL writes --------------------------------------------------------------------

async function postgresWrites(url: string): Promise<void> {
  const n = scaled(50_000);
  console.log(`\nPostgreSQL writes (${n} events; 1000-row statements)`);
  const table = `bench_pg_${Date.now().toString(36)}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    // The store's own statement: each batch bound as one array per column, cast to the
    // columns' types, and unnested (a 1,000-row values list costs PostgreSQL twice the time).
    const text = postgresDialect.insertColumnsIgnoringDuplicates!(`"${table}"`, COLUMNS, COLUMNS.map((column) => COLUMN_KINDS[column]), ['id']);
    await compareWrites({
      label: 'pg (1000-row unnest insert)',
      n,
      reset: async () => {
        const created = postgresStore({ connectionString: url, tableName: table });
        await created.migrate();
        await created.close();
        await pool.query(`truncate "${table}"`);
      },
      raw: async (count) => {
        const batches = rawColumnBatches(count, (ms) => new Date(ms).toISOString());
        const started = performance.now();
        for (const columns of batches) await pool.query(text, columns);
        return count / ((performance.now() - started) / 1000);
      },
      store: async () => {
        const store = postgresStore({ connectionString: url, tableName: table });
        await store.migrate();
        return store;
      },
      serverTicks: serverTicksOf('postgres'),
    });
    // Measured while looking into this figure: with the same statement, byte-identical
    // parameters and the same session settings, a PostgreSQL connection whose first statements
    // were small ones (the store's schema check, or a 1-row insert) costs the server about 1.6x
    // the CPU per row of one whose first statement was a 1,000-row insert (the raw writer's),
    // with four times the page faults: the backend's memory allocator keeps a state set by the
    // connection's history. The server CPU line above shows the difference.
    console.log('  (PostgreSQL spends more CPU per row on a connection that began with small statements: see postgresWrites in storage.bench.ts)');
  } finally {
    await pool.query(`drop table if exists "${table}"; drop table if exists "${table}_schema"; drop table if exists "${table}_checkpoints"`);
    await pool.end();
  }
}

// ---- 3. MariaDB writes -----------------------------------------------------------------------

async function mysqlWrites(url: string): Promise<void> {
  const n = scaled(50_000);
  console.log(`\nMariaDB writes (${n} events; 1000-row statements)`);
  const table = `bench_my_${Date.now().toString(36)}`;
  const pool = mysql.createPool({ uri: url, connectionLimit: 2 }).promise();
  try {
    const text = `insert into \`${table}\` (${COLUMNS.join(', ')}) values ${placeholders(BATCH, false)}`;
    const utc = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
    await compareWrites({
      label: 'mysql2 (1000-row multi-row insert)',
      n,
      reset: async () => {
        const created = mysqlStore({ uri: url, tableName: table });
        await created.migrate();
        await created.close();
        await pool.query(`truncate \`${table}\``);
      },
      raw: async (count) => {
        const batches = rawBatches(count, utc);
        const started = performance.now();
        for (const params of batches) await pool.query(text, params);
        return count / ((performance.now() - started) / 1000);
      },
      store: async () => {
        const store = mysqlStore({ uri: url, tableName: table });
        await store.migrate();
        return store;
      },
      serverTicks: serverTicksOf('mariadbd'),
    });
  } finally {
    await pool.query(`drop table if exists \`${table}\`, \`${table}_schema\`, \`${table}_checkpoints\``);
    await pool.end();
  }
}

// ---- 4. Deep pages ---------------------------------------------------------------------------

async function deepPages(dir: string): Promise<void> {
  const n = scaled(1_000_000);
  const pageSize = 50;
  const actors = 5;
  // Page 2,000 must exist: the filter has to match at least 100,000 events.
  const deepPage = Math.min(2000, Math.floor((n / actors) * 0.8 / pageSize) - 1);
  console.log(`\nQuery on ${n} SQLite events: actorId + time range, ${pageSize} per page, page 1 vs page ${deepPage}`);
  const filename = join(dir, 'query.db');
  const store = sqliteStore({ filename, tableName: 'activity_logs' });
  await store.migrate();
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(`insert into activity_logs (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`);
  // Ten days of events, one every few ms, in time order (as they would arrive).
  const start = Date.UTC(2026, 0, 1);
  const step = Math.floor((10 * 86_400_000) / n);
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const row = rawRow(i, (ms) => ms);
      const ms = start + i * step;
      row[0] = uuidv7(ms);
      row[1] = ms;
      row[5] = `u_${i % actors}`;
      insert.run(row);
    }
  });
  const filled = performance.now();
  for (let i = 0; i < n; i += 10_000) fill(i, Math.min(n, i + 10_000));
  db.exec('analyze');
  console.log(`  (generated in ${((performance.now() - filled) / 1000).toFixed(1)} s)`);

  const filter = { actorId: 'u_3', from: new Date(start + 86_400_000), to: new Date(start + 9 * 86_400_000) };
  const time = async (fn: () => Promise<unknown> | unknown, runs = 30): Promise<number> => {
    for (let i = 0; i < 3; i++) await fn();
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)]!;
  };

  // The cursor of page `deepPage`: the last record of the page before it.
  const offsetSql = `select * from activity_logs where actor_id = ? and occurred_at >= ? and occurred_at < ?
    order by occurred_at desc, id desc limit ? offset ?`;
  const offsetStatement = db.prepare(offsetSql);
  const offsetArgs = [filter.actorId, filter.from.getTime(), filter.to.getTime(), pageSize + 1, (deepPage - 1) * pageSize];
  const before = offsetStatement.all(filter.actorId, filter.from.getTime(), filter.to.getTime(), 1, (deepPage - 1) * pageSize - 1) as {
    id: string;
    occurred_at: number;
  }[];
  const cursor = encodeCursor({ id: before[0]!.id, occurredAt: new Date(before[0]!.occurred_at) });

  const first = parseActivityQuery({ ...filter, limit: pageSize });
  const deep = parseActivityQuery({ ...filter, limit: pageSize, cursor });
  const deepItems = (await store.query(deep)).items;
  const offsetItems = offsetStatement.all(...offsetArgs) as { id: string }[];
  if (deepItems.length !== pageSize || deepItems.map((r) => r.id).join() !== offsetItems.slice(0, pageSize).map((r) => r.id).join()) {
    throw new Error('keyset page and OFFSET page differ');
  }

  const firstMs = await time(() => store.query(first));
  const deepMs = await time(() => store.query(deep));
  const offsetMs = await time(() => offsetStatement.all(...offsetArgs), 10);
  const plan = db.prepare(`explain query plan select * from activity_logs where actor_id = ? and occurred_at >= ? and occurred_at < ? order by occurred_at desc, id desc limit 51`).all('u_3', 0, 1) as { detail: string }[];

  report(`first page (store.query)`, `${firstMs.toFixed(3)} ms`);
  report(`page ${deepPage} by keyset cursor (store.query)`, `${deepMs.toFixed(3)} ms`);
  report(`page ${deepPage} by OFFSET (same SQL, raw)`, `${offsetMs.toFixed(3)} ms`);
  report('ratio deep keyset / first (target <= 2)', (deepMs / firstMs).toFixed(3), verdict(deepMs / firstMs <= 2));
  report('ratio OFFSET / keyset at that depth', (offsetMs / deepMs).toFixed(1));
  console.log(`  (query plan: ${plan.map((row) => row.detail).join('; ')})`);
  db.close();
  await store.close();
  await adminReadStall(filename, n);
}

// ---- 5. An admin summary next to a route under load -------------------------------------------

async function adminReadStall(filename: string, n: number): Promise<void> {
  const rate = Number(process.env.BENCH_ROUTE_RATE ?? 2000);
  const seconds = Number(process.env.BENCH_ROUTE_SECONDS ?? 6);
  console.log(`
Admin summaries over ${n} SQLite events next to a route at ${rate} req/s for ${seconds} s (server's longest event-loop stall)`);
  const { Kysely, SqliteDialect } = await import('kysely');
  const { kyselyStore } = await import('../../adapters/storage/kysely.js');
  const { createActivityLogsHandler } = await import('../../src/http/logs-handler.js');
  const { spawn } = await import('node:child_process');
  const { createServer } = await import('node:http');
  const { createRequire } = await import('node:module');
  const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

  type Variant = 'route alone' | 'summaries on the reader thread (sqliteStore)' | 'summaries on the main thread (anchor)';
  const variants: Variant[] = ['route alone', 'summaries on the reader thread (sqliteStore)', 'summaries on the main thread (anchor)'];
  const rounds = Number(process.env.BENCH_REPEAT ?? 3);
  const stalls = new Map<Variant, number[]>(variants.map((variant) => [variant, []]));
  const summaries = new Map<Variant, number>();

  for (let round = 0; round < rounds; round++) {
    // Interleaved, round by round: this machine's speed drifts.
    for (const variant of variants) {
      const mainThreadDb = variant.includes('main thread') ? new Database(filename) : undefined;
      const store = mainThreadDb
        ? kyselyStore({ db: new Kysely<any>({ dialect: new SqliteDialect({ database: mainThreadDb }) }), tableName: 'activity_logs' })
        : sqliteStore({ filename, tableName: 'activity_logs' });
      const logger = createActivityLogger({ store, onError: (error) => console.error(error) });
      await logger.count({ actorId: 'u_1' }); // open the store (and its threads) before measuring
      const handler = createActivityLogsHandler(logger, { authorize: () => true });
      const server = createServer((req, res) => {
        if (req.url === '/ping') {
          res.setHeader('content-type', 'application/json');
          res.end('{"ok":true}');
          return;
        }
        void handler(new Request(`http://bench${req.url!.replace(/^\/admin\/logs/, '')}`)).then(async (response) => {
          res.statusCode = response.status;
          res.end(await response.text());
        });
      });
      // fetch() keeps connections open between rounds of summaries, and a round of ten
      // queued summaries can outlast Node's 5 s keep-alive: the server would close a
      // connection just as fetch reuses it ("other side closed").
      server.keepAliveTimeout = 120_000;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const load = spawn(process.execPath, [autocannonBin, '-c', '20', '-R', String(rate), '-d', String(seconds), '-j', `${url}/ping`], { stdio: ['ignore', 'pipe', 'ignore'] });
      let output = '';
      load.stdout.on('data', (chunk: Buffer) => (output += chunk));
      const exited = new Promise<void>((resolve) => load.once('exit', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the load settles first
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      let done = 0;
      if (variant !== 'route alone') {
        // The admin's requests come from a process of their own, as a browser's would: their
        // client work (fetch, reading bodies) must not count as the server's stall.
        done = await requestSummaries(`${url}/admin/logs/summary?by=hour`, (seconds - 2) * 1000);
      } else {
        await new Promise((resolve) => setTimeout(resolve, (seconds - 2) * 1000));
      }
      histogram.disable();
      await exited;
      stalls.get(variant)!.push(histogram.max / 1e6);
      summaries.set(variant, (summaries.get(variant) ?? 0) + done);
      const result = JSON.parse(output || '{}') as { latency?: { p99?: number }; requests?: { average?: number } };
      console.log(`  round ${round + 1} ${variant.padEnd(46)} stall ${(histogram.max / 1e6).toFixed(1)} ms, route p99 ${result.latency?.p99 ?? '?'} ms, ${done} summaries`);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await logger.close();
      mainThreadDb?.close();
    }
  }
  // Each round's longest stall; the median over rounds is the figure, the worst is shown beside
  // it (this machine stalls an idle process for 20-30 ms now and then).
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  const figure = (variant: Variant) => {
    const values = stalls.get(variant)!;
    return { median: median(values), worst: Math.max(...values), text: `${median(values).toFixed(1)} ms (worst of ${values.length} rounds ${Math.max(...values).toFixed(1)} ms)` };
  };
  const reader = figure('summaries on the reader thread (sqliteStore)');
  report('longest stall: route alone', figure('route alone').text);
  report('longest stall: summaries on the reader thread', reader.text, verdict(reader.median <= 10));
  report('longest stall: summaries on the main thread (anchor)', figure('summaries on the main thread (anchor)').text);
}

/**
 * Asks for `url` ten at a time, round after round, for `ms`, from a child process; resolves to
 * how many answers it read. Any answer but a 200 fails the benchmark.
 */
async function requestSummaries(url: string, ms: number): Promise<number> {
  const { spawn } = await import('node:child_process');
  const script = `
    const until = Date.now() + ${ms};
    let done = 0;
    while (Date.now() < until) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(${JSON.stringify(url)})));
      for (const answer of answers) {
        if (answer.status !== 200) throw new Error('summary answered ' + answer.status);
        await answer.arrayBuffer();
      }
      done += answers.length;
    }
    process.stdout.write(String(done));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the summary client exited with code ${code}`);
  return Number(output);
}

/** Runs every storage benchmark and prints the figures. */
export async function runStorageBench(): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-bench-'));
  // Leave nothing behind, also when the run is interrupted.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const started = performance.now();
  try {
    console.log(`storage benchmarks (BENCH_SCALE=${SCALE})`);
    await sqliteWrites(dir);
    const postgresUrl = process.env.ACTIVITY_LOG_POSTGRES_URL;
    if (postgresUrl) await postgresWrites(postgresUrl);
    else console.log('\nPostgreSQL writes: skipped, ACTIVITY_LOG_POSTGRES_URL is not set');
    const mysqlUrl = process.env.ACTIVITY_LOG_MYSQL_URL;
    if (mysqlUrl) await mysqlWrites(mysqlUrl);
    else console.log('\nMariaDB writes: skipped, ACTIVITY_LOG_MYSQL_URL is not set');
    // BENCH_PART=writes stops here (the write ratios alone).
    if (process.env.BENCH_PART !== 'writes') await deepPages(dir);
  } finally {
    removeDir();
  }
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runStorageBench().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
