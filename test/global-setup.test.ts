import { describe, expect, it } from 'vitest';
import { probeMysql, probePostgres, redacted } from './global-setup.js';

describe('finding the local databases for npm test', () => {
  it('finds a database that answers, and says why one does not', async () => {
    expect(await probePostgres('postgres://postgres@127.0.0.1:1/test')).toMatch(/ECONNREFUSED|connect/);
    expect(await probeMysql('mysql://root@127.0.0.1:1/test')).toMatch(/ECONNREFUSED|connect/);
    // The databases the run uses (named, or found by the global setup; CI starts both) answer.
    const postgres = process.env.ACTIVITY_LOG_POSTGRES_URL;
    const mysql = process.env.ACTIVITY_LOG_MYSQL_URL;
    if (postgres) expect(await probePostgres(postgres)).toBeUndefined();
    else console.info('[databases] no PostgreSQL in this run: its probe is not checked');
    if (mysql) expect(await probeMysql(mysql)).toBeUndefined();
    else console.info('[databases] no MariaDB/MySQL in this run: its probe is not checked');
  });

  it('never prints a password', () => {
    expect(redacted('postgres://app:s3cret@db:5432/x')).toBe('postgres://app:***@db:5432/x');
    expect(redacted('not a url')).toBe('(not a URL)');
  });
});
