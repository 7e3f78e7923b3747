import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger, type ActivityRecord } from '../../src/index.js';
import { canonicalForm, canonicalJson, chainHash } from '../../src/integrity/canonical.js';
import { chainHasher } from '../../src/integrity/hmac.js';
import { checkpointSignature } from '../../src/integrity/checkpoints.js';
import { createRequestScopeFactory } from '../../src/http/index.js';
import { HeaderRecordRequest } from '../../src/http/request-context.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { sqliteContext } from '../stores/databases.js';
import { skipReason, tamperTarget } from './databases.js';

const KEY = 'an application secret of 32 bytes';
const dir = mkdtempSync(join(tmpdir(), 'activity-log-chains-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hash chains', () => {
  it('keep their links through an outage: spooled batches are replayed with their places, and verify', async () => {
    let down = true;
    const store = memoryStore({ failInsert: () => down });
    const activity = createActivityLogger({
      store,
      spool: { filename: join(dir, 'spool.db') },
      retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
      integrity: { key: KEY, checkpointRecords: 10 },
      onError: () => undefined,
    });
    for (let i = 0; i < 60; i++) activity.log({ id: `spooled-${i}`, action: 'outage.event', actor: { type: 'user', id: 'u1', name: 'Ada' } });
    await activity.flush();
    expect(activity.stats().spooled).toBe(60);
    down = false;
    await expect.poll(() => activity.stats().replayed, { timeout: 10_000 }).toBe(60);
    await activity.close();
    const verifier = createActivityLogger({ store, integrity: { key: KEY } });
    expect(await verifier.verify()).toMatchObject({ ok: true, checked: 60, chains: 1 });
  });

  it.each(['memory', 'sqlite'] as const)(
    'verifies a time window cleanly when an event that waited for its request actor was sealed after later ones (%s store)',
    async (kind) => {
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const store = kind === 'memory' ? memoryStore() : sqliteStore({ filename: join(dir, 'window.db') });
      const activity = createActivityLogger({ store, integrity: { key: KEY }, flushIntervalMs: 5 });
      let answer!: (actor: { type: string; id: string }) => void;
      const scope = createRequestScopeFactory(activity)({
        request: new HeaderRecordRequest('GET', {}),
        actor: () => new Promise((resolve) => (answer = resolve)),
      });
      activity.log({ action: 'x.first' });
      await sleep(5);
      scope.activity.log({ action: 'x.deferred' }); // stamped now, sealed when the actor answers
      await sleep(20);
      const mid = new Date();
      await sleep(20);
      activity.log({ action: 'x.later' }); // stamped after mid, sealed before x.deferred
      await expect.poll(() => activity.stats().written, { timeout: 5000 }).toBe(2);
      answer({ type: 'user', id: 'u1' });
      await sleep(5);
      activity.log({ action: 'x.last' });
      await activity.flush();
      expect(await activity.verify()).toMatchObject({ ok: true, checked: 4 });
      expect(await activity.verify({ from: mid })).toMatchObject({ ok: true, checked: 2, problems: [] });
      expect(await activity.verify({ to: mid })).toMatchObject({ ok: true, checked: 2, problems: [] });
      await activity.close();
    },
  );

  it('seals a record written in the caller\'s transaction as a chain of its own: a rollback leaves no gap', async () => {
    const context = await sqliteContext(`al_tx_${Date.now().toString(36)}`, 'sqlite');
    try {
      const activity = createActivityLogger({ store: context.store, integrity: { key: KEY } });
      activity.log({ action: 'before.tx' });
      await context.transaction!((trx) => activity.logInTransaction(trx, { action: 'in.tx', actor: { type: 'user', id: 'u1', name: 'Ada' } }));
      await context
        .transaction!(async (trx) => {
          await activity.logInTransaction(trx, { action: 'rolled.back' });
          throw new Error('no');
        })
        .catch(() => undefined);
      activity.log({ action: 'after.tx' });
      await activity.flush();
      expect(await activity.verify()).toMatchObject({ ok: true, checked: 3, chains: 2 });
      await activity.close();
    } finally {
      await context.cleanup();
    }
  });

  it('refuses verify() without a key, and erase() of anything but one subject', async () => {
    const activity = createActivityLogger({ store: memoryStore() });
    await expect(activity.verify()).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringContaining('integrity') });
    await expect(activity.erase({ actorId: '' })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
    await expect(activity.erase({ actorId: 'u1', tenantId: 't1' } as never)).rejects.toMatchObject({ code: 'INVALID_QUERY' });
    // The field at fault is named, and what a subject of the wrong shape holds.
    await expect(activity.erase({ actorId: '' })).rejects.toThrow('erase: actorId: must be a non-empty string or a finite number, got ""');
    await expect(activity.erase({ tenantId: Number.NaN })).rejects.toThrow('erase: tenantId: must be a non-empty string or a finite number, got NaN');
    await expect(activity.erase({ targetType: '', targetId: 'd1' })).rejects.toThrow('erase: targetType: must be a non-empty string, got ""');
    await expect(activity.erase({ targetType: 'doc', targetId: {} } as never)).rejects.toThrow('erase: targetId: must be a non-empty string or a finite number, got an object');
    await expect(activity.erase({ actorId: 'u1', tenantId: 't1' } as never)).rejects.toThrow('got an object with the keys actorId,tenantId');
    await expect(activity.erase({ actorId: 'u1', extra: undefined } as never)).rejects.toThrow('got an object with the keys actorId,extra');
    expect(() => createActivityLogger({ store: memoryStore(), integrity: { key: 'short' } })).toThrow(/integrity\.key: must be .* at least 16 bytes/);
    expect(() => createActivityLogger({ store: memoryStore(), integrity: { key: KEY, personal: ['a-b'] } })).toThrow(/integrity\.personal/);
    expect(() => createActivityLogger({ store: memoryStore(), integrity: { key: KEY, checkpointRecords: 0 } })).toThrow(/integrity\.checkpointRecords: .*got 0/);
    await activity.close();
  });

  it('holds earlier keys to the rule the current one follows, and says why a resolver gave no key', async () => {
    // An earlier key given as an object is checked at once, as the current one is.
    expect(() => createActivityLogger({ store: memoryStore(), integrity: { key: KEY, keys: { k0: '' } } })).toThrow('integrity.keys.k0: must be a string or bytes of at least 16 bytes, got ""');
    expect(() => createActivityLogger({ store: memoryStore(), integrity: { key: KEY, keys: { k0: 'short' } } })).toThrow('integrity.keys.k0: must be a string or bytes of at least 16 bytes, got 5 bytes');
    expect(() => createActivityLogger({ store: memoryStore(), integrity: { key: KEY, keys: { k0: 42 as never } } })).toThrow('integrity.keys.k0: must be a string or bytes of at least 16 bytes, got 42');
    const store = memoryStore();
    const writer = createActivityLogger({ store, integrity: { key: KEY, keyId: 'k0' } });
    writer.log({ action: 'recipe.update', actor: { type: 'user', id: 'u1' } });
    await writer.close();
    // A resolver's answer is checked when it is asked; the finding says what it did.
    const detailWith = async (keys: (id: string) => string | undefined) => {
      const verifier = createActivityLogger({ store, integrity: { key: 'the next application secret, rotated', keyId: 'k1', keys } });
      const report = await verifier.verify();
      await verifier.close();
      expect(report.counts['unknown-key']).toBe(2); // the record and its checkpoint
      return report.problems[0]!.detail;
    };
    expect(await detailWith(() => undefined)).toBe('made with key "k0", which is not among the keys given');
    expect(await detailWith(() => 'short')).toBe('made with key "k0", the keys resolver gave 5 bytes for it, not a key of at least 16 bytes');
    expect(await detailWith(() => {
      throw new TypeError('vault token abc123 expired');
    })).toBe('made with key "k0", the keys resolver threw for it (TypeError)');
    // The right key still verifies.
    const verifier = createActivityLogger({ store, integrity: { key: 'the next application secret, rotated', keyId: 'k1', keys: (id) => (id === 'k0' ? KEY : undefined) } });
    expect(await verifier.verify()).toMatchObject({ ok: true, checked: 1 });
    await verifier.close();
  });

  it('refuses verify() options it cannot use, naming the field and the rule', async () => {
    const activity = createActivityLogger({ store: memoryStore(), integrity: { key: KEY } });
    const refused = (options: unknown, message: string) => expect(activity.verify(options as never)).rejects.toMatchObject({ code: 'INVALID_QUERY', message: `verify: ${message}` });
    await refused({ checkpoints: 'x' }, 'checkpoints: must be an array of the checkpoints onCheckpoint was given, got "x"');
    await refused({ checkpoints: [{ chain: 'c', seq: 1, hash: 'h', keyId: 'k1', at: 'now' }] }, 'checkpoints[0].signature: must be a string, got undefined');
    await refused({ checkpoints: [null] }, 'checkpoints[0]: must be a checkpoint object, got null');
    await refused({ checkpoints: [{ chain: 'c', seq: 0, hash: 'h', keyId: 'k1', at: 'now', signature: 's' }] }, 'checkpoints[0].seq: must be a whole number from 1, got 0');
    await refused({ chain: 5 }, 'chain: must be a non-empty string, got 5');
    await refused({ maxProblems: -1 }, 'maxProblems: must be a whole number from 0, got -1');
    await expect(activity.verify({ chian: 'c' } as never)).rejects.toMatchObject({ code: 'INVALID_QUERY', message: expect.stringContaining('unknown option "chian" (did you mean "chain"?)') });
    // What it can use still works.
    await expect(activity.verify({ checkpoints: [], maxProblems: 0 })).resolves.toMatchObject({ ok: true });
    await activity.close();
  });

  it('does not slow log(): hashing happens in the flusher', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store, integrity: { key: KEY } });
    activity.log({ action: 'a.b' });
    // Nothing is sealed until the flusher runs.
    expect(store.size).toBe(0);
    await activity.flush();
    expect(store.all()[0]!.integrity).toMatchObject({ seq: 1, prev: '', keyId: 'k1' });
    await activity.close();
  });
});

