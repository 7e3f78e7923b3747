import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { assertDriverRunsHere, installedDriverVersion } from '../../adapters/storage/sqlite-driver.js';
import { ActivityLogError, isActivityLogError } from '../../src/errors.js';

// The real Node 24 runs (a crash with better-sqlite3 12, none with 13) are in
// test/compat/node24.test.ts; this file checks the rule itself on the Node.js running the suite.
describe('the better-sqlite3 check', () => {
  it('refuses better-sqlite3 12 on Node.js 24 and newer, naming both versions and the fix', () => {
    for (const node of ['24.0.0', '24.21.0', '25.1.0', 'v26.3.0']) {
      let error: unknown;
      try {
        assertDriverRunsHere('12.11.1', node);
      } catch (caught) {
        error = caught;
      }
      expect(isActivityLogError(error, 'INCOMPATIBLE_PEER'), node).toBe(true);
      const { message, details } = error as ActivityLogError;
      expect(message).toContain(`better-sqlite3 12.11.1 aborts the process on Node.js ${node}`);
      expect(message).toContain('npm install better-sqlite3@13');
      expect(details).toEqual({ package: 'better-sqlite3', version: '12.11.1', node, needs: '>=13' });
    }
    expect(() => assertDriverRunsHere('11.10.0', '24.21.0')).toThrow(/better-sqlite3 11\.10\.0/);
  });

  it('lets every other pairing through', () => {
    expect(() => assertDriverRunsHere('12.11.1', '20.20.2')).not.toThrow();
    expect(() => assertDriverRunsHere('12.11.1', '22.23.3')).not.toThrow();
    expect(() => assertDriverRunsHere('13.2.0', '24.21.0')).not.toThrow();
    expect(() => assertDriverRunsHere('14.0.0', '26.0.0')).not.toThrow();
  });

  it('lets an unknown version through rather than stop an app that may be fine', () => {
    expect(() => assertDriverRunsHere(undefined, '24.21.0')).not.toThrow();
    expect(() => assertDriverRunsHere('not-a-version', '24.21.0')).not.toThrow();
  });

  it('reads the installed version', () => {
    const installed = (createRequire(import.meta.url)('better-sqlite3/package.json') as { version: string }).version;
    expect(installedDriverVersion()).toBe(installed);
    // And the suite's own pairing passes the check (this runs on Node 20 or 22 with 12, or 24 with 13).
    expect(() => assertDriverRunsHere(installedDriverVersion())).not.toThrow();
  });
});
