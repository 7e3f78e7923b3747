import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AppDb } from '../data/database.js';
import * as users from '../data/users.js';
import { actorOf, userTarget, type AppActivity } from './activity.js';
import { AppError, isAppError } from './errors.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';
import { createLoginThrottle, type LoginThrottle } from './throttle.js';
import { DIETS, type Preferences, type User } from './types.js';
import { parseInput } from './validation.js';

const email = z.string().trim().toLowerCase().max(254).pipe(z.email());
const signupSchema = z.object({
  name: z.string().trim().min(1).max(100),
  email,
  password: z.string().min(8).max(200),
});
const loginSchema = z.object({ email: z.string().trim().toLowerCase().max(254), password: z.string().max(200) });
export const preferencesSchema = z.object({
  diet: z.enum(DIETS),
  allergies: z.array(z.string().trim().toLowerCase().min(1).max(40)).max(20).transform((list) => [...new Set(list)].sort()),
  caloriesPerDay: z.number().int().min(800).max(6000),
  mealsPerDay: z.number().int().min(1).max(6),
});

export interface Session {
  user: User;
  /** The bearer token; also sent as the `session` cookie by the HTTP layer. */
  token: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** How long sessions live, and how logins are throttled. */
export interface AccountsOptions {
  /** A session unused for this long ends. @default 7200000 (2 hours) */
  sessionIdleMs?: number;
  /** A session ends this long after sign-in, however much it is used. @default 43200000 (12 hours) */
  sessionMaxAgeMs?: number;
  /** @default createLoginThrottle() */
  throttle?: LoginThrottle;
  /** The clock, for tests. @default Date.now */
  now?: () => number;
}

/** A session's last-use time is written at most this often, not on every request. */
const TOUCH_EVERY_MS = 60_000;

/** Sign-up, log-in, log-out, sessions and the preferences questionnaire. */
export function createAccounts(db: AppDb, activity: () => AppActivity, options: AccountsOptions = {}) {
  const { sessionIdleMs = 2 * 3_600_000, sessionMaxAgeMs = 12 * 3_600_000, throttle = createLoginThrottle(), now = Date.now } = options;

  async function openSession(user: User): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await users.insertSession(db, hashToken(token), user.id, new Date(now()).toISOString());
    return token;
  }

