import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createActivityLogger } from '../../src/index.js';
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

  function logger() {
    const dir = mkdtempSync(join(tmpdir(), 'activity-log-fidelity-'));
    dirs.push(dir);
    const errors = errorCollector();
    const activity = createActivityLogger({
      store: sqliteStore({ filename: join(dir, 'activity.db') }),
      integrity: { key: 'k'.repeat(32) },
      onError: errors.onError,
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
});
