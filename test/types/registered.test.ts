import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * An app that registers its logger in ActivityLogRegister (test/types/registered/app.ts) is
 * type-checked as a program of its own: the augmentation is global and would retype every
 * other test's `req.activity`. The file's `@ts-expect-error` lines make it fail both ways: a
 * registered catalog that does not reach `req.activity`, `request.activity`,
 * `c.get('activity')` or `currentActivity()` leaves them unused, which is an error.
 */
describe('ActivityLogRegister', () => {
  it("types every framework's request logger and currentActivity() with the registered catalog", () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const project = fileURLToPath(new URL('./registered/tsconfig.json', import.meta.url));
    let failure = '';
    try {
      execFileSync(process.execPath, [tsc, '--noEmit', '-p', project], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      // Any non-zero exit fails, with what tsc said on either stream.
      const { stdout, stderr, message } = error as { stdout?: string; stderr?: string; message: string };
      failure = [stdout, stderr].filter(Boolean).join('\n') || message;
    }
    expect(failure).toBe('');
  }, 120_000);
});
