import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely';
import type { AnyKysely, SqlDialectName } from '../sql/dialect.js';
import { mysqlString } from './mysql.js';
import { dropAllTemporaryTriggers, SCOPE_DATABASE } from './sqlite.js';

/**
 * How the request's actor reaches the triggers: every connection the app's Kysely hands out is
 * wrapped, and before a statement that may write, the wrapper makes the current request's
 * context (see scope.ts) what the database's triggers read:
 *
 * - PostgreSQL: `set_config('activity_log.context', …, true)`, local to the transaction. It is
 *   sent with Kysely's own `begin` (one round trip); an autocommit write in a request is run as
 *   `begin` + write + `commit`, so the setting never outlives it, even if the process dies.
 * - MySQL/MariaDB: session variables (`@activity_log_scope`, `@activity_log_actor_type`, …), set
 *   in one statement and cleared before the connection goes back to the pool, so the next user
 *   of a pooled connection never inherits them.
 * - SQLite: the one-row table `activity_log_scope.context` of the app's connection, written
 *   before each write (the connection is used by one statement at a time) and cleared when
 *   Kysely is done with the connection, so a later write made around Kysely on the same
 *   connection (the better-sqlite3 handle, an instance derived before `captureChanges`) is
 *   never attributed to the request that wrote last.
 *
 * The app's Kysely instance is changed in place (its executor's connection provider, and the
 * executors derived from it by `withPlugin`, `withSchema` and the like), so the `db` the app
 * already uses carries the context without any other change. @internal
 */

/** The context a statement should run with: JSON, or undefined outside a request. */
export type ContextSource = () => string | undefined | Promise<string | undefined>;

/**
 * `procedure`: CALL, DO or a script of several statements, which may begin and commit inside
 * (PostgreSQL), so never run in a transaction of ours.
 */
type Kind = 'begin' | 'end' | 'savepoint-rollback' | 'write' | 'procedure' | 'read';

const PATCHED = Symbol.for('activity-log.capture.executor');
const LEADING_COMMENTS = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)+/;
const WRITE_NODES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

/** What a statement does to the transaction and the data, from Kysely's node or the raw text. */
export function classify(query: CompiledQuery): Kind {
  const node = query.query as { kind?: string; with?: { expressions?: readonly { expression?: { kind?: string } }[] } } | undefined;
  const kind = node?.kind;
  if (kind && WRITE_NODES.has(kind)) return 'write';
  // A select whose WITH inserts, updates or deletes (PostgreSQL) writes.
  if (kind && node?.with?.expressions?.some((cte) => WRITE_NODES.has(cte.expression?.kind ?? ''))) return 'write';
  if (kind && kind !== 'RawNode') return 'read';
  // Leading comments (`-- why`, `/* who */`) say nothing about what the statement does.
  const sql = query.sql.replace(LEADING_COMMENTS, '');
  // A script of several statements (`begin; insert …; commit`) may open and end transactions of
  // its own: run like a procedure, with the context for its duration.
  if (/;\s*\S/.test(sql.replace(/;\s*$/, ''))) return 'procedure';
  const text = sql.slice(0, 32).toLowerCase();
  if (/^(begin|start\s+transaction)\b/.test(text)) return 'begin';
  if (/^rollback\s+to\b/.test(text)) return 'savepoint-rollback';
  if (/^(commit|end|rollback)\b/.test(text)) return 'end';
  if (/^(call|do)\b/.test(text)) return 'procedure';
  if (/^(insert|update|delete|merge|replace|with|copy|upsert)\b/.test(text)) return 'write';
  return 'read';
}

/** The context state of one connection. */
interface ConnectionState {
  inTransaction: boolean;
  /** Set by `logger.changes(trx)` for the rest of the transaction: wins over the request's. */
  pinned: string | undefined;
  /** What the database holds now (PostgreSQL: in this transaction; MySQL: in the session); `null` when unsure. */
  held: string | undefined | null;
}

const states = new WeakMap<DatabaseConnection, ConnectionState>();
const wrappers = new WeakMap<DatabaseConnection, DatabaseConnection>();
/** The connections this module made, and the one each wraps. */
const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();

function stateOf(connection: DatabaseConnection): ConnectionState {
  let state = states.get(connection);
  if (!state) {
    state = { inTransaction: false, pinned: undefined, held: undefined };
    states.set(connection, state);
  }
  return state;
}

function raw(sql: string, parameters: readonly unknown[] = []): CompiledQuery {
  return { sql, parameters, query: { kind: 'RawNode' } } as unknown as CompiledQuery;
}

/**
 * MySQL's triggers read plain session variables (see capture/mysql.ts): no JSON parsed per row.
 * The values are literals (hex where not plain), not parameters: mysql2 escapes `"` as `\"`,
 * which a session with NO_BACKSLASH_ESCAPES would keep.
 */
