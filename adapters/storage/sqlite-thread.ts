import type { DatabaseConnection, Dialect, Driver, Kysely, QueryResult } from 'kysely';
import type { Worker } from 'node:worker_threads';
import { packageUrl } from '../../src/package-location.js';
import type { SqliteRequest, SqliteResponse, SqliteRunResult, SqliteThreadData } from './sqlite-protocol.js';

type KyselyModule = typeof import('kysely');

/**
 * The main thread's side of a SQLite store thread (sqlite-worker.ts): requests are posted,
 * answers matched by id. The worker is started on first use and started again after it exits
 * or fails, so a crashed thread costs the requests it held (rejected, and retried by the
 * logger), never the store. It keeps the process alive only while a request is in flight:
 * an idle store never holds a script open, and a pending write or read always does. @internal
 */
export class SqliteThread {
  private worker: Promise<Worker> | undefined;
  /** The running worker, once started; cleared the moment it exits or fails. */
  private live: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (result: SqliteRunResult) => void; reject: (error: Error) => void }>();
  private closed = false;

  constructor(private readonly data: SqliteThreadData) {}

  /** Starts the worker if it is not running; rejects when it cannot load the driver or open the file. */
  ready(): Promise<Worker> {
    if (this.closed) return Promise.reject(new Error('sqlite store: the store thread is closed'));
    if (!this.worker) {
      const starting = startWorker(this.data, (worker) => this.attach(worker));
      this.worker = starting;
      starting.catch(() => {
        if (this.worker === starting) this.worker = undefined;
      });
    }
    return this.worker;
  }

  /** Runs one statement on the thread. */
  run(sql: string, parameters: readonly unknown[]): Promise<SqliteRunResult> {
    return this.request({ id: this.nextId++, op: 'run', sql, parameters });
  }

  /** Runs one prepared statement per row, all in one transaction. */
  async batch(sql: string, rows: readonly (readonly unknown[])[]): Promise<void> {
    await this.request({ id: this.nextId++, op: 'batch', sql, rows });
  }

  async close(): Promise<void> {
    this.closed = true;
    const starting = this.worker;
    this.worker = undefined;
    const worker = await starting?.catch(() => undefined);
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage({ op: 'close' } satisfies SqliteRequest);
    await exited;
  }

  private attach(worker: Worker): void {
    this.live = worker;
    worker.on('message', (message: SqliteResponse) => {
      if (!('id' in message)) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in message) waiter?.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
      else waiter?.resolve(message.result);
    });
    const fail = (error: Error) => {
      // The next request starts a new worker.
      if (this.live === worker) {
        this.live = undefined;
        this.worker = undefined;
      }
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('sqlite store: a store thread exited')));
  }

  private async request(message: Extract<SqliteRequest, { id: number }>): Promise<SqliteRunResult> {
    const worker = await this.ready();
    if (this.live !== worker) throw new Error('sqlite store: the store thread stopped; the request will be retried');
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      // Keep the process alive while a request is in flight, and only then.
      worker.ref();
      worker.postMessage(message);
    });
  }
}

/**
 * The Node.js flags for the store's threads: inherited from the app as they are (undefined),
 * except when the app was started with `--input-type` (`node --input-type=module -e "..."`),
 * which Node.js refuses for a thread that runs a file: every write would fail. The thread then
 * gets the app's flags that load modules (`--import`, `--require`, `--loader`, `--conditions`,
 * source maps, warnings) and no others: a list given to a thread must hold only flags a
 * thread accepts, and process-wide ones (`--expose-gc`, `--max-old-space-size`) are not.
 * @internal
 */
export function workerExecArgv(execArgv: readonly string[]): string[] | undefined {
  if (!execArgv.some((flag) => flag === '--input-type' || flag.startsWith('--input-type='))) return undefined;
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    const name = flag.split('=')[0]!;
    if (THREAD_FLAGS_WITH_VALUE.has(name)) {
      kept.push(flag);
      // `--import tsx`: the value is the next argument.
      if (!flag.includes('=') && i + 1 < execArgv.length) kept.push(execArgv[++i]!);
    } else if (THREAD_FLAGS.has(name)) {
      kept.push(flag);
    } else if (name === '--input-type' && !flag.includes('=')) {
      i++;
    }
  }
  return kept;
}

const THREAD_FLAGS_WITH_VALUE = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C']);
const THREAD_FLAGS = new Set(['--enable-source-maps', '--no-warnings', '--no-deprecation', '--experimental-strip-types', '--experimental-transform-types']);

