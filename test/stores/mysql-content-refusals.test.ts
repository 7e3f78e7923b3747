import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { createActivityLogger, type ActivityLogError } from '../../src/index.js';
import { MYSQL_URL } from './databases.js';

/**
 * A record the database refuses must cost only itself, however the server files the refusal.
 * MySQL 8 files a CHECK constraint's refusal under SQLSTATE HY000 (errno 3819,
 * ER_CHECK_CONSTRAINT_VIOLATED), not under class 23 as MariaDB does, and a trigger may SIGNAL
 * any user-defined SQLSTATE of class 45, not only 45000. Taken for an outage, either cost the
 * whole batch (retried, then failed or spooled). Each refusal is raised here by a real trigger
 * on MariaDB that signals exactly what MySQL 8 sends.
 */

const skip = !MYSQL_URL && 'ACTIVITY_LOG_MYSQL_URL is not set (CI always sets it)';
if (skip) console.warn(`[mysql content refusals] skipping: ${skip}`);

const tables: string[] = [];
afterAll(async () => {
  if (skip) return;
  const connection = await mysql.createConnection(MYSQL_URL!);
  for (const table of tables) await connection.query(`drop table if exists \`${table}\`, \`${table}_schema\`, \`${table}_checkpoints\``);
  await connection.end();
});

/** A logger whose table refuses rows with target id "poison" by `signal` in a trigger. */
async function refusingLogger(signal: string) {
  const tableName = `al_refuse_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  tables.push(tableName);
  const warmUp = mysqlStore({ uri: MYSQL_URL!, tableName });
  await warmUp.migrate();
  await warmUp.close();
  const connection = await mysql.createConnection(MYSQL_URL!);
  await connection.query(`create trigger \`${tableName}_refuse\` before insert on \`${tableName}\` for each row begin if new.target_id = 'poison' then ${signal}; end if; end`);
  await connection.end();
  const errors: ActivityLogError[] = [];
  const activity = createActivityLogger({
    store: mysqlStore({ uri: MYSQL_URL!, tableName }),
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    onError: (error) => errors.push(error),
  });
  return { activity, errors };
}

describe.skipIf(Boolean(skip))('mysqlStore: a refused record costs only itself', () => {
  const refusals = [
    ['a CHECK constraint as MySQL 8 refuses it (errno 3819, SQLSTATE HY000)', "signal sqlstate 'HY000' set mysql_errno = 3819, message_text = 'Check constraint ''no_poison'' is violated.'"],
    ['a trigger signalling a user-defined SQLSTATE other than 45000', "signal sqlstate '45001' set message_text = 'poisoned target'"],
  ] as const;
  for (const [refusal, signal] of refusals) {
    it(`writes the rest of the batch and counts the record invalid when refused by ${refusal}`, async () => {
      const { activity, errors } = await refusingLogger(signal);
      for (let i = 0; i < 99; i++) activity.log({ action: 'good.event', metadata: { i } });
      activity.log({ action: 'bad.event', target: { type: 'thing', id: 'poison' } });
      await activity.flush();
      expect(await activity.count({ action: 'good.event' })).toBe(99);
      expect(activity.stats()).toMatchObject({ written: 99, invalid: 1, failed: 0, retries: 0 });
      expect(errors.map((error) => error.code)).toEqual(['RECORD_REJECTED']);
      expect(errors[0]!.message).toMatch(/\(bad\.event\): target\.id: refused by store "mysql": /);
      await activity.close();
    });
  }
});
