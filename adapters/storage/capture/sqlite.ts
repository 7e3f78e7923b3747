import type { AnyKysely, KyselyModule } from '../sql/dialect.js';
import { doubleQuote } from '../sql/dialect.js';
import { CAPTURE_LIMITS, objectName, type CaptureDefinition, type ColumnKind, type LogTable, type RecordedColumn, type TableColumn } from './model.js';
import type { CaptureDialect } from './dialect.js';

/**
 * Change capture on SQLite, in two layers, because SQLite has no session variables and a
 * trigger stored in the file cannot read anything of one connection's:
 *
 * - **Stored triggers** (in the file, three per table) record every write made by any
 *   connection, the sqlite3 shell included, as `{ type: 'database', id: 'sqlite' }`.
 * - **Temporary triggers** on the app's own connection (`connectionSetup`) record the same
 *   changes with the request's context, read from `activity_log_scope.context`, a one-row table
 *   in memory that the connection writes before each of its writes (see connections.ts).
 *   Temporary triggers may read an attached database; stored ones may not.
 *
 * Neither calls a function the sqlite3 shell lacks, so no write anywhere fails for want of one.
 * @internal
 */

/** The attached in-memory database that marks the app's own connection and holds its context. */
export const SCOPE_DATABASE = 'activity_log_scope';

const ACTIONS = { insert: 'ai', update: 'au', delete: 'ad' } as const;

function sqliteString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function kindOf(declared: string): ColumnKind {
  const type = declared.toLowerCase();
  if (type.includes('json')) return 'json';
  if (type.includes('bool')) return 'boolean';
  return 'other';
}

/**
 * A column's value as JSON: SQLite types values, not columns, so a blob may sit in any column
 * (json_object refuses blobs: it becomes the marker), JSON text declared `json` is embedded as
 * JSON, and 0/1 declared `boolean` become false/true.
 */
function value(column: TableColumn, ref: string): string {
  const plain = `case when typeof(${ref}) = 'blob' then '[binary: ' || length(${ref}) || ' bytes]' else ${ref} end`;
  if (column.kind === 'json') return `case when typeof(${ref}) = 'text' and json_valid(${ref}) then json(${ref}) else ${plain} end`;
  if (column.kind === 'boolean') return `case when typeof(${ref}) in ('integer', 'real') then json(case when ${ref} then 'true' else 'false' end) else ${plain} end`;
  return plain;
}

/**
 * Whether an update left a column as it was, byte for byte: `collate binary`, or a column
 * declared `COLLATE NOCASE` (or `RTRIM`) would compare `soup` and `Soup` equal, and the change
 * would not be recorded.
 */
function unchanged(column: string): string {
  return `old.${doubleQuote(column)} is new.${doubleQuote(column)} collate binary`;
}

/**
 * A value as the text of the records' `target.id` or `target.name`: a blob as `\x` and hex,
 * as PostgreSQL writes bytea (cast as text, its bytes came out as no readable id).
 */
function asText(ref: string): string {
  return `case when typeof(${ref}) = 'blob' then '\\x' || lower(hex(${ref})) else cast(${ref} as text) end`;
}

function entry(column: RecordedColumn, censor: string, before: string | null, after: string | null): string {
  const side = (ref: string | null) => (ref === null ? 'null' : column.redacted ? sqliteString(censor) : value(column, ref));
  return `json_object('before', ${side(before)}, 'after', ${side(after)})`;
}

/** `{ column: { before, after }, … }` of the listed columns (an update: only those that differ). */
function changes(columns: readonly RecordedColumn[], censor: string, op: 'insert' | 'update' | 'delete'): string {
  if (columns.length === 0) return `'{}'`;
  if (columns.length <= OBJECT_LIMIT && columns.every((column) => PLAIN_NAME.test(column.name))) return changesAsObject(columns, censor, op);
  // A compound select, not json_object(…): that one is limited to 127 arguments, and could not
  // leave out the columns an update did not change.
  const rows = columns.map((column) => {
    const name = doubleQuote(column.name);
    const before = op === 'insert' ? null : `old.${name}`;
    const after = op === 'delete' ? null : `new.${name}`;
    const where = op === 'update' ? ` where not (${unchanged(column.name)})` : '';
    return `select ${sqliteString(column.name)} as k, ${entry(column, censor, before, after)} as v${where}`;
  });
  const group = (part: string[]) => `(select coalesce(json_group_object(k, json(v)), '{}') from (${part.join(' union all ')}))`;
  // A compound select has at most 500 terms: a wider table is recorded in parts, joined after.
  if (rows.length <= COMPOUND_LIMIT) return group(rows);
  const parts: string[] = [];
  for (let i = 0; i < rows.length; i += COMPOUND_LIMIT) parts.push(`select key, value from json_each(${group(rows.slice(i, i + COMPOUND_LIMIT))})`);
  return `(select coalesce(json_group_object(key, json(value)), '{}') from (${parts.join(' union all ')}))`;
}

