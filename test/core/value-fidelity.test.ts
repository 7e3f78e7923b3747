import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createActivityLogger, type ActivityLoggerOptions } from '../../src/index.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { errorCollector } from '../helpers.js';

/**
 * What a caller logs comes back as the README says it is made JSON, from a real SQLite file,
 * and the sealed record still verifies: nothing is dropped on the way.
 */
describe('values made JSON', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A sealed logger over a SQLite file of its own, with `extra` options (a censor, a catalog). */
  function logger(extra: Partial<ActivityLoggerOptions> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-fidelity-'));
    dirs.push(dir);
    const errors = errorCollector();
    const activity = createActivityLogger({
      store: sqliteStore({ filename: join(dir, 'activity.db') }),
      integrity: { key: 'k'.repeat(32) },
      onError: errors.onError,
      ...extra,
    });
    return { activity, errors };
  }

  it('keeps every entry of a Map whose keys read the same as text (1 and "1", two objects)', async () => {
    const { activity, errors } = logger();
    const id = '01a2f0c4-0000-7000-8000-000000000001';
    activity.log({
      id,
      action: 'map.save',
      metadata: {
        m: new Map<unknown, unknown>([
          [1, 'number'],
          ['1', 'string'],
          [{}, 'first object'],
          [{}, 'second object'],
          ['skipped', undefined],
        ]),
      },
    });
    await activity.flush();
    const record = await activity.get(id);
    expect(record?.metadata).toEqual({
      m: { '1': 'number', '1 (2)': 'string', '[object Object]': 'first object', '[object Object] (2)': 'second object' },
    });
    expect(errors.errors).toEqual([]);
    const report = await activity.verify();
    expect(report).toMatchObject({ ok: true, checked: 1 });
    await activity.close();
  });

  it('cuts an error message, name and code and a user agent over their limits without splitting an emoji', async () => {
    const { activity, errors } = logger();
    const id = '01a2f0c4-0000-7000-8000-000000000002';
    const thrown = Object.assign(new Error(`${'m'.repeat(1998)}😀😀`), { code: `${'c'.repeat(126)}😀x` });
    thrown.name = `${'n'.repeat(126)}😀x`;
    activity.log({ id, action: 'job.fail', status: 'failure', error: thrown, context: { userAgent: `${'u'.repeat(511)}😀` } });
    await activity.flush();
    const record = await activity.get(id);
    // Each is cut before the emoji, never to half of it (a lone surrogate, stored as U+FFFD).
    expect(record?.error).toEqual({ name: `${'n'.repeat(126)}…`, message: `${'m'.repeat(1998)}…`, code: `${'c'.repeat(126)}…` });
    expect(record?.context).toEqual({ userAgent: 'u'.repeat(511) });
    expect(errors.errors).toEqual([]);
    expect(await activity.verify()).toMatchObject({ ok: true, checked: 1 });
    await activity.close();
  });

  it('shows a change too large to keep as its marker in stateAt(), not as undefined', async () => {
    const { activity } = logger();
    const target = { type: 'doc', id: 'd1' };
    const start = Date.UTC(2026, 0, 1);
    activity.log({ action: 'doc.create', target, changes: { before: null, after: { title: 'A', body: 'short' } }, occurredAt: start });
    activity.log({ action: 'doc.update', target, changes: { before: { title: 'A', body: 'short' }, after: { title: 'B', body: 'x'.repeat(9000) } }, occurredAt: start + 1000 });
    await activity.flush();
    const [update] = (await activity.history(target)).items;
    expect(update?.changes?.body).toMatch(/^\[truncated: \d+ bytes\]$/);
    expect(await activity.stateAt(target, start + 2000)).toEqual({ title: 'B', body: update?.changes?.body });
    await activity.close();
  });

  it('stores "[Unreadable]" for an error message, code or stack whose getter or Proxy trap throws, as in metadata', async () => {
    const { activity } = logger();
    const failing = new Error('hidden');
    for (const key of ['stack', 'code', 'message', 'name']) {
      Object.defineProperty(failing, key, { get: () => { throw new Error(`no ${key}`); } });
    }
    const trap = new Proxy(new Error('hidden'), { get: () => { throw new Error('trap'); } });
    const thrownObject = Object.defineProperty({}, 'message', { enumerable: true, get: () => { throw new Error('no message'); } });
    activity.log({ id: '01a2f0c4-0000-7000-8000-000000000003', action: 'job.fail', status: 'failure', error: failing });
    activity.log({ id: '01a2f0c4-0000-7000-8000-000000000004', action: 'job.fail', status: 'failure', error: trap });
    activity.log({ id: '01a2f0c4-0000-7000-8000-000000000005', action: 'job.fail', status: 'failure', error: thrownObject });
    await activity.flush();
    expect((await activity.get('01a2f0c4-0000-7000-8000-000000000003'))?.error).toEqual({ name: 'Error', message: '[Unreadable]', code: '[Unreadable]' });
    expect((await activity.get('01a2f0c4-0000-7000-8000-000000000004'))?.error).toEqual({ name: 'Error', message: '[Unreadable]', code: '[Unreadable]' });
    expect((await activity.get('01a2f0c4-0000-7000-8000-000000000005'))?.error).toMatchObject({ message: '[Unreadable]' });
    expect(await activity.verify()).toMatchObject({ ok: true, checked: 3 });
    await activity.close();
  });

  it('reads an ISO date-time with more than three fraction digits and no offset as UTC, whatever the server\'s zone', async () => {
    // PostgreSQL's timestamp and Python's isoformat() write six digits; Date reads those in the
    // server's zone, so the same event was stored 4 or 5 hours apart on servers in New York and UTC.
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(new Date(2026, 2, 15).getTimezoneOffset()).not.toBe(0); // the zone did change
      const { activity, errors } = logger();
      const id = '01a2f0c4-0000-7000-8000-000000000006';
      activity.log({ id, action: 'import.row', occurredAt: '2026-03-15T10:00:00.123456' });
      activity.log({ id: '01a2f0c4-0000-7000-8000-000000000007', action: 'import.row', occurredAt: '2026-03-15 10:00:00.1234567' });
      await activity.flush();
      expect(errors.errors).toEqual([]);
      expect((await activity.get(id))?.occurredAt.toISOString()).toBe('2026-03-15T10:00:00.123Z');
      expect((await activity.get('01a2f0c4-0000-7000-8000-000000000007'))?.occurredAt.toISOString()).toBe('2026-03-15T10:00:00.123Z');
      // Filters read the same text the same way.
      expect((await activity.query({ from: '2026-03-15T10:00:00.123000', to: '2026-03-15T10:00:00.124000' })).items).toHaveLength(2);
      // Only digits after a millisecond: no other shape is let through.
      activity.log({ action: 'import.row', occurredAt: '2026-03-15T10:00:001' });
      await activity.flush();
      expect(errors.errors.map((error) => error.code)).toEqual(['INVALID_EVENT']);
      await activity.close();
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('names the whole rule when it refuses a caller\'s id', async () => {
    const { activity, errors } = logger();
    activity.log({ id: '..', action: 'job.run' });
    activity.log({ id: 'a/b', action: 'job.run' });
    await activity.flush();
    expect(errors.errors.map((error) => [error.code, error.message])).toEqual([
      ['INVALID_EVENT', 'id: must be 1-64 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit, got ".."'],
      ['INVALID_EVENT', 'id: must be 1-64 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit, got "a/b"'],
    ]);
    await activity.close();
  });

  it('applies the text rule to a redaction censor, which is stored in place of values', async () => {
    const { activity, errors } = logger({ redact: { censor: '[X\u0000\ud800]' } });
    const id = '01a2f0c4-0000-7000-8000-000000000008';
    activity.log({ id, action: 'user.update', metadata: { password: 'p', note: 'Bearer abc123' }, changes: { before: { password: 'a' }, after: { password: 'b' } } });
    await activity.flush();
    const record = await activity.get(id);
    expect(record?.metadata).toEqual({ password: '[X\ufffd\ufffd]', note: 'Bearer [X\ufffd\ufffd]' });
    expect(record?.changes).toEqual({ password: { before: '[X\ufffd\ufffd]', after: '[X\ufffd\ufffd]' } });
    expect(errors.errors).toEqual([]);
    expect(await activity.verify()).toMatchObject({ ok: true, checked: 1 });
    await activity.close();
  });

  it('makes a catalog schema\'s output JSON as log() makes its input: a coerced Date or BigInt, a Map, NaN', async () => {
    const { activity, errors } = logger({
      catalog: {
        'invoice.pay': z.object({
          when: z.coerce.date(),
          amount: z.coerce.bigint(),
          tags: z.string().transform((text) => new Map([[text, 1]])),
          ratio: z.string().transform(() => Number.NaN),
          gone: z.string().transform(() => undefined),
          zero: z.number().transform(() => -0),
        }),
      },
    });
    const id = '01a2f0c4-0000-7000-8000-000000000009';
    activity.log({ id, action: 'invoice.pay', metadata: { when: '2026-01-02T03:04:05.678Z', amount: '12345678901234567890', tags: 'vip', ratio: 'x', gone: 'y', zero: 1 } });
    await activity.flush();
    expect(errors.errors).toEqual([]);
    expect((await activity.get(id))?.metadata).toEqual({ when: '2026-01-02T03:04:05.678Z', amount: '12345678901234567890', tags: { vip: 1 }, ratio: 'NaN', zero: 0 });
    expect(await activity.verify()).toMatchObject({ ok: true, checked: 1 });
    await activity.close();
  });
});
