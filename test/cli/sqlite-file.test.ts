import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** `--db` naming a file that is not a SQLite database (an export, a text file): a usage error naming `--db`, and the file left as it was. */

const root = new URL('../..', import.meta.url).pathname;
const entry = join(root, 'adapters/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'activity-log-cli-notadb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1', ACTIVITY_LOG_DB: '' }, timeout: 60_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

describe('the CLI on a file that is not a SQLite database', () => {
  it('names --db and the file (exit 2), for a reading command and for migrate, and writes nothing to it', async () => {
    const file = join(dir, 'activity.db');
    const text = '{"id":"an export, not a database"}\n'.repeat(200);
    writeFileSync(file, text);
    for (const args of [['query'], ['migrate']]) {
      const result = await cli([...args, '--db', `sqlite:${file}`]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toBe(`activity-log: --db: sqlite:${file} is not a SQLite database (check the file's name)\n`);
    }
    expect(readFileSync(file, 'utf8')).toBe(text);
  }, 60_000);
});
