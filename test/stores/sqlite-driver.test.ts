import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertDriverRunsHere, loadedDriver, SKIP_DRIVER_CHECK_ENV } from '../../adapters/storage/sqlite-driver.js';
import { ActivityLogError, isActivityLogError } from '../../src/errors.js';

// The real Node 24 runs (a crash with better-sqlite3 12, none with 13) are in
// test/compat/node24.test.ts; this file checks the rule itself on the Node.js running the suite.
describe('the better-sqlite3 check', () => {
  it('refuses better-sqlite3 12 on Node.js 24 and newer, naming both versions and the fix', () => {
    for (const node of ['24.0.0', '24.21.0', '25.1.0', 'v26.3.0']) {
      let error: unknown;
      try {
        assertDriverRunsHere('12.11.1', node, {});
      } catch (caught) {
        error = caught;
      }
      expect(isActivityLogError(error, 'INCOMPATIBLE_PEER'), node).toBe(true);
      const { message, details } = error as ActivityLogError;
      expect(message).toContain(`better-sqlite3 12.11.1 can abort the process on Node.js ${node}`);
      expect(message).toContain('npm install better-sqlite3@13');
      expect(message).toContain(`${SKIP_DRIVER_CHECK_ENV}=1`);
      expect(details).toEqual({ package: 'better-sqlite3', version: '12.11.1', node, needs: '>=13' });
    }
    expect(() => assertDriverRunsHere('11.10.0', '24.21.0', {})).toThrow(/better-sqlite3 11\.10\.0/);
  });

  it('lets every other pairing through', () => {
    expect(() => assertDriverRunsHere('12.11.1', '20.20.2')).not.toThrow();
    expect(() => assertDriverRunsHere('12.11.1', '22.23.3')).not.toThrow();
    expect(() => assertDriverRunsHere('13.2.0', '24.21.0')).not.toThrow();
    expect(() => assertDriverRunsHere('14.0.0', '26.0.0')).not.toThrow();
  });

  it(`lets 12 through on Node.js 24 with ${SKIP_DRIVER_CHECK_ENV}=1, for a build known to be safe`, () => {
    expect(() => assertDriverRunsHere('12.11.1', '24.21.0', { [SKIP_DRIVER_CHECK_ENV]: '1' })).not.toThrow();
    expect(() => assertDriverRunsHere('12.11.1', '24.21.0', { [SKIP_DRIVER_CHECK_ENV]: 'yes' })).toThrow(/can abort/);
  });

  it('lets an unknown version through rather than stop an app that may be fine', () => {
    expect(() => assertDriverRunsHere(undefined, '24.21.0')).not.toThrow();
    expect(() => assertDriverRunsHere('not-a-version', '24.21.0')).not.toThrow();
  });

  it('finds the copy of better-sqlite3 that was loaded, and its version', async () => {
    const Database = ((await import('better-sqlite3')) as { default: unknown }).default;
    const manifest = createRequire(import.meta.url)('better-sqlite3/package.json') as { version: string };
    const found = loadedDriver(Database);
    expect(found?.dir).toBe(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')));
    expect(found?.version).toBe(manifest.version);
    // What is not a loaded driver is not found (a bundle): the check then lets it through.
    expect(loadedDriver(function NotADriver() {})).toBeUndefined();
    // The suite's own pairing passes (it runs on Node 20 or 22 with better-sqlite3 12).
    expect(() => assertDriverRunsHere(found?.version)).not.toThrow();
  });
});
