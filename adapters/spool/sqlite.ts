import type BetterSqlite3 from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { ActivityLogError } from '../../src/errors.js';
import type { ActivityRecord } from '../../src/schema.js';
import {
  DEFAULT_SPOOL_FILENAME,
  DEFAULT_SPOOL_MAX_BYTES,
  deserializeBatch,
  serializeBatch,
  type ActivitySpool,
  type SpooledBatch,
  type SpoolOptions,
  type UnreadableRecord,
} from '../../src/spool.js';
import { defaultExport, loadPeer } from '../storage/peer.js';
import { openSqlite } from '../storage/sqlite-pragmas.js';

/**
 * The built-in spool: one SQLite file (WAL, `synchronous=FULL`: a batch it took survives a
 * crash of the process and a power cut), one row per batch. Opened lazily on first use. Several processes may share a
 * file: SQLite serialises the writers and ids make a batch replayed twice stored once.
 */
export function sqliteSpool(options: SpoolOptions = {}, destination?: string): ActivitySpool {
  const filename = options.filename ?? DEFAULT_SPOOL_FILENAME;
  const maxBytes = options.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
  let opened: Promise<Opened> | undefined;

  interface Opened {
    db: BetterSqlite3.Database;
    append: BetterSqlite3.Statement<[number, number, string, number]>;
    peek: BetterSqlite3.Statement<[], { id: number; payload: string }>;
    remove: BetterSqlite3.Statement<[number]>;
    usedBytes: BetterSqlite3.Statement<[], { bytes: number }>;
    quarantine: (id: number, reason: string) => void;
    /** Keeps the records of a batch that cannot be read aside, and leaves the rest to replay. */
    setAsideSome: (id: number, unreadable: readonly UnreadableRecord[], readable: readonly ActivityRecord[]) => void;
  }

  /** The spool in use, once open: a damaged file is moved aside only by the first to find it. */
  let current: Opened | undefined;
  /** Set when a damaged file was moved aside; the next peek() reports it, once. */
  let setAsideNote: string | undefined;

  // A failed open is forgotten, so the next call tries again: a directory made or mounted
  // later, or a file another process held locked while it was being set up, is then used.
  const open = () =>
    (opened ??= openSpool().then(
      (spool) => (current = spool),
      (error: unknown) => {
        opened = undefined;
        throw error;
      },
    ));

  const openSpool = async (): Promise<Opened> => {
    const Database = defaultExport<typeof BetterSqlite3>(await loadPeer('better-sqlite3', 'spool'));
    try {
      return setUp(openSqlite(Database, filename, 'spool'));
    } catch (error) {
      // Not a database, or a truncated or overwritten one: kept aside for a person to look at,
      // and a new spool started, rather than every outage from now on losing its events.
      if (!isDamaged(error)) throw error;
      moveAside(error);
      return setUp(openSqlite(Database, filename, 'spool'));
    }
  };

  const moveAside = (error: unknown) => {
    const target = `${filename}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(filename + suffix)) renameSync(filename + suffix, target + suffix);
    const reason = error instanceof Error ? error.message : String(error);
    setAsideNote = `the spool file was damaged (${reason}); it was moved to ${target}, with what it held, for a person to look at, and a new spool file started`;
  };

  /**
   * Runs `use` on the open spool. A file found damaged on the way (SQLite reads a page only
   * when a statement needs it) is moved aside, and `use` runs once more on a new file.
   */
  const withSpool = async <T>(use: (spool: Opened) => T): Promise<T> => {
    const spool = await open();
    try {
      return use(spool);
    } catch (error) {
      if (!isDamaged(error)) throw error;
      if (current === spool) {
        current = undefined;
        opened = undefined;
        spool.db.close();
        moveAside(error);
      }
      return use(await open());
    }
  };

  const setUp = (db: BetterSqlite3.Database): Opened => {
    try {
      db.exec(`CREATE TABLE IF NOT EXISTS activity_spool (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        records INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        payload TEXT NOT NULL,
        spooled_at INTEGER NOT NULL
      )`);
      // Batches that could not be read back are kept here, for a person to look at, instead of
      // holding the replay up or being deleted.
      db.exec(`CREATE TABLE IF NOT EXISTS activity_spool_unreadable (
        id INTEGER PRIMARY KEY,
        records INTEGER NOT NULL,
        payload TEXT NOT NULL,
        spooled_at INTEGER NOT NULL,
        reason TEXT NOT NULL
      )`);
      // The bytes spooled, kept up to date by triggers in the transaction of each change, so
      // that checking the bound on append reads one row, whatever the spool holds, also with
      // several processes sharing the file. A file from before this table is counted once.
      db.exec(`CREATE TABLE IF NOT EXISTS activity_spool_size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL)`);
      db.exec(`INSERT OR IGNORE INTO activity_spool_size (id, bytes) SELECT 1, COALESCE(SUM(bytes), 0) FROM activity_spool`);
      db.exec(`CREATE TRIGGER IF NOT EXISTS activity_spool_grows AFTER INSERT ON activity_spool
        BEGIN UPDATE activity_spool_size SET bytes = bytes + new.bytes WHERE id = 1; END`);
      db.exec(`CREATE TRIGGER IF NOT EXISTS activity_spool_shrinks AFTER DELETE ON activity_spool
        BEGIN UPDATE activity_spool_size SET bytes = bytes - old.bytes WHERE id = 1; END`);
      // A batch whose unreadable records were set aside keeps the rest, in fewer bytes.
      db.exec(`CREATE TRIGGER IF NOT EXISTS activity_spool_resized AFTER UPDATE OF bytes ON activity_spool
        BEGIN UPDATE activity_spool_size SET bytes = bytes - old.bytes + new.bytes WHERE id = 1; END`);
      if (destination !== undefined) claim(db, destination);
      const setAside = db.prepare('INSERT OR REPLACE INTO activity_spool_unreadable (id, records, payload, spooled_at, reason) SELECT id, records, payload, spooled_at, ? FROM activity_spool WHERE id = ?');
      const removeRow = db.prepare('DELETE FROM activity_spool WHERE id = ?');
      const setAsidePart = db.prepare('INSERT OR REPLACE INTO activity_spool_unreadable (id, records, payload, spooled_at, reason) SELECT id, ?, ?, spooled_at, ? FROM activity_spool WHERE id = ?');
      const keepReadable = db.prepare('UPDATE activity_spool SET records = ?, bytes = ?, payload = ? WHERE id = ?');
      return {
        db,
        quarantine: db.transaction((id: number, reason: string) => {
          setAside.run(reason, id);
          removeRow.run(id);
        }),
        setAsideSome: db.transaction((id: number, unreadable: readonly UnreadableRecord[], readable: readonly ActivityRecord[]) => {
          const reason = unreadable.map((record) => record.reason).join('; ');
          setAsidePart.run(unreadable.length, JSON.stringify(unreadable.map((record) => record.raw)), reason, id);
          const payload = serializeBatch(readable);
          keepReadable.run(readable.length, Buffer.byteLength(payload), payload, id);
        }),
        append: db.prepare('INSERT INTO activity_spool (records, bytes, payload, spooled_at) VALUES (?, ?, ?, ?)'),
        peek: db.prepare('SELECT id, payload FROM activity_spool ORDER BY id LIMIT 1'),
        remove: db.prepare('DELETE FROM activity_spool WHERE id = ?'),
        usedBytes: db.prepare('SELECT bytes FROM activity_spool_size WHERE id = 1'),
      };
    } catch (error) {
      // A file that is not a spool (or not SQLite), or locked past busy_timeout while being set up.
      db.close();
      throw error;
    }
  };

  return {
    name: `sqlite spool (${filename})`,
    async append(records: readonly ActivityRecord[]) {
      const payload = serializeBatch(records);
      const bytes = Buffer.byteLength(payload);
      // Read the size in the same transaction as the insert, so two processes cannot both pass the bound.
      await withSpool((spool) => spool.db.transaction(() => {
        const used = spool.usedBytes.get()?.bytes ?? 0;
        if (used + bytes > maxBytes) {
          // A batch bigger than the whole bound would never fit: say so, rather than "full" with 0 bytes used.
          const why = bytes > maxBytes ? `a batch of ${bytes} bytes is bigger than its maxBytes (${maxBytes})` : `it is full (${used} of ${maxBytes} bytes used, ${bytes} more needed)`;
          throw new ActivityLogError('SPOOL_FULL', `spool ${filename} cannot take ${records.length} events: ${why}; they are dropped`, {
            details: { dropped: records.length, usedBytes: used, batchBytes: bytes, maxBytes },
          });
        }
        spool.append.run(records.length, bytes, payload, Date.now());
      }).immediate());
    },
    async peek(): Promise<SpooledBatch | undefined> {
      const row = await withSpool((spool) => spool.peek.get());
      if (setAsideNote !== undefined) {
        // Reported once, as a batch of no records (id 0, which no row has): the replay goes on.
        const unreadable = setAsideNote;
        setAsideNote = undefined;
        return { id: 0, records: [], unreadable };
      }
      if (!row) return undefined;
      let read;
      try {
        read = deserializeBatch(row.payload);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        await withSpool((spool) => spool.quarantine(row.id, reason));
        return { id: row.id, records: [], unreadable: `${reason}; kept in the table activity_spool_unreadable of ${filename}` };
      }
      const { records, unreadable } = read;
      if (unreadable.length === 0) return { id: row.id, records };
      // The records that can be read are replayed; only those that cannot are kept aside (all
      // of them, when none can be read: the row goes aside whole, as an unreadable payload does).
      const reason = unreadable.map((record) => record.reason).join('; ');
      await withSpool((spool) => (records.length === 0 ? spool.quarantine(row.id, reason) : spool.setAsideSome(row.id, unreadable, records)));
      return {
        id: row.id,
        records,
        unreadable: `${reason}; kept in the table activity_spool_unreadable of ${filename}`,
        unreadableRecords: unreadable.length,
      };
    },
    async remove(batchId: number) {
      return withSpool((spool) => {
        const removed = spool.remove.run(batchId).changes > 0;
        // The batches replayed are zeroed in the file (secure_delete), but their pages as
        // appended stay in the write-ahead log until it is reused: the personal values of an
        // outage would be readable there long after they were stored (and perhaps erased).
        // Once the spool is empty, the log is copied in and truncated to nothing; another
        // process reading the file keeps it, until a later replay empties the spool again.
        if (removed && spool.peek.get() === undefined) spool.db.pragma('wal_checkpoint(TRUNCATE)');
        return removed;
      });
    },
    async close() {
      if (!opened) return;
      const spool = await opened;
      opened = undefined;
      current = undefined;
      spool.db.close();
    },
  };
}

/**
 * Binds the spool file to the log it holds batches for (`destination`, the logger's store and
 * table), or refuses it when another log has it: its batches carry no table, and a logger of
 * another log would replay them into its own. The first logger to open the file names it (a
 * file from an earlier release, which names none, goes to the first that opens it).
 */
function claim(db: BetterSqlite3.Database, destination: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS activity_spool_destination (id INTEGER PRIMARY KEY CHECK (id = 1), destination TEXT NOT NULL)`);
  db.prepare('INSERT OR IGNORE INTO activity_spool_destination (id, destination) VALUES (1, ?)').run(destination);
  const holder = (db.prepare('SELECT destination FROM activity_spool_destination WHERE id = 1').get() as { destination: string } | undefined)?.destination;
  if (holder === undefined || holder === destination) return;
  throw new ActivityLogError(
    'SPOOL_FAILED',
    `the spool file ${db.name} holds the batches of the log ${JSON.stringify(holder)}, and this logger writes to ${JSON.stringify(destination)}: give each log a spool file of its own (spool: { filename })`,
    { details: { filename: db.name, destination: holder, expected: destination } },
  );
}

/** SQLite's verdict on a file that is not a database, or a damaged one. */
function isDamaged(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}