function mysqlSet(context: string | undefined): string {
  const names = ['scope', 'actor_type', 'actor_id', 'actor_name', 'tenant', 'context'];
  let values: (string | null)[] = [null, null, null, null, null, null];
  if (context !== undefined) {
    const parsed = JSON.parse(context) as { actor?: { type?: string; id?: string; name?: string }; tenantId?: string; context?: Record<string, string> };
    values = ['1', parsed.actor?.type ?? null, parsed.actor?.id ?? null, parsed.actor?.name ?? null, parsed.tenantId ?? null, parsed.context ? JSON.stringify(parsed.context) : null];
  }
  return `set ${names.map((name, i) => `@activity_log_${name} = ${values[i] === null ? 'null' : mysqlString(values[i]!)}`).join(', ')}`;
}

/** The statements that make `context` what the triggers read, per database. */
const SETTERS = {
  postgres: (context: string | undefined) => raw(`select set_config('activity_log.context', $1, true)`, [context ?? '']),
  mysql: (context: string | undefined) => raw(mysqlSet(context)),
  sqlite: (context: string | undefined) => raw(`insert or replace into ${SCOPE_DATABASE}.context (id, ctx) values (1, ?)`, [context ?? null]),
} as const;

/**
 * A connection that sets the context before the statements that may write. One per underlying
 * connection, so its state lives as long as that connection.
 */
function wrap(inner: DatabaseConnection, dialect: SqlDialectName, source: ContextSource): DatabaseConnection {
  const existing = wrappers.get(inner);
  if (existing) return existing;
  const state = stateOf(inner);
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      const kind = classify(query);
      if (kind === 'read') return inner.executeQuery<R>(query);
      if (kind === 'savepoint-rollback') {
        // A setting made after the savepoint is undone with it.
        state.held = null;
        return inner.executeQuery<R>(query);
      }
      if (kind === 'end') {
        try {
          return await inner.executeQuery<R>(query);
        } finally {
          state.inTransaction = false;
          state.pinned = undefined;
          if (dialect === 'postgres') state.held = undefined;
        }
      }
      const context = state.pinned ?? (await contextFrom(source));
      if (kind === 'begin') {
        state.inTransaction = true;
        if (dialect === 'postgres') {
          state.held = undefined;
          if (context === undefined) return inner.executeQuery<R>(query);
          // One round trip: the simple protocol takes both statements at once.
          const result = await inner.executeQuery<R>(raw(`${query.sql}; select set_config('activity_log.context', ${dollarQuote(context)}, true)`));
          state.held = context;
          return Array.isArray(result) ? (result[0] as QueryResult<R>) : result;
        }
        return inner.executeQuery<R>(query);
      }
      // A write.
      if (dialect === 'postgres' && !state.inTransaction) {
        if (context === undefined) return inner.executeQuery<R>(query);
        return kind === 'procedure' ? procedureWithContext(inner, query, context) : autocommitWithContext(inner, query, context);
      }
      if (dialect === 'sqlite' || state.held !== context) {
        await inner.executeQuery(SETTERS[dialect](context));
        state.held = context;
      }
      if (dialect !== 'sqlite') return inner.executeQuery<R>(query);
      try {
        return await inner.executeQuery<R>(query);
      } catch (error) {
        if (!(await healTemporaryTriggers(inner, error))) throw error;
        return inner.executeQuery<R>(query);
      }
    },
    streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
      return inner.streamQuery<R>(query, chunkSize);
    },
  };
  wrappers.set(inner, connection);
  wrapped.set(connection, inner);
  return connection;
}

/**
 * The current context; undefined (the write is recorded as the database's) if working it out
 * failed: capture never makes the app's write fail. The middleware reports a failing `actor()`.
 */
async function contextFrom(source: ContextSource): Promise<string | undefined> {
  try {
    return await source();
  } catch {
    return undefined;
  }
}

/**
 * SQLite: a migration made on another connection renamed or dropped a column that this
 * connection's temporary triggers name, and the write failed on them. They are dropped (the
 * stored triggers, which SQLite rewrote with the migration, record the table from then on,
 * as the database's, until `captureChanges` runs again), and the write is tried once more.
 */
async function healTemporaryTriggers(inner: DatabaseConnection, error: unknown): Promise<boolean> {
  const message = String((error as { message?: unknown } | null)?.message ?? '');
  if (!/no such column: (new|old)\.|has no column named/.test(message)) return false;
  const { rows } = await inner.executeQuery<{ s: string }>(raw(dropAllTemporaryTriggers()));
  if (rows.length === 0) return false;
  for (const row of rows) await inner.executeQuery(raw(row.s));
  return true;
}

