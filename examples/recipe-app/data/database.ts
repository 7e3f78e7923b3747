import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import pg from 'pg';

/**
 * The app's own tables, beside the activity log in the same database. Everything is stored in
 * portable types (text ids, ISO-8601 text times, JSON in text, 0/1 flags) so the same queries
 * run on SQLite and PostgreSQL.
 */
export interface UserTable {
  id: string;
  name: string;
  email: string;
  password_hash: string;
  role: 'user' | 'admin';
  status: 'active' | 'suspended';
  created_at: string;
  updated_at: string;
}

export interface SessionTable {
  token_hash: string;
  user_id: string;
  created_at: string;
  /** When the session was last used (updated at most once a minute): the idle lifetime counts from here. */
  last_seen_at: string;
}

export interface PreferencesTable {
  user_id: string;
  diet: string;
  /** JSON array of allergen names. */
  allergies: string;
  calories_per_day: number;
  meals_per_day: number;
  updated_at: string;
}

export interface RecipeTable {
  id: string;
  slug: string;
  title: string;
  description: string;
  diet: string;
  /** JSON array of allergen names. */
  allergens: string;
  calories: number;
  /** JSON array of strings. */
  ingredients: string;
  instructions: string;
  /** 0 for a draft: not in the public catalogue until published. */
  published: number;
  active: number;
  created_at: string;
  updated_at: string;
}

export interface MealPlanTable {
  id: string;
  user_id: string;
  week_start: string;
  /** JSON: the plan's days and meals. */
  days: string;
  meal_count: number;
  created_at: string;
}

export interface AppTables {
  users: UserTable;
  sessions: SessionTable;
  preferences: PreferencesTable;
  recipes: RecipeTable;
  meal_plans: MealPlanTable;
}

export type AppDb = Kysely<AppTables>;
export type AppTrx = Transaction<AppTables>;
/** What the data modules run their queries on: the database, or a transaction on it. */
export type AppQueryable = AppDb | AppTrx;

export interface OpenedDatabase {
  db: AppDb;
  dialect: 'sqlite' | 'postgres';
  /** The pg pool (PostgreSQL only), shared with the activity store. */
  pool?: pg.Pool;
  close(): Promise<void>;
}

/** Opens the app's database: the SQLite file, or PostgreSQL when a URL is given. */
export function openDatabase(options: { databaseUrl?: string | undefined; databaseFile: string }): OpenedDatabase {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10 });
    pool.on('error', () => undefined);
    const db = new Kysely<AppTables>({ dialect: new PostgresDialect({ pool }) });
    // Destroying Kysely ends the pool.
    return { db, dialect: 'postgres', pool, close: () => db.destroy() };
  }
  const sqlite = new Database(options.databaseFile, { timeout: 5000 });
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<AppTables>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

/** Creates the app's tables and indexes when missing. Idempotent. */
export async function migrate(db: AppDb): Promise<void> {
  await db.schema
    .createTable('users')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('users_created_at_idx').ifNotExists().on('users').column('created_at').execute();
  await db.schema
    .createTable('sessions')
    .ifNotExists()
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .execute();
  // A database made before sessions expired has no last_seen_at: add it, counting from creation.
  const sessions = (await db.introspection.getTables()).find((table) => table.name === 'sessions');
  if (sessions && !sessions.columns.some((column) => column.name === 'last_seen_at')) {
    await db.schema.alterTable('sessions').addColumn('last_seen_at', 'text').execute();
    await db.updateTable('sessions').set((eb) => ({ last_seen_at: eb.ref('created_at') })).execute();
  }
  await db.schema.createIndex('sessions_user_idx').ifNotExists().on('sessions').column('user_id').execute();
  await db.schema
    .createTable('preferences')
    .ifNotExists()
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('diet', 'text', (c) => c.notNull())
    .addColumn('allergies', 'text', (c) => c.notNull())
    .addColumn('calories_per_day', 'integer', (c) => c.notNull())
    .addColumn('meals_per_day', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('recipes')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('diet', 'text', (c) => c.notNull())
    .addColumn('allergens', 'text', (c) => c.notNull())
    .addColumn('calories', 'integer', (c) => c.notNull())
    .addColumn('ingredients', 'text', (c) => c.notNull())
    .addColumn('instructions', 'text', (c) => c.notNull())
    .addColumn('published', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // A database made before drafts existed: every recipe it has is published.
  const recipes = (await db.introspection.getTables()).find((table) => table.name === 'recipes');
  if (recipes && !recipes.columns.some((column) => column.name === 'published')) {
    await db.schema.alterTable('recipes').addColumn('published', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  }
  await db.schema.createIndex('recipes_active_title_idx').ifNotExists().on('recipes').columns(['active', 'title']).execute();
  await db.schema
    .createTable('meal_plans')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('week_start', 'text', (c) => c.notNull())
    .addColumn('days', 'text', (c) => c.notNull())
    .addColumn('meal_count', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('meal_plans_user_idx').ifNotExists().on('meal_plans').columns(['user_id', 'created_at']).execute();
}

/**
 * Runs `fn` in a transaction, retrying a few times when SQLite reports the database busy:
 * a deferred transaction that reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT) if
 * another connection, such as the activity log's writer thread, committed in between.
 */
export async function inTransaction<T>(db: AppDb, fn: (trx: AppTrx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt >= 5 || typeof code !== 'string' || !code.startsWith('SQLITE_BUSY')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}

/** `%term%` for LIKE, with the wildcards of the term escaped (use with `escape '\'`). */
export function likePattern(term: string): string {
  return `%${term.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
