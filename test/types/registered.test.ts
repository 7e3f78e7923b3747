import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typeCheckFailures } from '../helpers.js';

/**
 * An app that registers its logger in ActivityLogRegister (test/types/registered/app.ts) is
 * type-checked as a program of its own: the augmentation is global and would retype every
 * other test's `req.activity`. The file's `@ts-expect-error` lines make it fail both ways: a
 * registered catalog that does not reach `req.activity`, `request.activity`,
 * `c.get('activity')` or `currentActivity()` leaves them unused, which is an error.
 */
describe('ActivityLogRegister', () => {
  it("types every framework's request logger and currentActivity() with the registered catalog", () => {
    const project = fileURLToPath(new URL('./registered/tsconfig.json', import.meta.url));
    expect(typeCheckFailures(['--noEmit', '-p', project])).toBe('');
  }, 120_000);
});