describe('hash chains on SQLite, property: any single-byte edit of any stored column of any record is found', () => {
  it('finds every edit', async () => {
    const target = await tamperTarget('sqlite', 'al_prop');
    try {
      const writer = createActivityLogger({ store: target.store(), integrity: { key: KEY, personal: ['email'] } });
      for (let i = 0; i < 12; i++) {
        writer.log({
          id: `p-${i}`,
          action: 'recipe.update',
          status: i % 4 === 0 ? 'failure' : 'success',
          actor: { type: 'user', id: `u${i % 2}`, name: `User ${i}` },
          target: { type: 'recipe', id: `r${i}`, name: `Soup ${i}` },
          tenantId: 't1',
          metadata: { email: `u${i}@example.com`, n: i, tags: ['a', 'b'] },
          changes: { before: { title: 'a' }, after: { title: `b${i}` } },
          error: i % 4 === 0 ? new Error(`boom ${i}`) : undefined,
          context: { ip: '10.0.0.1', userAgent: 'UA', requestId: `req-${i}`, route: '/r/:id' },
        });
      }
      await writer.close();
      const verifier = createActivityLogger({ store: target.store(), integrity: { key: KEY, personal: ['email'] } });
      expect((await verifier.verify()).ok).toBe(true);
      const columns = (await target.all<{ name: string }>(`select name from pragma_table_info('al_prop')`)).map((row) => row.name);
      const ids = (await target.all<{ id: string }>(`select id from ${target.table}`)).map((row) => row.id);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...ids), fc.constantFrom(...columns), fc.nat(), fc.nat(), async (id, column, at, pick) => {
          const [row] = await target.all<{ v: unknown }>(`select "${column}" as v from ${target.table} where id = ?`, [id]);
          const original = row!.v;
          fc.pre(original !== null && original !== undefined);
          const text = String(original);
          const i = at % text.length;
          const choices = typeof original === 'number' ? '0123456789' : 'aZ09!{"x';
          const replacement = [...choices].filter((c) => c !== text[i])[pick % (choices.length - 1)]!;
          const edited = text.slice(0, i) + replacement + text.slice(i + 1);
          const value = typeof original === 'number' && /^-?\d+$/.test(edited) ? Number(edited) : edited;
          // The id column keys the row: edit it through its old value. An edit the table's own
          // constraints refuse (an id another row has) is no edit.
          const refused = await target.run(`update ${target.table} set "${column}" = ? where id = ?`, [value, id]).then(
            () => false,
            () => true,
          );
          fc.pre(!refused);
          const whereAfter = column === 'id' ? edited : id;
          try {
            const report = await verifier.verify();
            expect(report.ok, `${column} of ${id}: ${JSON.stringify(text)} -> ${JSON.stringify(edited)}`).toBe(false);
          } finally {
            await target.run(`update ${target.table} set "${column}" = ? where id = ?`, [original, whereAfter]);
          }
        }),
        { numRuns: 100 },
      );
      await verifier.close();
    } finally {
      await target.cleanup();
    }
  });
});

