import { redactCredentialsIn } from './redact-values.js';
import { defineOwn, storableText } from './text.js';
import { ActivityLogError } from './errors.js';
import { describeValue } from './describe.js';
import { optionNames, refuseUnknownOptions } from './option-keys.js';

/** Strings (and keys) up to this length are remembered: clean texts (see redactText) and key verdicts. */
const CLEAN_TEXT_MAX_LENGTH = 256;

/**
 * Redaction: sensitive values are replaced before anything is stored. Two kinds of rule:
 *
 * **Keys.** A value under a sensitive key is hidden at any depth of metadata, changes, context
 * and a thrown plain object. Keys are compared after lower-casing and removing everything but
 * letters and digits, so `apiKey`, `api_key` and `X-Api-Key` are one key. A default *term*
 * ({@link DEFAULT_REDACT_TERMS}) matches anywhere in the key (`accessToken`, `client_secret`,
 * `set-cookie`); a default *word* ({@link DEFAULT_REDACT_WORDS}) matches a whole word of the
 * key, split at `_`, `-`, `.`, spaces and camelCase humps, with an optional plural `s`
 * (`pin`, `userPin`, `pin_code`, `sessionId`, `credentials` — but not `spinner`, `author` or
 * `session` inside `possession`). Erring on the side of hiding is the point.
 *
 * **Values.** Credential-shaped text is hidden inside every stored string: `Bearer` and `Basic`
 * credentials, JWT-shaped tokens, the password of a URL (`postgres://user:pw@host`), and the
 * values of sensitive parameters (`?access_token=…`, `password=…`, `"secret":"…"`). See
 * `redact-values.ts`.
 *
 * User patterns add to (or replace) the default keys:
 *  - `'taxId'`: a key named taxId at any depth
 *  - `'user.ssn'`: exactly that path from the root of metadata, changes or context
 *  - `'*.pin'`: `*` stands for one key; `'**.pin'` for any number of keys
 */

/** Terms that mark a key as sensitive wherever they appear in it. */
export const DEFAULT_REDACT_TERMS: readonly string[] = [
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'secret',
  'token',
  'authorization',
  'cookie',
  'apikey',
  'privatekey',
  'creditcard',
  'cardnumber',
  'ccnumber',
  'cvv',
  'cvc',
];

/**
 * Words that mark a key as sensitive when they are a whole word of it (optionally plural):
 * short enough that matching them anywhere would hide innocent keys (`spinner`, `author`).
 */
export const DEFAULT_REDACT_WORDS: readonly string[] = ['auth', 'session', 'credential', 'jwt', 'bearer', 'pwd', 'ssn', 'pin', 'otp', 'totp'];

/** The value stored in place of a redacted one. */
export const REDACTED = '[REDACTED]';

/** How redaction is configured on the logger. */
export interface RedactOptions {
  /** Extra keys (`'taxId'`) or paths (`'user.ssn'`, `'*.pin'`, `'**.pin'`) to redact. */
  paths?: string[];
  /**
   * Use only `paths`, without the default sensitive terms and words.
   * @default false
   */
  replaceDefaults?: boolean;
  /**
   * Also hide credential-shaped text inside string values (Bearer/Basic credentials, JWTs,
   * URL passwords, sensitive parameters).
   * @default true
   */
  values?: boolean;
  /**
   * What replaces a redacted value.
   * @default '[REDACTED]'
   */
  censor?: string;
}

/** The options of {@link RedactOptions}, for the check that refuses others. */
const REDACT_OPTIONS = optionNames<RedactOptions>()(['paths', 'replaceDefaults', 'values', 'censor']);

/**
 * The `redact` option, checked: anything but `false`, an array of keys and paths, or a
 * {@link RedactOptions} is refused with `INVALID_OPTIONS` naming it. A string (`'password'`),
 * `true` or a number would otherwise leave the defaults on and what it meant to add unredacted.
 */
