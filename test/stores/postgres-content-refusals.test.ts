import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger, type ActivityLogError } from '../../src/index.js';
import { POSTGRES_URL } from './databases.js';

/**
 * A record PostgreSQL refuses must cost only itself, however the table refuses it: a trigger
 * may `raise exception` (P0001) or `assert` (P0004, assert_failure). Taken for an outage, an
 * assert's refusal cost the whole batch (retried, then failed or spooled).
 */

const skip = !POSTGRES_URL && 'ACTIVITY_LOG_POSTGRES_URL is not set (CI always sets it)';
if (skip) console.warn(`[postgres content refusals] skipping: ${skip}`);

const tables: string[] = [];
afterAll(async () => {
  if (skip) return;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  for (const table of tables) await client.query(`drop table if exists "${table}", "${table}_schema", "${table}_checkpoints"`);
  await client.query('drop function if exists al_refuse_poison_by_assert()');
  await client.end();
});

describe.skipIf(Boolean(skip))('postgresStore: a refused record costs only itself', () => {
  it('writes the rest of the batch and counts the record invalid when a trigger refuses it with assert', async () => {
    const tableName = `al_refuse_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
    tables.push(tableName);
    const warmUp = postgresStore({ connectionString: POSTGRES_URL!, tableName });
    await warmUp.migrate();
    await warmUp.close();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`create or replace function al_refuse_poison_by_assert() returns trigger language plpgsql as $$ begin assert new.target_id is distinct from 'poison', 'poisoned target'; return new; end $$`);
    await client.query(`create trigger "${tableName}_refuse" before insert on "${tableName}" for each row execute function al_refuse_poison_by_assert()`);
    await client.end();

    const errors: ActivityLogError[] = [];
    const activity = createActivityLogger({
      store: postgresStore({ connectionString: POSTGRES_URL!, tableName }),
      retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 99; i++) activity.log({ action: 'good.event', metadata: { i } });
    activity.log({ action: 'bad.event', target: { type: 'thing', id: 'poison' } });
    await activity.flush();
    expect(await activity.count({ action: 'good.event' })).toBe(99);
    expect(activity.stats()).toMatchObject({ written: 99, invalid: 1, failed: 0, retries: 0 });
    expect(errors.map((error) => error.code)).toEqual(['RECORD_REJECTED']);
    expect(errors[0]!.message).toMatch(/\(bad\.event\): target\.id: refused by store "postgres": poisoned target/);
    await activity.close();
  });
});
