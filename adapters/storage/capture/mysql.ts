import type { AnyKysely, KyselyModule } from '../sql/dialect.js';
import { CAPTURE_LIMITS, objectName, type CaptureDefinition, type ColumnKind, type LogTable, type RecordedColumn, type TableColumn } from './model.js';
import type { CaptureDialect } from './dialect.js';

/**
 * Change capture on MySQL and MariaDB: three row triggers per audited table (after insert,
 * update, delete). The request's context arrives in session variables (`@activity_log_scope`,
 * `@activity_log_actor_type`, `_actor_id`, `_actor_name`, `_tenant`, `@activity_log_context`),
 * set by the app's connection for its writes and cleared before the connection goes back to
 * the pool (see connections.ts): plain values, so no row parses JSON to read them; a write without it is recorded as
 * `{ type: 'database', id: <user> }`. Times are written as UTC, as the log table's are.
 * @internal
 */

const quote = (...parts: string[]) => parts.map((part) => `\`${part.replace(/`/g, '``')}\``).join('.');

/**
 * `text` as a string literal whatever the SQL mode: plain when it is plain, hex otherwise
 * (NO_BACKSLASH_ESCAPES changes what a backslash means inside quotes).
 */
export function mysqlString(text: string): string {
  if (/^[A-Za-z0-9 _.:\-[\]]*$/.test(text)) return `'${text}'`;
  return `convert(X'${Buffer.from(text, 'utf8').toString('hex')}' using utf8mb4)`;
}

/** The spatial types: their values are binary (an SRID and WKB), recorded as WKT text. */
const SPATIAL = ['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection'];

