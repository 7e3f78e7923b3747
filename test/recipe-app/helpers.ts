import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { startRecipeApp, type RunningRecipeApp } from '../../examples/recipe-app/app.js';
import { DEFAULT_ADMIN, readConfig } from '../../examples/recipe-app/config.js';
import type { AccountsOptions } from '../../examples/recipe-app/domain/accounts.js';
import { parseJsonColumns, type RawRow } from '../../adapters/testing/store-conformance.js';

/**
 * The recipe app on a real server (127.0.0.1, a free port) over a temporary SQLite file, or
 * over PostgreSQL when given a URL, plus a small JSON client.
 */

export const ADMIN = DEFAULT_ADMIN;

export interface TestApp extends RunningRecipeApp {
  dir: string;
  databaseFile: string;
  request(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse>;
  /** Signs a new user up; returns the token and user. */
  signup(name?: string): Promise<{ token: string; user: { id: string; name: string; email: string } }>;
  login(email: string, password: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

let counter = 0;

export async function startTestApp(options: { databaseUrl?: string; accounts?: AccountsOptions } = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'recipe-app-'));
  const databaseFile = join(dir, 'app.db');
  const config = { ...readConfig({}), port: 0, host: '127.0.0.1', databaseFile, databaseUrl: options.databaseUrl, accounts: options.accounts };
  let app: RunningRecipeApp;
  try {
    app = await startRecipeApp(config);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const request: TestApp['request'] = async (method, path, { token, body, headers = {} } = {}) => {
    const response = await fetch(app.url + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };
  return Object.assign(app, {
    dir,
    databaseFile,
    request,
    async signup(name = `Cook ${++counter}`) {
      const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${process.pid}.${counter}@example.com`;
      const response = await request('POST', '/auth/signup', { body: { name, email, password: 'correct horse battery' } });
      if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${response.text}`);
      return { token: response.body.token as string, user: response.body.user };
    },
    async login(email: string, password: string) {
      const response = await request('POST', '/auth/login', { body: { email, password } });
      if (response.status !== 200) throw new Error(`login failed: ${response.status} ${response.text}`);
      return response.body.token as string;
    },
    async stop() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/**
 * An activity_logs row as stored, with its JSON columns parsed: the conformance suite's row,
 * with `occurred_at` as each database returns it and the JSON columns open to property access.
 */
export type ActivityRow = Omit<RawRow, 'occurred_at' | 'metadata' | 'changes' | 'error' | 'context'> & {
  occurred_at: string | number;
  metadata: any;
  changes: any;
  error: any;
  context: any;
};

export function parseRow(row: Record<string, unknown>): ActivityRow {
  return parseJsonColumns(row) as unknown as ActivityRow;
}

/** Every activity row in a SQLite file, read with its own connection, oldest first. */
export function readSqliteActivity(filename: string): ActivityRow[] {
  const db = new Database(filename, { readonly: true, timeout: 5000 });
  try {
    return db.prepare('select * from activity_logs order by id').all().map((row) => parseRow(row as Record<string, unknown>));
  } finally {
    db.close();
  }
}

/** The repository root, where `npm start` and the examples run. */
export const ROOT = resolve(import.meta.dirname, '../..');

/** Whether a process group still has a live process. */
export function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
