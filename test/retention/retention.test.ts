import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { ActivityLogError } from '../../src/errors.js';
import { uuidv7 } from '../../src/ids.js';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { resolveRetention, type RetentionOptions } from '../../src/retention/options.js';
import { partitionCutoff, retentionPurges } from '../../src/retention/plan.js';
import { nextDelay } from '../../src/retention/scheduler.js';
import type { ActivityRecord, NormalizedPurgeOptions } from '../../src/schema.js';
import type { ActivityStore } from '../../src/store.js';
import { jsonlStore } from '../../examples/custom-store/jsonl-store.js';
import { skipReason, tamperTarget, type TamperTarget } from '../integrity/databases.js';

const DAY = 86_400_000;
const NOW = Date.now();

/** The example: 90 days by default, the log's own reads 30, tenant t1 a year. */
const EXAMPLE: RetentionOptions = { days: 90, rules: [{ action: 'activity.*', days: 30 }, { tenantId: 't1', days: 365 }] };

/** Records of every kind the rules tell apart, at ages on both sides of every limit. */
function recordsAcrossAges(): ActivityRecord[] {
  const records: ActivityRecord[] = [];
  const ages = [1, 29, 31, 89, 91, 364, 366, 400];
  const kinds = [
    { action: 'recipe.update' },
    { action: 'activity.query' },
    { action: 'activity.query', tenantId: 't1' },
    { action: 'recipe.update', tenantId: 't1' },
    { action: 'recipe.update', tenantId: 't2' },
    { action: 'activity.export', tenantId: 't2' },
    { action: 'activityx.query' },
  ];
  let n = 0;
  for (const age of ages) {
    for (const kind of kinds) {
      const occurredAtMs = NOW - age * DAY;
      records.push({ id: uuidv7(occurredAtMs + n++), occurredAt: new Date(occurredAtMs), status: 'success', ...kind });
    }
  }
  return records;
}

/** What the rule says: kept for the longest rule it matches, or the default. */
function keptUnder(record: ActivityRecord, retention: RetentionOptions): boolean {
  const matching = (retention.rules ?? []).filter(
    (rule) =>
      (rule.tenantId === undefined || record.tenantId === rule.tenantId) &&
      (rule.action === undefined || (rule.action.endsWith('.*') ? record.action.startsWith(rule.action.slice(0, -1)) : record.action === rule.action)),
  );
  const days = matching.length > 0 ? Math.max(...matching.map((rule) => rule.days)) : retention.days;
  return days === undefined || record.occurredAt.getTime() >= NOW - days * DAY;
}

const loggers: ActivityLogger[] = [];
const track = (logger: ActivityLogger) => (loggers.push(logger), logger);
afterEach(async () => {
  for (const logger of loggers.splice(0)) await logger.close();
});

describe('the retention plan', () => {
  it('deletes each record by the purge of the longest rule it matches, and the rest by the default', () => {
    const plan = retentionPurges(resolveRetention(EXAMPLE, memoryStore())!, NOW);
    expect(plan).toEqual<NormalizedPurgeOptions[]>([
      { before: new Date(NOW - 30 * DAY), action: 'activity.*', except: [{ tenantId: 't1' }, { action: 'activity.erase' }] },
      { before: new Date(NOW - 365 * DAY), tenantId: 't1' },
      { before: new Date(NOW - 365 * DAY), action: 'activity.erase' },
      { before: new Date(NOW - 90 * DAY), except: [{ action: 'activity.*' }, { tenantId: 't1' }, { action: 'activity.erase' }] },
    ]);
  });

  it('keeps the activity.erase records as long as the longest retention, whatever shorter rule matches them', () => {
    // verify() needs them for as long as a record they erased is kept (see retention-integrity.test.ts).
    expect(retentionPurges(resolveRetention({ days: 90, rules: [{ action: 'activity.erase', days: 1 }] }, memoryStore())!, NOW)).toEqual<NormalizedPurgeOptions[]>([
      { before: new Date(NOW - DAY), action: 'activity.erase', except: [{ action: 'activity.erase' }] },
      { before: new Date(NOW - 90 * DAY), action: 'activity.erase' },
      { before: new Date(NOW - 90 * DAY), except: [{ action: 'activity.erase' }] },
    ]);
    // Without a default, a record no rule matches is kept for ever, and so are the erasures.
    expect(retentionPurges(resolveRetention({ rules: [{ action: 'activity.*', days: 30 }] }, memoryStore())!, NOW)).toEqual<NormalizedPurgeOptions[]>([
      { before: new Date(NOW - 30 * DAY), action: 'activity.*', except: [{ action: 'activity.erase' }] },
    ]);
    // No rule shorter than the default: one purge by time, which a store without exceptions runs.
    expect(retentionPurges(resolveRetention({ days: 30 }, memoryStore())!, NOW)).toEqual<NormalizedPurgeOptions[]>([{ before: new Date(NOW - 30 * DAY) }]);
  });

  it('lets whole partitions go only before the longest retention of all, and never without a default', () => {
    expect(partitionCutoff(resolveRetention(EXAMPLE, memoryStore())!, NOW)).toEqual(new Date(NOW - 365 * DAY));
    expect(partitionCutoff(resolveRetention({ days: 10, rules: [{ action: 'a.*', days: 3 }] }, memoryStore())!, NOW)).toEqual(new Date(NOW - 10 * DAY));
    expect(partitionCutoff(resolveRetention({ rules: [{ action: 'a.*', days: 3 }] }, memoryStore())!, NOW)).toBeUndefined();
  });

  it('keeps forever what no rule matches when no default is given', () => {
    const plan = retentionPurges(resolveRetention({ rules: [{ action: 'activity.*', days: 7 }] }, memoryStore())!, NOW);
    expect(plan).toEqual([{ before: new Date(NOW - 7 * DAY), action: 'activity.*', except: [{ action: 'activity.erase' }] }]);
  });
});

