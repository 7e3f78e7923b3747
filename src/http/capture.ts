import { ActivityLogError } from '../errors.js';
import { optionNames, refuseUnknownOptions } from '../option-keys.js';
import { ACTION_PATTERN, type ActivityStatus } from '../schema.js';

/**
 * What is recorded automatically when a request ends:
 * - `all`: every request, as `success`, `denied` (401, 403, 429) or `failure` (any other 4xx, 5xx);
 * - `errors`: only requests that end 401/403/429 (`denied`) or 5xx (`failure`);
 * - `none`: nothing.
 */
export type CaptureMode = 'all' | 'errors' | 'none';

/** The capture rule of one route. */
export interface RouteCapture {
  /** Overrides the method's default mode for this route; `true` is `all`, `false` is `none`. */
  capture?: CaptureMode | boolean;
  /** The action recorded instead of `http.<method>`, such as `recipe.update`. */
  action?: string;
}

/**
 * Automatic capture, per method and per route.
 *
 * @example
 * capture: {
 *   reads: 'errors',
 *   routes: {
 *     'POST /recipes': 'recipe.create',          // an action name: default mode, mapped action
 *     'GET /recipes/:id': { capture: 'all', action: 'recipe.view' },
 *     '/health': false,                           // any method: never recorded
 *   },
 * }
 */
export interface CaptureOptions {
  /**
   * GET, HEAD and OPTIONS requests. Reads are not recorded by default unless refused or failed.
   * @default 'errors'
   */
  reads?: CaptureMode;
  /**
   * Every other method (POST, PUT, PATCH, DELETE...).
   * @default 'all'
   */
  writes?: CaptureMode;
  /**
   * Per-route rules, keyed by route template: `'METHOD /template'` for one method, or
   * `'/template'` for every method. The value is a mode, a boolean, an action name or a
   * {@link RouteCapture}.
   */
  routes?: Record<string, CaptureMode | boolean | string | RouteCapture>;
  /**
   * One refusal, one record: when the request's own logger (`req.activity`, a child of it,
   * or `currentActivity()` inside the request) already recorded a `denied` or `failure`
   * event, the automatic `denied`/`failure` event of the same request is not added. A failed
   * login is then `user.login denied`, not that plus `http.post denied`. `false` records both.
   * @default true
   */
  dedupe?: boolean;
}

/** The options of {@link CaptureOptions} and of a {@link RouteCapture}, for the check that refuses others. */
const CAPTURE_OPTIONS = optionNames<CaptureOptions>()(['reads', 'writes', 'routes', 'dedupe']);
const ROUTE_CAPTURE_OPTIONS = optionNames<RouteCapture>()(['capture', 'action']);

/** The automatic event for a finished request, or `undefined` when none is recorded. */
export interface CaptureDecision {
  action: string;
  status: ActivityStatus;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const MODES = new Set<string>(['all', 'errors', 'none']);

interface CompiledRule {
  mode: CaptureMode | undefined;
  action: string | undefined;
}

/** A compiled capture policy: decides, in a few map look-ups, what a finished request records. */
export interface CapturePolicy {
  decide(method: string, route: string | undefined, statusCode: number): CaptureDecision | undefined;
  /** See {@link CaptureOptions.dedupe}. */
  readonly dedupe: boolean;
}

/**
 * Compiles {@link CaptureOptions}. Throws `INVALID_OPTIONS` at start-up for an unknown mode or
 * an action that is not dotted lower-case, rather than recording nothing at run time.
 */
export function compileCapturePolicy(options: CaptureOptions = {}): CapturePolicy {
  refuseUnknownOptions('capture', options, CAPTURE_OPTIONS);
  const reads = checkMode('capture.reads', options.reads ?? 'errors');
  const writes = checkMode('capture.writes', options.writes ?? 'all');
  const rules = new Map<string, CompiledRule>();
  for (const [key, value] of Object.entries(options.routes ?? {})) {
    const match = /^(?:([A-Za-z]+)\s+)?(\S+)$/.exec(key.trim());
    if (!match) throw new ActivityLogError('INVALID_OPTIONS', `capture.routes: ${JSON.stringify(key)} must be "METHOD /template" or "/template"`);
    const normalizedKey = match[1] ? `${match[1].toUpperCase()} ${match[2]}` : match[2]!;
    rules.set(normalizedKey, compileRule(`capture.routes[${JSON.stringify(key)}]`, value));
  }
  const hasRules = rules.size > 0;
  if (options.dedupe !== undefined && typeof options.dedupe !== 'boolean') {
    throw new ActivityLogError('INVALID_OPTIONS', `capture.dedupe: must be true or false, got ${JSON.stringify(options.dedupe)}`);
  }
  return {
    dedupe: options.dedupe ?? true,
    decide(method, route, statusCode) {
      const upper = method.toUpperCase();
      let mode: CaptureMode = READ_METHODS.has(upper) ? reads : writes;
      let action: string | undefined;
      if (hasRules && route !== undefined) {
        const rule = rules.get(`${upper} ${route}`) ?? rules.get(route);
        if (rule) {
          if (rule.mode) mode = rule.mode;
          action = rule.action;
        }
      }
      if (mode === 'none') return undefined;
      const status = statusOf(statusCode);
      if (mode === 'errors' && !(status === 'denied' || statusCode >= 500)) return undefined;
      return { action: action ?? `http.${upper.toLowerCase()}`, status };
    },
  };
}

/**
 * 401, 403 and 429 (a rate limiter's refusal) are `denied`; other 4xx and 5xx are `failure`
 * (503 from an overload guard included); the rest `success`.
 */
export function statusOf(statusCode: number): ActivityStatus {
  if (statusCode === 401 || statusCode === 403 || statusCode === 429) return 'denied';
  return statusCode >= 400 ? 'failure' : 'success';
}

function compileRule(name: string, value: CaptureMode | boolean | string | RouteCapture): CompiledRule {
  if (value === true) return { mode: 'all', action: undefined };
  if (value === false) return { mode: 'none', action: undefined };
  if (typeof value === 'string') {
    return MODES.has(value) ? { mode: value as CaptureMode, action: undefined } : { mode: undefined, action: checkAction(name, value) };
  }
  if (value === null || typeof value !== 'object') {
    throw new ActivityLogError('INVALID_OPTIONS', `${name}: must be a mode, a boolean, an action or { capture, action }`);
  }
  refuseUnknownOptions(name, value, ROUTE_CAPTURE_OPTIONS);
  const capture = value.capture;
  const mode = capture === true ? 'all' : capture === false ? 'none' : capture === undefined ? undefined : checkMode(`${name}.capture`, capture);
  return { mode, action: value.action === undefined ? undefined : checkAction(`${name}.action`, value.action) };
}

function checkMode(name: string, mode: unknown): CaptureMode {
  if (typeof mode !== 'string' || !MODES.has(mode)) {
    throw new ActivityLogError('INVALID_OPTIONS', `${name}: must be "all", "errors" or "none", got ${JSON.stringify(mode)}`);
  }
  return mode as CaptureMode;
}

function checkAction(name: string, action: unknown): string {
  if (typeof action !== 'string' || !ACTION_PATTERN.test(action)) {
    throw new ActivityLogError('INVALID_OPTIONS', `${name}: must be an action like "recipe.update", got ${JSON.stringify(action)}`);
  }
  return action;
}
