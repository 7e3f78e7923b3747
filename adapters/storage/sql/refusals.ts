import { ActivityLogError } from '../../../src/errors.js';
import { uuidv7 } from '../../../src/ids.js';
import type { ActivityRecord } from '../../../src/schema.js';
import { COLUMNS, fieldOfColumn, REQUIRED_COLUMNS, type Column } from './columns.js';
import type { AnyKysely, KyselyModule } from './dialect.js';
import type { SqlStatements } from './statements.js';

/**
 * What an insert failure means to the logger: `RECORD_REJECTED` when the database refused the
 * records for their content (the dialect tells, by the database's error codes), naming the
 * field when the batch was one record; the error itself for anything else (a connection, a
 * lock), which the logger retries. @internal
 */
export async function classifyInsertError(
  k: KyselyModule,
  statements: SqlStatements,
  db: AnyKysely,
  error: unknown,
  records: readonly ActivityRecord[],
  storeName: string,
): Promise<unknown> {
  if (!statements.dialect.isContentRejection(error)) return error;
  const reason = String((error as { message?: unknown }).message ?? error);
  const column = records.length === 1 ? await findRefusedColumn(k, statements, db, records[0]!) : undefined;
  const field = column === undefined ? undefined : fieldOfColumn(column);
  return new ActivityLogError(
    'RECORD_REJECTED',
    `store "${storeName}" refused ${records.length === 1 ? 'a record' : `a batch of ${records.length} records`} for its content${field ? ` (${field})` : ''}: ${reason}`,
    { cause: error, details: { reason, field, count: records.length } },
  );
}

/**
 * The column whose value the database refuses, found by inserting the record's required
 * columns with one other column at a time, each in a transaction that is always rolled back
 * (nothing is stored). Only ever run for a single record the database refused: rare, so a
 * dozen statements are cheap. `undefined` when no one column is to blame.
 */
async function findRefusedColumn(k: KyselyModule, statements: SqlStatements, db: AnyKysely, record: ActivityRecord): Promise<Column | undefined> {
  const values = statements.values(record);
  const text = statements.insertText(1);
  const rowWith = (column: Column | undefined) => COLUMNS.map((name, i) => (REQUIRED_COLUMNS.has(name) || name === column ? values[i] : null));
  const refuses = (row: unknown[]) => refusesRow(k, statements, db, text, row);
  try {
    const required = await refuses(rowWith(undefined));
    if (required === undefined) return undefined;
    if (required) return await findRefusedRequiredColumn(statements, values, refuses);
    for (const [i, column] of COLUMNS.entries()) {
      if (REQUIRED_COLUMNS.has(column) || values[i] === null) continue;
      const refused = await refuses(rowWith(column));
      if (refused === undefined) return undefined;
      if (refused) return column;
    }
  } catch {
    // The diagnosis is a courtesy: the record is reported either way.
  }
  return undefined;
}

/**
 * Which required column (id, time, action, status) the database refuses: from a plain record
 * it takes, each of the record's own required values put in at a time. `undefined` when it
 * refuses the plain record too, or none alone.
 */
async function findRefusedRequiredColumn(
  statements: SqlStatements,
  values: readonly unknown[],
  refuses: (row: unknown[]) => Promise<boolean | undefined>,
): Promise<Column | undefined> {
  const plain = statements.values({ id: uuidv7(), occurredAt: new Date(), action: 'activity.diagnosis', status: 'success' });
  const plainRow = COLUMNS.map((name, i) => (REQUIRED_COLUMNS.has(name) ? plain[i] : null));
  if ((await refuses(plainRow)) !== false) return undefined;
  for (const [i, column] of COLUMNS.entries()) {
    if (!REQUIRED_COLUMNS.has(column)) continue;
    const row = [...plainRow];
    row[i] = values[i];
    const refused = await refuses(row);
    if (refused === undefined) return undefined;
    if (refused) return column;
  }
  return undefined;
}

/** True when the database refuses `row` for its content, false when it takes it, undefined for any other failure. Never stores it. */
async function refusesRow(k: KyselyModule, statements: SqlStatements, db: AnyKysely, text: string, row: unknown[]): Promise<boolean | undefined> {
  const { sql, CompiledQuery } = k;
  return db.connection().execute(async (connection) => {
    await sql`begin`.execute(connection);
    try {
      await connection.executeQuery(CompiledQuery.raw(text, row));
      return false;
    } catch (error) {
      return statements.dialect.isContentRejection(error) ? true : undefined;
    } finally {
      await sql`rollback`.execute(connection).catch(() => undefined);
    }
  });
}
