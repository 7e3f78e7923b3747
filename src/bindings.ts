import type { ActivityActor, ActivityContext } from './schema.js';
import { snapshotPlain } from './snapshot.js';
import { defineOwn } from './text.js';

/** Context bound with `logger.with()`; an event's own fields win over it. */
export interface ActivityBindings {
  actor?: ActivityActor;
  tenantId?: string | number;
  context?: ActivityContext;
  /** Merged key by key under the event's own metadata. */
  metadata?: Record<string, unknown>;
}

/**
 * Bindings as a logger holds them: the data above, plus what the request middleware ties to
 * the loggers of a request, under symbols that no event or `with()` call can spell:
 * - {@link ROUTE_OF}: the route template, read when an event is logged (express and hono know
 *   it only after routing, which happens after the middleware bound the logger);
 * - {@link REQUEST_SCOPE}: the request's scope, which automatic capture and the error
 *   handlers find again from any logger of the request (`requestScopeOf`).
 * `with()` carries both to its children, so a child of the request logger is of the request.
 * @internal
 */
export interface HeldBindings extends ActivityBindings {
  [ROUTE_OF]?: () => string | undefined;
  [REQUEST_SCOPE]?: RequestTag;
}

/** What a logger tells its request's scope about the events it logs. @internal */
export interface RequestTag {
  /** Called for every event the request's loggers log, with its status as given. */
  logged(status: unknown): void;
}

/** @internal */
export const ROUTE_OF: unique symbol = Symbol('activity-log.route-of');
/** @internal */
export const REQUEST_SCOPE: unique symbol = Symbol('activity-log.request-scope');

/**
 * What `with(bindings)` binds: a copy of the caller's data (by the same rules as an event, so
 * a later change to the caller's object changes nothing), and the route and scope tags as
 * given. `undefined` for anything that is not an object of bindings.
 */
export function copyBindings(bindings: HeldBindings): HeldBindings | undefined {
  const copied = snapshotPlain(bindings);
  if (copied === null || typeof copied !== 'object' || Array.isArray(copied)) return undefined;
  const held = copied as HeldBindings;
  if (bindings[ROUTE_OF]) held[ROUTE_OF] = bindings[ROUTE_OF];
  if (bindings[REQUEST_SCOPE]) held[REQUEST_SCOPE] = bindings[REQUEST_SCOPE];
  return held;
}

/** A child's bindings over its parent's: the child's fields win, context and metadata merge key by key. */
export function mergeBindings(parent: HeldBindings | undefined, child: HeldBindings): HeldBindings {
  if (!parent) return child;
  // Spread copies the symbol-keyed tags too.
  const merged: HeldBindings = { ...parent };
  if (child.actor !== undefined) merged.actor = child.actor;
  if (child.tenantId !== undefined) merged.tenantId = child.tenantId;
  if (child.context !== undefined) merged.context = { ...parent.context, ...child.context };
  if (child.metadata !== undefined) {
    const metadata = { ...parent.metadata };
    for (const key of Object.keys(child.metadata)) defineOwn(metadata, key, child.metadata[key]);
    merged.metadata = metadata;
  }
  if (child[ROUTE_OF]) merged[ROUTE_OF] = child[ROUTE_OF];
  if (child[REQUEST_SCOPE]) merged[REQUEST_SCOPE] = child[REQUEST_SCOPE];
  return merged;
}
