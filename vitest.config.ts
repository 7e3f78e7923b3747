import { defineConfig } from 'vitest/config';

/**
 * Two groups: everything else runs first, in parallel; then the fault-injection suite runs
 * alone, one file at a time, because it restarts PostgreSQL and kills database connections
 * that other suites would be using. Before either, test/global-setup.ts finds the local
 * databases when their variables are not set.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          globalSetup: ['test/global-setup.ts'],
          include: ['test/**/*.test.ts'],
          exclude: ['test/faults/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'faults',
          globalSetup: ['test/global-setup.ts'],
          include: ['test/faults/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
