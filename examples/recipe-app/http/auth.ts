import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Accounts } from '../domain/accounts.js';
import type { User } from '../domain/types.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The signed-in user, from the bearer token or the session cookie. */
      user?: User;
      /** The token the request authenticated with. */
      sessionToken?: string;
      /** A failure looking the session up, re-thrown once the activity scope is open. */
      authError?: unknown;
    }
  }
}

export const SESSION_COOKIE = 'session';

/**
 * `Authorization: Bearer <token>`, else the `session` cookie. A cookie that is not valid
 * percent-encoding (`session=%E0%A4%A`) is no token: the request goes on signed out, rather
 * than failing before the activity middleware could record it.
 */
export function tokenOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== SESSION_COOKIE || value.length === 0) continue;
    try {
      return decodeURIComponent(value.join('=')) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Resolves the session before the activity middleware runs, so `actor(req)` can read
 * `req.user` synchronously. A database failure here is kept in `req.authError` and re-thrown
 * after the middleware, where it is recorded as `system.error` with the request's context.
 */
export function authenticate(accounts: Accounts): RequestHandler {
  return function authenticate(req, _res, next) {
    let token: string | undefined;
    try {
      token = tokenOf(req);
    } catch (error) {
      req.authError = error;
      return next();
    }
    if (!token) return next();
    accounts.authenticate(token).then(
      (user) => {
        if (user) {
          req.user = user;
          req.sessionToken = token;
        }
        next();
      },
      (error: unknown) => {
        req.authError = error;
        next();
      },
    );
  };
}

export function rethrowAuthError(req: Request, _res: Response, next: NextFunction): void {
  next(req.authError);
}

/** 401 without a session; 403 for a suspended account. Both are recorded by the middleware. */
export function requireUser(req: Request, res: Response, next: NextFunction): void {
  if (!req.user) {
    res.status(401).json({ error: 'unauthorized', message: 'sign in first: send Authorization: Bearer <token>' });
    return;
  }
  if (req.user.status === 'suspended') {
    res.status(403).json({ error: 'account_suspended', message: 'this account is suspended' });
    return;
  }
  next();
}

export function requireAdmin(req: Request, res: Response, next: NextFunction): void {
  requireUser(req, res, () => {
    if (req.user?.role !== 'admin') {
      res.status(403).json({ error: 'forbidden', message: 'admins only' });
      return;
    }
    next();
  });
}

export function isActiveAdmin(req: Request): boolean {
  return req.user?.role === 'admin' && req.user.status === 'active';
}
