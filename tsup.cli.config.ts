import { defineConfig } from 'tsup';

/**
 * The CLI (`npx activity-log`), built after the library (npm run build runs both): ESM only, as
 * it awaits at its top level, into dist/cli/ with its own copy of the SQLite store's thread,
 * which the store finds next to the module that loads it.
 */
export default defineConfig({
  entry: { 'activity-log': 'adapters/cli/main.ts', 'sqlite-worker': 'adapters/storage/sqlite-worker.ts' },
  format: ['esm'],
  dts: false,
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  outDir: 'dist/cli',
});
