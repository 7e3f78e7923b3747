import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createActivityLogger, type ActivityStore } from '../../src/index.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import type { RecipeAppConfig } from './config.js';
import { captureAppChanges } from './data/capture.js';
import { migrate, openDatabase, type AppDb } from './data/database.js';
import { createAccounts } from './domain/accounts.js';
import { activityCatalog, activityFor, type AppActivity } from './domain/activity.js';
import { createAdmin } from './domain/admin.js';
import { createPlans } from './domain/plans.js';
import { createRecipes } from './domain/recipes.js';
import { createHttpApp } from './http/server.js';
import { seed, SEED_ACTOR } from './seed.js';

export interface RunningRecipeApp {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  server: Server;
  db: AppDb;
  activity: AppActivity;
  dialect: 'sqlite' | 'postgres';
  seeded: { adminCreated: boolean; recipesCreated: number };
  /** Stops accepting connections, waits for open requests, then writes every pending event and closes the database. */
  close(): Promise<void>;
}

/**
 * Wires the app: the database (SQLite file or PostgreSQL), its tables, the activity logger on
 * the same database, change capture of the recipes and users tables, the seed data, the
 * services, and the HTTP server.
 */
export async function startRecipeApp(config: RecipeAppConfig): Promise<RunningRecipeApp> {
  const database = openDatabase(config);
  const { db } = database;
  let activity: AppActivity | undefined;
  try {
    await migrate(db);

    // The activity log lives beside the app's tables. On SQLite the store opens the same file
    // (its writer thread has its own connection); on PostgreSQL it shares the app's pool.
    const store: ActivityStore = database.pool ? postgresStore({ pool: database.pool }) : sqliteStore({ filename: config.databaseFile });
    // Create the table now rather than on the first event, so a bad database fails the start.
    await store.migrate?.();
    activity = createActivityLogger({
      store,
      catalog: activityCatalog,
      // A year of history; the log's own reads (activity.*) for 30 days. One instance purges at a time.
      retention: { days: 365, rules: [{ action: 'activity.*', days: 30 }] },
    });
    // After the migrations, so that a column they add is captured too; before the seed, so
    // that the seeded rows are in the log (as the seed's).
    await captureAppChanges(db, activity);
    const root = activity;
    const seeded = await seed(db, config.admin, (trx) => root.with({ actor: SEED_ACTOR }).changes(trx));
    const scoped = activityFor(activity);

    const services = {
      accounts: createAccounts(db, scoped, config.accounts),
      recipes: createRecipes(db, scoped),
      plans: createPlans(db, scoped),
      admin: createAdmin(db, scoped),
    };
    const server = createServer(createHttpApp(services, activity));
    server.listen(config.port, config.host);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;

    let closing: Promise<void> | undefined;
    const logger = activity;
    return {
      url: `http://${host}:${port}`,
      server,
      db,
      activity: logger,
      dialect: database.dialect,
      seeded,
      close() {
        closing ??= (async () => {
          // Order matters: requests still running log events, so the server drains first.
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await logger.close();
          await database.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await activity?.close();
    await database.close().catch(() => undefined);
    throw error;
  }
}
