import { createHash } from 'node:crypto';
import { describeValue as describe } from '../../../src/describe.js';
import { ActivityLogError } from '../../../src/errors.js';
import { optionNames, refuseUnknownOptions } from '../../../src/option-keys.js';
import { ACTION_PATTERN, LIMITS } from '../../../src/schema.js';

/**
 * What change capture installs, worked out once from the user's options and the audited
 * table's columns: the same description feeds the trigger text of every database. @internal
 */

/** How one audited table is recorded; the key of `captureChanges`'s tables object is its name. */
export interface CapturedTableOptions {
  /** The records' `target.type`, such as `recipe`. */
  target: string;
  /**
   * The column holding the row's id: the records' `target.id`.
   * @default 'id'
   */
  id?: string;
  /** The column holding a name for the row (`target.name`), such as `title` or `email`. */
  name?: string;
  /** Columns left out of the changes; an update of nothing else records nothing. */
  ignore?: string[];
  /**
   * Columns recorded as changed with both values `"[REDACTED]"`: their values never reach the
   * log. Columns matching the logger's sensitive keys (`password_hash`, `api_token`) are
   * redacted without being named here.
   */
  redact?: string[];
  /**
   * The records' actions.
   * @default `<target>.created`, `<target>.updated`, `<target>.deleted`
   */
  actions?: { created?: string; updated?: string; deleted?: string };
}

/** The options of {@link CapturedTableOptions} and of its `actions`, for the check that refuses others. */
const TABLE_OPTIONS = optionNames<CapturedTableOptions>()(['target', 'id', 'name', 'ignore', 'redact', 'actions']);
const ACTION_OPTIONS = optionNames<NonNullable<CapturedTableOptions['actions']>>()(['created', 'updated', 'deleted']);

/** The tables `captureChanges` audits, by name. */
export type CapturedTables = Record<string, CapturedTableOptions>;

/** The JSON a column's values are recorded as. */
export type ColumnKind = 'json' | 'boolean' | 'number' | 'time' | 'date' | 'binary' | 'text' | 'other';

/** One column of an audited table, as the database's catalogue describes it. */
export interface TableColumn {
  name: string;
  kind: ColumnKind;
  /** The database's own type name (PostgreSQL: `timestamptz` or `timestamp`, for the conversion). */
  type: string;
  /**
   * MySQL: the column's character set, when it is not utf8mb4 (its values are converted, so
   * that a ucs2 or utf16 text never makes the recorded changes invalid JSON).
   */
  charset?: string;
}

/** A column as recorded: its value, `"[REDACTED]"`, or not at all (ignored, then not listed). */
export interface RecordedColumn extends TableColumn {
  redacted: boolean;
}

/** One audited table, ready to be turned into triggers. */
export interface CaptureDefinition {
  table: string;
  /** The schema (PostgreSQL) or database (MySQL) of the audited table, when not the connection's own. */
  schema: string | undefined;
  target: string;
  idColumn: string;
  nameColumn: string | undefined;
  actions: { created: string; updated: string; deleted: string };
  /** The recorded columns, in the table's order; ignored ones left out. */
  columns: RecordedColumn[];
  /** What a redacted value is recorded as: the logger's censor, `"[REDACTED]"` by default. */
  censor: string;
}

/** Where the log table is: the triggers insert into it. */
export interface LogTable {
  name: string;
  schema: string | undefined;
}

/**
 * The version of the triggers this release installs. A database whose triggers were installed
 * by another version (or for other columns, or other options) has them replaced.
 */
export const CAPTURE_VERSION = 1;

/** Column limits of the log table the triggers truncate to, so a long name never fails a write. */
export const CAPTURE_LIMITS = { type: LIMITS.type, id: LIMITS.id, name: LIMITS.name } as const;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The public function an option error is reported under. */
export type CaptureCaller = 'captureChanges' | 'removeChangeCapture';

/** Throws INVALID_OPTIONS naming the function, the option and the rule. */
function invalid(path: string, rule: string, got: unknown, caller: CaptureCaller = 'captureChanges'): never {
  throw new ActivityLogError('INVALID_OPTIONS', `${caller}: ${path}: ${rule}, got ${describe(got)}`);
}

/** Validates an identifier (a table, schema or column name). */
export function checkIdentifier(path: string, value: unknown, caller?: CaptureCaller): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) invalid(path, 'must be letters, digits and "_" (at most 63, not starting with a digit)', value, caller);
  return value;
}

/** The user's options for one table, validated; columns are checked against the table later. */
export interface CheckedTableOptions {
  table: string;
  target: string;
  idColumn: string;
  nameColumn: string | undefined;
  ignore: string[];
  redact: string[];
  actions: { created: string; updated: string; deleted: string };
}


/**
 * Whether `table` is the log table or one that keeps its state (`<log>_capture`, `_schema`,
 * `_leases`, `_checkpoints`, a PostgreSQL partition `_pYYYYMM` or `_default`): triggers on it would write the
 * log from the log's own writes, which recurses until the database gives up, and every
 * `log()` would then fail.
 */
export function isLogsOwnTable(table: string, log: LogTable): boolean {
  if (table === log.name) return true;
  if (!table.startsWith(`${log.name}_`)) return false;
  const suffix = table.slice(log.name.length + 1);
  return ['capture', 'schema', 'leases', 'checkpoints', 'default'].includes(suffix) || /^p\d{6}$/.test(suffix);
}

