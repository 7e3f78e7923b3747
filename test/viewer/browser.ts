import { existsSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createServer } from 'node:http';
import express from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { activityLogsRouter } from '../../adapters/frameworks/express.js';
import type { ActivityLogger } from '../../src/logger.js';
import { listenNode, type Closer } from '../frameworks/servers.js';

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

/** A page whose alerts and errors are collected, and which can reach 127.0.0.1 only. */
export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Messages of dialogs (alert, confirm...) the page opened; each is dismissed. */
  dialogs: string[];
  /** Page errors and console errors (a CSP violation is reported as one). */
  problems: string[];
}

/** Opens a page in a new context that aborts every request leaving 127.0.0.1 and records why. */
export async function openWatchedPage(browser: Browser, contextOptions: Parameters<Browser['newContext']>[0] = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ...contextOptions });
  const dialogs: string[] = [];
  const problems: string[] = [];
  await context.route('**/*', (route) => {
    if (new URL(route.request().url()).hostname === '127.0.0.1') return route.continue();
    problems.push(`outside request: ${route.request().url()}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return { context, page, dialogs, problems };
}

/** The viewer of one logger in Chromium: its URL, the watched page, and how to close it all. */
export interface OpenViewer extends WatchedPage {
  /** The viewer's URL: an express app on 127.0.0.1 with the admin mount at `/admin/logs`. */
  base: string;
  browser: Browser;
  close(): Promise<void>;
}

/** Serves `activity`'s viewer (every caller authorized) and opens a watched page on it in Chromium. */
export async function openViewer(activity: ActivityLogger<any>): Promise<OpenViewer> {
  const closers: Closer[] = [];
  const app = express();
  app.use('/admin/logs', activityLogsRouter(activity, { authorize: () => true, viewer: true }));
  const base = `${await listenNode(createServer(app), closers)}/admin/logs`;
  const browser = await launchChromium();
  const watched = await openWatchedPage(browser);
  return {
    ...watched,
    base,
    browser,
    async close() {
      await browser.close();
      for (const close of closers.splice(0)) await close();
    },
  };
}
