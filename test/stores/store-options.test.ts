import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { kyselyStore } from '../../adapters/storage/kysely.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';

// An option value a store does not understand must stop the app at start-up, naming the
// option and the rule, as an unknown option name does: read as the default instead, a typo
// (`partitioning: 'Monthly'`, `writer: 'thread'`) turns off what it meant to turn on, unsaid.
// Only construction is exercised: none of these needs a database.

const dir = mkdtempSync(join(tmpdir(), 'activity-log-store-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refused = (make: () => unknown, message: string) =>
  expect(make).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining(message) }));

describe('store options', () => {
  it('refuses a sqliteStore given both a filename and a database, and opens neither', () => {
    const database = new Database(':memory:');
    const filename = join(dir, 'never-opened.db');
    refused(() => sqliteStore({ filename, database } as never), 'sqliteStore: pass either "filename" or "database"');
    expect(existsSync(filename)).toBe(false);
    database.close();
  });

  it('refuses sqliteStore values it would take for the default: writer, busyTimeoutMs, filename, database, migrate', () => {
    const filename = join(dir, 'activity.db');
    refused(() => sqliteStore({ filename, writer: 'thread' as never }), 'sqliteStore: writer: must be "worker" or "main", got "thread"');
    refused(() => sqliteStore({ filename, busyTimeoutMs: -5 }), 'sqliteStore: busyTimeoutMs: must be a whole number of milliseconds from 0, got -5');
    refused(() => sqliteStore({ filename, busyTimeoutMs: 1.5 }), 'busyTimeoutMs');
    refused(() => sqliteStore({ filename: 42 as never }), 'sqliteStore: filename: must be a file path (a string), got 42');
    refused(() => sqliteStore({ database: {} as never }), 'sqliteStore: database: must be a better-sqlite3 Database');
    refused(() => sqliteStore({ filename, migrate: 'false' as never }), 'migrate: must be true or false, got "false"');
    expect(existsSync(filename)).toBe(false);
    // What is allowed still is.
    expect(() => sqliteStore({ filename, writer: 'main', busyTimeoutMs: 0, migrate: false })).not.toThrow();
  });

  it("refuses memoryStore's test hooks when they are not functions", () => {
    refused(() => memoryStore({ failInsert: true as never }), 'memoryStore: failInsert must be a function of the batch, got true');
    refused(() => memoryStore({ refuseRecord: 'x' as never }), 'memoryStore: refuseRecord must be a function of the record, got "x"');
    expect(() => memoryStore({ failInsert: () => false, refuseRecord: () => undefined })).not.toThrow();
  });

  it('refuses a partitioning other than "monthly", and a migrate that is not a boolean, on the server stores and kyselyStore', () => {
    refused(() => postgresStore({ connectionString: 'postgres://127.0.0.1:1/none', partitioning: 'Monthly' as never }), 'partitioning: must be "monthly" or left out, got "Monthly"');
    refused(() => postgresStore({ connectionString: 'postgres://127.0.0.1:1/none', migrate: 'no' as never }), 'migrate: must be true or false, got "no"');
    refused(() => mysqlStore({ uri: 'mysql://127.0.0.1:1/none', migrate: 1 as never }), 'migrate: must be true or false, got 1');
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
    refused(() => kyselyStore({ db, migrate: 'yes' as never }), 'migrate: must be true or false, got "yes"');
    expect(() => postgresStore({ connectionString: 'postgres://127.0.0.1:1/none', partitioning: 'monthly', migrate: false })).not.toThrow();
    void db.destroy();
  });
});
