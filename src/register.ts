import type { ActivityLogger } from './logger.js';

/**
 * Tells the request integrations which logger your app uses, so that `req.activity`
 * (express), `request.activity` (fastify), `c.get('activity')` (hono) and `currentActivity()`
 * carry your catalog's types. Declare it once, anywhere in your app:
 *
 * @example
 * export const activity = createActivityLogger({ store, catalog });
 *
 * declare module 'activity-log' {
 *   interface ActivityRegister {
 *     logger: typeof activity;
 *   }
 * }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ActivityRegister {}

/**
 * The logger type registered in {@link ActivityRegister}, or `ActivityLogger<any>` (any
 * action, any metadata) when the app registered none.
 */
export type RegisteredActivityLogger = ActivityRegister extends { logger: infer L extends ActivityLogger<any> } ? L : ActivityLogger<any>;
