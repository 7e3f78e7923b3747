import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlStore } from '../../adapters/storage/mysql.js';
import { postgresStore } from '../../adapters/storage/postgres.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger, type ActivityLogger } from '../../src/index.js';
import type { ActivityStore } from '../../src/store.js';
import { skipReason } from '../integrity/databases.js';
import { mysqlDrop, postgresDrop } from '../faults/fixtures.js';
import { MYSQL_URL, POSTGRES_URL } from '../stores/databases.js';

/**
 * The CLI as users run it: a separate process (the TypeScript entry through tsx), against a
 * real SQLite file, PostgreSQL and MariaDB, with its output read back.
 */

const root = new URL('../..', import.meta.url).pathname;
const entry = join(root, 'adapters/cli/main.ts');
const KEY = 'the cli test key, thirty-two bytes';
const dir = mkdtempSync(join(tmpdir(), 'activity-log-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args` and the environment given; never rejects. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1', COLUMNS: '120', ...env }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const databases = [
  { kind: 'sqlite' as const, db: () => `sqlite:${join(dir, 'cli.db')}`, store: (table: string, migrate = true) => sqliteStore({ filename: join(dir, 'cli.db'), tableName: table, migrate }) },
  { kind: 'postgres' as const, db: () => POSTGRES_URL!, store: (table: string, migrate = true) => postgresStore({ connectionString: POSTGRES_URL!, tableName: table, migrate }) },
  { kind: 'mysql' as const, db: () => MYSQL_URL!, store: (table: string, migrate = true) => mysqlStore({ uri: MYSQL_URL!, tableName: table, migrate }) },
];

for (const database of databases) {
  const skip = skipReason(database.kind);
  if (skip) console.warn(`[cli] ${database.kind}: skipped, ${skip}`);

  describe.skipIf(Boolean(skip))(`the CLI on ${database.kind}`, () => {
    const table = `al_cli_${Date.now().toString(36)}`;
    let store: ActivityStore;
    let logger: ActivityLogger;
    const run = (args: string[], env: Record<string, string> = {}) => cli(args, { ACTIVITY_LOG_DB: database.db(), ACTIVITY_LOG_KEY: KEY, ...env });
    const withTable = (args: string[]) => [...args, '--table', table];
    const base = Date.now() - 100 * 60_000;

    beforeAll(async () => {
      store = database.store(table);
      logger = createActivityLogger({ store, integrity: { key: KEY, personal: ['email'] } });
      for (let i = 0; i < 100; i++) {
        logger.log({
          id: `cli-${String(i).padStart(3, '0')}`,
          action: i % 4 === 0 ? 'user.login' : 'recipe.update',
          status: i % 10 === 0 ? 'denied' : 'success',
          actor: { type: 'user', id: `u${i % 5}`, name: `User ${i % 5}` },
          target: { type: 'recipe', id: `r${i}` },
          tenantId: i % 2 === 0 ? 't1' : 't2',
          metadata: { email: `u${i % 5}@example.com`, n: i, plan: i % 3 === 0 ? 'pro' : 'free' },
          context: { requestId: `req-${i % 7}`, traceId: `trace-${i % 3}` },
          occurredAt: new Date(base + i * 60_000),
        });
      }
      await logger.flush();
    });

    afterAll(async () => {
      await logger.close();
      if (database.kind === 'postgres') await postgresDrop(POSTGRES_URL!, table);
      if (database.kind === 'mysql') await mysqlDrop(MYSQL_URL!, table);
    });

    it('queries with every filter, in every format, as query() finds them', async () => {
      // A date half a minute between two records: with a duration ('90m'), the test's own query
      // and the command's, made a second apart, could fall on either side of a record.
      const since = new Date(base + 10.5 * 60_000);
      const args = ['--action', 'recipe.*', '--status', 'success', '--actor', 'u1', '--tenant', 't2', '--metadata', 'plan=free', '--since', since.toISOString(), '--limit', '500'];
      const expected = (await logger.query({ action: 'recipe.*', status: 'success', actorId: 'u1', tenantId: 't2', metadata: { plan: 'free' }, from: since, limit: 500 })).items.map((record) => record.id);
      expect(expected.length).toBeGreaterThan(3);
      const json = await run(withTable(['query', ...args, '--format', 'json']));
      expect(json.code).toBe(0);
      expect((JSON.parse(json.stdout) as { items: { id: string }[] }).items.map((record) => record.id)).toEqual(expected);
      const ndjson = await run(withTable(['query', ...args, '--format', 'ndjson']));
      expect(ndjson.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(expected);
      const csv = await run(withTable(['query', ...args, '--format', 'csv']));
      expect(csv.stdout.split('\r\n')[0]).toMatch(/^id,occurredAt,action,status,/);
      expect(csv.stdout.split('\r\n').filter(Boolean)).toHaveLength(expected.length + 1);
      const tableRun = await run(withTable(['query', ...args]));
      expect(tableRun.stdout.split('\n')[0]).toMatch(/^TIME\s+STATUS\s+ACTION\s+ACTOR\s+TARGET\s+TENANT$/);
      expect(tableRun.stdout.trim().split('\n')).toHaveLength(expected.length + 1);
      for (const row of tableRun.stdout.trim().split('\n')) expect(row.length).toBeLessThanOrEqual(120);
      // Metadata typed as a number, and a target.
      const typed = await run(withTable(['query', '--metadata', 'n:=42', '--target', 'recipe:r42', '--format', 'ndjson']));
      expect(typed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['cli-042']);
      // One request, one trace, free text.
      const context = await logger.query({ requestId: 'req-3', traceId: 'trace-1', search: 'user 2', limit: 500 });
      expect(context.items.length).toBeGreaterThan(0);
      const byContext = await run(withTable(['query', '--request-id', 'req-3', '--trace-id', 'trace-1', '--search', 'user 2', '--format', 'ndjson']));
      expect(byContext.code).toBe(0);
      expect(byContext.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(context.items.map((record) => record.id));
    });

    it('pages with --limit and --cursor', async () => {
      const first = await run(withTable(['query', '--limit', '30', '--format', 'json']));
      const page = JSON.parse(first.stdout) as { items: { id: string }[]; nextCursor: string };
      expect(page.items).toHaveLength(30);
      const second = JSON.parse((await run(withTable(['query', '--limit', '30', '--cursor', page.nextCursor, '--format', 'json']))).stdout) as { items: { id: string }[] };
      expect(second.items[0]!.id < page.items[29]!.id).toBe(true);
    });

    it('exports every match to a file, the same records as the API export, with no progress bar on a pipe', async () => {
      const out = join(dir, `${database.kind}.ndjson`);
      const result = await run(withTable(['export', '--format', 'ndjson', '--out', out, '--tenant', 't1']));
      expect(result.code).toBe(0);
      expect(result.stderr).not.toContain('exporting [');
      const ids = readFileSync(out, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
      expect(ids).toHaveLength(50);
      expect(existsSync(`${out}.partial`)).toBe(false);
      const csvOut = join(dir, `${database.kind}.csv`);
      await run(withTable(['export', '--format', 'csv', '--out', csvOut]));
      expect(readFileSync(csvOut, 'utf8').split('\r\n').filter(Boolean)).toHaveLength(101);
    });

    it('charts a summary', async () => {
      const result = await run(withTable(['stats', '--by', 'status']));
      expect(result.code).toBe(0);
      const lines = result.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^status\s+count$/);
      expect(lines[1]).toMatch(/^success\s+90 █+$/);
      expect(lines[2]).toMatch(/^denied\s+10 █+$/);
      const json = JSON.parse((await run(withTable(['stats', '--by', 'action', '--format', 'json']))).stdout) as { buckets: { key: string; count: number }[] };
      expect(json.buckets).toEqual([{ key: 'recipe.update', count: 75 }, { key: 'user.login', count: 25 }]);
    });

    it('verifies (exit 0), finds nothing wrong to erase over, and then finds an edit (exit 1)', async () => {
      const clean = await run(withTable(['verify', '--personal', 'email']));
      expect(clean.code, clean.stderr).toBe(0);
      expect(clean.stdout).toMatch(/^OK: 100 sealed records in 1 chain/);
      const erased = await run(withTable(['erase', '--actor', 'u3', '--personal', 'email']));
      expect(erased.stdout).toBe('erased the personal values of 20 records\n');
      const after = await run(withTable(['verify', '--personal', 'email', '--format', 'json']));
      const report = JSON.parse(after.stdout) as { ok: boolean; counts: Record<string, number> };
      expect(report).toMatchObject({ ok: true, counts: { erased: 20, edited: 0 } });
      const noKey = await run(withTable(['verify']), { ACTIVITY_LOG_KEY: '' });
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain('--key-env');
    });

    it('names the file and the line of a --checkpoints line that is not JSON (exit 2)', async () => {
      const file = join(dir, `checkpoints-${database.kind}.ndjson`);
      writeFileSync(file, '\n{"chain":"c","seq":1}\n{"chain": oops}\n');
      const result = await run(withTable(['verify', '--checkpoints', file]));
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(`activity-log: --checkpoints: line 3 of ${file} is not JSON (`);
    });

    it('names a --table that is not there (exit 2), and makes no table: only migrate does', async () => {
      const typo = `${table}_typo`;
      for (const args of [['query'], ['stats'], ['tail', '-n', '1'], ['export', '--out', join(dir, 'typo.ndjson')], ['purge', '--before', '1d', '--dry-run'], ['purge', '--before', '1d'], ['verify'], ['erase', '--actor', 'u1']]) {
        const result = await run([...args, '--table', typo]);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr, args.join(' ')).toContain(`--table: there is no table "${typo}" in `);
      }
      expect(existsSync(join(dir, 'typo.ndjson'))).toBe(false);
      // Read through a store that makes nothing: the table is still not there.
      const check = createActivityLogger({ store: database.store(typo, false) });
      try {
        await expect(check.query({})).rejects.toThrow(/side|typo|exist|no such table/i);
      } finally {
        await check.close();
      }
      expect((await run(['migrate', '--table', typo])).code).toBe(0);
      const after = await run(['query', '--table', typo, '--format', 'json']);
      expect(after.code, after.stderr).toBe(0);
      expect(JSON.parse(after.stdout)).toEqual({ items: [], nextCursor: null });
      if (database.kind === 'postgres') await postgresDrop(POSTGRES_URL!, typo);
      if (database.kind === 'mysql') await mysqlDrop(MYSQL_URL!, typo);
    }, 120_000);

    it('purges: the dry run counts and deletes nothing, the purge deletes what it counted', async () => {
      // A date between two records, for the two runs a second apart to mean the same records.
      const before = new Date(base + 40.5 * 60_000).toISOString();
      const dry = await run(withTable(['purge', '--before', before, '--tenant', 't1', '--dry-run']));
      const count = Number(/would delete (\d+) records/.exec(dry.stdout)?.[1]);
      expect(count).toBeGreaterThan(0);
      expect((await logger.count({ tenantId: 't1' }))).toBe(50);
      const purged = await run(withTable(['purge', '--before', before, '--tenant', 't1']));
      expect(purged.stdout).toMatch(new RegExp(`^deleted ${count} records`));
      expect(await logger.count({ tenantId: 't1' })).toBe(50 - count);
    });
  });
}

describe('the CLI, on any store', () => {
  const db = `sqlite:${join(dir, 'any.db')}`;
  // The file the usage errors below are made against (a missing file is an error of its own).
  beforeAll(async () => {
    expect((await cli(['migrate', '--db', db])).code).toBe(0);
  });

  it('answers --version with the package\'s version and exit code 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await cli([flag]);
      expect(result.code, flag).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it('answers --help for every command with exit code 0', async () => {
    for (const command of [[], ['query'], ['tail'], ['export'], ['purge'], ['migrate'], ['stats'], ['verify'], ['erase']]) {
      const result = await cli([...command, '--help']);
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout).toContain('Usage: activity-log');
    }
  });

  it('shows the usage with exit code 2 when no command is given, and 0 for help asked for as a command', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: activity-log');
    for (const asked of [['help'], ['help', 'purge']]) {
      const result = await cli(asked);
      expect(result.code, asked.join(' ')).toBe(0);
      expect(result.stdout).toContain('Usage: activity-log');
    }
  });

  it('names the flag and the rule of a usage error, with exit code 2, and a store it cannot reach with exit code 3', async () => {
    const cases: [string[], RegExp][] = [
      [['query', '--since', 'yesterday'], /--since: must be a duration/],
      [['query', '--since', '1h', '--until', '2h'], /--since: must not be later than --until/],
      [['query', '--limit', 'abc'], /--limit: must be a whole number from 1 to 500, got "abc"/],
      [['query', '--limit', '501'], /--limit: must be a whole number from 1 to 500, got "501"/],
      [['tail', '-n', '1.5'], /--lines: must be a whole number from 0 to 500, got "1.5"/],
      [['purge', '--before', '20260315', '--dry-run'], /--before: must be a duration back from now .* got "20260315"/],
      [['query', '--until', '2026-13-45'], /--until: must be a duration back from now .* got "2026-13-45"/],
      // A day the month does not have (Date reads it as March 3), and a duration past the year 1.
      [['purge', '--before', '2026-02-31', '--dry-run'], /--before: must be a duration back from now .* got "2026-02-31"/],
      [['query', '--since', '999999999w'], /--since: must be a duration back from now .* between 0001-01-01 and 9999-12-31 \(UTC\), got "999999999w"/],
      [['query', '--status', 'maybe'], /--status <status>' argument 'maybe' is invalid/],
      [['query', '--metadata', 'n:=abc'], /--metadata: n:= takes a number/],
      [['query', '--target', ':x'], /--target: must be TYPE or TYPE:ID/],
      // The library's refusals, named by the flag rather than by the query's field (tenantId, actorId).
      [['query', '--action', 'Bad Action'], /activity-log: --action: must be an action/],
      [['purge', '--before', '1d', '--action', 'Bad Action'], /activity-log: --action: must be an action/],
      [['purge', '--before', '1d', '--tenant', '', '--dry-run'], /activity-log: --tenant: must not be empty/],
      [['stats', '--actor', 'x'.repeat(300)], /activity-log: --actor: must be at most 255 characters/],
      [['query', '--cursor', 'zzz'], /activity-log: --cursor: is not a cursor/],
      [['purge'], /required option '--before/],
      [['erase', '--actor', 'a', '--tenant', 'b'], /name one subject/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args, { ACTIVITY_LOG_DB: db });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    const noDb = await cli(['query'], { ACTIVITY_LOG_DB: '' });
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('--db');
    const down = await cli(['query', '--db', 'postgres://postgres@127.0.0.1:1/none']);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^activity-log: could not connect to postgres:\/\/postgres@127\.0\.0\.1:1\/none: /);
    // Twenty-odd processes, each starting tsx: more than the default 30 s on a busy machine.
  }, 120_000);

  it('prints the instant a date without an offset stands for (UTC, as the library reads it), whatever the time zone', async () => {
    for (const TZ of ['America/New_York', 'Asia/Kolkata']) {
      const result = await cli(['purge', '--before', '2026-03-15T10:00', '--dry-run'], { ACTIVITY_LOG_DB: db, TZ });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('would delete 0 records older than 2026-03-15T10:00:00.000Z\n');
    }
  });

  it('reads no SQLite file that is not there: a misspelt path is named, and no empty database is left behind', async () => {
    const typo = join(dir, 'typo.db');
    for (const args of [['query'], ['stats'], ['verify'], ['tail', '-n', '1']]) {
      const result = await cli([...args, '--db', `sqlite:${typo}`], { ACTIVITY_LOG_KEY: KEY });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(`--db: there is no SQLite file at "${typo}"`);
    }
    expect(existsSync(typo)).toBe(false);
  });

  it('stops quietly when the reader of its output leaves (| head)', async () => {
    const file = join(dir, 'pipe.db');
    const logger = createActivityLogger({ store: sqliteStore({ filename: file }) });
    for (let i = 0; i < 300; i++) logger.log({ action: 'pipe.read', metadata: { text: 'x'.repeat(500) } });
    await logger.close();
    // Standard output, and a pipe named as --out (written in place): it said `--out: could not
    // write "/dev/stdout" (EPIPE…)` and failed.
    for (const args of ['query --format ndjson --limit 300', 'export --out /dev/stdout']) {
      const { stdout, stderr } = await promisify(execFile)('bash', ['-c', `set -o pipefail; node --import tsx ${JSON.stringify(entry)} ${args} --db sqlite:${file} | head -1; echo "exit $?" >&2`], {
        cwd: root,
        timeout: 60_000,
      });
      expect(stdout.trim().split('\n'), args).toHaveLength(1);
      expect(stderr, args).not.toMatch(/EPIPE|Unhandled/);
      expect(stderr, args).toContain('exit 0');
    }
  });

  it('export refuses an --out it cannot write, naming the flag, writes a pipe in place, and piles up no listener per page', async () => {
    const file = join(dir, 'export-out.db');
    const logger = createActivityLogger({ store: sqliteStore({ filename: file }), maxQueue: 20_000 });
    // Enough pages (500 records each) of enough bytes for the file stream to ask for a drain more than ten times.
    for (let i = 0; i < 12_000; i++) logger.log({ action: 'bulk.event', metadata: { i, text: 'x'.repeat(200) } });
    await logger.close();
    const db = `sqlite:${file}`;
    const missing = await cli(['export', '--db', db, '--out', join(dir, 'no-such-dir', 'out.ndjson')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^activity-log: --out: cannot write ".*no-such-dir\/out\.ndjson" \(ENOENT/);
    const directory = await cli(['export', '--db', db, '--out', dir]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain(`--out: must be a file, got the directory ${JSON.stringify(dir)}`);
    // A named pipe is written in place: renaming a .partial file over it would replace it.
    const fifo = join(dir, 'export.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const reader = spawn('bash', ['-c', `wc -l < ${JSON.stringify(fifo)}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const counted = new Promise<string>((resolve) => {
      let text = '';
      reader.stdout.on('data', (chunk: Buffer) => (text += chunk));
      reader.stdout.on('end', () => resolve(text.trim()));
    });
    const piped = await cli(['export', '--db', db, '--out', fifo]);
    expect(piped.code, piped.stderr).toBe(0);
    expect(await counted).toBe('12000');
    expect(statSync(fifo).isFIFO()).toBe(true);
    // A file: every page waited for its drain without leaving a listener behind.
    const out = join(dir, 'export-out.ndjson');
    const written = await cli(['export', '--db', db, '--out', out]);
    expect(written.code).toBe(0);
    expect(written.stderr).toBe(`12000 records written to ${out}\n`);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(12_000);
  }, 90_000);

  it('prints logged text to a terminal with its control characters escaped, never as escape sequences or forged lines', async () => {
    const filename = join(dir, 'escapes.db');
    const logger = createActivityLogger({ store: sqliteStore({ filename }) });
    const name = 'Bob\u001b]0;pwned\u0007\u001b[31mRED\r\n2026-01-01 00:00:00Z  success  user.login  FAKE';
    logger.log({ action: 'user.login', actor: { type: 'user\u001b[2J', id: 'u\u0008\u0008x', name }, target: { type: 'doc', id: 'd\u202eevil', name: 'bidi \u061c\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069' }, tenantId: 't\u009b1m' });
    await logger.close();
    const db = `sqlite:${filename}`;
    for (const args of [['query'], ['tail'], ['stats', '--by', 'actorType']]) {
      const result = await cli([...args, '--db', db]);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
      expect(result.stdout.split('\n').filter((row) => row.includes('FAKE') && !row.includes('Bob'))).toEqual([]);
    }
    // Wide enough that no cell is cut: every escape is there to read.
    const wide = (await cli(['query', '--db', db], { COLUMNS: '400' })).stdout;
    expect(wide).toContain('Bob\\u001b]0;pwned\\u0007\\u001b[31m');
    expect(wide).toContain('bidi \\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069');
    // The data formats keep the value exact.
    const json = await cli(['query', '--db', db, '--format', 'json']);
    expect(JSON.stringify(JSON.parse(json.stdout))).toContain(JSON.stringify(name).slice(1, -1));
  });

  it('migrates a new store', async () => {
    const result = await cli(['migrate', '--db', `sqlite:${join(dir, 'fresh.db')}`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('current schema version');
  });

  it('follows new records as another process writes them (tail -f)', async () => {
    const logger = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'tail.db') }) });
    logger.log({ action: 'before.tail', actor: { type: 'user', id: 'u1' } });
    await logger.flush();
    const child = spawn(process.execPath, ['--import', 'tsx', entry, 'tail', '-f', '-n', '5', '--interval', '100', '--format', 'ndjson', '--db', `sqlite:${join(dir, 'tail.db')}`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    try {
      await expect.poll(() => output, { timeout: 60_000 }).toContain('before.tail');
      for (let i = 0; i < 3; i++) logger.log({ action: 'during.tail', metadata: { i } });
      await logger.flush();
      await expect.poll(() => output.split('\n').filter((line) => line.includes('during.tail')).length, { timeout: 60_000 }).toBe(3);
      const actions = output.trim().split('\n').map((line) => (JSON.parse(line) as { action: string }).action);
      expect(actions).toEqual(['before.tail', 'during.tail', 'during.tail', 'during.tail']);
    } finally {
      child.kill('SIGINT');
      await logger.close();
    }
    // The child starts through tsx: with a cold transform cache and the suite's other
    // processes on two cores, that alone has taken 20 s.
  }, 150_000);

  it('tail -f prints as new only what is written after it starts (not the records just older than -n, nor with -n 0 the last seconds\')', async () => {
    const file = join(dir, 'tail-burst.db');
    const logger = createActivityLogger({ store: sqliteStore({ filename: file }) });
    try {
      for (const [lines, shown] of [['2', [18, 19]], ['0', []]] as const) {
        // Written just before each start: within the seconds a poll looks back over.
        for (let i = 0; i < 20; i++) logger.log({ action: 'burst.before', metadata: { i } });
        await logger.flush();
        const child = spawn(process.execPath, ['--import', 'tsx', entry, 'tail', '-f', '-n', lines, '--interval', '100', '--format', 'ndjson', '--db', `sqlite:${file}`], {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
        const printed = () => output.split('\n').filter(Boolean).map((row) => (JSON.parse(row) as { metadata: { i: number } }).metadata.i);
        try {
          // Started and past its first look at the window (with -n 0 nothing shows it: tsx starts in about 2 s here).
          if (shown.length > 0) await expect.poll(() => printed().length, { timeout: 20_000 }).toBe(shown.length);
          await new Promise((resolve) => setTimeout(resolve, shown.length > 0 ? 1000 : 6000));
          expect(stderr).toBe('');
          for (let i = 100; i < 103; i++) logger.log({ action: 'burst.after', metadata: { i } });
          await logger.flush();
          await expect.poll(() => printed().filter((i) => i >= 100).length, { timeout: 20_000 }).toBe(3);
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect(printed(), `-n ${lines}`).toEqual([...shown, 100, 101, 102]);
        } finally {
          child.kill('SIGINT');
        }
      }
    } finally {
      await logger.close();
    }
  }, 90_000);

  it('shows a progress bar on a terminal, read back through a pseudo-terminal', async () => {
    const file = join(dir, 'progress.db');
    const logger = createActivityLogger({ store: sqliteStore({ filename: file }), maxQueue: 30_000 });
    for (let i = 0; i < 20_000; i++) logger.log({ action: 'bulk.event', metadata: { i } });
    await logger.close();
    const out = join(dir, 'progress.ndjson');
    const command = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(entry)} export --format ndjson --out ${JSON.stringify(out)} --db ${JSON.stringify(`sqlite:${file}`)}`;
    const { stdout } = await promisify(execFile)('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: root, env: { ...process.env, COLUMNS: '120', TERM: 'xterm' }, timeout: 60_000 });
    const text = stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(text).toMatch(/exporting \[[#.]+\] \d+\/20000 records \| \d+\/s \| ETA/);
    expect(text).toContain('exporting [########################################] 20000/20000 records');
    expect(text).toContain('20000 records written to');
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(20_000);
  });

  it('leaves nothing half-written when interrupted with Ctrl-C, killed or hung up on', async () => {
    const file = join(dir, 'interrupt.db');
    const logger = createActivityLogger({ store: sqliteStore({ filename: file }), maxQueue: 250_000 });
    for (let i = 0; i < 200_000; i++) logger.log({ action: 'bulk.event', metadata: { i, text: 'x'.repeat(100) } });
    await logger.close();
    for (const [signal, exitCode] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      const out = join(dir, `interrupted-${signal}.ndjson`);
      const child = spawn(process.execPath, ['--import', 'tsx', entry, 'export', '--out', out, '--db', `sqlite:${file}`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      await expect.poll(() => existsSync(`${out}.partial`), { timeout: 20_000 }).toBe(true);
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, signal).toBe(exitCode);
      expect(stderr, signal).toContain('interrupted: nothing written');
      expect(existsSync(out), signal).toBe(false);
      expect(existsSync(`${out}.partial`), signal).toBe(false);
    }
  }, 90_000);

  it('ends at the first Ctrl-C while --out is a named pipe no reader has opened yet', async () => {
    const file = join(dir, 'interrupt-fifo.db');
    const logger = createActivityLogger({ store: sqliteStore({ filename: file }) });
    logger.log({ action: 'fifo.event' });
    await logger.close();
    const fifo = join(dir, 'unread.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const child = spawn(process.execPath, ['--import', 'tsx', entry, 'export', '--out', fifo, '--db', `sqlite:${file}`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Its open waits for a reader (the kernel's wait_for_partner): the moment the signal comes.
    const waitingForReader = () => {
      try {
        return readdirSync(`/proc/${child.pid}/task`).some((task) => readFileSync(`/proc/${child.pid}/task/${task}/wchan`, 'utf8').includes('wait_for_partner'));
      } catch {
        return false;
      }
    };
    await expect.poll(waitingForReader, { timeout: 20_000, interval: 50 }).toBe(true);
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 5000))]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code, stderr).toBe(130);
    // What went into a pipe is its reader's: not "nothing written".
    expect(stderr).toBe('\ninterrupted\n');
    expect(statSync(fifo).isFIFO()).toBe(true);
  }, 60_000);
});
