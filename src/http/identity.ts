import { ActivityLogError } from '../errors.js';
import { copyBindings, type RequestIdentity, type ResolvedIdentity } from '../bindings.js';
import type { ActivityLogger } from '../logger.js';
import { LIMITS, type ActivityActor } from '../schema.js';
import { cutText } from '../text.js';
import { isValidActor, isValidTenantId } from '../fast-validate.js';
import { schemas } from '../schemas.js';
import { formatIssues } from '../validation.js';

/** What an `actor(req)` callback may return; nothing means `{ type: 'anonymous' }`. */
export type ActorResult = ActivityActor | null | undefined | false;

const ANONYMOUS: ActivityActor = Object.freeze({ type: 'anonymous' });

/**
 * Who a request is, worked out when it is first needed rather than when the middleware runs:
 * at the request logger's first `log()`, or when the response ends for automatic capture. By
 * then the app's own per-route authentication has run (`req.user`, `res.locals`, a fastify
 * `preHandler`, a hono `c.set`). The user's `actor` and `tenant` callbacks are called once per
 * request, sync or async; a throw, a rejection or a value of the wrong shape is reported as
 * `CALLBACK_FAILED` and the request is anonymous (or has no tenant). @internal
 */
export class LazyIdentity implements RequestIdentity {
  private resolved: ResolvedIdentity | undefined;
  private pending: Promise<ResolvedIdentity> | undefined;

  /** The app's callbacks, until they have answered (then let go: they reach the request). */
  private actor: (() => unknown) | undefined;
  private tenant: (() => unknown) | undefined;
  private readonly hasTenant: boolean;

  constructor(
    private readonly logger: ActivityLogger<any>,
    actor: (() => unknown) | undefined,
    tenant: (() => unknown) | undefined,
  ) {
    this.actor = actor;
    this.tenant = tenant;
    this.hasTenant = tenant !== undefined;
  }

  needed(hasActor: boolean, hasTenant: boolean): boolean {
    // An explicit actor needs no actor() call; without a tenant() there is no tenant to find.
    return !hasActor || (!hasTenant && this.hasTenant);
  }

  get(): ResolvedIdentity | Promise<ResolvedIdentity> {
    if (this.resolved) return this.resolved;
    if (this.pending) return this.pending;
    const { logger } = this;
    const actor = callSafely(logger, 'actor', this.actor);
    const tenant = callSafely(logger, 'tenant', this.tenant);
    this.actor = undefined;
    this.tenant = undefined;
    if (!isPromiseLike(actor) && !isPromiseLike(tenant)) {
      this.resolved = identity(toActor(logger, actor), toTenant(logger, tenant));
      return this.resolved;
    }
    this.pending = Promise.all([settle(logger, 'actor', actor), settle(logger, 'tenant', tenant)]).then(([a, t]) => {
      this.resolved = identity(toActor(logger, a), toTenant(logger, t));
      this.pending = undefined;
      return this.resolved;
    });
    return this.pending;
  }

  peek(): ResolvedIdentity | undefined {
    return this.resolved;
  }
}

/** The identity as bound: a copy, so a later change to the app's user object changes nothing logged. */
function identity(actor: ActivityActor, tenantId: string | number | undefined): ResolvedIdentity {
  const copied = copyBindings(tenantId === undefined ? { actor } : { actor, tenantId });
  return { actor: copied?.actor ?? ANONYMOUS, tenantId: copied?.tenantId };
}

function callSafely(logger: ActivityLogger<any>, name: string, fn: (() => unknown) | undefined): unknown {
  if (!fn) return undefined;
  try {
    return fn();
  } catch (cause) {
    reportCallback(logger, name, cause);
    return undefined;
  }
}

async function settle(logger: ActivityLogger<any>, name: string, value: unknown): Promise<unknown> {
  try {
    return await value;
  } catch (cause) {
    reportCallback(logger, name, cause);
    return undefined;
  }
}

function reportCallback(logger: ActivityLogger<any>, name: string, cause: unknown): void {
  logger.report(
    new ActivityLogError('CALLBACK_FAILED', `activity middleware: ${name}() threw; the request goes on ${name === 'actor' ? 'as anonymous' : 'without a tenant'}`, {
      cause,
    }),
  );
}

/**
 * The actor as the event rules take it. Fields other than type, id and name (the app's user
 * object returned as it is: its `email`, `roles`) are dropped and reported, and who acted is
 * kept. A name the rules refuse (over 255 characters, not a string) is cut or left out, and
 * reported, and who acted is kept. A value the rules refuse even so (`{ type: 'user', id: '' }`,
 * an id over 255 characters) is reported and the request is anonymous: bound as it was, it made every event
 * of the request, the app's own `log()` calls and the automatic record, fail validation and
 * be dropped.
 */
