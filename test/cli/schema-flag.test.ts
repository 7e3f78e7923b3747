import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { createActivityLogger } from '../../src/index.js';
import { POSTGRES_URL } from '../stores/databases.js';

/**
 * The CLI and the names a store was given: a log in a PostgreSQL schema of its own
 * (`postgresStore({ schema })`) is reached with `--schema`, and a table or schema name the
 * store refuses is reported as the flag that gave it, with exit code 2.
 */

const root = new URL('../..', import.meta.url).pathname;
const entry = join(root, 'adapters/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'activity-log-cli-schema-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1', COLUMNS: '120' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the CLI: names of the table', () => {
  it('reports a --table or --schema the stores refuse as that flag (exit 2), and --schema on SQLite', async () => {
    const db = `sqlite:${join(dir, 'names.db')}`;
    expect((await cli(['migrate', '--db', db])).code).toBe(0);
    const table = await cli(['query', '--db', db, '--table', 'Activity-Log']);
    expect(table.code).toBe(2);
    expect(table.stderr).toContain('activity-log: --table: must be letters, digits and "_"');
    const schema = await cli(['query', '--db', db, '--schema', 'audit']);
    expect(schema.code).toBe(2);
    expect(schema.stderr).toContain('activity-log: --schema: names a PostgreSQL schema or a MySQL database; a SQLite file has none');
  }, 60_000);

  describe.skipIf(!POSTGRES_URL)('on PostgreSQL', () => {
    const schema = `h2_cli_${process.pid}_${Date.now().toString(36)}`;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    afterAll(async () => {
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    });

    it('reads a log in a schema of its own with --schema, and hints at it without', async () => {
      await client.connect();
      await client.query(`create schema "${schema}"`);
      const activity = createActivityLogger({ store: postgresStore({ connectionString: POSTGRES_URL!, schema, tableName: 'Audit_Log' }) });
      activity.log({ action: 'recipe.update', actor: { type: 'user', id: 'u1' } });
      await activity.close();
      const found = await cli(['query', '--db', POSTGRES_URL!, '--schema', schema, '--table', 'Audit_Log', '--format', 'json']);
      expect(found.code, found.stderr).toBe(0);
      expect(JSON.parse(found.stdout).items.map((record: { action: string }) => record.action)).toEqual(['recipe.update']);
      const without = await cli(['query', '--db', POSTGRES_URL!, '--table', 'Audit_Log']);
      expect(without.code).toBe(2);
      expect(without.stderr).toContain('--table: there is no table "Audit_Log" in ');
      expect(without.stderr).toContain('name its schema with --schema');
      // A schema the database does not have is that flag's mistake too, not a missing table.
      const missing = await cli(['query', '--db', POSTGRES_URL!, '--schema', `${schema}_missing`, '--table', 'Audit_Log']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`activity-log: --schema: there is no schema "${schema}_missing" in this PostgreSQL database; create it first`);
      const refused = await cli(['query', '--db', POSTGRES_URL!, '--schema', 'my schema']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('activity-log: --schema: must be letters, digits and "_"');
    }, 60_000);
  });
});
