import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { activityLogsRouter, activityMiddleware } from '../../../adapters/frameworks/express.js';
import { actorOf, type AppActivity } from '../domain/activity.js';
import type { Accounts, Session } from '../domain/accounts.js';
import type { Admin } from '../domain/admin.js';
import { isAppError, type AppErrorKind } from '../domain/errors.js';
import type { Plans } from '../domain/plans.js';
import type { Recipes } from '../domain/recipes.js';
import { authenticate, isActiveAdmin, requireAdmin, requireUser, rethrowAuthError, SESSION_COOKIE } from './auth.js';
import type { ActivityLogger } from '../../../src/index.js';
import { extractRequestContext } from '../../../src/http/index.js';
import { HOME_PAGE_POLICY, homePage } from './home.js';

export interface Services {
  accounts: Accounts;
  recipes: Recipes;
  plans: Plans;
  admin: Admin;
}

const STATUS: Record<AppErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  too_many_requests: 429,
};

/**
 * The HTTP layer: routes, the activity middleware and the admin logs mount, over the
 * services. Two apps: `api` holds the middleware and the routes (the middleware appends its
 * `system.error` recorder at the end of `api`); the outer app answers what `api` passes on
 * (unknown paths, unhandled errors) as JSON, after the error has been recorded.
 */
