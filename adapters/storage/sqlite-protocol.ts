import type { SqliteConnectionRole } from './sqlite-pragmas.js';

/**
 * The messages between the SQLite store and its threads (sqlite-worker.ts), typed once for
 * both sides. @internal
 */

/** What a thread is started with. */
export interface SqliteThreadData {
  /** The better-sqlite3 package to load: the directory of the copy the main thread uses, or its resolved path. */
  driver: string;
  filename: string;
  busyTimeoutMs: number;
  role: Exclude<SqliteConnectionRole, 'spool'>;
}

/** A request to a thread. */
export type SqliteRequest =
  /** One statement, with its parameters: rows for a reader, changes for a writer statement. */
  | { id: number; op: 'run'; sql: string; parameters: readonly unknown[] }
  /** One cached prepared statement run for each row, in one transaction. */
  | { id: number; op: 'batch'; sql: string; rows: readonly (readonly unknown[])[] }
  | { op: 'close' };

/** An error as it crosses the thread boundary: its message and the driver's code. */
export interface SqliteThreadError {
  message: string;
  code?: string | undefined;
}

/** What a statement returned. */
export interface SqliteRunResult {
  rows: Record<string, unknown>[];
  changes: number;
  lastInsertRowid: number;
}

/** A thread's answer. */
export type SqliteResponse =
  | { ready: true }
  | { ready: false; error: SqliteThreadError }
  | { id: number; result: SqliteRunResult }
  | { id: number; error: SqliteThreadError };
