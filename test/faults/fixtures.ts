/**
 * Shared pieces of the fault-injection suite: a paced load, a TCP proxy that can cut a
 * database off, and raw readers that count what reached each database through its own client.
 */
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import type { ActivityEvent, ActivityLogger } from '../../src/index.js';

export const POSTGRES_URL = process.env.ACTIVITY_LOG_POSTGRES_URL;
export const MYSQL_URL = process.env.ACTIVITY_LOG_MYSQL_URL;
export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/** A table name no other test uses. */
export function uniqueTable(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Prints why a suite is skipped, so a skip is never silent. */
export function skipReason(reason: string | undefined): boolean {
  if (reason) console.warn(`[faults] skipped: ${reason}`);
  return reason !== undefined;
}

export interface LoadResult {
  logged: number;
}

/**
 * Logs at a steady rate (in ticks of 10 ms) for `durationMs`, each event with a known id
 * `${prefix}-${n}`, and calls `during` once, `faultAtMs` into the run.
 */
export async function runLoad(
  activity: ActivityLogger,
  options: {
    prefix: string;
    ratePerSecond: number;
    durationMs: number;
    faultAtMs?: number;
    during?: () => Promise<void>;
    /** The n-th event, by default a plain `load.event` with `metadata: { n }`; its id is always `${prefix}-${n}`. */
    event?: (n: number) => Omit<ActivityEvent, 'id'>;
  },
): Promise<LoadResult> {
  const perTick = Math.max(1, Math.round(options.ratePerSecond / 100));
  let logged = 0;
  const started = Date.now();
  let fault: Promise<void> | undefined;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Date.now() - started;
      // Catch up on ticks the event loop missed, so the rate holds even under a stall.
      const due = Math.min(Math.floor((elapsed / 1000) * options.ratePerSecond), Math.floor((options.durationMs / 1000) * options.ratePerSecond));
      const target = Math.max(due, logged + perTick);
      while (logged < target && logged < (options.durationMs / 1000) * options.ratePerSecond) {
        const event = options.event?.(logged) ?? { action: 'load.event', actor: { type: 'service', id: 'loadgen' }, metadata: { n: logged } };
        activity.log({ ...event, id: `${options.prefix}-${logged}` });
        logged++;
      }
      if (!fault && options.during && elapsed >= (options.faultAtMs ?? 0)) fault = options.during();
      if (elapsed >= options.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  await fault;
  return { logged };
}

/** How many rows, and how many distinct ids, carry the prefix. */
export interface Presence {
  rows: number;
  distinct: number;
}

export async function postgresPresence(url: string, table: string, prefix: string): Promise<Presence> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`select count(*)::int as rows, count(distinct id)::int as distinct from "${table}" where id like $1`, [`${prefix}-%`]);
    return { rows: rows[0].rows, distinct: rows[0].distinct };
  } finally {
    await client.end();
  }
}

export async function postgresDrop(url: string, table: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop table if exists "${table}"`);
    await client.query(`drop table if exists "${table}_schema"`);
    await client.query(`drop table if exists "${table}_checkpoints"`);
  } finally {
    await client.end();
  }
}

export async function mysqlPresence(url: string, table: string, prefix: string): Promise<Presence> {
  const connection = await mysql.createConnection(url);
  try {
    const [rows] = await connection.query(`select count(*) as \`rows\`, count(distinct id) as \`distinct\` from \`${table}\` where id like ?`, [`${prefix}-%`]);
    const row = (rows as { rows: number; distinct: number }[])[0]!;
    return { rows: Number(row.rows), distinct: Number(row.distinct) };
  } finally {
    await connection.end();
  }
}

export async function mysqlDrop(url: string, table: string): Promise<void> {
  const connection = await mysql.createConnection(url);
  try {
    await connection.query(`drop table if exists \`${table}\``);
    await connection.query(`drop table if exists \`${table}_schema\``);
    await connection.query(`drop table if exists \`${table}_checkpoints\``);
  } finally {
    await connection.end();
  }
}

export function sqlitePresence(filename: string, table: string, prefix: string): Presence {
  const db = new Database(filename, { readonly: true, timeout: 5000 });
  try {
    const row = db.prepare(`select count(*) as rows, count(distinct id) as "distinct" from "${table}" where id like ?`).get(`${prefix}-%`) as Presence;
    return row;
  } finally {
    db.close();
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of a database: `cut()` closes the listener and destroys
 * every connection (the database is unreachable: connections are refused), `restore()`
 * listens again on the same port. A stand-in for a network outage, which cannot be caused
 * for real on a shared local database without stopping it for every other test.
 */
export async function tcpProxy(targetPort: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, '127.0.0.1');
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = async () => {
    const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closing;
    server = undefined;
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