const postgresSkip = skipReason('postgres');
if (postgresSkip) console.warn(`[integrity] several writers: skipped, ${postgresSkip}`);

describe.skipIf(Boolean(postgresSkip))('hash chains of several writers on one PostgreSQL table', () => {
  it('gives each process a chain of its own, and each verifies', async () => {
    const target = await tamperTarget('postgres', `al_many_${Date.now().toString(36)}`);
    try {
      await target.store().migrate!();
      const script = join(import.meta.dirname, 'scripts', 'writer.ts');
      const run = promisify(execFile);
      const results = await Promise.all(
        ['a', 'b', 'c', 'd'].map((name) => run(process.execPath, ['--import', 'tsx', script, process.env.ACTIVITY_LOG_POSTGRES_URL!, target.table.slice(1, -1), name, '500'], { timeout: 120_000 })),
      );
      for (const { stdout } of results) expect(JSON.parse(stdout)).toMatchObject({ written: 500, failed: 0, dropped: 0 });
      const verifier = createActivityLogger({ store: target.store(), integrity: { key: KEY } });
      const report = await verifier.verify();
      expect(report).toMatchObject({ ok: true, checked: 2000, chains: 4 });
      const checkpoints = await target.all<{ chain: string; seq: unknown }>(`select chain, max(seq) as seq from ${target.checkpoints} group by chain`);
      expect(checkpoints.map((row) => Number(row.seq))).toEqual([500, 500, 500, 500]);
      await verifier.close();
    } finally {
      await target.cleanup();
    }
  }, 180_000);
});

