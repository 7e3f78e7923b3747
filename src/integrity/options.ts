import { optionNames, refuseUnknownOptions } from '../option-keys.js';
import { ActivityLogError } from '../errors.js';
import { describeValue } from '../describe.js';
import { METADATA_KEY_PATTERN } from '../schema.js';

/** A signed statement that a chain had reached `seq`, whose record's hash was `hash`. */
export interface IntegrityCheckpoint {
  chain: string;
  seq: number;
  hash: string;
  keyId: string;
  /** When it was made, ISO 8601. */
  at: string;
  /** HMAC-SHA256, under the key `keyId` names, of the other fields' canonical JSON. */
  signature: string;
}

/** Tamper evidence: see the README's "Tamper evidence and erasure". */
export interface IntegrityOptions {
  /**
   * The application's secret (at least 16 bytes; 32 random bytes recommended). It never
   * reaches the database: keep it where the app keeps its other secrets.
   */
  key: string | Uint8Array;
  /**
   * The name stored with each record and checkpoint, so that a later key can replace this one.
   * @default 'k1'
   */
  keyId?: string;
  /** Keys of earlier ids, for `verify()` of records made before a rotation. */
  keys?: Readonly<Record<string, string | Uint8Array>> | ((keyId: string) => string | Uint8Array | undefined);
  /**
   * Metadata keys that hold personal data, in `metadata` and in `changes` (a change of the key
   * is committed whole). They, the actor's and the target's names, the client IP and the user
   * agent enter the hash as salted commitments, so that `erase()` can remove them while
   * `verify()` still proves the rest of the record.
   * @default []
   */
  personal?: readonly string[];
  /**
   * A checkpoint every this many records of a chain...
   * @default 1000
   */
  checkpointRecords?: number;
  /**
   * ...or this often, when the chain has grown since the last one; and one at `close()`.
   * @default 60000
   */
  checkpointMs?: number;
  /**
   * Receives every checkpoint, to keep outside the database (a file, a log service): a
   * checkpoint kept elsewhere is what shows that the newest records of a chain were deleted.
   * A throw or rejection is reported (`CALLBACK_FAILED`) and the logger goes on.
   */
  onCheckpoint?: (checkpoint: IntegrityCheckpoint) => void | Promise<void>;
}

/** Integrity options after validation. */
export interface ResolvedIntegrity {
  key: Uint8Array;
  keyId: string;
  /** The key of an id: the current one, an earlier one, or undefined. */
  keyOf(keyId: string): Uint8Array | undefined;
  /** Why `keyOf(keyId)` found no key, for the `unknown-key` finding: absent, or what the resolver did wrong. */
  whyNoKey(keyId: string): string;
  personal: readonly string[];
  checkpointRecords: number;
  checkpointMs: number;
  onCheckpoint: IntegrityOptions['onCheckpoint'];
}

const KEY_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The options of {@link IntegrityOptions}, for the check that refuses others. */
const INTEGRITY_OPTIONS = optionNames<IntegrityOptions>()(['key', 'keyId', 'keys', 'personal', 'checkpointRecords', 'checkpointMs', 'onCheckpoint']);

