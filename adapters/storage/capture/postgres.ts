import type { AnyKysely, KyselyModule } from '../sql/dialect.js';
import { doubleQuote } from '../sql/dialect.js';
import { CAPTURE_LIMITS, objectName, type CaptureDefinition, type ColumnKind, type LogTable, type RecordedColumn, type TableColumn } from './model.js';
import type { CaptureDialect } from './dialect.js';

/**
 * Change capture on PostgreSQL: one PL/pgSQL function per audited table and one row trigger
 * (`activity_log_capture`, after insert, update or delete) calling it. The request's context
 * arrives in the transaction-local setting `activity_log.context` (see connections.ts); a
 * write without it is recorded as `{ type: 'database', id: current_user, name: application_name }`.
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

/** A column's value as JSON. */
function value(column: TableColumn, ref: string): string {
  switch (column.kind) {
    case 'time':
      return column.type === 'timestamptz' ? `to_jsonb(to_char(${ref} at time zone 'UTC', ${ISO}))` : `to_jsonb(to_char(${ref}, ${ISO}))`;
    case 'binary':
      return `case when ${ref} is null then null else to_jsonb('[binary: ' || octet_length(${ref}) || ' bytes]') end`;
    default:
      return `to_jsonb(${ref})`;
  }
}

/** Whether a column differs between the old and the new row (json has no equality operator). */
function differs(column: TableColumn): string {
  const name = doubleQuote(column.name);
  if (column.kind === 'json') return `old.${name}::jsonb is distinct from new.${name}::jsonb`;
  if (column.kind === 'other') return `old.${name}::text is distinct from new.${name}::text`;
  return `old.${name} is distinct from new.${name}`;
}

/** `{ column: { before, after } }` for one column. */
function entry(column: RecordedColumn, censor: string, before: string | null, after: string | null): string {
  const redacted = `${pgString(censor)}::text`;
  const side = (ref: string | null) => (ref === null ? 'null::jsonb' : column.redacted ? redacted : value(column, ref));
  return `jsonb_build_object(${pgString(column.name)}::text, jsonb_build_object('before', ${side(before)}, 'after', ${side(after)}))`;
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

  install(definition: CaptureDefinition, log: LogTable): string[] {
    const { columns, censor, actions } = definition;
    const q = doubleQuote;
    const all = (side: 'old' | 'new') =>
      columns.map((column) => entry(column, censor, side === 'old' ? `old.${q(column.name)}` : null, side === 'new' ? `new.${q(column.name)}` : null)).join(' || ');
    const updates = columns
      .map((column) => `    if ${differs(column)} then c := c || ${entry(column, censor, `old.${q(column.name)}`, `new.${q(column.name)}`)}; end if;`)
      .join('\n');
    const logTable = log.schema ? q(log.schema, log.name) : q(log.name);
    const name = definition.nameColumn ? `left(r.${q(definition.nameColumn)}::text, ${CAPTURE_LIMITS.name})` : 'null';
    const body = `
declare
  c jsonb := '{}'::jsonb;
  r record;
  raw text := current_setting('activity_log.context', true);
  ctx jsonb;
  ts timestamptz := clock_timestamp();
  us bigint;
  u text;
begin
  if tg_op = 'UPDATE' then
${updates}
    if c = '{}'::jsonb then return null; end if;
    r := new;
  elsif tg_op = 'INSERT' then
    c := ${columns.length > 0 ? all('new') : `'{}'::jsonb`};
    r := new;
  else
    c := ${columns.length > 0 ? all('old') : `'{}'::jsonb`};
    r := old;
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
    case when ctx is null then left(current_user::text, ${CAPTURE_LIMITS.id}) else left(ctx->'actor'->>'id', ${CAPTURE_LIMITS.id}) end,
    case when ctx is null then left(nullif(current_setting('application_name', true), ''), ${CAPTURE_LIMITS.name}) else left(ctx->'actor'->>'name', ${CAPTURE_LIMITS.name}) end,
    ${pgString(definition.target)},
    left(r.${q(definition.idColumn)}::text, ${CAPTURE_LIMITS.id}),
    ${name},
    left(ctx->>'tenantId', ${CAPTURE_LIMITS.id}),
    jsonb_build_object('table', ${pgString(definition.table)}::text, 'operation', lower(tg_op)),
    c,
    ctx->'context');
  return null;
end`;
    const fn = functionName(definition);
    return [
      `create or replace function ${fn}() returns trigger language plpgsql as $activity_log$${body}\n$activity_log$`,
      `drop trigger if exists ${TRIGGER} on ${tableName(definition)}`,
      `create trigger ${TRIGGER} after insert or update or delete on ${tableName(definition)} for each row execute function ${fn}()`,
    ];
  },

  remove(table: string, schema: string | undefined): string[] {
    const fn = objectName(`activity_log_capture_${table}`);
    return [`drop trigger if exists ${TRIGGER} on ${tableName({ table, schema })}`, `drop function if exists ${schema ? doubleQuote(schema, fn) : doubleQuote(fn)}()`];
  },
};