async function startWorker(data: SqliteThreadData, attach: (worker: Worker) => void): Promise<Worker> {
  const { Worker } = await import('node:worker_threads');
  const script = await workerScript();
  const execArgv = workerExecArgv(process.execArgv);
  const options = { workerData: data, ...(execArgv ? { execArgv } : {}) };
  const worker = typeof script === 'string' ? new Worker(script, { ...options, eval: true }) : new Worker(script, options);
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (message: SqliteResponse) => {
      if ('ready' in message && message.ready) return resolve();
      void worker.terminate();
      const error = 'ready' in message && !message.ready ? message.error : undefined;
      reject(Object.assign(new Error(error?.message ?? 'sqlite store thread failed to start'), { code: error?.code }));
    });
    worker.once('error', reject);
  });
  // Listeners first: adding a 'message' listener refs the worker's port again.
  attach(worker);
  worker.unref();
  return worker;
}

/**
 * The worker's file, next to this module: `sqlite-worker.js` in the ESM build, `.cjs` in the
 * CommonJS one. Running from a checkout (the repository's tests and `npm start`), it is the
 * TypeScript source, loaded through tsx (a dev dependency there): a small bootstrap registers
 * tsx in the thread, then imports the source.
 */
async function workerScript(): Promise<URL | string> {
  const here = packageUrl();
  // No file to be next to (a build without one): the thread's file is as missing as in a bundle.
  if (here === undefined) throw Object.assign(new Error('sqlite-worker: this build has no file of its own to find the thread next to'), { code: 'MODULE_NOT_FOUND' });
  const extension = here.endsWith('.ts') ? '.ts' : here.endsWith('.cjs') ? '.cjs' : '.js';
  // The build puts every module in one folder; in a checkout, `here` is the source of
  // src/package-location.ts, and the thread's source is in this module's folder.
  const url = new URL(extension === '.ts' ? '../adapters/storage/sqlite-worker.ts' : `./sqlite-worker${extension}`, here);
  if (extension !== '.ts') return url;
  const { createRequire } = await import('node:module');
  const { readFileSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  // tsx's ESM entry, as its exports map names it (require.resolve would pick the CommonJS one).
  const manifest = createRequire(here).resolve('tsx/package.json');
  const exportsMap = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  const tsx = pathToFileURL(join(dirname(manifest), exportsMap['./esm/api']!.import.default)).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return bootstrap;
}

/**
 * A Kysely dialect whose queries run on a {@link SqliteThread}: the SQLite compiler, adapter
 * and introspector, and a driver that posts each compiled query to the thread. One connection
 * (SQLite has one writer; a transaction must stay on its connection), handed out one caller
 * at a time. @internal
 */
export function threadDialect(k: KyselyModule, thread: SqliteThread): Dialect {
  const connection: DatabaseConnection = {
    async executeQuery<R>(compiled: { sql: string; parameters: readonly unknown[] }): Promise<QueryResult<R>> {
      const { rows, changes, lastInsertRowid } = await thread.run(compiled.sql, compiled.parameters);
      return { rows: rows as R[], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
    },
    // eslint-disable-next-line require-yield
    async *streamQuery() {
      throw new Error('sqlite store thread: streaming queries are not supported');
    },
  };
  let queue: Promise<void> = Promise.resolve();
  let release: (() => void) | undefined;
  const driver: Driver = {
    async init() {},
    async acquireConnection() {
      const previous = queue;
      let unlock!: () => void;
      queue = new Promise<void>((resolve) => (unlock = resolve));
      await previous;
      release = unlock;
      return connection;
    },
    async beginTransaction(conn) {
      await conn.executeQuery(k.CompiledQuery.raw('begin'));
    },
    async commitTransaction(conn) {
      await conn.executeQuery(k.CompiledQuery.raw('commit'));
    },
    async rollbackTransaction(conn) {
      await conn.executeQuery(k.CompiledQuery.raw('rollback'));
    },
    async releaseConnection() {
      const unlock = release;
      release = undefined;
      unlock?.();
    },
    async destroy() {},
  };
  return {
    createAdapter: () => new k.SqliteAdapter(),
    createDriver: () => driver,
    createQueryCompiler: () => new k.SqliteQueryCompiler(),
    createIntrospector: (db: Kysely<any>) => new k.SqliteIntrospector(db),
  };
}
