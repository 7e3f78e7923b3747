import { existsSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/**
 * Real-browser tests share this: Debian's `chromium` package driven by playwright-core (no
 * browser download, never `npx playwright install`). When the browser is missing the suites
 * skip and say why; CI installs it.
 *
 * @example
 * import { describe, it } from 'vitest';
 * import { CHROMIUM_MISSING, launchChromium } from '../viewer/browser.js';
 *
 * describe.skipIf(CHROMIUM_MISSING)('in a browser', () => {
 *   it('...', async () => {
 *     const browser = await launchChromium();
 *     try { const page = await browser.newPage(); ... } finally { await browser.close(); }
 *   });
 * });
 */

/** Where Debian's `chromium` package puts the browser; `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser suites skip, or `undefined` when the browser is there. Printed once. */
export const CHROMIUM_MISSING: string | undefined = existsSync(CHROMIUM_PATH)
  ? undefined
  : `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH): browser tests skipped`;

if (CHROMIUM_MISSING) console.warn(`[browser tests] ${CHROMIUM_MISSING}`);

/** Headless, sandbox-less (containers), and quiet: no background or update traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    timeout: 60_000,
  });
}

/** `test-results/<name>`, with the folder created; the folder is git-ignored. */
export function screenshotPath(name: string): string {
  const folder = resolve('test-results');
  mkdirSync(folder, { recursive: true });
  return resolve(folder, name);
}
