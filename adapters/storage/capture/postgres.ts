import type { AnyKysely, KyselyModule } from '../sql/dialect.js';
import { doubleQuote } from '../sql/dialect.js';
import { CAPTURE_LIMITS, objectName, type CaptureDefinition, type ColumnKind, type LogTable, type RecordedColumn, type TableColumn } from './model.js';
import type { CaptureDialect } from './dialect.js';

/**
 * Change capture on PostgreSQL: one PL/pgSQL function per audited table and one row trigger
 * (`activity_log_capture`, after insert, update or delete) calling it. The request's context
 * arrives in the transaction-local setting `activity_log.context` (see connections.ts); a
 * write without it is recorded as `{ type: 'database', id: <the writing role>, name: application_name }`.
 * @internal
 */

/** `text` as a string literal whatever `standard_conforming_strings` says. */
export function pgString(text: string): string {
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const TRIGGER = 'activity_log_capture';
/** ISO 8601 in UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

function kindOf(typname: string): ColumnKind {
  if (typname === 'json' || typname === 'jsonb') return 'json';
  if (typname === 'bool') return 'boolean';
  if (['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'oid'].includes(typname)) return 'number';
  if (typname === 'timestamptz' || typname === 'timestamp') return 'time';
  if (typname === 'date') return 'date';
  if (typname === 'bytea') return 'binary';
  if (['text', 'varchar', 'bpchar', 'uuid', 'name', 'citext', 'char'].includes(typname)) return 'text';
  return 'other';
}

/**
 * A column's value as JSON, read from the row as jsonb (`j`). The row is read as a whole
 * (`to_jsonb(new)`), never column by column: a column dropped or renamed by a later migration
 * is then simply absent, where a reference to it would fail every write to the table until
 * capture is installed again.
 */
function value(column: TableColumn, row: string): string {
  const text = `${row}->>${pgString(column.name)}`;
  switch (column.kind) {
    case 'time':
      return column.type === 'timestamptz' ? `to_jsonb(to_char((${text})::timestamptz at time zone 'UTC', ${ISO}))` : `to_jsonb(to_char((${text})::timestamp, ${ISO}))`;
    case 'binary':
      // bytea as jsonb is its output text: hex ('\\x0102…') or, with bytea_output = escape,
      // escaped ('\\001\\002…'); bytea's input reads both back.
      return `case when ${text} is null then null else to_jsonb('[binary: ' || octet_length((${text})::bytea) || ' bytes]') end`;
    default:
      return `${row}->${pgString(column.name)}`;
  }
}

/** `{ column: { before, after } }` for one column; `o`/`n` the old and new row as jsonb. */
function entry(column: RecordedColumn, censor: string, before: 'o' | null, after: 'n' | null): string {
  const redacted = `${pgString(censor)}::text`;
  const side = (row: string | null) => (row === null ? 'null::jsonb' : column.redacted ? redacted : value(column, row));
  return `jsonb_build_object(${pgString(column.name)}::text, jsonb_build_object('before', ${side(before)}, 'after', ${side(after)}))`;
}

/** All the columns the row still has, for an insert's after or a delete's before. */
function whole(columns: readonly RecordedColumn[], censor: string, row: 'o' | 'n'): string {
  if (columns.length === 0) return `'{}'::jsonb`;
  return columns
    .map((column) => `case when ${row} ? ${pgString(column.name)} then ${entry(column, censor, row === 'o' ? 'o' : null, row === 'n' ? 'n' : null)} else '{}'::jsonb end`)
    .join('\n      || ');
}

/**
 * A column of the row (`r`, jsonb) as the text of the records' `target.id` or `target.name`.
 * bytea as `\x` and hex whatever the writing session's `bytea_output` (escaped output would
 * give the same row another id, and split its history).
 */
function asText(definition: CaptureDefinition, name: string): string {
  const text = `r->>${pgString(name)}`;
  const binary = definition.columns.some((column) => column.name === name && column.kind === 'binary');
  return binary ? `${pgString('\\x')} || encode((${text})::bytea, 'hex')` : text;
}

function functionName(definition: CaptureDefinition): string {
  const name = objectName(`activity_log_capture_${definition.table}`);
  return definition.schema ? doubleQuote(definition.schema, name) : doubleQuote(name);
}

function tableName(definition: { table: string; schema: string | undefined }): string {
  return definition.schema ? doubleQuote(definition.schema, definition.table) : doubleQuote(definition.table);
}

export const postgresCapture: CaptureDialect = {
  async columns(k: KyselyModule, db: AnyKysely, table: string, schema: string | undefined): Promise<TableColumn[]> {
    const { rows } = await k.sql<{ name: string; typname: string }>`
      select a.attname as name, t.typname as typname
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_type t on t.oid = a.atttypid
      where c.relname = ${table} and n.nspname = coalesce(${schema ?? null}::text, current_schema())
        and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by a.attnum`.execute(db);
    return rows.map((row) => ({ name: row.name, type: row.typname, kind: kindOf(row.typname) }));
  },

  async present(k: KyselyModule, db: AnyKysely, table: string, schema: string | undefined): Promise<boolean> {
    const { rows } = await k.sql<{ found: number }>`
      select count(*)::int as found
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      where t.tgname = ${TRIGGER} and c.relname = ${table} and n.nspname = coalesce(${schema ?? null}::text, current_schema())`.execute(db);
    return Number(rows[0]?.found) === 1;
  },

  install(definition: CaptureDefinition, log: LogTable): string[] {
    const { columns, censor, actions } = definition;
    const q = doubleQuote;
    const updates = columns
      .map((column) => `    if o->${pgString(column.name)} is distinct from n->${pgString(column.name)} then c := c || ${entry(column, censor, 'o', 'n')}; end if;`)
      .join('\n');
    const logTable = log.schema ? q(log.schema, log.name) : q(log.name);
    const name = definition.nameColumn ? `left(${asText(definition, definition.nameColumn)}, ${CAPTURE_LIMITS.name})` : 'null';
    const body = `
declare
  c jsonb := '{}'::jsonb;
  o jsonb;
  n jsonb;
  r jsonb;
  raw text := current_setting('activity_log.context', true);
  ctx jsonb;
  ts timestamptz := clock_timestamp();
  us bigint;
  u text;
begin
  if tg_op <> 'INSERT' then o := to_jsonb(old); end if;
  if tg_op <> 'DELETE' then n := to_jsonb(new); end if;
  if tg_op = 'UPDATE' then
${updates}
    if c = '{}'::jsonb then return null; end if;
    r := n;
  elsif tg_op = 'INSERT' then
    c := ${whole(columns, censor, 'n')};
    r := n;
  else
    c := ${whole(columns, censor, 'o')};
    r := o;
  end if;
  if raw is not null and raw <> '' then ctx := raw::jsonb; end if;
  -- A UUIDv7: the millisecond, its fraction in the 12 bits after the version, then 62 random bits.
  us := floor(extract(epoch from ts) * 1000000)::bigint;
  u := lpad(to_hex(us / 1000), 12, '0') || '7' || lpad(to_hex(((us % 1000) * 4096 / 1000)::int), 3, '0') || substr(replace(gen_random_uuid()::text, '-', ''), 17, 16);
  insert into ${logTable} (id, occurred_at, action, status, actor_type, actor_id, actor_name, target_type, target_id, target_name, tenant_id, metadata, changes, context)
  values (
    substr(u, 1, 8) || '-' || substr(u, 9, 4) || '-' || substr(u, 13, 4) || '-' || substr(u, 17, 4) || '-' || substr(u, 21, 12),
    date_trunc('milliseconds', ts),
    case tg_op when 'INSERT' then ${pgString(actions.created)} when 'UPDATE' then ${pgString(actions.updated)} else ${pgString(actions.deleted)} end,
    'success',
    case when ctx is null then 'database' else left(ctx->'actor'->>'type', ${CAPTURE_LIMITS.type}) end,
    -- The writing role (this function runs as its owner): SET ROLE's, else the session's.
    case when ctx is null then left(case when current_setting('role') = 'none' then session_user::text else current_setting('role') end, ${CAPTURE_LIMITS.id}) else left(ctx->'actor'->>'id', ${CAPTURE_LIMITS.id}) end,
    case when ctx is null then left(nullif(current_setting('application_name', true), ''), ${CAPTURE_LIMITS.name}) else left(ctx->'actor'->>'name', ${CAPTURE_LIMITS.name}) end,
    ${pgString(definition.target)},
    left(${asText(definition, definition.idColumn)}, ${CAPTURE_LIMITS.id}),
    ${name},
    left(ctx->>'tenantId', ${CAPTURE_LIMITS.id}),
    jsonb_build_object('table', ${pgString(definition.table)}::text, 'operation', lower(tg_op)),
    c,
    ctx->'context');
  return null;
end`;
    const fn = functionName(definition);
    // A dollar-quote tag the body does not hold (a column name or an option might).
    let tag = 'activity_log';
    while (body.includes(`$${tag}$`)) tag += '_';
    // SECURITY DEFINER: a role that may write the audited table but not the log (another
    // service) still has its writes recorded, and cannot write the log any other way (a
    // trigger function cannot be called directly). A fixed search_path, as such functions need.
    return [
      `create or replace function ${fn}() returns trigger language plpgsql security definer set search_path = pg_catalog, pg_temp as $${tag}$${body}\n$${tag}$`,
      `drop trigger if exists ${TRIGGER} on ${tableName(definition)}`,
      `create trigger ${TRIGGER} after insert or update or delete on ${tableName(definition)} for each row execute function ${fn}()`,
    ];
  },

  remove(table: string, schema: string | undefined): string[] {
    const fn = objectName(`activity_log_capture_${table}`);
    return [`drop trigger if exists ${TRIGGER} on ${tableName({ table, schema })}`, `drop function if exists ${schema ? doubleQuote(schema, fn) : doubleQuote(fn)}()`];
  },
};
