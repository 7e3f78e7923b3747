import type { ActivityLogger } from './logger.js';

declare global {
  /**
   * Tells the request integrations which logger your app uses, so that `req.activity`
   * (express), `request.activity` (fastify), `c.get('activity')` (hono), `currentActivity()`
   * and `tryCurrentActivity()` carry your catalog's types. Declare it once, in any module of
   * your app. Global rather than a module augmentation, so that the ESM and CommonJS
   * declarations of this package, if a program loads both, share the one registration.
   *
   * @example
   * export const activity = createActivityLogger({ store, catalog });
   *
   * declare global {
   *   interface ActivityLogRegister {
   *     logger: typeof activity;
   *   }
   * }
   */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ActivityLogRegister {}
}

/** What a registration that is not `{ logger: <an activity logger> }` turns the request loggers into. */
export interface InvalidActivityLogRegister {
  'ActivityLogRegister must be exactly { logger: typeof yourActivityLogger }': never;
}

/**
 * The logger type registered in `ActivityLogRegister`; `Otherwise` when the app registered
 * none; {@link InvalidActivityLogRegister} when the registration is misspelt or not a logger,
 * so that the mistake shows where the logger is used instead of silently unchecking it.
 */
export type RegisteredActivityLogger<Otherwise = ActivityLogger<any>> = [keyof ActivityLogRegister] extends [never]
  ? Otherwise
  : [keyof ActivityLogRegister] extends ['logger']
    ? ActivityLogRegister extends { logger: infer L extends ActivityLogger<any> }
      ? L
      : InvalidActivityLogRegister
    : InvalidActivityLogRegister;
