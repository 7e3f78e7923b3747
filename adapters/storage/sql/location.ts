import { resolve } from 'node:path';

/**
 * Where a store's database is, without credentials: `127.0.0.1:5432/audit` for a server, the
 * file's absolute path for SQLite. A store names it as its `location`, so that what belongs to
 * one database (a spool file's batches) is told apart from another database's table of the
 * same name. Best effort: what the options say, never a connection.
 */

/** The connection settings a pool was given, as far as they name a server and a database. */
export interface ServerSettings {
  /** A connection URL (`postgres://user:secret@host:5432/db`, `mysql://…`). */
  url?: unknown;
  host?: unknown;
  port?: unknown;
  database?: unknown;
}

/** `host:port/database` of a server from its settings, or undefined when they name none. */
export function serverLocation(...settings: (ServerSettings | undefined)[]): string | undefined {
  let host: string | undefined;
  let port: string | undefined;
  let database: string | undefined;
  // Later settings fill in what earlier ones leave out.
  for (const each of settings) {
    if (!each) continue;
    const url = parseUrl(each.url);
    host ??= text(each.host) ?? url?.host;
    port ??= text(each.port) ?? url?.port;
    database ??= text(each.database) ?? url?.database;
  }
  if (host === undefined && port === undefined && database === undefined) return undefined;
  return `${host ?? ''}${port === undefined ? '' : `:${port}`}/${database ?? ''}`;
}

/** A SQLite database's location: its file's absolute path; undefined in memory. */
export function fileLocation(filename: string, inMemory: boolean): string | undefined {
  return inMemory ? undefined : resolve(filename);
}

function parseUrl(value: unknown): { host?: string; port?: string; database?: string } | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    // A socket directory or a host given as a parameter (`?host=/var/run/postgresql`).
    const host = decodeURIComponent(url.hostname) || url.searchParams.get('host') || undefined;
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || url.searchParams.get('database') || undefined;
    return { host, port: url.port || url.searchParams.get('port') || undefined, database };
  } catch {
    return undefined;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
}