export function createHttpApp(services: Services, activity: AppActivity): express.Express {
  const { accounts, recipes, plans, admin } = services;
  const api = express.Router();
  const inner = express();
  inner.disable('x-powered-by');

  inner.use(authenticate(accounts));
  inner.use(
    activityMiddleware(activity, {
      actor: (req) => req.user && actorOf(req.user),
      // Business events are logged by the services; automatically: every 401/403 and 5xx.
      capture: { reads: 'errors', writes: 'errors' },
    }),
  );
  inner.use(rethrowAuthError);
  inner.use(express.json({ limit: '100kb' }), express.urlencoded({ extended: false, limit: '10kb' }));

  // ---- pages and accounts ----
  api.get('/', async (req, res) => {
    const user = req.user?.status === 'active' ? req.user : undefined;
    sendPage(res, 200, homePage(user, undefined, user?.role === 'admin' ? { drafts: await recipes.countDrafts() } : undefined));
  });

  api.post('/auth/signup', async (req, res) => {
    const session = await accounts.signup(req.body);
    sendSession(res, 201, session, accounts.sessionMaxAgeSeconds);
  });

  api.post('/auth/login', async (req, res) => {
    const fromForm = typeof req.is('application/x-www-form-urlencoded') === 'string';
    try {
      const session = await accounts.login(req.body, req.ip);
      if (fromForm) {
        setSessionCookie(res, session.token, accounts.sessionMaxAgeSeconds);
        res.redirect(303, '/');
      } else sendSession(res, 200, session, accounts.sessionMaxAgeSeconds);
    } catch (error) {
      if (!fromForm || !isAppError(error)) throw error;
      setRetryAfter(res, error);
      sendPage(res, STATUS[error.kind], homePage(undefined, error.message));
    }
  });

  const endSession = (res: Response, req: Request) => {
    res.setHeader('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
    if (req.is('application/x-www-form-urlencoded')) res.redirect(303, '/');
    else res.status(204).end();
  };
  api.post('/auth/logout', requireUser, async (req, res) => {
    await accounts.logout(req.user!, req.sessionToken!);
    endSession(res, req);
  });
  // Every device signed in to this account is signed out.
  api.post('/auth/logout/all', requireUser, async (req, res) => {
    await accounts.logoutEverywhere(req.user!);
    endSession(res, req);
  });

  api.get('/me', requireUser, async (req, res) => {
    res.json({ user: req.user, preferences: await accounts.preferences(req.user!) });
  });
  api.get('/me/preferences', requireUser, async (req, res) => {
    res.json({ preferences: await accounts.preferences(req.user!) });
  });
  api.put('/me/preferences', requireUser, async (req, res) => {
    res.json({ preferences: await accounts.updatePreferences(req.user!, req.body) });
  });

  // ---- recipes ----
  api.get('/recipes', async (req, res) => {
    res.json(await recipes.list(req.query));
  });
  api.get('/recipes/:idOrSlug', async (req, res) => {
    res.json({ recipe: await recipes.get(String(req.params.idOrSlug)) });
  });
  api.post('/admin/recipes', requireAdmin, async (req, res) => {
    res.status(201).json({ recipe: await recipes.create(req.body) });
  });
  // Drafts published in one UPDATE: `{ ids }`, or every draft with no body (the home page's button).
  api.post('/admin/recipes/publish', requireAdmin, async (req, res) => {
    const fromForm = typeof req.is('application/x-www-form-urlencoded') === 'string';
    const result = await recipes.publish(fromForm ? {} : req.body);
    // A browser goes on to the records change capture made of it.
    if (fromForm) res.redirect(303, '/admin/logs?action=recipe.updated');
    else res.json(result);
  });
  api.patch('/admin/recipes/:id', requireAdmin, async (req, res) => {
    res.json({ recipe: await recipes.update(String(req.params.id), req.body) });
  });
  api.delete('/admin/recipes/:id', requireAdmin, async (req, res) => {
    await recipes.remove(String(req.params.id));
    res.status(204).end();
  });

  // ---- meal plans ----
  api.post('/plans', requireUser, async (req, res) => {
    res.status(201).json({ plan: await plans.generate(req.user!) });
  });
  api.get('/plans/current', requireUser, async (req, res) => {
    res.json({ plan: await plans.current(req.user!) });
  });

  // ---- admin: users ----
  api.get('/admin/users', requireAdmin, async (req, res) => {
    res.json(await admin.listUsers(req.query));
  });
  api.get('/admin/users/:id', requireAdmin, async (req, res) => {
    res.json(await admin.getUser(String(req.params.id)));
  });
  api.post('/admin/users/:id/suspend', requireAdmin, async (req, res) => {
    res.json({ user: await admin.suspend(req.user!, String(req.params.id)) });
  });
  api.post('/admin/users/:id/reactivate', requireAdmin, async (req, res) => {
    res.json({ user: await admin.reactivate(req.user!, String(req.params.id)) });
  });

  // ---- admin: the activity log ----
  api.use(
    '/admin/logs',
    activityLogsRouter(activity, {
      authorize: isActiveAdmin,
      // Browsers get the Activity Logs page at /admin/logs; API clients get JSON as before.
      viewer: true,
      // A browser that is not signed in as an admin goes to the sign-in page; API clients keep their JSON 403.
      onUnauthorized: (req) => (req.accepts(['json', 'html']) === 'html' ? new Response(null, { status: 303, headers: { location: '/' } }) : undefined),
    }),
  );

  inner.use(api);
  inner.use(answerAppErrors);

  const app = express();
  app.disable('x-powered-by');
  app.use(inner);
  app.use(notFound);
  app.use(lastResort(activity));
  return app;
}

function sendSession(res: Response, status: number, session: Session, maxAgeSeconds: number): void {
  setSessionCookie(res, session.token, maxAgeSeconds);
  res.status(status).json({ user: session.user, token: session.token });
}

function setSessionCookie(res: Response, token: string, maxAgeSeconds: number): void {
  res.setHeader('set-cookie', `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}`);
}

/** An HTML page of the app, under a policy that runs no script, loads nothing and cannot be framed. */
function sendPage(res: Response, status: number, html: string): void {
  res.status(status);
  res.setHeader('content-security-policy', HOME_PAGE_POLICY);
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.type('html').send(html);
}

function setRetryAfter(res: Response, error: { details?: unknown }): void {
  const seconds = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if (typeof seconds === 'number') res.setHeader('retry-after', String(seconds));
}

/** An expected refusal from a service becomes its status and a JSON error; anything else goes on. */
const answerAppErrors: ErrorRequestHandler = (error: unknown, _req, res, next) => {
  if (!isAppError(error) || res.headersSent) return next(error);
  setRetryAfter(res, error);
  res.status(STATUS[error.kind]).json({ error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });
};

const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: 'not_found', message: `no route ${req.method} ${req.path}` });
};

/**
 * Reached by errors nobody answered: a clean JSON body, never a stack. Body-parser errors carry
 * their 4xx status. An error from inside the app was recorded as `system.error` by the
 * middleware; one that failed a request before the middleware ran (it has no request logger)
 * is recorded here, so every 5xx the app answers is in the log.
 */
function lastResort(activity: AppActivity): ErrorRequestHandler {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: 'bad_request', message: (error as Error).message });
      return;
    }
    if (!(req as { activity?: unknown }).activity) {
      const { context } = extractRequestContext({ method: req.method, headers: { get: (name) => req.get(name) ?? null } }, { ip: req.ip });
      // The middleware's own event, outside the app's catalog (as the middleware records it).
      (activity as unknown as ActivityLogger).with({ context }).log({ action: 'system.error', status: 'failure', error });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const requestId = res.getHeader('x-request-id');
    res.status(500).json({ error: 'internal_error', message: 'something went wrong; it has been logged', ...(requestId ? { requestId } : {}) });
  };
}
