import { createHash, createHmac } from 'node:crypto';
import type { ActivityRecord } from '../schema.js';

/**
 * The canonical form a record's hash is computed over, fixed so that every store, and a
 * verifier written in another language, computes the same bytes:
 *
 * - JSON (RFC 8259) without white space, object keys sorted by UTF-16 code units at every
 *   level, arrays in their order, strings and numbers as `JSON.stringify` writes them
 *   (numbers in their shortest round-trip form: `1.5`, `1e+21`, `-0` as `0`);
 * - the record's fields as stored, absent ones left out: `action`, `actor`, `changes`,
 *   `context`, `error`, `id`, `metadata`, `status`, `target`, `tenantId`; `occurredAt` as
 *   integer epoch milliseconds; and `integrity` holding only `chain`, `keyId` and
 *   `commitments` (the sequence number is an index, the previous hash is hashed beside the
 *   form, the salt is not hashed so that it can be erased);
 * - each personal field (see {@link PERSONAL_FIELDS}) present in the record replaced by
 *   `{"$commitment":"<hex>"}`, so that its value can be erased without breaking the hash.
 *
 * A record's hash is HMAC-SHA256 under the key named by `keyId`, over the previous record's
 * hash (empty for the first of a chain), a line feed, and this form, in UTF-8, as hex.
 */

/** Personal fields every record may have; metadata keys are added by `integrity.personal`. */
export const PERSONAL_FIELDS = ['actor.name', 'target.name', 'context.ip', 'context.userAgent'] as const;

/** What an erased value is replaced by. */
export const ERASED = '[ERASED]';

/** The personal field paths of a record: the fixed ones and `metadata.<key>` for each personal key. */
export function personalPaths(record: ActivityRecord, personalMetadata: readonly string[]): string[] {
  const paths: string[] = [];
  if (record.actor?.name !== undefined) paths.push('actor.name');
  if (record.target?.name !== undefined) paths.push('target.name');
  if (record.context?.ip !== undefined) paths.push('context.ip');
  if (record.context?.userAgent !== undefined) paths.push('context.userAgent');
  const metadata = record.metadata;
  if (metadata) for (const key of personalMetadata) if (Object.hasOwn(metadata, key)) paths.push(`metadata.${key}`);
  return paths;
}

/** The value at a personal field path of a record. */
export function valueAt(record: ActivityRecord, path: string): unknown {
  const dot = path.indexOf('.');
  const head = path.slice(0, dot);
  const key = path.slice(dot + 1);
  const container = (record as unknown as Record<string, unknown>)[head] as Record<string, unknown> | undefined;
  return container !== undefined && Object.hasOwn(container, key) ? container[key] : undefined;
}

/** The commitment to one personal value: SHA-256 over the salt, the path and the value's canonical JSON. */
export function commitment(salt: string, path: string, value: unknown): string {
  return createHash('sha256').update(`${salt}\n${path}\n${canonicalJson(value)}`).digest('hex');
}

/** The canonical form of a record, with its commitments standing in for its personal values. */
export function canonicalForm(record: ActivityRecord, chain: string, keyId: string, commitments: Readonly<Record<string, string>> | undefined): string {
  const form: Record<string, unknown> = {
    action: record.action,
    id: record.id,
    occurredAt: record.occurredAt.getTime(),
    status: record.status,
    integrity: commitments ? { chain, commitments, keyId } : { chain, keyId },
  };
  if (record.actor !== undefined) form.actor = record.actor;
  if (record.target !== undefined) form.target = record.target;
  if (record.tenantId !== undefined) form.tenantId = record.tenantId;
  if (record.metadata !== undefined) form.metadata = record.metadata;
  if (record.changes !== undefined) form.changes = record.changes;
  if (record.error !== undefined) form.error = record.error;
  if (record.context !== undefined) form.context = record.context;
  if (commitments) {
    for (const [path, committed] of Object.entries(commitments)) {
      const dot = path.indexOf('.');
      const head = path.slice(0, dot);
      const container = form[head] as Record<string, unknown> | undefined;
      if (container !== undefined) form[head] = { ...container, [path.slice(dot + 1)]: { $commitment: committed } };
    }
  }
  return canonicalJson(form);
}

/** HMAC-SHA256 of `prev`, a line feed and `form`, under `key`, as hex. */
export function chainHash(key: Uint8Array, prev: string, form: string): string {
  return createHmac('sha256', key).update(prev).update('\n').update(form).digest('hex');
}

/** HMAC-SHA256 of a text under `key`, as hex (checkpoint signatures). */
export function sign(key: Uint8Array, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/** JSON with object keys sorted at every level; see the module's comment. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return value === undefined ? 'null' : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${parts.join(',')}}`;
}
