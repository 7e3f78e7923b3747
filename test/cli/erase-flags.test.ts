import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';

/** `erase` given an empty subject: refused naming the flag (it named the library's field, `actorId`), on a real SQLite file. */

const root = new URL('../..', import.meta.url).pathname;
const entry = join(root, 'adapters/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'activity-log-cli-erase-'));
const db = `sqlite:${join(dir, 'erase.db')}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1', ACTIVITY_LOG_DB: '' }, timeout: 60_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

describe('erase with an empty subject', () => {
  beforeAll(async () => {
    const activity = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'erase.db') }) });
    activity.log({ action: 'user.login', actor: { type: 'user', id: 'u1', name: 'Ada' } });
    await activity.close();
  });

  it('is refused naming the flag and the rule (exit 2)', async () => {
    const cases: [string, string][] = [
      ['--actor=', '--actor: must not be empty'],
      ['--tenant=', '--tenant: must not be empty'],
      ['--target=user:', '--target: must be TYPE:ID with an ID, got "user:"'],
    ];
    for (const [flag, message] of cases) {
      const result = await cli(['erase', flag, '--db', db]);
      expect(result.code, flag).toBe(2);
      expect(result.stderr, flag).toBe(`activity-log: ${message}\n`);
    }
  }, 60_000);
});
