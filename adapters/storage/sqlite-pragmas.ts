import type BetterSqlite3 from 'better-sqlite3';

/**
 * The one place SQLite connections are opened and configured: the store's writer (on its
 * thread or the main one), its reader thread, and the spool all open their files through
 * here, so they cannot disagree. A `database` the app passes in is left as the app
 * configured it.
 * @internal
 */

/** What a connection is for. */
export type SqliteConnectionRole = 'writer' | 'reader' | 'spool';

/** How long a statement waits for another connection's lock, unless the store is told otherwise. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens `filename` with better-sqlite3's `Database` and sets the pragmas of its role:
 * - all: `busy_timeout` (how long a statement waits for another connection's lock), and
 *   `secure_delete` (a deleted or rewritten row's bytes are zeroed, not left in the file's free
 *   space: an erased person's name, a purged record, a replayed spool batch are gone from the
 *   file, not only from its rows; the reader sets it too, because purges run there);
 * - writer and spool: WAL (readers never block the writer);
 * - writer: `synchronous = NORMAL` (survives a crash of the process, and fast; a power cut may
 *   take back the commits since the last checkpoint, as with most embedded logs);
 * - spool: `synchronous = FULL` (each batch it took survives a power cut too: the spool exists
 *   so that nothing it took is lost, and it writes only while the store is down or behind);
 * - writer: a checkpoint every 16 MB of WAL rather than 4 MB (less CPU per row; see the
 *   storage benchmark), and the WAL truncated back to 32 MB if a long reader ever let it grow
 *   past that.
 *
 * The reader does not set the journal mode: WAL is a property of the file, set by the writer,
 * and asking for it needs a lock the writer may hold.
 */
export function openSqlite(
  Database: typeof BetterSqlite3,
  filename: string,
  role: SqliteConnectionRole,
  busyTimeoutMs: number = DEFAULT_BUSY_TIMEOUT_MS,
): BetterSqlite3.Database {
  const timeout = Math.max(0, Math.floor(busyTimeoutMs));
  const db = new Database(filename, { timeout });
  try {
    db.pragma(`busy_timeout = ${timeout}`);
    db.pragma('secure_delete = ON');
    if (role === 'reader') return db;
    db.pragma('journal_mode = WAL');
    db.pragma(role === 'spool' ? 'synchronous = FULL' : 'synchronous = NORMAL');
    if (role === 'writer') {
      db.pragma('wal_autocheckpoint = 4000');
      db.pragma('journal_size_limit = 33554432');
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