/** Columns one json_object() call takes (two arguments each; SQLite's default limit is 127). */
const OBJECT_LIMIT = 60;
/** A column name that can be written in a JSON path as it is. */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The changes as one expression: every column's entry in one json_object(), and for an update,
 * json_remove() of those that did not change. A trigger is compiled into every statement that
 * writes its table (Kysely prepares each statement anew), and this compiles in a fraction of
 * the time of a compound select with a subquery per column.
 */
function changesAsObject(columns: readonly RecordedColumn[], censor: string, op: 'insert' | 'update' | 'delete'): string {
  const entries = columns.map((column) => {
    const name = doubleQuote(column.name);
    return `${sqliteString(column.name)}, ${entry(column, censor, op === 'insert' ? null : `old.${name}`, op === 'delete' ? null : `new.${name}`)}`;
  });
  const object = `json_object(${entries.join(', ')})`;
  if (op !== 'update') return object;
  // A path to no key leaves the object as it is.
  const paths = columns.map((column) => `case when ${unchanged(column.name)} then '$.${column.name}' else '$.""' end`);
  return `json_remove(${object}, ${paths.join(', ')})`;
}

/** Terms per compound select (SQLite allows 500). */
const COMPOUND_LIMIT = 400;

/**
 * The empty table in the scope database that says this connection records `table` itself:
 * the stored triggers of `table` stand aside only where it exists, so a table captured by
 * another process since this one set up its connection is still recorded here (as the database's).
 */
function markerName(table: string): string {
  return `covers_${table}`;
}

/**
 * The 12 bits after a UUIDv7's version digit (characters 16–18), as a number. SQLite's clock
 * has milliseconds only, so two writes of one millisecond are ordered by these: a trigger
 * takes the newest id of its millisecond and counts on from it, as the logger's ids do.
 */
function RAND_A(id: string): string {
  const digit = (at: number) => `(instr('0123456789abcdef', substr(${id}, ${at}, 1)) - 1)`;
  return `(${digit(16)} * 256 + ${digit(17)} * 16 + ${digit(18)})`;
}

function triggerName(table: string, op: 'insert' | 'update' | 'delete', temporary: boolean): string {
  return objectName(`activity_log_${table}_${ACTIONS[op]}${temporary ? '_app' : ''}`);
}

/** One trigger; `temporary` reads the app's context, the stored one records the database as the actor. */
function trigger(definition: CaptureDefinition, log: LogTable, op: 'insert' | 'update' | 'delete', temporary: boolean): string {
  const { columns, censor, actions } = definition;
  const q = doubleQuote;
  const row = op === 'delete' ? 'old' : 'new';
  const action = op === 'insert' ? actions.created : op === 'update' ? actions.updated : actions.deleted;
  const conditions: string[] = [];
  if (!temporary) conditions.push(`not exists (select 1 from pragma_table_list(${sqliteString(markerName(definition.table))}) where schema = '${SCOPE_DATABASE}')`);
  if (op === 'update') conditions.push(columns.length > 0 ? `not (${columns.map((c) => unchanged(c.name)).join(' and ')})` : '0');
  const when = conditions.length > 0 ? ` when ${conditions.join(' and ')}` : '';
  const context = temporary ? `(select ctx from ${SCOPE_DATABASE}.context where id = 1)` : 'null';
  const name = definition.nameColumn ? `substr(${asText(`${row}.${q(definition.nameColumn)}`)}, 1, ${CAPTURE_LIMITS.name})` : 'null';
  // Everything of one statement happens in one "now": the ids of one bulk update share their
  // millisecond and count on from the newest id (see RAND_A).
  const body = `insert into ${q(log.name)} (id, occurred_at, action, status, actor_type, actor_id, actor_name, target_type, target_id, target_name, tenant_id, metadata, changes, context)
  select substr(u, 1, 8) || '-' || substr(u, 9, 4) || '-' || substr(u, 13, 4) || '-' || substr(u, 17, 4) || '-' || substr(u, 21, 12),
    ms, ${sqliteString(action)}, 'success',
    case when ctx is null then 'database' else substr(json_extract(ctx, '$.actor.type'), 1, ${CAPTURE_LIMITS.type}) end,
    case when ctx is null then 'sqlite' else substr(json_extract(ctx, '$.actor.id'), 1, ${CAPTURE_LIMITS.id}) end,
    case when ctx is null then null else substr(json_extract(ctx, '$.actor.name'), 1, ${CAPTURE_LIMITS.name}) end,
    ${sqliteString(definition.target)},
    substr(${asText(`${row}.${q(definition.idColumn)}`)}, 1, ${CAPTURE_LIMITS.id}),
    ${name},
    substr(json_extract(ctx, '$.tenantId'), 1, ${CAPTURE_LIMITS.id}),
    json_object('table', ${sqliteString(definition.table)}, 'operation', '${op}'),
    ${changes(columns, censor, op)},
    json_extract(ctx, '$.context')
  from (select ms, lower(case
        when substr(last, 1, 8) || substr(last, 10, 4) = printf('%012x', ms) and ${RAND_A('last')} < 4095
        then substr(last, 1, 8) || substr(last, 10, 4) || '7' || printf('%03x', ${RAND_A('last')} + 1)
        else printf('%012x', ms) || '7' || printf('%03x', abs(random()) % 2048)
      end || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(8)), 1, 15)) as u, ctx
    from (select cast(round((julianday('now') - 2440587.5) * 86400000) as integer) as ms, ${context} as ctx, (select max(id) from ${q(log.name)}) as last limit 1 offset 0) limit 1 offset 0)`;
  const create = temporary ? 'create temp trigger' : 'create trigger';
  const on = temporary ? `main.${q(definition.table)}` : q(definition.table);
  return `${create} ${q(triggerName(definition.table, op, temporary))} after ${op} on ${on}${when} begin ${body}; end`;
}

