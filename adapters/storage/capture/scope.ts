import type { ActivityBindings } from '../../../src/bindings.js';
import { CHANGE_CAPTURE, type ChangeCaptureSupport } from '../../../src/change-capture.js';
import { tryCurrentActivity } from '../../../src/context.js';
import type { Redactor } from '../../../src/redact.js';
import { CONTEXT_FIELDS, LIMITS } from '../../../src/schema.js';
import { cutText, storableText } from '../../../src/text.js';

/**
 * The request context a captured change is attributed to, as the JSON the triggers read:
 * `{ actor: { type, id?, name? }?, tenantId?, context: { ip, userAgent, requestId, method,
 * route, traceId }? }`, absent fields left out (the triggers read a missing one as NULL).
 * Strings are cut to the log table's limits and made storable, and the context is redacted
 * as the logger redacts an event's. @internal
 */

/** Made once per bindings object: a request's statements share it. */
const made = new WeakMap<ActivityBindings, string>();

/** The current request scope's context, or undefined outside one. */
export function currentContext(): string | undefined | Promise<string | undefined> {
  const logger = tryCurrentActivity() as { [CHANGE_CAPTURE]?: ChangeCaptureSupport } | undefined;
  const support = logger?.[CHANGE_CAPTURE];
  if (!support) return undefined;
  return contextOf(support);
}

/** A logger's context as the triggers read it (`logger.changes(trx)`, and the request's logger). */
export function contextOf(support: ChangeCaptureSupport): string | Promise<string> {
  const bindings = support.bindings();
  if (bindings instanceof Promise) return bindings.then((resolved) => serialize(resolved, support.redactor));
  return serialize(bindings, support.redactor);
}

function serialize(bindings: ActivityBindings | undefined, redactor: Redactor): string {
  if (!bindings) return '{}';
  const known = made.get(bindings);
  if (known !== undefined) return known;
  const payload: Record<string, unknown> = {};
  const { actor, tenantId, context } = bindings;
  if (actor && typeof actor.type === 'string') {
    const out: Record<string, string> = { type: cut(actor.type, LIMITS.type) };
    if (actor.id !== undefined && actor.id !== null) out.id = cut(String(actor.id), LIMITS.id);
    if (typeof actor.name === 'string') out.name = cut(actor.name, LIMITS.name);
    payload.actor = out;
  }
  if (tenantId !== undefined && tenantId !== null) payload.tenantId = cut(String(tenantId), LIMITS.id);
  if (context) {
    const redacted = redactor.redactContext(context) as Record<string, unknown>;
    const out: Record<string, string> = {};
    for (const field of CONTEXT_FIELDS) {
      const value = redacted[field];
      if (typeof value === 'string') out[field] = cut(value, LIMITS[field]);
    }
    if (Object.keys(out).length > 0) payload.context = out;
  }
  const json = JSON.stringify(payload);
  made.set(bindings, json);
  return json;
}

function cut(text: string, max: number): string {
  return cutText(storableText(text), max);
}