function checkRedactOptions(options: RedactOptions | string[] | undefined): RedactOptions {
  if (options === undefined) return {};
  if (Array.isArray(options)) {
    checkPaths('redact', options);
    return { paths: options };
  }
  if (options === null || typeof options !== 'object') {
    throw new ActivityLogError(
      'INVALID_OPTIONS',
      `redact: must be false, an array of keys and paths (['taxId', 'user.ssn']), or { paths, replaceDefaults, values, censor }, got ${describeValue(options)}`,
    );
  }
  refuseUnknownOptions('redact', options, REDACT_OPTIONS);
  if (options.paths !== undefined) {
    if (!Array.isArray(options.paths)) throw new ActivityLogError('INVALID_OPTIONS', `redact.paths: must be an array of keys and paths, got ${describeValue(options.paths)}`);
    checkPaths('redact.paths', options.paths);
  }
  for (const flag of ['replaceDefaults', 'values'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
      throw new ActivityLogError('INVALID_OPTIONS', `redact.${flag}: must be true or false, got ${describeValue(options[flag])}`);
    }
  }
  if (options.censor !== undefined && typeof options.censor !== 'string') {
    throw new ActivityLogError('INVALID_OPTIONS', `redact.censor: must be a string, got ${describeValue(options.censor)}`);
  }
  return options;
}

function checkPaths(name: string, paths: readonly unknown[]): void {
  paths.forEach((path, i) => {
    if (typeof path !== 'string' || path.split('.').filter(Boolean).length === 0) {
      throw new ActivityLogError('INVALID_OPTIONS', `${name}.${i}: must be a key or a dotted path ('taxId', 'user.ssn', '*.pin'), got ${describeValue(path)}`);
    }
  });
}

/** A compiled redaction rule set. */
export interface Redactor {
  /**
   * `value` (a JSON-like tree) with sensitive values replaced: a copy where something was
   * replaced, the same object where nothing was.
   */
  redact<T>(value: T, basePath?: readonly string[]): T;
  /** Like `redact`, for the fixed keys of a context. */
  redactContext<T>(value: T): T;
  /** One string with credential-shaped parts replaced (the value rules only). */
  redactText(text: string): string;
  /** Whether the value at `path` (keys from the root) must be hidden. */
  isSensitive(path: readonly string[]): boolean;
  readonly censor: string;
}

const normalizeKey = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The words of a key: `userPIN_code` → user, pin, code; `XMLHttpToken` → xml, http, token;
 * `pin2` → pin, 2.
 */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    // An upper-case letter before the hump of a word (`XMLHttp` → XML Http). A lookahead, not
    // `([A-Z]+)([A-Z][a-z])`, which read a long upper-case run again from each of its letters.
    .replace(/([A-Z])(?=[A-Z][a-z])/g, '$1 ')
    .toLowerCase()
    .match(/[a-z]+|[0-9]+/g) ?? [];
}

