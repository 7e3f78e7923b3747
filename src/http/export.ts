import { ActivityLogError } from '../errors.js';
import type { StoreQuery } from '../query.js';
import { pagePosition } from '../cursor.js';
import { CONTEXT_FIELDS, type ActivityRecord } from '../schema.js';
import type { ActivityStore } from '../store.js';

/**
 * The admin API's export: every matching record as NDJSON or CSV, streamed one store page at a
 * time, with cells a spreadsheet cannot run as formulas.
 */

/** The CSV columns of an export, in order: the record's fields flattened, context fields by their own names. */
export const EXPORT_CSV_COLUMNS = [
  'id',
  'occurredAt',
  'action',
  'status',
  'actorType',
  'actorId',
  'actorName',
  'targetType',
  'targetId',
  'targetName',
  'tenantId',
  ...CONTEXT_FIELDS,
  'errorName',
  'errorMessage',
  'errorCode',
  'metadata',
  'changes',
] as const;

/**
 * A cell a spreadsheet could run as a formula (OWASP "CSV injection"): after any leading
 * whitespace and invisible characters (spaces, no-break and zero-width spaces, BOM,
 * direction marks: spreadsheets skip them), it starts with `=`, `+`, `-`, `@`, tab or carriage
 * return, or their full-width and small forms (`＝＋－＠`, `﹦﹢﹣﹫`), which some spreadsheets
 * read as the ASCII ones. A leading `'` is guarded too: it is what spreadsheets strip.
 */
const FORMULA_START = /^[\s\p{Cf}]*[=+\-@\t\r'\uFF1D\uFF0B\uFF0D\uFF20\uFE66\uFE62\uFE63\uFE6B]/u;

/**
 * One CSV cell. A value a spreadsheet could run as a formula (see FORMULA_START) gets a
 * leading `'` so it is shown as text; then the cell is quoted when it holds a comma, quote or
 * line break. Every cell reads back as exactly its text, and none runs as a formula.
 */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  // A stored time no Date can hold (text in SQLite's integer column) is empty, as JSON has it
  // null: toISOString() would throw, and end the export at that record.
  let text = typeof value === 'string' ? value : value instanceof Date ? (Number.isNaN(value.getTime()) ? '' : value.toISOString()) : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The CSV export's first line: the column names (CRLF), as the admin API and the CLI write it. */
export const CSV_HEADER = `${EXPORT_CSV_COLUMNS.join(',')}\r\n`;

/** One record as a CSV line (CRLF), in {@link EXPORT_CSV_COLUMNS} order. */
export function csvRow(record: ActivityRecord): string {
  const cells: unknown[] = [
    record.id,
    record.occurredAt,
    record.action,
    record.status,
    record.actor?.type,
    record.actor?.id,
    record.actor?.name,
    record.target?.type,
    record.target?.id,
    record.target?.name,
    record.tenantId,
    ...CONTEXT_FIELDS.map((field) => record.context?.[field]),
    record.error?.name,
    record.error?.message,
    record.error?.code,
    record.metadata,
    record.changes,
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** The formats of an export. */
export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * Streams every record `filter` matches, newest first, one store page per pull: the stream
 * asks for the next page only when the client has taken the previous one, so memory stays at
 * one page however many records match, and a client that disconnects stops the reads. A store
 * that fails midway ends the stream with an error, reported through `report`.
 */
export function exportResponse(
  store: ActivityStore,
  report: (error: ActivityLogError) => void,
  filter: Omit<StoreQuery, 'limit' | 'after'>,
  format: ExportFormat,
  pageSize: number,
  headOnly: boolean,
): Response {
  const csv = format === 'csv';
  const headers = {
    'content-type': csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="activity-log.${format}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (headOnly) return new Response(null, { status: 200, headers });
  const encoder = new TextEncoder();
  let after: StoreQuery['after'];
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (csv) controller.enqueue(encoder.encode(CSV_HEADER));
      },
      async pull(controller) {
        try {
          const page = await store.query({ ...filter, limit: pageSize, after });
          let chunk = '';
          for (const record of page.items) chunk += csv ? csvRow(record) : `${JSON.stringify(record)}\n`;
          if (chunk) controller.enqueue(encoder.encode(chunk));
          const last = page.items[page.items.length - 1];
          if (page.nextCursor && last) after = pagePosition(last);
          else controller.close();
        } catch (cause) {
          report(new ActivityLogError('STORE_FAILED', `activity logs API: export from store "${store.name}" failed midway`, { cause }));
          controller.error(cause);
        }
      },
    },
    { highWaterMark: 1 },
  );
  return new Response(body, { status: 200, headers });
}
