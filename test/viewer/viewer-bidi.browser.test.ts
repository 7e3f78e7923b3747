import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityLogger, type ActivityLogger } from '../../src/logger.js';
import { sqliteStore } from '../../adapters/storage/sqlite.js';
import { CHROMIUM_MISSING, openViewer, type OpenViewer } from './browser.js';

/**
 * A value with a bidi control reorders the text after it: `Ann\u202Egnp.exe` reads as
 * `Annexe.png`, so a logged name, user agent or target could make a record look like another.
 * The viewer shows each such character as its escape (`\u202e`), in the list, in the detail
 * panel (fields, JSON) and in the text its tooltips and id popovers show.
 */
const BIDI_CONTROLS = ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'];
const RAW_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const NAME = 'Ann\u202egnp.exe';
const SHOWN_NAME = 'Ann\\u202egnp.exe';

describe.skipIf(CHROMIUM_MISSING !== undefined)('the viewer shows bidi and control characters as escapes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'activity-log-viewer-bidi-'));
  let activity: ActivityLogger<any>;
  let base: string;
  let page: Page;
  let problems: string[] = [];
  let viewer: OpenViewer;

  beforeAll(async () => {
    activity = createActivityLogger({ store: sqliteStore({ filename: join(dir, 'activity.db'), tableName: 'h1_viewer_bidi' }) });
    activity.log({
      action: 'file.upload',
      actor: { type: 'user', id: 'user-\u202e-0192d3a4-aaaa', name: NAME },
      target: { type: 'file', id: 'f_1', name: `every control: ${BIDI_CONTROLS.join('x')}x\u0007\u009b` },
      context: { userAgent: 'Mozilla/5.0 \u202e)nimda(' },
      metadata: { note: 'paid \u2067$100\u2069 \u202e0001$' },
    });
    await activity.flush();
    viewer = await openViewer(activity);
    ({ base, page, problems } = viewer);
  }, 90_000);

  afterAll(async () => {
    await viewer?.close();
    await activity?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every piece of text the page shows: its text nodes and the attributes shown as text. */
  const shownText = () =>
    page.evaluate(() => {
      const texts: string[] = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement?.closest('script, style')) continue;
        texts.push((node as Text).data);
      }
      for (const element of Array.from(document.body.querySelectorAll('[title], [aria-label], [data-full]'))) {
        for (const name of ['title', 'aria-label', 'data-full']) if (element.hasAttribute(name)) texts.push(element.getAttribute(name)!);
      }
      return texts.join('\n');
    });

  /** Whether each character of a cell's text is drawn after the one before: to its right, or on a later line (the cell wraps). */
  const lettersInOrder = (selector: string) =>
    page.evaluate((selector) => {
      const text = document.querySelector(selector)!.firstChild as Text;
      const range = document.createRange();
      const boxes: DOMRect[] = [];
      for (let i = 0; i < text.data.length; i++) {
        range.setStart(text, i);
        range.setEnd(text, i + 1);
        boxes.push(range.getBoundingClientRect());
      }
      return boxes.every((box, i) => i === 0 || box.top > boxes[i - 1]!.top + 1 || (Math.abs(box.top - boxes[i - 1]!.top) <= 1 && box.left > boxes[i - 1]!.left));
    }, selector);

  it('shows a name with U+202E as its escape in the list, read left to right', async () => {
    await page.goto(base);
    const cell = page.locator('#rows td.col-actor .primary-text');
    await expect.poll(() => cell.textContent()).toBe(SHOWN_NAME);
    expect(await lettersInOrder('#rows td.col-actor .primary-text')).toBe(true);
    expect(await page.locator('#rows td.col-target').textContent()).toContain('every control: \\u061cx\\u200ex\\u200fx\\u202ax\\u202bx\\u202cx\\u202dx\\u202ex\\u2066x\\u2067x\\u2068x\\u2069x\\u0007\\u009b');
    expect(await shownText()).not.toMatch(RAW_CONTROL);
  });

  it('shows them as escapes in the detail panel: fields, JSON, tooltips and id popovers', async () => {
    await page.locator('#rows tr').first().click();
    const detail = page.locator('#detail-body');
    await expect.poll(() => detail.locator('pre.json').count()).toBeGreaterThanOrEqual(2);
    const text = (await detail.textContent()) ?? '';
    expect(text).toContain(SHOWN_NAME);
    expect(text).toContain('"note": "paid \\u2067$100\\u2069 \\u202e0001$"');
    expect(text).toContain('"userAgent": "Mozilla/5.0 \\u202e)nimda("');
    expect(await detail.locator('[data-full^="user-"]').getAttribute('data-full')).toBe('user-\\u202e-0192d3a4-aaaa');
    expect(await shownText()).not.toMatch(RAW_CONTROL);
    expect(problems).toEqual([]);
  });
});