/** Validates `integrity` at the boundary; throws `INVALID_OPTIONS` naming the option and the rule. */
export function resolveIntegrity(options: IntegrityOptions | undefined): ResolvedIntegrity | undefined {
  if (options === undefined) return undefined;
  const fail = (message: string) => new ActivityLogError('INVALID_OPTIONS', `integrity.${message}`);
  if (options === null || typeof options !== 'object') throw new ActivityLogError('INVALID_OPTIONS', 'integrity: must be an object with a "key"');
  refuseUnknownOptions('integrity', options, INTEGRITY_OPTIONS);
  const key = usableKey(options.key);
  if (typeof key === 'string') throw fail(`key: must be ${KEY_RULE}, got ${key}`);
  const keyId = options.keyId ?? 'k1';
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) throw fail(`keyId: must be 1-64 letters, digits, "_", ".", ":" or "-", got ${describeValue(keyId)}`);
  const { keys } = options;
  if (keys !== undefined && typeof keys !== 'function' && (keys === null || typeof keys !== 'object')) {
    throw fail('keys: must be an object of key id to key, or a function of a key id');
  }
  // An earlier key is held to the rule the current one is: a short or empty one is a mistake in
  // the app's set-up (an unset variable), which would otherwise read as every record made
  // under it being edited.
  if (keys !== undefined && typeof keys === 'object') {
    for (const [id, value] of Object.entries(keys)) {
      const bytes = usableKey(value);
      if (typeof bytes === 'string') throw fail(`keys.${id}: must be ${KEY_RULE}, got ${bytes}`);
    }
  }
  const personal = options.personal ?? [];
  if (!Array.isArray(personal) || !personal.every((name) => typeof name === 'string' && METADATA_KEY_PATTERN.test(name))) {
    throw fail('personal: must be a list of metadata keys (letters, digits, "_")');
  }
  const whole = (name: string, value: unknown, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 3_600_000_000) {
      throw fail(`${name}: must be a whole number of at least ${min}, got ${describeValue(value)}`);
    }
    return value;
  };
  if (options.onCheckpoint !== undefined && typeof options.onCheckpoint !== 'function') throw fail('onCheckpoint: must be a function');
  const earlier = new Map<string, Uint8Array>();
  /** What the resolver did for ids it gave no usable key for (bounded, as `earlier` is). */
  const refused = new Map<string, string>();
  const resolve = (id: string): Uint8Array | string => {
    let found: unknown;
    try {
      found = typeof keys === 'function' ? keys(id) : keys && Object.hasOwn(keys, id) ? keys[id] : undefined;
    } catch (error) {
      // By its kind only: a resolver's message may name a secret store's address or token.
      return `the keys resolver threw for it (${error instanceof Error ? error.name : typeof error})`;
    }
    if (found === undefined) return NOT_GIVEN;
    const bytes = usableKey(found);
    return typeof bytes === 'string' ? `the keys resolver gave ${bytes} for it, not a key of at least 16 bytes` : bytes;
  };
  return {
    key,
    keyId,
    keyOf(id) {
      if (id === keyId) return key;
      // The same bytes for the same id, so that what is worked out per key (HMAC pads) is reused.
      const known = earlier.get(id);
      if (known !== undefined) return known;
      const found = resolve(id);
      if (typeof found === 'string') {
        if (refused.size < 1000) refused.set(id, found);
        return undefined;
      }
      // Only keys found are kept: a resolver may learn of a key later, never forget one.
      if (earlier.size < 1000) earlier.set(id, found);
      refused.delete(id);
      return found;
    },
    whyNoKey(id) {
      return refused.get(id) ?? NOT_GIVEN;
    },
    personal: [...personal],
    checkpointRecords: whole('checkpointRecords', options.checkpointRecords, 1000, 1),
    checkpointMs: whole('checkpointMs', options.checkpointMs, 60_000, 10),
    onCheckpoint: options.onCheckpoint,
  };
}

/** What a key must be, for every message that refuses one. */
const KEY_RULE = 'a string or bytes of at least 16 bytes';

/** The `unknown-key` finding's words for an id no key was given for. */
const NOT_GIVEN = 'which is not among the keys given';

/** A key's bytes, or what it was instead ("5 bytes", `""`, "42"): the current key and earlier ones follow one rule. */
function usableKey(value: unknown): Uint8Array | string {
  const bytes = keyBytes(value);
  if (bytes === undefined) return describeValue(value);
  return bytes.byteLength < 16 ? `${bytes.byteLength} bytes` : bytes;
}

function keyBytes(key: unknown): Uint8Array | undefined {
  if (typeof key === 'string') return key.length > 0 ? new TextEncoder().encode(key) : undefined;
  if (key instanceof Uint8Array) return key;
  return undefined;
}