export const sqliteCapture: CaptureDialect = {
  async columns(k: KyselyModule, db: AnyKysely, table: string): Promise<TableColumn[]> {
    // A view has columns too, but no AFTER triggers: it is no table to capture (refused by name).
    const { rows } = await k.sql<{ name: string; type: string }>`
      select name, type from pragma_table_info(${table})
      where exists (select 1 from main.sqlite_master where type = 'table' and name = ${table} collate nocase)
      order by cid`.execute(db);
    return rows.map((row) => ({ name: String(row.name), type: String(row.type ?? ''), kind: kindOf(String(row.type ?? '')) }));
  },

  async present(k: KyselyModule, db: AnyKysely, table: string): Promise<boolean> {
    const names = (['insert', 'update', 'delete'] as const).map((op) => triggerName(table, op, false));
    const { rows } = await k.sql<{ found: number }>`
      select count(*) as found from main.sqlite_master
      where type = 'trigger' and tbl_name = ${table} and name in (${names[0]}, ${names[1]}, ${names[2]})`.execute(db);
    return Number(rows[0]?.found) === names.length;
  },

  install(definition: CaptureDefinition, log: LogTable): string[] {
    const ops = ['insert', 'update', 'delete'] as const;
    return [...sqliteCapture.remove(definition.table, undefined), ...ops.map((op) => trigger(definition, log, op, false))];
  },

  remove(table: string): string[] {
    return (['insert', 'update', 'delete'] as const).map((op) => `drop trigger if exists main.${doubleQuote(triggerName(table, op, false))}`);
  },

  connectionSetup(definitions: readonly CaptureDefinition[], log: LogTable): string[] {
    const statements = [`create table if not exists ${SCOPE_DATABASE}.context (id integer primary key, ctx text)`];
    for (const definition of definitions) {
      for (const op of ['insert', 'update', 'delete'] as const) {
        statements.push(`drop trigger if exists temp.${doubleQuote(triggerName(definition.table, op, true))}`, trigger(definition, log, op, true));
      }
      statements.push(`create table if not exists ${SCOPE_DATABASE}.${doubleQuote(markerName(definition.table))} (unused integer)`);
    }
    return statements;
  },
};

/** Statements dropping the app connection's temporary triggers of `table`, and its marker (the stored ones then record it). */
export function dropTemporaryTriggers(table: string): string[] {
  return [
    `drop table if exists ${SCOPE_DATABASE}.${doubleQuote(markerName(table))}`,
    ...(['insert', 'update', 'delete'] as const).map((op) => `drop trigger if exists temp.${doubleQuote(triggerName(table, op, true))}`),
  ];
}

/**
 * Statements dropping every temporary capture trigger and marker of this connection: after a
 * migration on another connection renamed or dropped a column they name, they would fail every
 * write to the table; the stored triggers (which SQLite rewrote with the migration) take over.
 */
export function dropAllTemporaryTriggers(): string {
  return `select 'drop trigger if exists temp."' || replace(name, '"', '""') || '"' as s from temp.sqlite_master where type = 'trigger' and name like 'activity_log\\_%\\_app' escape '\\'
    union all select 'drop table if exists ${SCOPE_DATABASE}."' || replace(name, '"', '""') || '"' from ${SCOPE_DATABASE}.sqlite_master where type = 'table' and name like 'covers\\_%' escape '\\'`;
}
