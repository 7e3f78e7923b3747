import { ActivityLogError } from '../errors.js';
import { describeValue } from '../describe.js';
import type { ActivityRecord } from '../schema.js';
import { ERASED, saltOf, type PersonalField } from './canonical.js';

/** Whose personal data `erase()` removes: an actor, a target, or a whole tenant. */
export type EraseSubject = { actorId: string | number } | { targetType: string; targetId: string | number } | { tenantId: string | number };

/** Which fields an erasure empties, by the kind of subject. */
export interface ErasurePlan {
  /** The filter of the records to rewrite. */
  filter: { actorId?: string | number; targetType?: string; targetId?: string | number; tenantId?: string | number };
  /** The personal fields emptied in each record, personal keys as `metadata.<key>` and `changes.<key>`. */
  fields: string[];
}

/**
 * What erasing `subject` means: an actor's name, IP and user agent in the records they made;
 * a target's name in the records about it; everything personal in a tenant's records; and the
 * personal metadata keys in all of them. Throws `INVALID_QUERY` for anything but one subject.
 */
export function erasurePlan(subject: unknown, personalMetadata: readonly string[]): ErasurePlan {
  // A personal key goes from `changes` too: a profile update records the value it changed.
  const metadata = [...personalMetadata.map((key) => `metadata.${key}`), ...personalMetadata.map((key) => `changes.${key}`)];
  const s = (subject ?? {}) as Record<string, unknown>;
  const keys = subject !== null && typeof subject === 'object' ? Object.keys(s).sort().join(',') : '';
  const id = (value: unknown) => typeof value === 'string' ? value.length > 0 : typeof value === 'number' && Number.isFinite(value);
  if (keys === 'actorId' && id(s.actorId)) {
    return { filter: { actorId: s.actorId as string | number }, fields: ['actor.name', 'context.ip', 'context.userAgent', ...metadata] };
  }
  if (keys === 'targetId,targetType' && typeof s.targetType === 'string' && s.targetType.length > 0 && id(s.targetId)) {
    return { filter: { targetType: s.targetType, targetId: s.targetId as string | number }, fields: ['target.name', ...metadata] };
  }
  if (keys === 'tenantId' && id(s.tenantId)) {
    return { filter: { tenantId: s.tenantId as string | number }, fields: ['actor.name', 'target.name', 'context.ip', 'context.userAgent', ...metadata] };
  }
  // The subject's shape was right and one of its values was not: name that field.
  const fields = keys === 'actorId' ? ['actorId'] : keys === 'targetId,targetType' ? ['targetType', 'targetId'] : keys === 'tenantId' ? ['tenantId'] : [];
  for (const field of fields) {
    const value = s[field];
    if (field === 'targetType' ? !(typeof value === 'string' && value.length > 0) : !id(value)) {
      const rule = field === 'targetType' ? 'a non-empty string' : 'a non-empty string or a finite number';
      throw new ActivityLogError('INVALID_QUERY', `erase: ${field}: must be ${rule}, got ${describeValue(value)}`);
    }
  }
  throw new ActivityLogError(
    'INVALID_QUERY',
    `erase: the subject must be { actorId }, { targetType, targetId } or { tenantId }, with non-empty ids, got ${subject !== null && typeof subject === 'object' ? `an object with ${keys ? `the keys ${describeValue(keys).slice(1, -1)}` : 'no keys'}` : describeValue(subject)}`,
  );
}

/**
 * `record` with the plan's fields replaced by `[ERASED]` and their salts removed (without its
 * salt, an erased value cannot be guessed back from its commitment), or `undefined` when it
 * holds none of them. In a sealed record, the metadata and changes keys it committed to as
 * personal go too, whether or not the erasing logger lists them: the record says what was personal when
 * it was written. `onErased` is told the paths erased in this record.
 */
export function eraseRecord(record: ActivityRecord, fields: readonly string[], onErased?: (paths: readonly string[]) => void): ActivityRecord | undefined {
  let out: ActivityRecord | undefined;
  const erased: string[] = [];
  // In a sealed record, only a committed value can go without breaking its hash: a metadata key
  // declared personal after the record was sealed stays (see the README).
  const committed = record.integrity ? record.integrity.commitments ?? {} : undefined;
  const keyed = (path: string) => path.startsWith('metadata.') || path.startsWith('changes.');
  const paths = committed ? [...fields, ...Object.keys(committed).filter((path) => keyed(path) && !fields.includes(path))] : fields;
  for (const path of paths) {
    if (committed && !Object.hasOwn(committed, path)) continue;
    const dot = path.indexOf('.');
    const head = path.slice(0, dot) as PersonalField['head'];
    const key = path.slice(dot + 1);
    const container = (out ?? record)[head] as Record<string, unknown> | undefined;
    if (!container || !Object.hasOwn(container, key) || container[key] === ERASED) continue;
    out ??= { ...record };
    (out as unknown as Record<string, unknown>)[head] = { ...container, [key]: ERASED };
    erased.push(path);
  }
  const sealed = out?.integrity;
  if (out && sealed?.commitments) {
    // The seed would give the erased fields' salts back: the salts of the others replace it.
    const salts: Record<string, string> = {};
    for (const path of Object.keys(sealed.commitments)) {
      const salt = erased.includes(path) ? undefined : saltOf(sealed, path);
      if (salt !== undefined) salts[path] = salt;
    }
    const { seed: _seed, ...rest } = sealed;
    out.integrity = { ...rest, salts };
  }
  if (out) onErased?.(erased);
  return out;
}
