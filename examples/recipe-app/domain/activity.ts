import { z } from 'zod';
import { tryCurrentActivity, type ActivityLogger } from '../../../src/index.js';

/**
 * The actions this app records, each with the schema of its metadata: `log()` type-checks
 * them at compile time and the logger validates them before storing. Automatic events of the
 * middleware (`http.*`, `system.error`), of the admin API (`activity.*`) and of change capture
 * (`recipe.created|updated|deleted`, `user.created|updated|deleted`: see data/capture.ts) are
 * not cataloged. The admin's recipe and user actions are logged here only when refused or
 * invalid: a successful one is the captured row change.
 */
const reason = z.string().max(64).optional();

export const activityCatalog = {
  'user.signup': z.object({ email: z.string(), reason }),
  'user.login': z.object({ email: z.string(), reason }),
  'user.logout': z.object({ scope: z.enum(['this', 'all']).optional(), ended: z.number().int().optional() }).optional(),
  'user.preferences.update': z.object({ reason }).optional(),
  'admin.user.suspend': z.object({ reason }).optional(),
  'admin.user.reactivate': z.object({ reason }).optional(),
  'recipe.create': z.object({ slug: z.string().optional(), reason }),
  'recipe.update': z.object({ slug: z.string().optional(), reason }),
  'recipe.delete': z.object({ slug: z.string().optional(), reason }),
  'recipe.publish': z.object({ reason }),
  'plan.generate': z.object({
    weekStart: z.string().optional(),
    meals: z.number().int().optional(),
    recipes: z.number().int().optional(),
    fitting: z.number().int().optional(),
    needed: z.number().int().optional(),
    reason,
  }),
};

export type AppCatalog = typeof activityCatalog;
export type AppActivity = ActivityLogger<AppCatalog>;

/**
 * The logger of the request being served (actor, request id, route... bound by the
 * middleware), or the app's root logger outside a request (seeding, scripts, tests). Services
 * call this instead of taking a logger argument: the request scope follows every `await`.
 */
export function activityFor(root: AppActivity): () => AppActivity {
  return () => (tryCurrentActivity() as AppActivity | undefined) ?? root;
}

/** How a user appears as the actor or target of an event. */
export function actorOf(user: { id: string; name: string; role: 'user' | 'admin' }) {
  return { type: user.role === 'admin' ? 'admin' : 'user', id: user.id, name: user.name };
}

export function userTarget(user: { id: string; name: string }) {
  return { type: 'user', id: user.id, name: user.name };
}
