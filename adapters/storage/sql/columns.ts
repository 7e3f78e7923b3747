import type { ActivityRecord, ActivityStatus } from '../../../src/schema.js';
import { storedTime } from '../../../src/stored-time.js';

/**
 * The activity table's columns and how a record maps to them, one way (a row's values, as
 * bound) and back (a selected row to a record). Every SQL store, the SQLite writer thread
 * included, goes through here. @internal
 */

/** Each column, in insert order, with the record field it holds (for messages). */
const FIELD_OF_COLUMN = {
  id: 'id',
  occurred_at: 'occurredAt',
  action: 'action',
  status: 'status',
  actor_type: 'actor.type',
  actor_id: 'actor.id',
  actor_name: 'actor.name',
  target_type: 'target.type',
  target_id: 'target.id',
  target_name: 'target.name',
  tenant_id: 'tenantId',
  metadata: 'metadata',
  changes: 'changes',
  error: 'error',
  context: 'context',
  integrity_chain: 'integrity.chain',
  integrity_seq: 'integrity.seq',
  integrity_key: 'integrity.keyId',
  integrity_prev: 'integrity.prev',
  integrity_hash: 'integrity.hash',
  integrity_proof: 'integrity',
} as const;

export type Column = keyof typeof FIELD_OF_COLUMN;

/** The columns of the activity table, in insert order. */
export const COLUMNS = Object.keys(FIELD_OF_COLUMN) as readonly Column[];

/** What a column holds, for a dialect to name its type: every column is one of these. */
export type ColumnKind = 'text' | 'time' | 'json' | 'bigint';

/** Each column's kind, as the migration creates it (a column added to the table fails to compile until it is here). */
export const COLUMN_KINDS: Readonly<Record<Column, ColumnKind>> = {
  id: 'text',
  occurred_at: 'time',
  action: 'text',
  status: 'text',
  actor_type: 'text',
  actor_id: 'text',
  actor_name: 'text',
  target_type: 'text',
  target_id: 'text',
  target_name: 'text',
  tenant_id: 'text',
  metadata: 'json',
  changes: 'json',
  error: 'json',
  context: 'json',
  integrity_chain: 'text',
  integrity_seq: 'bigint',
  integrity_key: 'text',
  integrity_prev: 'text',
  integrity_hash: 'text',
  integrity_proof: 'json',
};

/** The record field a column holds, such as `actor.name` for `actor_name`. */
export function fieldOfColumn(column: Column): string {
  return FIELD_OF_COLUMN[column];
}

/** The columns no row is without. */
export const REQUIRED_COLUMNS: ReadonlySet<Column> = new Set<Column>(['id', 'occurred_at', 'action', 'status']);

/** The columns of a row but its time, as a database's client returns them. */
export interface RowColumns {
  id: string;
  action: string;
  status: string;
  actor_type: string | null;
  actor_id: string | null;
  actor_name: string | null;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  tenant_id: string | null;
  metadata: unknown;
  changes: unknown;
  error: unknown;
  context: unknown;
  integrity_chain: string | null;
  integrity_seq: unknown;
  integrity_key: string | null;
  integrity_prev: string | null;
  integrity_hash: string | null;
  /** `{ seed, salts, commitments }`, those the record has, when it has personal fields. */
  integrity_proof: unknown;
}

/** A row as the stores select it: `occurred_at` as epoch milliseconds. */
export interface SelectedRow extends RowColumns {
  occurred_at_ms: unknown;
  status: ActivityStatus;
}

/** The values of one record, in {@link COLUMNS} order, with the time as `encodeTime` binds it. */
export function rowValues(record: ActivityRecord, encodeTime: (ms: number) => unknown): unknown[] {
  const { actor, target } = record;
  return [
    record.id,
    encodeTime(record.occurredAt.getTime()),
    record.action,
    record.status,
    actor?.type ?? null,
    actor?.id ?? null,
    actor?.name ?? null,
    target?.type ?? null,
    target?.id ?? null,
    target?.name ?? null,
    record.tenantId ?? null,
    record.metadata === undefined ? null : JSON.stringify(record.metadata),
    record.changes === undefined ? null : JSON.stringify(record.changes),
    record.error === undefined ? null : JSON.stringify(record.error),
    record.context === undefined ? null : JSON.stringify(record.context),
    ...integrityValues(record.integrity),
  ];
}

/** The integrity columns' values: a chain's place, and the proof of its personal values. */
function integrityValues(integrity: ActivityRecord['integrity']): unknown[] {
  if (!integrity) return [null, null, null, null, null, null];
  const { chain, seq, keyId, prev, hash, seed, salts, commitments } = integrity;
  const proof = commitments === undefined && salts === undefined && seed === undefined ? null : JSON.stringify({ seed, salts, commitments });
  return [chain, seq, keyId, prev, hash, proof];
}

/** A selected row back as a record: absent fields stay absent, never null. */
export function rowToRecord(row: SelectedRow): ActivityRecord {
  const record: ActivityRecord = {
    id: row.id,
    occurredAt: storedTime(row.occurred_at_ms),
    action: row.action,
    status: row.status,
  };
  if (row.actor_type !== null) {
    const actor: NonNullable<ActivityRecord['actor']> = { type: row.actor_type };
    if (row.actor_id !== null) actor.id = row.actor_id;
    if (row.actor_name !== null) actor.name = row.actor_name;
    record.actor = actor;
  }
  if (row.target_type !== null && row.target_id !== null) {
    const target: NonNullable<ActivityRecord['target']> = { type: row.target_type, id: row.target_id };
    if (row.target_name !== null) target.name = row.target_name;
    record.target = target;
  }
  if (row.tenant_id !== null) record.tenantId = row.tenant_id;
  if (row.metadata !== null) record.metadata = parseJson(row.metadata) as ActivityRecord['metadata'];
  if (row.changes !== null) record.changes = parseJson(row.changes) as ActivityRecord['changes'];
  if (row.error !== null) record.error = parseJson(row.error) as ActivityRecord['error'];
  if (row.context !== null) record.context = parseJson(row.context) as ActivityRecord['context'];
  if (row.integrity_chain !== null && row.integrity_chain !== undefined) {
    const integrity: NonNullable<ActivityRecord['integrity']> = {
      chain: row.integrity_chain,
      seq: Number(row.integrity_seq),
      keyId: row.integrity_key ?? '',
      prev: row.integrity_prev ?? '',
      hash: row.integrity_hash ?? '',
    };
    const proof = row.integrity_proof === null || row.integrity_proof === undefined ? undefined : (parseJson(row.integrity_proof) as { seed?: unknown; salts?: unknown; commitments?: unknown });
    if (proof && typeof proof === 'object') {
      if (typeof proof.seed === 'string') integrity.seed = proof.seed;
      if (proof.salts && typeof proof.salts === 'object') integrity.salts = proof.salts as Record<string, string>;
      if (proof.commitments && typeof proof.commitments === 'object') integrity.commitments = proof.commitments as Record<string, string>;
    }
    record.integrity = integrity;
  }
  return record;
}

/**
 * JSON columns come back as text from some drivers and parsed from others. Text that is not
 * JSON (a damaged or hand-edited row) comes back as that text, so that one bad row does not
 * make a whole page unreadable, and `verify()` reports it.
 */
function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