  return {
    async signup(input: unknown): Promise<Session> {
      const attemptedEmail = emailOf(input);
      try {
        const { name, email, password } = parseInput(signupSchema, input);
        if (await users.findUserByEmail(db, email)) {
          throw new AppError('conflict', 'email_taken', 'an account with this email already exists');
        }
        const now = new Date().toISOString();
        const row = { id: randomUUID(), name, email, password_hash: await hashPassword(password), role: 'user', status: 'active', created_at: now, updated_at: now } as const;
        await users.insertUser(db, row);
        const user = users.toUser(row);
        const token = await openSession(user);
        activity().log({ action: 'user.signup', actor: actorOf(user), target: userTarget(user), metadata: { email } });
        return { user, token };
      } catch (error) {
        if (isAppError(error)) {
          activity().log({ action: 'user.signup', status: 'failure', metadata: { email: attemptedEmail, reason: error.code } });
        }
        throw error;
      }
    },

    /**
     * Signs in. `client` (the request's address) is throttled alongside the account: a few
     * wrong passwords for one account, or many from one client, and every attempt is refused
     * for a while (`too_many_attempts`, recorded as denied with reason `throttled`).
     */
    async login(input: unknown, client?: string): Promise<Session> {
      const attemptedEmail = emailOf(input);
      const deny = (reason: string, target?: User) =>
        activity().log({ action: 'user.login', status: 'denied', target: target && userTarget(target), metadata: { email: attemptedEmail, reason } });
      const retryAfterSeconds = throttle.retryAfter(attemptedEmail, client);
      if (retryAfterSeconds > 0) {
        deny('throttled');
        throw new AppError('too_many_requests', 'too_many_attempts', `too many failed logins; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
      }
      const parsed = loginSchema.safeParse(input);
      if (!parsed.success) {
        deny('invalid_input');
        throw new AppError('invalid', 'invalid_input', 'email and password are required');
      }
      const { email, password } = parsed.data;
      const row = await users.findUserByEmail(db, email);
      // Check a hash either way, so an unknown email takes as long as a wrong password.
      const matches = await verifyPassword(password, row?.password_hash ?? (await dummyHash()));
      if (!row || !matches) {
        throttle.failed(attemptedEmail, client);
        deny(row ? 'wrong_password' : 'unknown_email', row && users.toUser(row));
        throw new AppError('unauthorized', 'invalid_credentials', 'wrong email or password');
      }
      throttle.succeeded(attemptedEmail);
      const user = users.toUser(row);
      if (user.status === 'suspended') {
        deny('suspended', user);
        throw new AppError('forbidden', 'account_suspended', 'this account is suspended');
      }
      const token = await openSession(user);
      activity().log({ action: 'user.login', actor: actorOf(user), target: userTarget(user), metadata: { email } });
      return { user, token };
    },

    async logout(user: User, token: string): Promise<void> {
      await users.deleteSession(db, hashToken(token));
      activity().log({ action: 'user.logout', target: userTarget(user), metadata: { scope: 'this' } });
    },

    /** Ends every session of the user (every device signed in), this one included. */
    async logoutEverywhere(user: User): Promise<number> {
      const ended = await users.deleteSessionsOfUser(db, user.id);
      activity().log({ action: 'user.logout', target: userTarget(user), metadata: { scope: 'all', ended } });
      return ended;
    },

    /**
     * The user of a session token, or undefined: also for a session past its idle or absolute
     * lifetime, which is deleted then. Not logged: it runs on every request.
     */
    async authenticate(token: string): Promise<User | undefined> {
      const tokenHash = hashToken(token);
      const row = await users.findSessionUser(db, tokenHash);
      if (!row) return undefined;
      const at = now();
      const createdAt = Date.parse(row.session_created_at);
      const lastSeenAt = Date.parse(row.session_last_seen_at);
      if (!(at - createdAt < sessionMaxAgeMs) || !(at - lastSeenAt < sessionIdleMs)) {
        await users.deleteSession(db, tokenHash);
        return undefined;
      }
      if (at - lastSeenAt >= TOUCH_EVERY_MS) await users.touchSession(db, tokenHash, new Date(at).toISOString());
      return users.toUser(row);
    },

    /** The absolute lifetime of a session, for the cookie's Max-Age. */
    sessionMaxAgeSeconds: Math.floor(sessionMaxAgeMs / 1000),

    async preferences(user: User): Promise<Preferences | null> {
      const row = await users.findPreferences(db, user.id);
      return row ? users.toPreferences(row) : null;
    },

    async updatePreferences(user: User, input: unknown): Promise<Preferences> {
      let next: z.output<typeof preferencesSchema>;
      try {
        next = parseInput(preferencesSchema, input);
      } catch (error) {
        activity().log({ action: 'user.preferences.update', status: 'failure', target: userTarget(user), metadata: { reason: 'invalid_input' } });
        throw error;
      }
      const existing = await users.findPreferences(db, user.id);
      const before = existing ? withoutTimestamp(users.toPreferences(existing)) : null;
      const now = new Date().toISOString();
      await users.upsertPreferences(db, {
        user_id: user.id,
        diet: next.diet,
        allergies: JSON.stringify(next.allergies),
        calories_per_day: next.caloriesPerDay,
        meals_per_day: next.mealsPerDay,
        updated_at: now,
      });
      activity().log({ action: 'user.preferences.update', target: userTarget(user), changes: { before, after: next } });
      return { ...next, updatedAt: now };
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;

function withoutTimestamp({ updatedAt: _updatedAt, ...rest }: Preferences) {
  return rest;
}

/** The email someone tried, for the log (never the password). */
function emailOf(input: unknown): string {
  const value = input && typeof input === 'object' ? (input as { email?: unknown }).email : undefined;
  return typeof value === 'string' ? value.trim().toLowerCase().slice(0, 254) : '';
}
