import crypto, { createHash, createHmac } from 'node:crypto';
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
 *   form, the seed and salts are not hashed so that they can be erased);
 * - each personal field (see {@link PERSONAL_FIELDS}, and each personal metadata key in
 *   `metadata` and in `changes`) present in the record replaced by `{"$commitment":"<hex>"}`,
 *   so that its value can be erased without breaking the hash.
 *
 * A record's hash is HMAC-SHA256 under the key named by `keyId`, over the previous record's
 * hash (empty for the first of a chain), a line feed, and this form, in UTF-8, as hex.
 */

/**
 * Personal fields every record may have; the keys of `integrity.personal` are added, in
 * `metadata` and in `changes` (where a profile update records the same value as it was and is).
 */
export const PERSONAL_FIELDS = ['actor.name', 'target.name', 'context.ip', 'context.userAgent'] as const;

/** What an erased value is replaced by. */
export const ERASED = '[ERASED]';

/** A personal field: the object of the record it sits in, its key there, and its path. */
export interface PersonalField {
  readonly head: 'actor' | 'target' | 'context' | 'metadata' | 'changes';
  readonly key: string;
  readonly path: string;
}

/**
 * The personal fields a logger commits to, in the order they are committed: the fixed ones,
 * then `metadata.<key>` and `changes.<key>` for each personal metadata key. Worked out once
 * per logger, so that sealing a record splits and joins no path.
 */
export function personalFields(personalMetadata: readonly string[]): readonly PersonalField[] {
  const fields: PersonalField[] = PERSONAL_FIELDS.map((path) => {
    const [head, key] = path.split('.') as [PersonalField['head'], string];
    return { head, key, path };
  });
  for (const key of personalMetadata) fields.push({ head: 'metadata', key, path: `metadata.${key}` });
  // A change of a personal key holds the value twice (before and after): committed whole, so
  // that an erasure can take both without breaking the hash.
  for (const key of personalMetadata) fields.push({ head: 'changes', key, path: `changes.${key}` });
  return fields;
}

/**
 * Whether a record holds a personal field: a fixed field when its value is defined, a metadata
 * or changes key when the record's metadata or changes has it.
 */
export function holds(record: ActivityRecord, field: PersonalField): boolean {
  const container = (record as unknown as Record<string, Record<string, unknown> | undefined>)[field.head];
  if (container === undefined) return false;
  return isKeyed(field.head) ? Object.hasOwn(container, field.key) : container[field.key] !== undefined;
}

/**
 * Whether a personal field's object holds keys the app chose (`metadata`, `changes`): such a
 * key counts whenever the object has it as its own (`constructor` or `toString` is a valid
 * key: not what the object inherits), a fixed field only when defined.
 */
export function isKeyed(head: PersonalField['head']): boolean {
  return head === 'metadata' || head === 'changes';
}

/** The value at a personal field path of a record. */
export function valueAt(record: ActivityRecord, path: string): unknown {
  const dot = path.indexOf('.');
  const head = path.slice(0, dot);
  const key = path.slice(dot + 1);
  const container = (record as unknown as Record<string, unknown>)[head] as Record<string, unknown> | undefined;
  return container !== undefined && Object.hasOwn(container, key) ? container[key] : undefined;
}

/**
 * The commitment to one personal value: the first 128 bits of SHA-256 over the salt, the path
 * and the value's canonical JSON (UTF-8, line feeds between), as base64url (22 characters).
 */
export function commitment(salt: string, path: string, value: unknown): string {
  return sha256Base64url(`${salt}\n${path}\n${canonicalJson(value)}`).slice(0, 22);
}

/** A field's salt: the first 128 bits of SHA-256 over the record's seed and the path, as base64url. */
export function derivedSalt(seed: string, path: string): string {
  return sha256Base64url(`${seed}\n${path}`).slice(0, 22);
}

/** The salt of a committed field of a sealed record: derived from its seed, or kept after an erasure. */
export function saltOf(integrity: { seed?: string | undefined; salts?: Readonly<Record<string, string>> | undefined }, path: string): string | undefined {
  if (integrity.seed !== undefined) return derivedSalt(integrity.seed, path);
  return integrity.salts && Object.hasOwn(integrity.salts, path) ? integrity.salts[path] : undefined;
}