function kindOf(dataType: string, columnType: string): ColumnKind {
  const type = dataType.toLowerCase();
  if (type === 'json') return 'json';
  if (type === 'tinyint' && /^tinyint\(1\)/i.test(columnType)) return 'boolean';
  if (['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'float', 'double', 'year', 'bit'].includes(type)) return 'number';
  if (type === 'datetime' || type === 'timestamp') return 'time';
  if (type === 'date') return 'date';
  if (type.includes('blob') || type === 'binary' || type === 'varbinary') return 'binary';
  if (['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set'].includes(type)) return 'text';
  return 'other';
}

/**
 * A column's value as a JSON value json_object() embeds. Whatever is not a number, boolean,
 * time or JSON reaches it as utf8mb4 text: json_object() copies a string's bytes as they are,
 * so a BIT or spatial value, or text in ucs2 or utf16, would make the changes invalid JSON (or
 * bytes utf8mb4 refuses) and fail the app's write.
 */
function value(column: TableColumn, ref: string): string {
  switch (column.kind) {
    case 'number':
      // A BIT(n) value is a binary string; `+ 0` reads it as the number it holds.
      return column.type === 'bit' ? `(${ref} + 0)` : ref;
    case 'text':
      return column.charset ? `convert(${ref} using utf8mb4)` : ref;
    case 'other':
      return SPATIAL.includes(column.type) ? `st_astext(${ref})` : `convert(${ref} using utf8mb4)`;
    case 'json':
      // MariaDB's JSON is text: json_extract makes json_object() embed it as JSON, not as a string.
      return `json_extract(${ref}, '$')`;
    case 'boolean':
      return `json_extract(case when ${ref} is null then 'null' when ${ref} <> 0 then 'true' else 'false' end, '$')`;
    case 'time': {
      // A TIMESTAMP is read in the session's zone; its epoch value is not. A DATETIME is taken as UTC.
      const utc = column.type === 'timestamp' ? `timestampadd(microsecond, floor(unix_timestamp(${ref}) * 1000000), '1970-01-01 00:00:00')` : ref;
      return `case when ${ref} is null then null else concat(date_format(${utc}, '%Y-%m-%dT%H:%i:%s.'), lpad(microsecond(${utc}) div 1000, 3, '0'), 'Z') end`;
    }
    case 'date':
      return `date_format(${ref}, '%Y-%m-%d')`;
    case 'binary':
      return `case when ${ref} is null then null else concat('[binary: ', length(${ref}), ' bytes]') end`;
  }
}

/**
 * A column's value as the text of the records' `target.id` or `target.name`. Binary as `\x`
 * and hex, as PostgreSQL writes bytea: the bytes of a BINARY(16) id are no UTF-8, and cast as
 * text they failed every write of the table. BIT and spatial values as value() reads them.
 */
function asText(column: TableColumn | undefined, ref: string): string {
  if (column?.kind === 'binary') return `concat(${mysqlString('\\x')}, lower(hex(${ref})))`;
  if (column && (column.type === 'bit' || SPATIAL.includes(column.type))) return `cast(${value(column, ref)} as char)`;
  return `cast(${ref} as char)`;
}

/** Whether a column differs; text compared as bytes (a case-insensitive collation would hide `Soup` → `soup`). */
function differs(column: TableColumn): string {
  const name = quote(column.name);
  if (column.kind === 'text' || column.kind === 'json' || column.kind === 'other' || column.kind === 'binary') {
    return `not (cast(old.${name} as binary) <=> cast(new.${name} as binary))`;
  }
  return `not (old.${name} <=> new.${name})`;
}

function entry(column: RecordedColumn, censor: string, before: string | null, after: string | null): string {
  const side = (ref: string | null) => (ref === null ? 'null' : column.redacted ? mysqlString(censor) : value(column, ref));
  return `json_object('before', ${side(before)}, 'after', ${side(after)})`;
}

function triggerName(definition: { table: string }, op: 'ai' | 'au' | 'ad'): string {
  return objectName(`activity_log_${definition.table}_${op}`);
}

function qualified(schema: string | undefined, name: string): string {
  return schema ? quote(schema, name) : quote(name);
}

export const mysqlCapture: CaptureDialect = {
  async columns(k: KyselyModule, db: AnyKysely, table: string, schema: string | undefined): Promise<TableColumn[]> {
    const { rows } = await k.sql<{ name: string; data_type: string; column_type: string; charset: string | null }>`
      select c.column_name as name, c.data_type as data_type, c.column_type as column_type, c.character_set_name as charset
      from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      -- A view has columns too, but no triggers: it is no table to capture (refused by name).
      where c.table_schema = coalesce(${schema ?? null}, database()) and c.table_name = ${table} and t.table_type <> 'VIEW'
      order by c.ordinal_position`.execute(db);
    return rows.map((row) => {
      const column: TableColumn = { name: String(row.name), type: String(row.data_type).toLowerCase(), kind: kindOf(String(row.data_type), String(row.column_type)) };
      if (row.charset != null && String(row.charset) !== 'utf8mb4') column.charset = String(row.charset);
      return column;
    });
  },

  async present(k: KyselyModule, db: AnyKysely, table: string, schema: string | undefined): Promise<boolean> {
    const names = (['ai', 'au', 'ad'] as const).map((op) => triggerName({ table }, op));
    const { rows } = await k.sql<{ found: number }>`
      select count(*) as found from information_schema.triggers
      where trigger_schema = coalesce(${schema ?? null}, database()) and event_object_table = ${table}
        and trigger_name in (${names[0]}, ${names[1]}, ${names[2]})`.execute(db);
    return Number(rows[0]?.found) === names.length;
  },

  install(definition: CaptureDefinition, log: LogTable): string[] {
    const { columns, censor, actions } = definition;
    const logTable = qualified(log.schema, log.name);
    const table = qualified(definition.schema, definition.table);
    const insert = (op: 'insert' | 'update' | 'delete', row: 'new' | 'old', action: string) => {
      const column = (name: string) => columns.find((candidate) => candidate.name === name);
      const name = definition.nameColumn ? `left(${asText(column(definition.nameColumn), `${row}.${quote(definition.nameColumn)}`)}, ${CAPTURE_LIMITS.name})` : 'null';
      return `
    set us = timestampdiff(microsecond, '1970-01-01 00:00:00', utc_timestamp(6));
    -- A UUIDv7: the millisecond, its fraction in the 12 bits after the version, then random bits.
    set u = concat(lpad(hex(us div 1000), 12, '0'), '7', lpad(hex(((us mod 1000) * 4096) div 1000), 3, '0'),
      hex(8 + floor(rand() * 4)), lpad(hex(floor(rand() * 4096)), 3, '0'), lpad(hex(floor(rand() * 281474976710656)), 12, '0'));
    insert into ${logTable} (id, occurred_at, action, status, actor_type, actor_id, actor_name, target_type, target_id, target_name, tenant_id, metadata, changes, context)
    values (
      lower(concat(substr(u, 1, 8), '-', substr(u, 9, 4), '-', substr(u, 13, 4), '-', substr(u, 17, 4), '-', substr(u, 21, 12))),
      timestampadd(microsecond, (us div 1000) * 1000, '1970-01-01 00:00:00'),
      ${mysqlString(action)},
      'success',
      if(@activity_log_scope is null, 'database', @activity_log_actor_type),
      if(@activity_log_scope is null, left(substring_index(user(), '@', 1), ${CAPTURE_LIMITS.id}), @activity_log_actor_id),
      if(@activity_log_scope is null, null, @activity_log_actor_name),
      ${mysqlString(definition.target)},
      left(${asText(column(definition.idColumn), `${row}.${quote(definition.idColumn)}`)}, ${CAPTURE_LIMITS.id}),
      ${name},
      @activity_log_tenant,
      json_object('table', ${mysqlString(definition.table)}, 'operation', '${op}'),
      c,
      @activity_log_context);`;
    };
    const declare = `
  declare c longtext character set utf8mb4;
  declare us bigint;
  declare u char(32);`;
    // One expression each, not a json_set per column (each would parse the object again).
    const whole = (row: 'new' | 'old') =>
      columns.length === 0
        ? `  set c = '{}';`
        : `  set c = json_object(${columns.map((column) => `${mysqlString(column.name)}, ${entry(column, censor, row === 'old' ? `old.${quote(column.name)}` : null, row === 'new' ? `new.${quote(column.name)}` : null)}`).join(',\n    ')});`;
    // The changed columns only: concat_ws leaves out the NULL of an unchanged one.
    const updates =
      columns.length === 0
        ? `  set c = '{}';`
        : `  set c = concat('{', concat_ws(',',\n    ${columns.map((column) => `if(${differs(column)}, concat(${mysqlString(`${JSON.stringify(column.name)}:`)}, ${entry(column, censor, `old.${quote(column.name)}`, `new.${quote(column.name)}`)}), null)`).join(',\n    ')}), '}');`;
    const names = { ai: triggerName(definition, 'ai'), au: triggerName(definition, 'au'), ad: triggerName(definition, 'ad') };
    return [
      ...mysqlCapture.remove(definition.table, definition.schema),
      `create trigger ${qualified(definition.schema, names.ai)} after insert on ${table} for each row begin${declare}\n${whole('new')}\n${insert('insert', 'new', actions.created)}\nend`,
      `create trigger ${qualified(definition.schema, names.au)} after update on ${table} for each row begin${declare}\n${updates}\n  if c <> '{}' then${insert('update', 'new', actions.updated)}\n  end if;\nend`,
      `create trigger ${qualified(definition.schema, names.ad)} after delete on ${table} for each row begin${declare}\n${whole('old')}\n${insert('delete', 'old', actions.deleted)}\nend`,
    ];
  },

  replacing(table: string, schema: string | undefined) {
    return { lock: `lock tables ${qualified(schema, table)} write`, unlock: 'unlock tables' };
  },

  remove(table: string, schema: string | undefined): string[] {
    return (['ai', 'au', 'ad'] as const).map((op) => `drop trigger if exists ${qualified(schema, triggerName({ table }, op))}`);
  },
};
