import type { ActivityBindings } from './bindings.js';
import { ActivityLogError } from './errors.js';
import type { Redactor } from './redact.js';
import type { ActivityStore } from './store.js';

/**
 * What the core offers change capture (`captureChanges` in activity-log/kysely), which lives
 * in an adapter because it touches the database: a logger's store and redaction, and the
 * bindings a write made now would be attributed to. Reached through a symbol, so it is not
 * part of the logger's API. @internal
 */
export const CHANGE_CAPTURE: unique symbol = Symbol.for('activity-log.change-capture') as never;

/** What a logger exposes to change capture. @internal */
export interface ChangeCaptureSupport {
  readonly store: ActivityStore;
  readonly redactor: Redactor;
  /**
   * The actor, tenant and context of this logger, with the request's actor worked out (the
   * middleware's `actor()`, called now if it was not yet): a promise while it is being worked out.
   */
  bindings(): ActivityBindings | undefined | Promise<ActivityBindings | undefined>;
}

/** What `captureChanges` registers so that `logger.changes(trx)` can reach the transaction's connection. @internal */
export interface ChangeAttribution {
  attribute(transaction: unknown, support: ChangeCaptureSupport): Promise<void>;
}

const ATTRIBUTION = Symbol.for('activity-log.change-attribution');
const slot = globalThis as { [ATTRIBUTION]?: ChangeAttribution };

/** Registers how transactions are attributed (by the kysely adapter, once capture is installed). @internal */
export function registerChangeAttribution(attribution: ChangeAttribution): void {
  slot[ATTRIBUTION] = attribution;
}

/** Attributes the changes of `transaction` to `support`'s bindings; see `ActivityLogger.changes`. @internal */
export async function attributeChanges(transaction: unknown, support: ChangeCaptureSupport): Promise<void> {
  const attribution = slot[ATTRIBUTION];
  if (!attribution) {
    throw new ActivityLogError('UNSUPPORTED', 'changes(trx): change capture is not installed in this process; call captureChanges(db, activity, tables) from activity-log/kysely first');
  }
  await attribution.attribute(transaction, support);
}
