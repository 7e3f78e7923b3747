import { describe, expect, it } from 'vitest';
import { table } from '../../adapters/cli/output.js';
import { memoryStore } from '../../adapters/storage/memory.js';
import { createActivityLogger } from '../../src/index.js';

/**
 * The table `query` and `tail` print, by the columns a terminal draws: a CJK character or an
 * emoji takes two, so counting it as one (its length) pushed the columns after it out of line
 * and the row past the terminal's width.
 */

/** Columns on a terminal of the text these tests use: ASCII, CJK, emoji, `…`. */
const columns = (text: string) => [...text].reduce((sum, char) => sum + (/[\u3000-\u9fff\u{1f300}-\u{1f64f}]/u.test(char) ? 2 : 1), 0);

async function records() {
  const activity = createActivityLogger({ store: memoryStore() });
  const names = ['Ada', '山田太郎', 'Zoë 😀😀 party', '東京都渋谷区の田中さんとその家族'];
  names.forEach((name, i) => activity.log({ action: 'user.login', actor: { type: 'user', id: `u${i}`, name }, target: { type: 'recipe', id: `r${i}` }, tenantId: 't1' }));
  await activity.flush();
  const page = await activity.query({ limit: 10 });
  await activity.close();
  return page.items;
}

describe('the CLI table with wide characters', () => {
  for (const width of [200, 70]) {
    it(`keeps its columns in line and its rows within ${width} columns`, async () => {
      const rows = table(await records(), { write: () => {}, width, color: false }).trimEnd().split('\n');
      // Where the TARGET column starts, in columns, on the header and on every row.
      const starts = rows.map((row) => columns(row.slice(0, row.search(/TARGET|recipe:/))));
      expect(new Set(starts).size, rows.join('\n')).toBe(1);
      for (const row of rows) expect(columns(row), row).toBeLessThanOrEqual(width);
    });
  }
});
