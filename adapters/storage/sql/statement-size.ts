import { ActivityLogError } from '../../../src/errors.js';
import type { ActivityRecord } from '../../../src/schema.js';
import { COLUMNS, fieldOfColumn } from './columns.js';

/**
 * How big an insert's text is once its values are in it, for a database that refuses a
 * statement over a size of its own (MySQL and MariaDB: `max_allowed_packet`, 16 MiB by default
 * on MariaDB, as little as 4 MiB on some servers). Over it, the server does not refuse the
 * statement as it refuses a value: it answers ER_NET_PACKET_TOO_LARGE and drops the
 * connection, which looks like an outage, so a whole batch would be retried, failed or spooled
 * (and its replay blocked) for the size of one event. So the store splits its inserts to stay
 * under the size, and refuses a row that is too big alone before sending it. @internal
 */

/** Room kept in every statement for its text around the values (the column list, `on duplicate key`). */
const STATEMENT_TEXT_ROOM = 4096;
/** A non-string value's text at most (a number, null). */
const SCALAR_BYTES_AT_MOST = 32;
/** The characters MySQL's client escapes with a backslash inside a quoted string. */
const ESCAPED = /[\0\b\t\n\r\x1a"'\\]/g;

/**
 * Bytes a value takes in the statement's text at most, cheaply: each UTF-16 unit is at most
 * three bytes of UTF-8, or two once escaped, and a string gets two quotes.
 */
export function valueBytesAtMost(value: unknown): number {
  return typeof value === 'string' ? 3 * value.length + 2 : SCALAR_BYTES_AT_MOST;
}

/** Bytes a value takes in the statement's text: UTF-8, quoted, with MySQL's escapes. Linear in the value. */
export function valueBytes(value: unknown): number {
  if (typeof value !== 'string') return SCALAR_BYTES_AT_MOST;
  return Buffer.byteLength(value, 'utf8') + (value.match(ESCAPED)?.length ?? 0) + 2;
}

/** Bytes one row's values take in the text at most, with its parentheses and commas. */
export function rowBytesAtMost(values: readonly unknown[]): number {
  let bytes = values.length + 2;
  for (const value of values) bytes += valueBytesAtMost(value);
  return bytes;
}

/** What the values of one row may take in a statement of at most `maxStatementBytes`. */
export function rowBudget(maxStatementBytes: number): number {
  return maxStatementBytes - STATEMENT_TEXT_ROOM;
}

/**
 * `RECORD_REJECTED` for the first record whose row cannot fit in one statement, `undefined`
 * when every row fits. The exact size is counted only for a row whose cheap bound is over.
 * Thrown for a whole batch, it lets the logger split the batch down to that record and write
 * the rest, as for any record the database refuses.
 */
export function oversizedRow(
  records: readonly ActivityRecord[],
  rows: readonly (readonly unknown[])[],
  maxStatementBytes: number,
  storeName: string,
): ActivityLogError | undefined {
  const budget = rowBudget(maxStatementBytes);
  for (let i = 0; i < rows.length; i++) {
    const values = rows[i]!;
    if (rowBytesAtMost(values) <= budget) continue;
    let bytes = values.length + 2;
    let largest = 0;
    let largestBytes = 0;
    for (let c = 0; c < values.length; c++) {
      const size = valueBytes(values[c]);
      bytes += size;
      if (size > largestBytes) [largest, largestBytes] = [c, size];
    }
    if (bytes <= budget) continue;
    const field = fieldOfColumn(COLUMNS[largest]!);
    const reason = `the row takes ${bytes} bytes, more than the ${maxStatementBytes} bytes the server takes in one statement (max_allowed_packet)`;
    return new ActivityLogError('RECORD_REJECTED', `store "${storeName}" refused a record for its content (${field}): ${reason}`, {
      details: { reason, field, count: records.length, id: records[i]!.id },
    });
  }
  return undefined;
}
