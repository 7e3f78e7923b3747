import type { AnyKysely, KyselyModule } from '../sql/dialect.js';
import type { CaptureDefinition, LogTable, TableColumn } from './model.js';

/**
 * What change capture needs from one database: its catalogue, and the text of the triggers
 * that record a table's changes (postgres.ts, mysql.ts, sqlite.ts beside this one). @internal
 */
export interface CaptureDialect {
  /** The columns of `table` in their order; none when there is no such table. */
  columns(k: KyselyModule, db: AnyKysely, table: string, schema: string | undefined): Promise<TableColumn[]>;
  /**
   * Whether every trigger of `table`'s capture is in the database: a table dropped and made
   * again (a restore, SQLite's rebuild of a table to alter it) lost them, though what
   * records the install still says they are there.
   */
  present(k: KyselyModule, db: AnyKysely, table: string, schema: string | undefined): Promise<boolean>;
  /** Statements that replace whatever capture `definition.table` had with this release's. */
  install(definition: CaptureDefinition, log: LogTable): string[];
  /**
   * MySQL/MariaDB: a statement that locks `table` while `install`'s statements replace its
   * triggers, and the one that frees it. Each of those statements commits on its own, so
   * without the lock a write made by another connection between the drop of the old triggers
   * and the creation of the new ones is recorded by neither. (PostgreSQL and SQLite replace
   * them in one transaction.)
   */
  replacing?(table: string, schema: string | undefined): { lock: string; unlock: string };
  /** Statements that drop a table's capture; each may fail on its own when the table is gone. */
  remove(table: string, schema: string | undefined): string[];
  /**
   * Statements the app's own connection runs once (SQLite: where the request's context is
   * read from, and the triggers that read it). Outside any transaction.
   */
  connectionSetup?(definitions: readonly CaptureDefinition[], log: LogTable): string[];
}