/** Validates the tables object of `captureChanges` (or the list of `removeChangeCapture`). */
export function checkTables(tables: unknown): CheckedTableOptions[] {
  if (tables === null || typeof tables !== 'object' || Array.isArray(tables)) invalid('tables', 'must be an object of { <table>: { target, id?, name?, ignore?, redact?, actions? } }', tables);
  const entries = Object.entries(tables as Record<string, unknown>);
  if (entries.length === 0) invalid('tables', 'must name at least one table', tables);
  return entries.map(([table, options]) => checkTable(table, options));
}

function checkTable(table: string, options: unknown): CheckedTableOptions {
  checkIdentifier(`tables.${table}`, table);
  const at = `tables.${table}`;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) invalid(at, 'must be an object { target, id?, name?, ignore?, redact?, actions? }', options);
  const o = options as Record<string, unknown>;
  refuseUnknownOptions(`captureChanges: ${at}`, o, TABLE_OPTIONS);
  if (typeof o.target !== 'string' || o.target.length === 0 || o.target.length > LIMITS.type) invalid(`${at}.target`, `must be a non-empty string of at most ${LIMITS.type} characters`, o.target);
  const target = o.target as string;
  const idColumn = o.id === undefined ? 'id' : checkIdentifier(`${at}.id`, o.id);
  const nameColumn = o.name === undefined ? undefined : checkIdentifier(`${at}.name`, o.name);
  const list = (key: 'ignore' | 'redact'): string[] => {
    const value = o[key];
    if (value === undefined) return [];
    if (!Array.isArray(value)) invalid(`${at}.${key}`, 'must be an array of column names', value);
    return (value as unknown[]).map((column, i) => checkIdentifier(`${at}.${key}[${i}]`, column));
  };
  const ignore = list('ignore');
  const redact = list('redact');
  if (ignore.includes(idColumn)) invalid(`${at}.ignore`, `cannot hold the id column "${idColumn}"`, idColumn);
  const base = target.toLowerCase().replace(/[^a-z0-9_.-]/g, '_').replace(/^[^a-z0-9]+/, '') || 'row';
  const actions = { created: `${base}.created`, updated: `${base}.updated`, deleted: `${base}.deleted` };
  if (o.actions !== undefined) {
    if (o.actions === null || typeof o.actions !== 'object' || Array.isArray(o.actions)) invalid(`${at}.actions`, 'must be an object { created?, updated?, deleted? }', o.actions);
    refuseUnknownOptions(`captureChanges: ${at}.actions`, o.actions, ACTION_OPTIONS);
    for (const [key, action] of Object.entries(o.actions as Record<string, unknown>)) {
      if (typeof action !== 'string' || action.length > LIMITS.action || !ACTION_PATTERN.test(action)) {
        invalid(`${at}.actions.${key}`, `must be a dotted lower-case action such as "${base}.${key}" (at most ${LIMITS.action} characters)`, action);
      }
      actions[key as keyof typeof actions] = action as string;
    }
  }
  for (const [key, action] of Object.entries(actions)) {
    if (action.length > LIMITS.action || !ACTION_PATTERN.test(action)) invalid(`${at}.actions.${key}`, 'must be given: the default made from target is not a valid action', action);
  }
  return { table, target, idColumn, nameColumn, ignore, redact, actions };
}

/**
 * The definition of one table from its options and its columns. Refuses options that name a
 * column the table does not have, so a typo in `redact` can never leave a secret recorded.
 */
export function defineCapture(
  options: CheckedTableOptions,
  schema: string | undefined,
  columns: TableColumn[],
  redaction: { isSensitive: (column: string) => boolean; censor: string },
): CaptureDefinition {
  const at = `tables.${options.table}`;
  if (columns.length === 0) {
    throw new ActivityLogError('INVALID_OPTIONS', `captureChanges: ${at}: no table "${options.table}" in ${schema ? `schema "${schema}"` : 'the database'} (a view cannot be captured: name its tables)`);
  }
  const names = new Set(columns.map((column) => column.name));
  const must = (path: string, column: string) => {
    if (!names.has(column)) throw new ActivityLogError('INVALID_OPTIONS', `captureChanges: ${path}: table "${options.table}" has no column "${column}" (it has ${[...names].join(', ')})`);
  };
  must(`${at}.id`, options.idColumn);
  if (options.nameColumn) must(`${at}.name`, options.nameColumn);
  options.ignore.forEach((column, i) => must(`${at}.ignore[${i}]`, column));
  options.redact.forEach((column, i) => must(`${at}.redact[${i}]`, column));
  const ignored = new Set(options.ignore);
  const redacted = new Set(options.redact);
  const recorded = columns
    .filter((column) => !ignored.has(column.name))
    .map((column) => ({ ...column, redacted: redacted.has(column.name) || redaction.isSensitive(column.name) }));
  // The target's name is stored in its own column: a redacted name column is not written there either.
  const nameColumn = options.nameColumn && recorded.some((c) => c.name === options.nameColumn && c.redacted) ? undefined : options.nameColumn;
  return { table: options.table, schema, target: options.target, idColumn: options.idColumn, nameColumn, actions: options.actions, columns: recorded, censor: redaction.censor };
}

/** A fingerprint of what is installed: another release, other columns or other options change it. */
export function fingerprint(definition: CaptureDefinition, log: LogTable, sql: string): string {
  return createHash('sha256').update(JSON.stringify({ v: CAPTURE_VERSION, definition, log, sql })).digest('hex').slice(0, 32);
}

/** A database object name of at most 63 characters made from `base`, unique for long ones. */
export function objectName(base: string): string {
  if (base.length <= 63) return base;
  const hash = createHash('sha256').update(base).digest('hex').slice(0, 8);
  return `${base.slice(0, 54)}_${hash}`;
}