/** A PostgreSQL write outside a transaction, in one of its own so that the setting ends with it. */
async function autocommitWithContext<R>(inner: DatabaseConnection, query: CompiledQuery, context: string): Promise<QueryResult<R>> {
  await inner.executeQuery(raw(`begin; select set_config('activity_log.context', ${dollarQuote(context)}, true)`));
  let result: QueryResult<R>;
  try {
    result = await inner.executeQuery<R>(query);
  } catch (error) {
    await inner.executeQuery(raw('rollback')).catch(() => undefined);
    throw error;
  }
  await inner.executeQuery(raw('commit'));
  return result;
}

/**
 * A PostgreSQL CALL or DO outside a transaction: a procedure may COMMIT inside, which a
 * transaction of ours would forbid. The setting is the session's for the call's duration,
 * and taken back at once after it (also when it fails).
 */
async function procedureWithContext<R>(inner: DatabaseConnection, query: CompiledQuery, context: string): Promise<QueryResult<R>> {
  await inner.executeQuery(raw(`select set_config('activity_log.context', ${dollarQuote(context)}, false)`));
  try {
    return await inner.executeQuery<R>(query);
  } finally {
    await inner.executeQuery(raw(`select set_config('activity_log.context', '', false)`));
  }
}

/** `text` in dollar quotes with a tag it does not contain (no escaping can go wrong). */
function dollarQuote(text: string): string {
  let tag = 'al';
  while (text.includes(`$${tag}$`)) tag += 'x';
  return `$${tag}$${text}$${tag}$`;
}

/** Releases what a connection holds in its session before it goes back to the pool (MySQL, SQLite). */
async function release(inner: DatabaseConnection, dialect: SqlDialectName): Promise<void> {
  if (dialect === 'postgres') return;
  const state = stateOf(inner);
  state.pinned = undefined;
  state.inTransaction = false;
  if (state.held === undefined) return;
  try {
    await inner.executeQuery(SETTERS[dialect](undefined));
    state.held = undefined;
  } catch {
    // The connection is broken; the pool will not hand it out again. Not sure what it holds.
    state.held = null;
  }
}

/** Kysely's executor, as far as this module uses it. */
interface Executor {
  provideConnection<T>(consumer: (connection: DatabaseConnection) => Promise<T>): Promise<T>;
  withPlugins(plugins: unknown): Executor;
  withPlugin(plugin: unknown): Executor;
  withPluginAtFront(plugin: unknown): Executor;
  withoutPlugins(): Executor;
  [PATCHED]?: true;
}

let deriving = 0;

/**
 * Makes `db` (in place) pass the request's context to the triggers on every connection it
 * hands out. Idempotent.
 */
export function instrumentKysely(db: AnyKysely, dialect: SqlDialectName, source: ContextSource): void {
  patch(db.getExecutor() as unknown as Executor, dialect, source);
}

function patch(executor: Executor, dialect: SqlDialectName, source: ContextSource): Executor {
  if (executor[PATCHED]) return executor;
  const provide = executor.provideConnection.bind(executor);
  executor.provideConnection = <T>(consumer: (connection: DatabaseConnection) => Promise<T>) =>
    provide(async (connection) => {
      // Already one of ours (a transaction's executor over a wrapped connection).
      if (wrapped.has(connection)) return consumer(connection);
      try {
        return await consumer(wrap(connection, dialect, source));
      } finally {
        await release(connection, dialect);
      }
    });
  for (const name of ['withPlugins', 'withPlugin', 'withPluginAtFront', 'withoutPlugins'] as const) {
    const derive = (executor[name] as (...args: unknown[]) => Executor).bind(executor);
    (executor as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const derived = derive(...args);
      return deriving > 0 ? derived : patch(derived, dialect, source);
    };
  }
  Object.defineProperty(executor, PATCHED, { value: true });
  return executor;
}

/**
 * Runs `fn` (synchronous: it derives a Kysely) so that what it derives from an instrumented
 * Kysely is not instrumented: the activity store's own writes to the log table set no context.
 */
export function uninstrumented<T>(fn: () => T): T {
  deriving++;
  try {
    return fn();
  } finally {
    deriving--;
  }
}

/**
 * Pins `context` on the connection of `transaction` until it ends: `logger.changes(trx)`.
 * Returns false when the transaction's Kysely was never instrumented.
 */
export async function pinContext(transaction: AnyKysely, dialect: SqlDialectName, context: string): Promise<boolean> {
  return transaction.getExecutor().provideConnection(async (connection) => {
    const inner = wrapped.get(connection);
    if (!inner) return false;
    const state = stateOf(inner);
    state.pinned = context;
    if (dialect === 'postgres') {
      await inner.executeQuery(SETTERS.postgres(context));
      state.held = context;
    }
    return true;
  });
}
