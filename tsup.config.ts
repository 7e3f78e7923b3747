import { defineConfig } from 'tsup';

/**
 * One entry per subpath export. Keep this list and package.json "exports" in step: the
 * packaging test (test/package.test.ts) fails when they drift.
 */
export const entries = {
  index: 'src/index.ts',
  store: 'src/for-store-authors.ts',
  http: 'src/http/index.ts',
  testing: 'adapters/testing/index.ts',
  memory: 'adapters/storage/memory.ts',
  kysely: 'adapters/storage/kysely.ts',
  sqlite: 'adapters/storage/sqlite.ts',
  postgres: 'adapters/storage/postgres.ts',
  mysql: 'adapters/storage/mysql.ts',
  express: 'adapters/frameworks/express.ts',
  fastify: 'adapters/frameworks/fastify.ts',
  hono: 'adapters/frameworks/hono.ts',
} as const;

/**
 * Files the package loads by path rather than by import, so they are built but not exported:
 * the SQLite store's thread.
 */
export const internalEntries = {
  'sqlite-worker': 'adapters/storage/sqlite-worker.ts',
} as const;

export default defineConfig({
  entry: { ...entries, ...internalEntries },
  // import.meta.url in the CommonJS build too: the SQLite store finds its thread's file by it.
  shims: true,
  format: ['esm', 'cjs'],
  dts: true,
  // Shared chunks in both formats, so the core (and its request scope) is loaded once per format.
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  outDir: 'dist',
});
