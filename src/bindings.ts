import type { ActivityActor, ActivityContext } from './schema.js';
import { snapshotBindings, UnreadableBinding } from './snapshot.js';
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
 * What the request middleware ties to the loggers of one request, beside their bindings:
 * - `routeOf`: the route template, read when an event is logged (express and hono know it
 *   only after routing, which happens after the middleware bound the logger);
 * - `scope`: the request's scope, told of every event the request's loggers log, and found
 *   again from any of them by automatic capture and the error handlers (`requestScopeOf`).
 * `with()` carries both to its children, so a child of the request logger is of the request.
 * Queued events hold only the bindings, never these: a scope reaches the framework's request
 * objects, which must not live until the next flush.
 * @internal
 */
export interface RequestTags {
  readonly routeOf?: (() => string | undefined) | undefined;
  readonly scope?: RequestTag | undefined;
  /** Who the request is, worked out at its first event (the middleware's `actor`/`tenant`). */
  readonly identity?: RequestIdentity | undefined;
}

/** A request's actor and tenant, once known. @internal */
export interface ResolvedIdentity {
  readonly actor: ActivityActor;
  readonly tenantId: string | number | undefined;
}

/** A request's actor and tenant, worked out once, when first asked for. @internal */
export interface RequestIdentity {
  /**
   * Whether a logger that has (or lacks) an actor and a tenant of its own needs the identity:
   * an explicit actor needs no `actor()` call, and no `tenant()` means no tenant to find.
   */
  needed(hasActor: boolean, hasTenant: boolean): boolean;
  /** The identity, working it out now if need be: a promise while an async callback runs. */
  get(): ResolvedIdentity | Promise<ResolvedIdentity>;
  /** The identity if it is known already; never calls the app's callbacks. */
  peek(): ResolvedIdentity | undefined;
}

/** What a logger tells its request's scope about the events it logs. @internal */
export interface RequestTag {
  /** Called for every event the request's loggers log, with its status as given. */
  logged(status: unknown): void;
}

/**
 * Where a logger keeps its {@link RequestTags}: a symbol, so they are not part of its API and
 * no `with()` call or event can spell them. @internal
 */
export const REQUEST_TAGS: unique symbol = Symbol('activity-log.request-tags');

/** What the request middleware passes to `with()`: bindings, and the request's tags. @internal */
export interface TaggedBindings extends ActivityBindings {
  [REQUEST_TAGS]?: RequestTags;
}

/**
 * What `with(bindings)` binds: a copy of the caller's data (by the same rules as an event, so
 * a later change to the caller's object changes nothing), in one fixed shape. `undefined` for
 * anything that is not an object of bindings.
 */
export function copyBindings(bindings: ActivityBindings): ActivityBindings | undefined {
  return snapshotBindings(bindings) as ActivityBindings | undefined;
}

/**
 * `bindings` with `route` written into their context, as a new object (events already queued
 * keep the bindings they were logged with), of the same shapes as the original.
 */
export function withRoute(bindings: ActivityBindings, route: string): ActivityBindings {
  const context = bindings.context;
  return {
    actor: bindings.actor,
    tenantId: bindings.tenantId,
    // A context copied by `with()` has every context field, `route` included: this keeps its shape.
    context: context instanceof UnreadableBinding ? context : context ? { ...context, route } : { route },
    metadata: bindings.metadata,
  };
}

/**
 * `bindings` with the request's identity under them: an actor or tenant bound explicitly (a
 * child's `with({ actor })`) wins. A new object of the same shape; `bindings` when nothing changes.
 */
export function withIdentity(bindings: ActivityBindings | undefined, identity: ResolvedIdentity): ActivityBindings {
  const actor = bindings?.actor ?? identity.actor;
  const tenantId = bindings?.tenantId ?? identity.tenantId;
  if (bindings && actor === bindings.actor && tenantId === bindings.tenantId) return bindings;
  return { actor, tenantId, context: bindings?.context, metadata: bindings?.metadata };
}

/** A child's bindings over its parent's: the child's fields win, context and metadata merge key by key. */
export function mergeBindings(parent: ActivityBindings | undefined, child: ActivityBindings): ActivityBindings {
  if (!parent) return child;
  const merged: ActivityBindings = { ...parent };
  if (child.actor !== undefined) merged.actor = child.actor;
  if (child.tenantId !== undefined) merged.tenantId = child.tenantId;
  if (child.context instanceof UnreadableBinding || parent.context instanceof UnreadableBinding) {
    // A context with() could not read stays, so the child's events are refused as the parent's.
    merged.context = parent.context instanceof UnreadableBinding ? parent.context : (child.context ?? parent.context);
  } else if (child.context !== undefined) {
    // A copied context has every field, the absent ones undefined: those keep the parent's.
    const context: Record<string, unknown> = { ...parent.context };
    for (const [key, value] of Object.entries(child.context)) if (value !== undefined) context[key] = value;
    merged.context = context;
  }
  if (child.metadata !== undefined) {
    const metadata = { ...parent.metadata };
    for (const key of Object.keys(child.metadata)) defineOwn(metadata, key, child.metadata[key]);
    merged.metadata = metadata;
  }
  return merged;
}

/** A child's tags over its parent's: each the child's when it has one. */
export function mergeTags(parent: RequestTags | undefined, child: RequestTags | undefined): RequestTags | undefined {
  if (!child) return parent;
  if (!parent) return child;
  return { routeOf: child.routeOf ?? parent.routeOf, scope: child.scope ?? parent.scope, identity: child.identity ?? parent.identity };
}

/** The tags of a logger this library made, if it has any. Never throws. @internal */
export function requestTagsOf(logger: unknown): RequestTags | undefined {
  try {
    return (logger as { [REQUEST_TAGS]?: RequestTags } | null | undefined)?.[REQUEST_TAGS];
  } catch {
    return undefined;
  }
}
