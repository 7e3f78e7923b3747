/**
 * A thread of the SQLite store: it opens its own connection to the store's file and runs what
 * the main thread sends (sqlite-protocol.ts), so neither a 1000-row transaction nor a summary
 * over a million rows ever runs on the app's event loop. Built as its own file
 * (`dist/sqlite-worker.js`, `.cjs`) and started by sqlite-thread.ts. @internal
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { openSqlite } from './sqlite-pragmas.js';
import type { SqliteRequest, SqliteResponse, SqliteThreadData, SqliteThreadError } from './sqlite-protocol.js';

const port = parentPort!;
const data = workerData as SqliteThreadData;
const send = (message: SqliteResponse) => port.postMessage(message);
const toError = (error: unknown): SqliteThreadError => {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  return { message: String(message ?? error), code: typeof code === 'string' ? code : undefined };
};

let db: BetterSqlite3.Database | undefined;
try {
  const Database = createRequire(import.meta.url)(data.driver) as typeof BetterSqlite3;
  db = openSqlite(Database, data.filename, data.role, data.busyTimeoutMs);
  send({ ready: true });
} catch (error) {
  send({ ready: false, error: toError(error) });
}

/** Prepared statements by SQL text: the store sends a handful of shapes, again and again. */
const statements = new Map<string, BetterSqlite3.Statement>();
const batches = new Map<string, (rows: readonly (readonly unknown[])[]) => void>();

function statement(sql: string): BetterSqlite3.Statement {
  let prepared = statements.get(sql);
  if (!prepared) {
    prepared = db!.prepare(sql);
    // Filters make many shapes; keep the cache bounded.
    if (statements.size >= 256) statements.clear();
    statements.set(sql, prepared);
  }
  return prepared;
}

type BatchRequest = Extract<SqliteRequest, { op: 'batch' }>;

/**
 * Batches that came while a transaction opened by statements (`begin` … `commit`/`rollback`,
 * from the store's Kysely: a migration, an erase, the diagnosis of a refused row) was open.
 * Run inside it, a batch would commit or roll back with it (better-sqlite3 makes a nested
 * transaction a savepoint): it waits, and runs, in order, once the transaction has ended.
 */
const heldBatches: BatchRequest[] = [];

function runBatch(message: BatchRequest): void {
  try {
    let insertBatch = batches.get(message.sql);
    if (!insertBatch) {
      const insert = db!.prepare(message.sql);
      insertBatch = db!.transaction((rows: readonly (readonly unknown[])[]) => {
        for (const row of rows) insert.run(row);
      });
      batches.set(message.sql, insertBatch);
    }
    insertBatch(message.rows);
    send({ id: message.id, result: { rows: [], changes: message.rows.length, lastInsertRowid: 0 } });
  } catch (error) {
    send({ id: message.id, error: toError(error) });
  }
}

port.on('message', (message: SqliteRequest) => {
  if (message.op === 'close') {
    // A transaction left open: its held batches are answered, not lost without a word.
    for (const held of heldBatches.splice(0)) send({ id: held.id, error: toError(new Error('sqlite store: the thread closed inside a transaction')) });
    db?.close();
    // Ends this thread only (in a worker, process.exit stops the thread), also when a loader
    // registered in it (tsx, from a checkout) would keep its event loop alive.
    process.exit(0);
  }
  if (!db) {
    send({ id: message.id, error: toError(new Error('sqlite store: the thread has no open database')) });
    return;
  }
  if (message.op === 'batch') {
    if (db.inTransaction) heldBatches.push(message);
    else runBatch(message);
    return;
  }
  runStatement(message);
  while (heldBatches.length > 0 && !db.inTransaction) runBatch(heldBatches.shift()!);
});

function runStatement(message: Extract<SqliteRequest, { op: 'run' }>): void {
  try {
    const prepared = statement(message.sql);
    if (prepared.reader) {
      send({ id: message.id, result: { rows: prepared.all(message.parameters) as Record<string, unknown>[], changes: 0, lastInsertRowid: 0 } });
    } else {
      const { changes, lastInsertRowid } = prepared.run(message.parameters);
      send({ id: message.id, result: { rows: [], changes, lastInsertRowid: Number(lastInsertRowid) } });
    }
  } catch (error) {
    send({ id: message.id, error: toError(error) });
  }
}