function toActor(logger: ActivityLogger<any>, value: unknown): ActivityActor {
  if (value === undefined || value === null || value === false) return ANONYMOUS;
  if (typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') {
    if (isValidActor(value)) return value as ActivityActor;
    const { actor, dropped } = actorFieldsOf(value as Record<string, unknown>);
    const kept = isValidActor(actor) ? actor : withStorableName(actor);
    if (kept) {
      if (dropped.length > 0) {
        logger.report(
          new ActivityLogError(
            'CALLBACK_FAILED',
            `activity middleware: actor() returned fields an actor does not have (${dropped.map((key) => JSON.stringify(key)).join(', ')}); they are left out and the actor is kept as { type, id, name }`,
          ),
        );
      }
      if (kept !== actor) {
        logger.report(
          new ActivityLogError(
            'CALLBACK_FAILED',
            `activity middleware: actor() returned a name events cannot carry (${whyRefused('actorSchema', 'actor', actor)}); ${kept.name === undefined ? 'it is left out' : `it is cut to ${LIMITS.name} characters`} and the actor is kept`,
          ),
        );
      }
      return kept;
    }
    logger.report(
      new ActivityLogError('CALLBACK_FAILED', `activity middleware: actor() returned an actor events cannot carry (${whyRefused('actorSchema', 'actor', value)}); the request goes on as anonymous`),
    );
    return ANONYMOUS;
  }
  logger.report(
    new ActivityLogError('CALLBACK_FAILED', `activity middleware: actor() must return { type, id?, name? } or nothing, got ${typeof value}; the request goes on as anonymous`),
  );
  return ANONYMOUS;
}

/**
 * The actor with its name made one events can carry, when only the name stood in the way: a
 * string cut to `LIMITS.name` characters (as a captured row's name is), anything else left out.
 * The name is display text, often the user's own choice: a display name of 256 characters
 * made every request of its user anonymous, so who acted was lost for whoever chose one.
 * Undefined when the name was not the problem.
 */
function withStorableName(actor: ActivityActor): ActivityActor | undefined {
  if (actor.name === undefined) return undefined;
  const { name, ...rest } = actor;
  const kept: ActivityActor = typeof name === 'string' ? { ...rest, name: cutText(name, LIMITS.name) } : rest;
  return isValidActor(kept) ? kept : undefined;
}

/** An actor's own type, id and name, and the names of the other fields it had. */
function actorFieldsOf(value: Record<string, unknown>): { actor: ActivityActor; dropped: string[] } {
  const actor: Record<string, unknown> = {};
  const dropped: string[] = [];
  try {
    for (const key of Object.keys(value)) {
      if (key === 'type' || key === 'id' || key === 'name') {
        if (value[key] !== undefined) actor[key] = value[key];
      } else {
        dropped.push(key);
      }
    }
  } catch {
    // A hostile object (a throwing getter): nothing is kept of it.
    return { actor: ANONYMOUS, dropped: [] };
  }
  return { actor: actor as unknown as ActivityActor, dropped };
}

/** The tenant as the event rules take it; nothing, null or false is none; one they would refuse ('', over 255 characters, NaN) is reported and left out. */
function toTenant(logger: ActivityLogger<any>, value: unknown): string | number | undefined {
  // `false` means none, as it does for actor() (`user && user.tenantId`).
  if (value === undefined || value === null || value === false) return undefined;
  if (typeof value === 'string' || typeof value === 'number') {
    if (isValidTenantId(value)) return value;
    logger.report(
      new ActivityLogError('CALLBACK_FAILED', `activity middleware: tenant() returned a tenant id events cannot carry (${whyRefused('idValue', 'tenantId', value)}); the request goes on without a tenant`),
    );
    return undefined;
  }
  logger.report(new ActivityLogError('CALLBACK_FAILED', `activity middleware: tenant() must return a string or a number, got ${typeof value}`));
  return undefined;
}

/** What the event rules say of a refused value (zod is loaded for the message only, as for an invalid event). */
function whyRefused(schema: 'actorSchema' | 'idValue', field: string, value: unknown): string {
  try {
    const result = schemas()[schema].safeParse(value);
    return result.success ? 'refused' : formatIssues(result.error.issues, field, schemas()[schema]);
  } catch {
    return 'refused';
  }
}

/** Whether a value is a promise (or any thenable), without letting a hostile getter throw. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  try {
    return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}
