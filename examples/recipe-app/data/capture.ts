import { captureChanges } from '../../../adapters/storage/kysely.js';
import type { AppActivity } from '../domain/activity.js';
import type { AppDb } from './database.js';

/**
 * Change capture of the app's own tables: every INSERT, UPDATE and DELETE of a recipe or a
 * user is recorded by database triggers as `recipe.created|updated|deleted` or
 * `user.created|updated|deleted`, with the changed columns, whoever made it: the signed-in
 * user or admin of the request (the middleware's actor), a job that names itself with
 * `activity.with({ actor }).changes(trx)`, or `database` for a change made outside the app
 * (the sqlite3 shell, psql). The services therefore log no record that would only restate a
 * row change; they log what a row cannot say (a login, a refusal, a plan that could not be made).
 *
 * Sessions, preferences and meal plans are not captured: sessions change on every sign-in and
 * say nothing an admin reviews, and preferences and plans keep their own explicit events.
 */
export const CAPTURED_TABLES = {
  // updated_at is bookkeeping: it changes with every edit and, alone, is no change.
  recipes: { target: 'recipe', id: 'id', name: 'title', ignore: ['updated_at'] },
  // password_hash matches the logger's sensitive terms and would be redacted anyway; named
  // here so that renaming the column can never put a hash in the log.
  users: { target: 'user', id: 'id', name: 'email', ignore: ['updated_at'], redact: ['password_hash'] },
} satisfies Parameters<typeof captureChanges>[2];

/**
 * Installs (or, after an upgrade or a new column, replaces) the triggers. Idempotent and safe
 * from several processes: the app calls it at every start, after its migrations.
 */
export async function captureAppChanges(db: AppDb, activity: AppActivity): Promise<void> {
  await captureChanges(db, activity, CAPTURED_TABLES);
}