describe('the canonical form', () => {
  /** The form as the documentation states it, serialised by the generic canonical JSON. */
  const reference = (record: ActivityRecord, chain: string, keyId: string, commitments: Record<string, string> | undefined) => {
    const form: Record<string, unknown> = { ...record, occurredAt: record.occurredAt.getTime(), integrity: commitments ? { chain, commitments, keyId } : { chain, keyId } };
    for (const [path, committed] of Object.entries(commitments ?? {})) {
      const [head, key] = [path.slice(0, path.indexOf('.')), path.slice(path.indexOf('.') + 1)];
      // Each personal field present in the record.
      if (form[head] && Object.hasOwn(form[head] as object, key)) form[head] = { ...(form[head] as object), [key]: { $commitment: committed } };
    }
    return canonicalJson(form);
  };
  const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 })),
  })).value;

  it('is written field by field exactly as the documented form serialises', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            id: fc.string({ minLength: 1 }),
            action: fc.string(),
            status: fc.constantFrom('success', 'failure', 'denied'),
            occurredAt: fc.date({ noInvalidDate: true }),
            actor: fc.record({ type: fc.string(), id: fc.string(), name: fc.string() }, { requiredKeys: ['type'] }),
            target: fc.record({ type: fc.string(), id: fc.string(), name: fc.string() }, { requiredKeys: ['type', 'id'] }),
            tenantId: fc.string(),
            metadata: fc.dictionary(fc.string(), json, { maxKeys: 5 }),
            changes: fc.dictionary(fc.string(), fc.record({ before: json, after: json }), { maxKeys: 2 }),
            error: fc.record({ name: fc.string(), message: fc.string() }),
            context: fc.record({ ip: fc.string(), userAgent: fc.string(), requestId: fc.string() }, { requiredKeys: [] }),
          },
          { requiredKeys: ['id', 'action', 'status', 'occurredAt'] },
        ),
        fc.subarray(['actor.name', 'target.name', 'context.ip', 'context.userAgent', 'metadata.email']),
        (record, paths) => {
          const commitments = paths.length > 0 ? Object.fromEntries(paths.map((path) => [path, 'c'.repeat(22)])) : undefined;
          expect(canonicalForm(record as ActivityRecord, 'chain', 'k1', commitments)).toBe(reference(record as ActivityRecord, 'chain', 'k1', commitments));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes canonical JSON as an independent serialiser does: keys sorted by code unit, undefined members left out', () => {
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
      if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : reference(item))).join(',')}]`;
      const entries = Object.entries(value).filter(([, item]) => item !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${reference(item)}`).join(',')}}`;
    };
    const withUndefined = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, json, fc.constant(undefined), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 })),
    })).value;
    fc.assert(
      fc.property(withUndefined, (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 500 },
    );
  });
});

describe('the chain hash', () => {
  it('is HMAC-SHA256 of the previous hash, a line feed and the form, for keys of any length and any text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 3000 }), (key, prev, form) => {
        const expected = createHmac('sha256', key).update(prev).update('\n').update(form).digest('hex');
        const hasher = chainHasher(key);
        expect(hasher(prev, form)).toBe(expected);
        // Twice: the buffers it reuses hold nothing over from one record to the next.
        expect(hasher(prev, form)).toBe(expected);
        expect(chainHash(key, prev, form)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('verify() with many checkpoints', () => {
  it('handles more checkpoints of one chain than a call can take as arguments', async () => {
    const store = memoryStore();
    const activity = createActivityLogger({ store, integrity: { key: KEY } });
    activity.log({ action: 'a.b' });
    await activity.close();
    const [record] = store.all();
    const { chain, keyId } = record!.integrity!;
    const checkpoints = Array.from({ length: 200_000 }, (_, i) => {
      const unsigned = { chain, seq: i + 1, hash: i === 0 ? record!.integrity!.hash : `h${i}`, keyId, at: new Date().toISOString() };
      return { ...unsigned, signature: checkpointSignature(Buffer.from(KEY), unsigned) };
    });
    const report = await createActivityLogger({ store, integrity: { key: KEY } }).verify({ checkpoints });
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 200_000 })]);
  });
});
