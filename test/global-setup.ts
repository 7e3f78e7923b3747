import mysql from 'mysql2/promise';
import pg from 'pg';

/**
 * Before any test file: the database suites run against ACTIVITY_LOG_POSTGRES_URL and
 * ACTIVITY_LOG_MYSQL_URL. When one is not set, the usual local address is tried (the
 * addresses `.ci/run` uses); when it answers, the variable is set for every test process
 * started after this, so `npm test` on a machine with local databases runs their suites with
 * no set-up. One line per database says which is used, or why its suites are skipped.
 */
const DATABASES = [
  { name: 'PostgreSQL', variable: 'ACTIVITY_LOG_POSTGRES_URL', local: 'postgres://postgres@127.0.0.1:5432/test', probe: probePostgres },
  { name: 'MariaDB/MySQL', variable: 'ACTIVITY_LOG_MYSQL_URL', local: 'mysql://root@127.0.0.1:3306/test', probe: probeMysql },
] as const;

export default async function setup(): Promise<void> {
  for (const database of DATABASES) {
    const given = process.env[database.variable];
    if (given) {
      console.info(`[databases] ${database.name}: ${database.variable}=${redacted(given)}`);
      continue;
    }
    const problem = await database.probe(database.local);
    if (problem === undefined) {
      process.env[database.variable] = database.local;
      console.info(`[databases] ${database.name}: found at ${database.local}, its suites run (set ${database.variable} to use another)`);
    } else {
      console.info(
        `[databases] ${database.name}: ${database.variable} is not set and ${database.local} does not answer (${problem}): its suites are skipped. ` +
          'Set the variable, or run `bash .ci/run`, which starts both databases (README, "Working on this repository").',
      );
    }
  }
}

export async function probePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function probeMysql(url: string): Promise<string | undefined> {
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
    await connection.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await connection?.end().catch(() => undefined);
  }
}

/** A URL with its password hidden. */
export function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}
