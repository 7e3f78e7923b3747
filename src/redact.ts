/**
 * Redaction: values under sensitive keys are replaced before anything is stored.
 *
 * Keys are compared after lower-casing and removing everything but letters and digits, so
 * `apiKey`, `api_key` and `X-Api-Key` are one key, and a default term matches anywhere in the
 * key (`accessToken`, `client_secret`, `set-cookie`). Erring on the side of hiding is the point.
 *
 * User patterns add to (or replace) the defaults:
 *  - `'pin'`: a key named pin at any depth
 *  - `'user.ssn'`: exactly that path from the root of metadata, changes or context
 *  - `'*.pin'`: `*` stands for one key; `'**.pin'` for any number of keys
 */

/** Terms that mark a key as sensitive wherever they appear in it. */
export const DEFAULT_REDACT_TERMS: readonly string[] = [
  'password',
  'passwd',
  'passphrase',
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

/** The value stored in place of a redacted one. */
export const REDACTED = '[REDACTED]';

/** How redaction is configured on the logger. */
export interface RedactOptions {
  /** Extra keys (`'ssn'`) or paths (`'user.ssn'`, `'*.pin'`, `'**.pin'`) to redact. */
  paths?: string[];
  /**
   * Use only `paths`, without the default sensitive terms.
   * @default false
   */
  replaceDefaults?: boolean;
  /**
   * What replaces a redacted value.
   * @default '[REDACTED]'
   */
  censor?: string;
}

/** A compiled redaction rule set. */
export interface Redactor {
  /**
   * `value` (a JSON-like tree) with sensitive values replaced: a copy where something was
   * replaced, the same object where nothing was.
   */
  redact<T>(value: T, basePath?: readonly string[]): T;
  /** Like `redact`, for the fixed keys of a context; skips the walk when no rule can match them. */
  redactContext<T>(value: T): T;
  /** Whether the value at `path` (keys from the root) must be hidden. */
  isSensitive(path: readonly string[]): boolean;
  readonly censor: string;
}

const normalizeKey = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Builds a {@link Redactor}; `false` turns redaction off. */
export function createRedactor(options: RedactOptions | string[] | false | undefined): Redactor {
  if (options === false) return { redact: (value) => value, redactContext: (value) => value, isSensitive: () => false, censor: REDACTED };
  const config: RedactOptions = Array.isArray(options) ? { paths: options } : (options ?? {});
  const censor = config.censor ?? REDACTED;
  const terms = config.replaceDefaults ? [] : DEFAULT_REDACT_TERMS;
  const anyDepthKeys = new Set<string>();
  const pathPatterns: string[][] = [];
  for (const path of config.paths ?? []) {
    const segments = path.split('.').filter(Boolean);
    if (segments.length === 1 && segments[0] !== '*' && segments[0] !== '**') anyDepthKeys.add(normalizeKey(segments[0]!));
    else if (segments.length > 0) pathPatterns.push(segments);
  }

  // Keys repeat from event to event, so their verdicts are cached (bounded, then cleared).
  const verdicts = new Map<string, boolean>();
  const keyIsSensitive = (key: string): boolean => {
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      const normalized = normalizeKey(key);
      verdict = anyDepthKeys.has(normalized) || terms.some((term) => normalized.includes(term));
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

  /** Copy-on-write: a subtree with nothing to hide is returned as it is. */
  const walk = (value: unknown, path: string[]): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item = walk(value[i], path);
        if (item !== value[i]) (copy ??= value.slice())[i] = item;
      }
      return copy ?? value;
    }
    let copy: Record<string, unknown> | undefined;
    const source = value as Record<string, unknown>;
    for (const key of Object.keys(source)) {
      path.push(key);
      const child = isSensitive(path) ? censor : walk(source[key], path);
      path.pop();
      if (child === source[key]) continue;
      copy ??= copyOwn(source);
      if (key === '__proto__') Object.defineProperty(copy, key, { value: child, enumerable: true, writable: true, configurable: true });
      else copy[key] = child;
    }
    return copy ?? value;
  };

  const contextNeedsWalk =
    pathPatterns.length > 0 || ['ip', 'userAgent', 'requestId', 'method', 'route', 'traceId'].some((key) => keyIsSensitive(key));

  return {
    censor,
    isSensitive,
    redact: <T>(value: T, basePath: readonly string[] = []) => walk(value, [...basePath]) as T,
    redactContext: <T>(value: T) => (contextNeedsWalk ? (walk(value, []) as T) : value),
  };
}

function copyOwn(source: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (key === '__proto__') Object.defineProperty(copy, key, { value: source[key], enumerable: true, writable: true, configurable: true });
    else copy[key] = source[key];
  }
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