/** SHA-256 of a text as base64url: the one-shot `crypto.hash` where Node.js has it (20.12+), three times cheaper. */
const sha256Base64url: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => (crypto as unknown as { hash(algorithm: string, data: string, encoding: string): string }).hash('sha256', text, 'base64url')
    : (text) => createHash('sha256').update(text).digest('base64url');

/**
 * The canonical form of a record, with its commitments standing in for its personal values:
 * the same text as `canonicalJson` of the form the module's comment describes (a test holds
 * the two together), written out field by field, because it runs for every sealed record.
 */
export function canonicalForm(record: ActivityRecord, chain: string, keyId: string, commitments: Readonly<Record<string, string>> | undefined): string {
  return canonicalFormOf(record, chain, keyId, commitments, commitments ? splitPaths(commitments) : undefined);
}

/**
 * {@link canonicalForm} with the commitments also given as `[object, key, commitment]`, as the
 * sealer has them at hand. @internal
 */
export function canonicalFormOf(
  record: ActivityRecord,
  chain: string,
  keyId: string,
  commitments: Readonly<Record<string, string>> | undefined,
  split: readonly SplitCommitment[] | undefined,
): string {
  // Top-level keys in sorted order.
  let out = `{"action":${JSON.stringify(record.action)}`;
  if (record.actor !== undefined) out += `,"actor":${committed(record.actor, 'actor', split)}`;
  if (record.changes !== undefined) out += `,"changes":${committed(record.changes, 'changes', split)}`;
  if (record.context !== undefined) out += `,"context":${committed(record.context, 'context', split)}`;
  if (record.error !== undefined) out += `,"error":${canonicalJson(record.error)}`;
  out += `,"id":${JSON.stringify(record.id)},"integrity":{"chain":${JSON.stringify(chain)}`;
  if (commitments) out += `,"commitments":${canonicalJson(commitments)}`;
  out += `,"keyId":${JSON.stringify(keyId)}}`;
  if (record.metadata !== undefined) out += `,"metadata":${committed(record.metadata, 'metadata', split)}`;
  out += `,"occurredAt":${record.occurredAt.getTime()},"status":${JSON.stringify(record.status)}`;
  if (record.target !== undefined) out += `,"target":${committed(record.target, 'target', split)}`;
  if (record.tenantId !== undefined) out += `,"tenantId":${JSON.stringify(record.tenantId)}`;
  return `${out}}`;
}

/** Commitments as `[object, key, commitment]`, so that no path string is built per field. */
export type SplitCommitment = readonly [head: string, key: string, commitment: string];

function splitPaths(commitments: Readonly<Record<string, string>>): SplitCommitment[] {
  const split: SplitCommitment[] = [];
  for (const path of Object.keys(commitments)) {
    const dot = path.indexOf('.');
    split.push([path.slice(0, dot), path.slice(dot + 1), commitments[path]!]);
  }
  return split;
}

/** An object's canonical JSON with each committed field as `{"$commitment":"<hex>"}`. */
function committed(value: object, head: string, split: readonly SplitCommitment[] | undefined): string {
  if (!split || !split.some((entry) => entry[0] === head)) return canonicalJson(value);
  return objectJson(value, split, head);
}

/** The JSON standing in for a committed field's value, or undefined when the field is not committed. */
function commitmentAt(split: readonly SplitCommitment[], head: string, key: string): string | undefined {
  for (const entry of split) {
    if (entry[0] === head && entry[1] === key) return `{"$commitment":${JSON.stringify(entry[2])}}`;
  }
  return undefined;
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
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return value === undefined ? 'null' : JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item: unknown = value[i];
      out += item === undefined ? 'null' : canonicalJson(item);
    }
    return `${out}]`;
  }
  return objectJson(value);
}

/**
 * An object's members in key order (UTF-16 code units), undefined ones left out; with `split`,
 * the committed fields of the object `head` as their commitments.
 */
function objectJson(value: object, split?: readonly SplitCommitment[], head?: string): string {
  const keys = Object.keys(value);
  if (keys.length > 1) keys.sort();
  let out = '{';
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (out.length > 1) out += ',';
    out += quotedKey(key);
    out += ':';
    out += (split === undefined ? undefined : commitmentAt(split, head!, key)) ?? canonicalJson(item);
  }
  return `${out}}`;
}

/** Keys repeat from record to record: their JSON form is kept (a bounded cache). */
const quotedKeys = new Map<string, string>();

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size >= 4096) quotedKeys.clear();
    quotedKeys.set(key, quoted);
  }
  return quoted;
}