/** Builds a {@link Redactor}; `false` turns redaction off. */
export function createRedactor(options: RedactOptions | string[] | false | undefined): Redactor {
  if (options === false) {
    return { redact: (value) => value, redactContext: (value) => value, redactText: (text) => text, isSensitive: () => false, censor: REDACTED };
  }
  const config: RedactOptions = checkRedactOptions(options);
  // The censor is stored in place of values: the text rule every other string of a record
  // follows applies to it too, or each record with a redacted value would be refused by
  // PostgreSQL (a U+0000, a lone surrogate) and read back differently by SQLite.
  const censor = storableText(config.censor ?? REDACTED);
  const terms = config.replaceDefaults ? [] : DEFAULT_REDACT_TERMS;
  const words = new Set(config.replaceDefaults ? [] : DEFAULT_REDACT_WORDS);
  const redactValues = config.values !== false;
  const anyDepthKeys = new Set<string>();
  const pathPatterns: string[][] = [];
  for (const path of config.paths ?? []) {
    const segments = path.split('.').filter(Boolean);
    if (segments.length === 1 && segments[0] !== '*' && segments[0] !== '**') anyDepthKeys.add(normalizeKey(segments[0]!));
    else if (segments.length > 0) pathPatterns.push(segments);
  }

  // Keys repeat from event to event, so their verdicts are cached (bounded, then cleared). Only
  // keys of ordinary length: a cache of 10,000 keys of any length would hold on to whatever
  // long keys the app's users sent long after their events were written.
  const verdicts = new Map<string, boolean>();
  const keyIsSensitive = (key: string): boolean => {
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      const normalized = normalizeKey(key);
      verdict =
        anyDepthKeys.has(normalized) ||
        terms.some((term) => normalized.includes(term)) ||
        (words.size > 0 && keyWords(key).some((word) => words.has(word) || (word.endsWith('s') && words.has(word.slice(0, -1)))));
      if (key.length > CLEAN_TEXT_MAX_LENGTH) return verdict;
      if (verdicts.size >= 10_000) verdicts.clear();
      verdicts.set(key, verdict);
    }
    return verdict;
  };

  const isSensitive = (path: readonly string[]): boolean => {
    const last = path[path.length - 1];
    if (last !== undefined && keyIsSensitive(last)) return true;
    for (const pattern of pathPatterns) if (matchPath(pattern, 0, path, 0)) return true;
    return false;
  };

  // Short strings repeat from event to event too (a route template such as '/recipes/:id', a
  // user agent), and most hold nothing to hide: those found clean are remembered (bounded,
  // then cleared) and passed over without the scan. A string that held a credential is never
  // kept, so no secret outlives its event here.
  const clean = new Set<string>();
  const redactText = redactValues
    ? (text: string): string => {
        if (text.length > CLEAN_TEXT_MAX_LENGTH) return redactCredentialsIn(text, censor, keyIsSensitive);
        if (clean.has(text)) return text;
        const out = redactCredentialsIn(text, censor, keyIsSensitive);
        if (out === text) {
          if (clean.size >= 256) clean.clear();
          clean.add(text);
        }
        return out;
      }
    : (text: string) => text;

  /** Copy-on-write: a subtree with nothing to hide is returned as it is. */
  const walk = (value: unknown, path: string[]): unknown => {
    if (typeof value === 'string') return redactText(value);
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      const entries = isEntryList(value);
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        // `[name, value]` entries (Object.entries, Headers, URLSearchParams): the name decides
        // for its value, as a key does.
        const entry = value[i] as [string, unknown];
        const item = entries && KEY_LIKE.test(entry[0]) && keyIsSensitive(entry[0]) ? (entry[1] === censor ? entry : [entry[0], censor]) : walk(value[i], path);
        if (item !== value[i]) (copy ??= value.slice())[i] = item;
      }
      return copy ?? value;
    }
    let copy: Record<string, unknown> | undefined;
    const source = value as Record<string, unknown>;
    for (const key of Object.keys(source)) {
      path.push(key);
      // A `{ name, value }` pair (HAR and fetch headers, form fields, settings rows): its name
      // decides for its value, as a key does.
      const named = key === 'value' && pairNameIsSensitive(source, keyIsSensitive);
      const child = named || isSensitive(path) ? censor : walk(source[key], path);
      path.pop();
      if (child === source[key]) continue;
      copy ??= copyOwn(source);
      defineOwn(copy, key, child);
    }
    return copy ?? value;
  };

  return {
    censor,
    isSensitive,
    redactText,
    redact: <T>(value: T, basePath: readonly string[] = []) => walk(value, [...basePath]) as T,
    redactContext: <T>(value: T) => walk(value, []) as T,
  };
}

/** The members that name the `value` of a name/value pair, in the order they are looked at. */
const PAIR_NAMES = ['name', 'key', 'header', 'field'] as const;

/**
 * A name that reads as a key (a header, a setting, a form field: `Authorization`, `api_key`,
 * `x-auth-token`), not as text: a dish called "Secret Santa Pie" does not hide its price.
 */
const KEY_LIKE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether `source`, a pair with a `value`, is named by a sensitive key (`{ name: 'Authorization', value }`). */
function pairNameIsSensitive(source: Record<string, unknown>, keyIsSensitive: (key: string) => boolean): boolean {
  for (const member of PAIR_NAMES) {
    const name = Object.hasOwn(source, member) ? source[member] : undefined;
    if (typeof name === 'string') return KEY_LIKE.test(name) && keyIsSensitive(name);
  }
  return false;
}

/**
 * Whether an array is a list of `[name, value]` entries: every item a two-item array whose
 * first is a string. A lone pair, or a list of words, is not (`['password', 'reset']` is two
 * tags, not a secret).
 */
function isEntryList(value: readonly unknown[]): boolean {
  if (value.length === 0 || !Array.isArray(value[0])) return false;
  for (const item of value) if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string') return false;
  return true;
}

function copyOwn(source: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(source)) defineOwn(copy, key, source[key]);
  return copy;
}

function matchPath(pattern: readonly string[], pi: number, path: readonly string[], i: number): boolean {
  if (pi === pattern.length) return i === path.length;
  const segment = pattern[pi]!;
  if (segment === '**') {
    for (let skip = i; skip <= path.length; skip++) if (matchPath(pattern, pi + 1, path, skip)) return true;
    return false;
  }
  if (i === path.length) return false;
  if (segment !== '*' && normalizeKey(segment) !== normalizeKey(path[i]!)) return false;
  return matchPath(pattern, pi + 1, path, i + 1);
}
