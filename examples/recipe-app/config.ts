import type { AccountsOptions } from './domain/accounts.js';

/**
 * Settings from the environment, with defaults that let `npm start` run with nothing set.
 */
export interface RecipeAppConfig {
  /** TCP port; 0 picks a free one. @default 3000 */
  port: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host: string;
  /** `postgres://...` switches the app and its activity log to PostgreSQL. */
  databaseUrl: string | undefined;
  /** The SQLite file holding the app's tables and the activity log. @default 'recipe-app.db' */
  databaseFile: string;
  /** The admin account seeded on first start. */
  admin: { name: string; email: string; password: string };
  /** Session lifetimes and login throttling (SESSION_IDLE_MINUTES, SESSION_MAX_HOURS). */
  accounts?: AccountsOptions;
}

export const DEFAULT_ADMIN = { name: 'Admin', email: 'admin@example.com', password: 'admin-password' } as const;

/** Reads PORT, HOST, DATABASE_URL, DATABASE_FILE, ADMIN_EMAIL, ADMIN_PASSWORD, SESSION_IDLE_MINUTES and SESSION_MAX_HOURS. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): RecipeAppConfig {
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a whole number from 0 to 65535, got ${JSON.stringify(env.PORT)}`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must be a postgres:// URL (leave it unset for the embedded SQLite file)');
  }
  const minutes = (name: string, value: string | undefined, unitMs: number) => {
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!(n > 0)) throw new Error(`${name} must be a positive number, got ${JSON.stringify(value)}`);
    return n * unitMs;
  };
  const sessionIdleMs = minutes('SESSION_IDLE_MINUTES', env.SESSION_IDLE_MINUTES, 60_000);
  const sessionMaxAgeMs = minutes('SESSION_MAX_HOURS', env.SESSION_MAX_HOURS, 3_600_000);
  return {
    accounts: { ...(sessionIdleMs ? { sessionIdleMs } : {}), ...(sessionMaxAgeMs ? { sessionMaxAgeMs } : {}) },
    port,
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    databaseFile: env.DATABASE_FILE || 'recipe-app.db',
    admin: {
      name: DEFAULT_ADMIN.name,
      email: (env.ADMIN_EMAIL || DEFAULT_ADMIN.email).toLowerCase(),
      password: env.ADMIN_PASSWORD || DEFAULT_ADMIN.password,
    },
  };
}
