import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { createActivityLogger } from '../../src/logger.js';

// An invalid metadata filter is refused naming the field and its rule: zod 4 reported a bad
// key as "Invalid key in record" and a non-object as "Invalid input: expected record,
// received string", neither saying what the filter takes.

const dir = mkdtempSync(join(tmpdir(), 'activity-log-query-errors-'));
const activity = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'activity.db') }) });
afterAll(async () => {
  await activity.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('query({ metadata }) refused', () => {
  it.each([
    [{ 'é': 1 }, 'metadata.é: keys must be identifiers (letters, digits, "_")'],
    [{ ok: 1, '1st': 'x' }, 'metadata.1st: keys must be identifiers (letters, digits, "_")'],
    ['r_1', 'metadata: must be an object of top-level metadata keys and the values they equal, got "r_1"'],
    [['r_1'], 'metadata: must be an object of top-level metadata keys and the values they equal, got an array'],
    [{ tags: ['a'] }, 'metadata.tags: values must be strings, finite numbers or booleans'],
  ])('%j names the field and the rule', async (metadata, message) => {
    await expect(activity.query({ metadata } as never)).rejects.toMatchObject({ code: 'INVALID_QUERY', message: `invalid query: ${message}` });
    await expect(activity.count({ metadata } as never)).rejects.toMatchObject({ code: 'INVALID_QUERY', message: `invalid filter: ${message}` });
  });
});
