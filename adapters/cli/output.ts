import { once } from 'node:events';
import pc from 'picocolors';
import { CSV_HEADER, csvRow } from '../../src/http/export.js';

export { CSV_HEADER };
import type { ActivityRecord } from '../../src/schema.js';
import { usage } from './connect.js';

/** The output formats of the reading commands. */
export const FORMATS = ['table', 'json', 'ndjson', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

export function formatFlag(value: string | undefined, fallback: Format): Format {
  const format = (value ?? fallback) as Format;
  if (!FORMATS.includes(format)) throw usage(`--format: must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(value)}`);
  return format;
}

/** How much written output may wait for a slow reader before the writer waits for it. */
const PENDING_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Where output goes, and how wide and colourful it may be. */
export interface Terminal {
  write(text: string): void;
  /**
   * Resolves once what was written has been taken by the reader, so that a long output waits
   * for a slow reader (`| gzip`, `| ssh`) rather than piling up in memory. Without it, the
   * reader is taken to keep up.
   */
  drain?(): Promise<void>;
  /** Columns of the terminal; a table is cut to fit. */
  width: number;
  color: boolean;
}

export function stdoutTerminal(noColor: boolean): Terminal {
  const tty = process.stdout.isTTY === true;
  return {
    write: (text) => void process.stdout.write(text),
    // Standard output to a pipe is written asynchronously: what the reader has not taken yet
    // is held in memory, all of an export when the reader is slower than the database. Some
    // pages may wait, so that reading the next pages overlaps writing these (with less, an
    // export to a fast reader took half as long again).
    drain: async () => {
      if (process.stdout.writableLength > PENDING_OUTPUT_BYTES) await once(process.stdout, 'drain');
    },
    width: (tty ? process.stdout.columns : undefined) ?? (Number(process.env.COLUMNS) || 160),
    color: tty && !noColor && pc.isColorSupported,
  };
}

/** One record in a line-oriented format (the table's rows need the whole page, see `table`). */
export function line(record: ActivityRecord, format: 'ndjson' | 'csv'): string {
  return format === 'csv' ? csvRow(record) : `${JSON.stringify(record)}\n`;
}

/**
 * Logged text as a terminal may show it: control characters (C0, DEL, C1: escape sequences
 * that set the title, clear the screen or move the cursor, a line break that forges a row, a
 * backspace that hides what precedes it) and the bidirectional controls that reorder what
 * follows them are written as escapes (`\u001b`, `\n`), never sent as they are. The log's
 * values are other people's input (a display name, a user agent), so the table, `stats` and
 * `verify` print every stored value through this; `json`, `ndjson` and `csv` stay exact.
 */
export function terminalText(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (char) => SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
// eslint-disable-next-line no-control-regex
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Marks drawn over the character before them, and the joiners and selectors that draw nothing. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200d\u2060\ufe00-\ufe0f]$/u;
/**
 * Characters a terminal draws two columns wide: East Asian wide and fullwidth ones (Hangul
 * jamo, CJK, kana, Hangul syllables, fullwidth forms) and emoji pictographs.
 */
const DOUBLE_WIDTH = /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;

/** The columns `text` takes on a terminal (its length counts a CJK character or an emoji as one, or two). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += ZERO_WIDTH.test(char) ? 0 : DOUBLE_WIDTH.test(char) ? 2 : 1;
  return width;
}

/**
 * `text` in exactly `width` columns: padded with spaces, or cut (whole characters) and ended
 * with `…`. By the columns a terminal draws, so that a name in Japanese or with an emoji does
 * not push the columns after it out of line, nor the row past the terminal's width.
 */
export function fitCell(text: string, width: number): string {
  const shown = displayWidth(text);
  if (shown <= width) return text + ' '.repeat(width - shown);
  let cut = '';
  let used = 0;
  for (const char of text) {
    const size = ZERO_WIDTH.test(char) ? 0 : DOUBLE_WIDTH.test(char) ? 2 : 1;
    if (used + size > width - 1) break;
    cut += char;
    used += size;
  }
  return `${cut}…${' '.repeat(width - 1 - used)}`;
}

const COLUMNS = ['time', 'status', 'action', 'actor', 'target', 'tenant'] as const;
/** The columns a narrow terminal shortens first, widest first, and how short they may get. */
const FLEXIBLE: Readonly<Record<string, number>> = { target: 8, actor: 8, action: 10, tenant: 6 };

/** Records as a table that fits `width`: long cells are cut with an ellipsis, the widest flexible columns first. */
export function table(records: readonly ActivityRecord[], terminal: Terminal): string {
  const rows = records.map((record) => ({
    time: record.occurredAt.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z'),
    status: record.status,
    action: record.action,
    actor: terminalText(record.actor ? [record.actor.name, record.actor.id ? `${record.actor.type}:${record.actor.id}` : record.actor.type].filter(Boolean).join(' ') : ''),
    target: terminalText(record.target ? `${record.target.type}:${record.target.id}${record.target.name ? ` ${record.target.name}` : ''}` : ''),
    tenant: terminalText(record.tenantId ?? ''),
  }));
  const widths: Record<string, number> = {};
  for (const column of COLUMNS) widths[column] = Math.max(column.length, ...rows.map((row) => displayWidth(row[column])));
  const total = () => COLUMNS.reduce((sum, column) => sum + widths[column]!, 0) + 2 * (COLUMNS.length - 1);
  // One character at a time from the widest flexible column, so long columns end up alike.
  for (let over = total() - terminal.width; over > 0; over--) {
    const candidates = Object.keys(FLEXIBLE).filter((column) => widths[column]! > FLEXIBLE[column]!);
    if (candidates.length === 0) break;
    const widest = candidates.reduce((a, b) => (widths[a]! >= widths[b]! ? a : b));
    widths[widest]! -= 1;
  }
  const paint = (status: string, text: string) =>
    !terminal.color ? text : status === 'failure' ? pc.red(text) : status === 'denied' ? pc.yellow(text) : pc.green(text);
  const header = COLUMNS.map((column) => fitCell(column.toUpperCase(), widths[column]!)).join('  ');
  const lines = rows.map((row) =>
    COLUMNS.map((column) => (column === 'status' ? paint(row.status, fitCell(row.status, widths.status!)) : fitCell(row[column], widths[column]!))).join('  ').trimEnd(),
  );
  return `${terminal.color ? pc.bold(header.trimEnd()) : header.trimEnd()}\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}`;
}
