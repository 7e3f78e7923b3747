import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/index.js';

/**
 * A flag that takes one value, given twice: commander kept the last without a word, so
 * `purge --before 90d --before 0s` purged everything and `erase --actor a --actor b` erased b.
 * Refused with exit code 2 and nothing written, on a real SQLite file.
 */

const root = new URL('../..', import.meta.url).pathname;
const entry = join(root, 'adapters/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'activity-log-cli-repeated-'));
const file = join(dir, 'repeated.db');
const db = `sqlite:${file}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1', ACTIVITY_LOG_DB: '' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** What the file holds, read through a store of its own. */
async function stored() {
  const activity = createActivityLogger({ store: sqliteStore({ filename: file }) });
  const page = await activity.query({ limit: 100 });
  await activity.close();
  return page.items.map((record) => ({ id: record.id, actor: record.actor }));
}

describe('the CLI: a flag given twice', () => {
  beforeAll(async () => {
    const activity = createActivityLogger({ store: sqliteStore({ filename: file }) });
    for (let i = 0; i < 10; i++) activity.log({ action: 'user.login', actor: { type: 'user', id: `u${i % 2}`, name: `User ${i % 2}` }, occurredAt: new Date(Date.now() - 3_600_000 + i) });
    await activity.close();
  });

  it('is refused, naming the flag and both values (exit 2), and nothing is purged or erased', async () => {
    const before = await stored();
    expect(before).toHaveLength(10);
    const cases: [string[], RegExp][] = [
      [['purge', '--before', '90d', '--before', '0s'], /option '--before <age\|date>' argument '0s' is invalid\. given twice \("90d", then "0s"\): give it once/],
      [['erase', '--actor', 'u0', '--actor', 'u1'], /option '--actor <id>' argument 'u1' is invalid\. given twice \("u0", then "u1"\)/],
      [['purge', '--before', '0s', '--tenant', 't1', '--tenant', 't2'], /'--tenant <id>' .* given twice/],
      [['--table', 'activity_logs', 'query', '--table', 'other'], /'--table <name>' .* given twice/],
      [['query', '--status', 'success', '--status', 'denied'], /'--status <status>' .* given twice/],
      [['tail', '-n', '1', '--lines', '2'], /'-n, --lines <n>' .* given twice/],
    ];
    for (const [args, message] of cases) {
      const result = await cli([...args, '--db', db]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    expect(await stored()).toEqual(before);
  }, 120_000);

  it('is still taken for --metadata, which is repeatable, and for a flag given once with its variable set', async () => {
    const result = await cli(['query', '--metadata', 'a=1', '--metadata', 'b=2', '--format', 'ndjson', '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const once = await new Promise<number>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', entry, 'query', '--limit', '1', '--db', db], { cwd: root, env: { ...process.env, ACTIVITY_LOG_DB: db } }, (error) => resolve(error ? 1 : 0)),
    );
    expect(once).toBe(0);
  }, 60_000);
});
