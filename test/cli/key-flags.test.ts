import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';

/**
 * `verify` and `erase` given a key the library refuses: named as the flag or the variable
 * that gave it (`--key-env: the key in ACTIVITY_LOG_KEY …`), not as the library's option
 * (`integrity.key: …`), which the operator never wrote. On a real SQLite file.
 */

const root = new URL('../..', import.meta.url).pathname;
const entry = join(root, 'adapters/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'activity-log-cli-keys-'));
const db = `sqlite:${join(dir, 'keys.db')}`;
const KEY = 'the key flags test key, 32 bytes';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args, '--db', db], { cwd: root, env: { ...process.env, NO_COLOR: '1', ACTIVITY_LOG_DB: '', ACTIVITY_LOG_KEY: KEY, ...env }, timeout: 60_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

describe('the CLI: a key the library refuses', () => {
  beforeAll(async () => {
    const activity = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'keys.db') }), integrity: { key: KEY } });
    activity.log({ action: 'user.login', actor: { type: 'user', id: 'u1', name: 'Ada' } });
    await activity.close();
  });

  it('is named as the flag or variable that gave it (exit 2)', async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [['verify'], { ACTIVITY_LOG_KEY: 'short' }, '--key-env: the key in ACTIVITY_LOG_KEY must be a string or bytes of at least 16 bytes'],
      [['erase', '--actor', 'u1', '--key-env', 'MY_KEY'], { MY_KEY: 'short' }, '--key-env: the key in MY_KEY must be'],
      [['verify', '--keys-env', 'OLD_KEYS'], { OLD_KEYS: '5' }, '--keys-env: OLD_KEYS must be an object of key id to key'],
      [['verify', '--keys-env', 'OLD_KEYS'], { OLD_KEYS: '{"k0":"short"}' }, '--keys-env: the key "k0" in OLD_KEYS must be'],
      [['verify', '--key-id', 'no spaces'], {}, '--key-id: must be 1-64 letters'],
    ];
    for (const [args, env, message] of cases) {
      const result = await cli(args, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(`activity-log: ${message}`);
    }
  }, 60_000);
});
