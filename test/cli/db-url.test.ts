import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hideSecrets, withoutPassword } from '../../adapters/cli/secrets.js';
import { skipReason } from '../integrity/databases.js';

/**
 * The CLI and the password of its `--db` URL: whatever goes wrong (a database that refuses
 * the login or is not there, a table that is not there, a mistyped scheme, a URL given where
 * a command was expected, a URL the drivers cannot parse), the password is not printed.
 * Against the real PostgreSQL and MariaDB, and a port nothing listens on.
 */

const root = new URL('../..', import.meta.url).pathname;
const entry = join(root, 'adapters/cli/main.ts');
const SECRET = 'Hunter2Secret';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1', ACTIVITY_LOG_DB: '', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `url` with its user part replaced by `user:SECRET` (the local databases trust any password). */
function withSecret(url: string, user: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = SECRET;
  return parsed.toString();
}

describe('a --db URL as the CLI shows it', () => {
  it('hides the password of the user part, however it is written, and of secret parameters', () => {
    expect(withoutPassword('postgres://app:pw@db:5432/app')).toBe('postgres://app:***@db:5432/app');
    // Not percent-encoded: an @ or a / in the password is still all password.
    expect(withoutPassword('postgres://app:p@ss/w@rd@db/app')).toBe('postgres://app:***@db/app');
    expect(withoutPassword('mysql://:pw@db/app')).toBe('mysql://:***@db/app');
    expect(withoutPassword('postgres://app@db/app?sslmode=require&password=pw&sslpassword=x')).toBe('postgres://app@db/app?sslmode=require&password=***&sslpassword=***');
    expect(withoutPassword('postgres://app@db/app')).toBe('postgres://app@db/app');
    expect(withoutPassword('sqlite:/var/lib/app/log.db')).toBe('sqlite:/var/lib/app/log.db');
  });

  it('takes a password out of any message, as written and percent-decoded', () => {
    const db = 'postgres://app:p%40ssw0rd@db/app';
    expect(hideSecrets(`cannot reach ${db}; login p@ssw0rd refused; p%40ssw0rd`, [undefined, db])).toBe('cannot reach postgres://app:***@db/app; login *** refused; ***');
  });
});

describe('the CLI never prints the password of --db', () => {
  it('on a usage error: a mistyped scheme, a URL given as a command or an argument, a URL the drivers cannot parse (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['query', '--db', `postgress://app:${SECRET}@127.0.0.1/app`], /--db: must be sqlite:FILE, postgres:\/\/\.\.\. or mysql:\/\/\.\.\., got "postgress:\/\/app:\*\*\*@127\.0\.0\.1\/app"/],
      [['query', `--db=POSTGRES://app:${SECRET}@127.0.0.1/app`], /--db: must be/],
      [[`postgres://app:${SECRET}@127.0.0.1/app`], /unknown command 'postgres:\/\/app:\*\*\*@127\.0\.0\.1\/app'/],
      // A / in the password, not percent-encoded: the drivers said "Invalid URL", exit code 1.
      [['query', '--db', `mysql://app:${SECRET}/x@127.0.0.1/app`], /--db: is not a valid URL, got "mysql:\/\/app:\*\*\*@127\.0\.0\.1\/app" \(a password .* must be percent-encoded/],
      [['query', '--db', `postgres://app:${SECRET}@127.0.0.1:port/app`], /--db: is not a valid URL/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stderr + result.stdout, args.join(' ')).not.toContain(SECRET);
    }
    const fromEnv = await cli(['query'], { ACTIVITY_LOG_DB: `postgress://app:${SECRET}@127.0.0.1/app` });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('"postgress://app:***@127.0.0.1/app"');
    expect(fromEnv.stderr).not.toContain(SECRET);
  }, 120_000);

  it('when nothing answers at the address (exit 3, naming the database)', async () => {
    for (const db of [`postgres://app:${SECRET}@127.0.0.1:1/app`, `mysql://app:${SECRET}@127.0.0.1:1/app`]) {
      const result = await cli(['query', '--db', db]);
      // Exit code 3, not the 1 of problems found by verify: a script can tell the two apart.
      expect(result.code, db).toBe(3);
      expect(result.stderr, db).toMatch(/^activity-log: could not connect to (postgres|mysql):\/\/app:\*\*\*@127\.0\.0\.1:1\/app: .*ECONNREFUSED/);
      expect(result.stderr, db).not.toContain(SECRET);
    }
  }, 60_000);

  for (const kind of ['postgres', 'mysql'] as const) {
    const skip = skipReason(kind);
    if (skip) console.warn(`[cli db-url] ${kind}: skipped, ${skip}`);
    const url = () => (kind === 'postgres' ? process.env.ACTIVITY_LOG_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test' : process.env.ACTIVITY_LOG_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test');

    describe.skipIf(Boolean(skip))(`on ${kind}`, () => {
      it('when the database refuses the login, or has no such database (exit 3, naming the database)', async () => {
        for (const db of [withSecret(url(), 'h2_no_such_user'), withSecret(url(), new URL(url()).username).replace(/\/[^/?]*$/, '/h2_no_such_database')]) {
          const result = await cli(['query', '--db', db]);
          expect(result.code, db).toBe(3);
          expect(result.stderr, db).toMatch(/^activity-log: could not connect to [a-z]+:\/\/[a-z0-9_]+:\*\*\*@127\.0\.0\.1/);
          expect(result.stderr, db).not.toContain(SECRET);
        }
      }, 60_000);

      it('when the table is not there, with the password as a parameter of the URL (exit 2)', async () => {
        const db = `${url()}${url().includes('?') ? '&' : '?'}password=${SECRET}`;
        const result = await cli(['query', '--db', db, '--table', 'h2_no_such_table']);
        expect(result.code).toBe(2);
        expect(result.stderr).toContain('--table: there is no table "h2_no_such_table"');
        expect(result.stderr).toContain('password=***');
        expect(result.stderr).not.toContain(SECRET);
      }, 60_000);
    });
  }
});