describe('the schedule', () => {
  it('waits an interval give or take a tenth, and never longer than a timer can (a longer one would fire at once)', () => {
    expect(nextDelay(3_600_000, 0)).toBe(3_240_000);
    expect(nextDelay(3_600_000, 1)).toBeCloseTo(3_960_000);
    expect(nextDelay(2_147_483_647, 0.99)).toBe(2_147_483_647);
    expect(nextDelay(2_000_000_000, 0.99)).toBe(2_147_483_647);
  });
});

describe('retention options', () => {
  const refused: [unknown, string][] = [
    [{}, 'retention: must give days, rules, or both'],
    [{ days: 0 }, 'retention.days: must be a number of days above 0 and at most 365000, got 0'],
    [{ days: -3 }, 'retention.days: must be a number of days above 0 and at most 365000, got -3'],
    [{ days: '90' }, 'retention.days: must be a number of days above 0 and at most 365000, got "90"'],
    [{ days: Number.NaN }, 'retention.days: must be a number of days above 0 and at most 365000, got NaN'],
    [{ days: Number.POSITIVE_INFINITY }, 'retention.days: must be a number of days above 0 and at most 365000, got Infinity'],
    [{ rules: [{ days: 30 }] }, 'retention.rules.0: must name an action'],
    [{ rules: [{ action: 'Not An Action', days: 30 }] }, 'retention.rules.0.action: must be an action'],
    [{ rules: { action: 'activity.*', days: 30 } }, 'retention.rules: must be an array of rules like { action: "activity.*", days: 30 }, got an object'],
    [{ rules: ['activity.*'] }, 'retention.rules.0: must be a rule { action?, tenantId?, days }, got "activity.*"'],
    [{ rules: [{ tenantId: '', days: 30 }] }, 'retention.rules.0.tenantId: must not be empty'],
    [{ days: 90, intervalMs: 0 }, 'retention.intervalMs: must be a whole number from 1 to 2147483647, got 0'],
    [{ days: 90, intervalMs: '3600000' }, 'retention.intervalMs: must be a whole number from 1 to 2147483647, got "3600000"'],
    [{ days: 90, batchSize: 1.5 }, 'retention.batchSize: must be a whole number from 1 to 100000, got 1.5'],
    [{ days: 90, every: 'day' }, 'retention: unknown option "every"; the options are days, rules, intervalMs, batchSize'],
    [{ days: 90, batchsize: 10 }, 'retention: unknown option "batchsize" (did you mean "batchSize"?)'],
    [{ days: 90, rules: [{ tenant: 't1', days: 365 }] }, 'retention.rules.0: unknown option "tenant" (did you mean "tenantId"?)'],
    [90, 'retention: must be an object { days?, rules?, intervalMs?, batchSize? }, got 90'],
    [{ dayz: 90 }, 'retention: unknown option "dayz" (did you mean "days"?)'],
    [{ rules: [{ action: 'activity.*', day: 30 }] }, 'retention.rules.0: unknown option "day" (did you mean "days"?)'],
  ];
  it.each(refused)('refuses %j at start-up, naming the field and the rule', (retention, message) => {
    let thrown: unknown;
    try {
      createActivityLogger({ store: memoryStore(), retention: retention as RetentionOptions });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ActivityLogError);
    expect(thrown).toMatchObject({ code: 'INVALID_OPTIONS' });
    expect((thrown as Error).message).toContain(message);
  });

  it('refuses rules on a store that cannot purge with exceptions, and takes days alone there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-retention-'));
    try {
      const store = jsonlStore({ filename: join(dir, 'log.jsonl') });
      expect(() => createActivityLogger({ store, retention: EXAMPLE })).toThrow(/retention\.rules: store "jsonl" cannot purge with exceptions/);
      track(createActivityLogger({ store, retention: { days: 90 } }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses purge({ except }) on such a store with UNSUPPORTED rather than delete what it should keep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-retention-'));
    try {
      const logger = track(createActivityLogger({ store: jsonlStore({ filename: join(dir, 'log.jsonl') }) }));
      await expect(logger.purge({ before: new Date(), except: [{ tenantId: 't1' }] })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      await expect(logger.purge({ before: new Date(), except: [{}] })).rejects.toMatchObject({ code: 'INVALID_QUERY', message: expect.stringContaining('except.0: must name a tenantId, an action, or both') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes a numeric tenantId in a rule, as events do, and keeps that tenant\'s records', async () => {
    const store = memoryStore();
    await store.insert([
      { id: uuidv7(NOW - 40 * DAY), occurredAt: new Date(NOW - 40 * DAY), action: 'recipe.view', status: 'success', tenantId: '42' },
      { id: uuidv7(NOW - 40 * DAY + 1), occurredAt: new Date(NOW - 40 * DAY + 1), action: 'recipe.view', status: 'success', tenantId: '7' },
    ]);
    const logger = track(createActivityLogger({ store, retention: { days: 30, rules: [{ tenantId: 42, days: 365 }] } }));
    expect(await logger.runRetention()).toBe(1);
    expect(store.all().map((record) => record.tenantId)).toEqual(['42']);
  });

  it('refuses a bad purge() limit or except naming the rule and the value', async () => {
    const logger = track(createActivityLogger({ store: memoryStore() }));
    await expect(logger.purge({ before: new Date(), limit: 0 })).rejects.toMatchObject({
      code: 'INVALID_QUERY',
      message: 'invalid purge options: limit: must be a whole number from 1 to 9007199254740991, got 0',
    });
    await expect(logger.purge({ before: new Date(), except: { tenantId: 't1' } as never })).rejects.toMatchObject({
      code: 'INVALID_QUERY',
      message: 'invalid purge options: except: must be an array of exceptions like { tenantId } or { action }, got an object',
    });
    await expect(logger.purge({ before: new Date(), except: ['t1'] as never })).rejects.toMatchObject({
      message: 'invalid purge options: except.0: must be an object { tenantId?, action? }, got "t1"',
    });
  });

  it('refuses runRetention() on a logger without retention', async () => {
    const logger = track(createActivityLogger({ store: memoryStore() }));
    await expect(logger.runRetention()).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringContaining('retention') });
  });
});

describe('a retention pass on the memory store', () => {
  it('deletes exactly what the rules let go, and counts it in stats().purged', async () => {
    const store = memoryStore();
    const records = recordsAcrossAges();
    await store.insert(records);
    const logger = track(createActivityLogger({ store, retention: { ...EXAMPLE, intervalMs: 3_600_000 } }));
    const removed = await logger.runRetention();
    const kept = records.filter((record) => keptUnder(record, EXAMPLE));
    expect(removed).toBe(records.length - kept.length);
    expect(removed).toBeGreaterThan(10);
    expect(store.all().map((record) => record.id).sort()).toEqual(kept.map((record) => record.id).sort());
    expect(logger.stats().purged).toBe(removed);
    // A second pass finds nothing more.
    expect(await logger.runRetention()).toBe(0);
  });

  it('deletes in slices of batchSize', async () => {
    const store = memoryStore();
    const limits: (number | undefined)[] = [];
    const spied: ActivityStore = { ...store, purge: (options) => (limits.push(options.limit), store.purge(options)) };
    const old = Array.from({ length: 250 }, (_, i) => ({ id: uuidv7(NOW - 100 * DAY + i), occurredAt: new Date(NOW - 100 * DAY + i), action: 'recipe.view', status: 'success' as const }));
    await store.insert(old);
    const logger = track(createActivityLogger({ store: spied, retention: { days: 90, batchSize: 100 } }));
    expect(await logger.runRetention()).toBe(250);
    expect(limits).toEqual([100, 100, 100]);
    expect(store.size).toBe(0);
  });

  it('runs its first pass within one interval of start, and again every interval, with no call', async () => {
    const store = memoryStore();
    const logger = track(createActivityLogger({ store, retention: { days: 1, intervalMs: 150 } }));
    const oldRecord = (i: number) => ({ id: uuidv7(NOW - 2 * DAY + i), occurredAt: new Date(NOW - 2 * DAY + i), action: 'recipe.view', status: 'success' as const });
    await store.insert([oldRecord(1), oldRecord(2)]);
    await waitFor(() => store.size === 0, 2000);
    await store.insert([oldRecord(3)]);
    await waitFor(() => store.size === 0, 2000);
    expect(logger.stats().purged).toBe(3);
  });

  it('reports a failed pass through onError as RETENTION_FAILED, and the next pass tries again', async () => {
    const store = memoryStore();
    let failing = true;
    const flaky: ActivityStore = { ...store, purge: (options) => (failing ? Promise.reject(new Error('disk on fire')) : store.purge(options)) };
    const errors: ActivityLogError[] = [];
    await store.insert([{ id: uuidv7(NOW - 10 * DAY), occurredAt: new Date(NOW - 10 * DAY), action: 'recipe.view', status: 'success' }]);
    const logger = track(createActivityLogger({ store: flaky, retention: { days: 1 }, onError: (error) => errors.push(error) }));
    expect(await logger.runRetention()).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'RETENTION_FAILED', cause: { message: 'disk on fire' } });
    failing = false;
    expect(await logger.runRetention()).toBe(1);
    expect(logger.stats().purged).toBe(1);
  });

  it('stops at the end of a slice when the logger closes, before the store closes', async () => {
    const store = memoryStore();
    let purges = 0;
    let storeClosed = false;
    const slow: ActivityStore = {
      ...store,
      purge: async (options) => {
        purges++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (storeClosed) throw new Error('purge on a closed store');
        return store.purge(options);
      },
      close: async () => {
        storeClosed = true;
      },
    };
    const old = Array.from({ length: 1000 }, (_, i) => ({ id: uuidv7(NOW - 100 * DAY + i), occurredAt: new Date(NOW - 100 * DAY + i), action: 'recipe.view', status: 'success' as const }));
    await store.insert(old);
    const errors: ActivityLogError[] = [];
    const logger = createActivityLogger({ store: slow, retention: { days: 90, batchSize: 10 }, onError: (error) => errors.push(error) });
    const pass = logger.runRetention();
    await new Promise((resolve) => setTimeout(resolve, 120));
    await logger.close();
    const removed = await pass;
    expect(purges).toBeLessThan(10);
    expect(removed).toBe(purges * 10);
    expect(store.size).toBe(1000 - purges * 10);
    expect(errors).toEqual([]);
  });

  it('never keeps a script alive: a process with retention on ends when its work is done', () => {
    const run = runScript(
      () => `import { createActivityLogger } from ${JSON.stringify(join(process.cwd(), 'src/index.ts'))};
         import { memoryStore } from ${JSON.stringify(join(process.cwd(), 'adapters/storage/memory.ts'))};
         const logger = createActivityLogger({ store: memoryStore(), retention: { days: 30, intervalMs: 3600000 } });
         logger.log({ action: 'script.ran' });
         await logger.flush();
         console.log('done', logger.stats().written);`,
      20_000,
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('done 1');
    expect(run.status).toBe(0);
    expect(run.ms).toBeLessThan(15_000);
  });
});

/**
 * Runs a script (the text `source(dir)` gives, in a fresh temporary directory `dir`) with the
 * TypeScript loader, and answers what it printed, how it ended and how long it took.
 */
function runScript(source: (dir: string) => string, timeout: number): { stdout: string; stderr: string; status: number | null; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-retention-'));
  try {
    const script = join(dir, 'script.mts');
    writeFileSync(script, source(dir));
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout });
    return { stdout: result.stdout.trim(), stderr: result.stderr, status: result.status, ms: Date.now() - started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(['sqlite', 'postgres', 'mysql'] as const)('retention on %s', (kind) => {
  const skip = skipReason(kind);
  if (skip) console.warn(`[retention] skipping ${kind}: ${skip}`);
  let target: TamperTarget | undefined;
  afterEach(async () => {
    for (const logger of loggers.splice(0)) await logger.close();
    await target?.cleanup();
    target = undefined;
  });

  it.skipIf(Boolean(skip))('deletes exactly what the rules let go, off the event loop, in short statements', async () => {
    target = await tamperTarget(kind, `al_ret_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`);
    const store = target.store();
    const records = recordsAcrossAges();
    await store.insert(records);
    const logger = track(createActivityLogger({ store, retention: { ...EXAMPLE, batchSize: 7 } }));
    const removed = await logger.runRetention();
    const kept = records.filter((record) => keptUnder(record, EXAMPLE));
    expect(removed).toBe(records.length - kept.length);
    const ids = (await target.all<{ id: string }>(`select id from ${target.table} order by id`)).map((row) => row.id);
    expect(ids).toEqual(kept.map((record) => record.id).sort());
    expect(logger.stats().purged).toBe(removed);
  });

  it.skipIf(Boolean(skip))('never keeps a script alive on the store\'s own connections: it ends once its work is done, without close()', async () => {
    const tableName = `al_ret_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
    target = await tamperTarget(kind, tableName);
    const stores = {
      sqlite: (dir: string) => `(await import(${JSON.stringify(join(process.cwd(), 'adapters/storage/sqlite.ts'))})).sqliteStore({ filename: ${JSON.stringify(join(dir, 'log.db'))}, tableName: ${JSON.stringify(tableName)} })`,
      postgres: () => `(await import(${JSON.stringify(join(process.cwd(), 'adapters/storage/postgres.ts'))})).postgresStore({ connectionString: process.env.ACTIVITY_LOG_POSTGRES_URL, tableName: ${JSON.stringify(tableName)} })`,
      mysql: () => `(await import(${JSON.stringify(join(process.cwd(), 'adapters/storage/mysql.ts'))})).mysqlStore({ uri: process.env.ACTIVITY_LOG_MYSQL_URL, tableName: ${JSON.stringify(tableName)} })`,
    };
    const run = runScript(
      (dir) => `import { createActivityLogger } from ${JSON.stringify(join(process.cwd(), 'src/index.ts'))};
         const logger = createActivityLogger({ store: ${stores[kind](dir)}, retention: { days: 30, intervalMs: 3600000 } });
         logger.log({ action: 'script.ran', occurredAt: Date.now() - 40 * 86400000 });
         await logger.flush();
         console.log('done', logger.stats().written, await logger.runRetention());`,
      30_000,
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('done 1 1');
    expect(run.status).toBe(0);
    // pg's pool held an idle process open for its idleTimeoutMillis (10 s), mysql2's for ever.
    expect(run.ms).toBeLessThan(8_000);
  });

  it.skipIf(Boolean(skip))('lets one instance at a time purge: a second logger on the same table waits for the lease', async () => {
    target = await tamperTarget(kind, `al_ret_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`);
    const first = track(createActivityLogger({ store: target.store(), retention: { days: 30 } }));
    const second = track(createActivityLogger({ store: target.store(), retention: { days: 30 } }));
    const writer = target.store();
    const old = (i: number) => ({ id: uuidv7(NOW - 40 * DAY + i), occurredAt: new Date(NOW - 40 * DAY + i), action: 'recipe.view', status: 'success' as const });
    await writer.insert([old(1), old(2)]);
    const results = await Promise.all([first.runRetention(), second.runRetention()]);
    // Exactly one took the lease and purged; the other was told the job is someone else's.
    expect(results.filter((result) => result === undefined)).toHaveLength(1);
    expect(results.filter((result) => result === 2)).toHaveLength(1);
    // The holder keeps the job for its interval; once it closes, the lease is free for the other.
    const holder = results[0] === 2 ? first : second;
    const other = holder === first ? second : first;
    await writer.insert([old(3)]);
    expect(await other.runRetention()).toBeUndefined();
    expect(await holder.runRetention()).toBe(1);
    await writer.insert([old(4)]);
    await holder.close();
    expect(await other.runRetention()).toBe(1);
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

