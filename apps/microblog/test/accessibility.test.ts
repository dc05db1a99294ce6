import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { follow, seen, shot, signUp } from './app.js';
import { a11yProblems, countScripts, tabStops } from './a11y.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-a11y-'));
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

/**
 * JavaScript the first screen may fetch, in bytes. Before the screens were split off, every screen fetched the whole
 * app: 790 KB in one file; split, the welcome screen fetched 246 KB and the timeline 763 KB, two thirds of it
 * react-dom, zod, Yjs and crypto. On Preact and zod/mini the welcome screen fetches 42 KB and the timeline 476 KB.
 * The bounds leave room for ordinary growth, not for the engine coming into the welcome screen or a screen into the
 * timeline's.
 */
const WELCOME_JS = 80_000;
const TIMELINE_JS = 587_000;

async function post(page: Page, text: string): Promise<void> {
  await page.goto(page.url().replace(/#.*$/, '#/'));
  await page.getByLabel('Post text').fill(text);
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await seen(page, text);
}

/** Opens a screen of the app and waits for its h1. */
async function open(page: Page, url: string, route: string, h1: string | RegExp): Promise<void> {
  await page.goto(`${url}/#${route}`);
  await page.getByRole('heading', { level: 1, name: h1 }).waitFor({ timeout: 20_000 });
}

describe('accessibility, first-screen JavaScript and the look, in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let url: string;
  let host: string;
  let alice: Page;
  let bob: Page;
  let aliceCtx: BrowserContext;

  beforeAll(async () => {
    // Built as `npm run build` builds it: under the test runner's NODE_ENV, development-only code would be counted.
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await build({ root: ROOT, logLevel: 'silent', build: { outDir: join(tmp, 'web'), emptyOutDir: true } });
    } finally {
      process.env.NODE_ENV = env;
    }
    server = await spawnServer(['--port', '0', '--data', join(tmp, 'srv'), '--web', join(tmp, 'web')]);
    url = server.url;
    host = new URL(url).host;
    browser = await launchChromium();
    // Alice's browser fetches everything from the network, so what a first visit costs is what it counts.
    aliceCtx = await browser.newContext({ viewport: DESKTOP, serviceWorkers: 'block' });
    alice = await aliceCtx.newPage();
    bob = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loads the first screen with less JavaScript than the whole app, and the other screens when opened', async () => {
    const welcome = countScripts(alice);
    await alice.goto(url);
    await alice.getByRole('button', { name: 'Create an account' }).waitFor();
    await alice.waitForLoadState('networkidle');
    const welcomeBytes = welcome.bytes();
    expect(await a11yProblems(alice)).toEqual([]);
    await alice.getByRole('button', { name: 'Create an account' }).click();
    expect(await a11yProblems(alice)).toEqual([]);

    await signUp(alice, url, 'Alice Liddell', 'alice');
    await post(alice, 'Down the rabbit hole #wonderland');
    // A signed-in first screen: a fresh page of the same browser, with the timeline showing.
    const again = await aliceCtx.newPage();
    const home = countScripts(again);
    await again.goto(url);
    await seen(again, 'Down the rabbit hole');
    await again.waitForLoadState('networkidle');
    const homeBytes = home.bytes();
    const first = home.files();
    console.log(`first screen JavaScript: welcome ${welcomeBytes} bytes, timeline ${homeBytes} bytes in ${first.length} files`);
    expect(welcomeBytes).toBeLessThan(WELCOME_JS);
    expect(homeBytes).toBeLessThan(TIMELINE_JS);
    // The screens not needed at first are fetched when opened, and only then.
    await open(again, url, '/settings', 'Settings');
    await open(again, url, '/search?q=rabbit', 'Search');
    await again.waitForLoadState('networkidle');
    expect((home.files()).length).toBeGreaterThan(first.length);
    await again.close();
  }, 180_000);

  it('names every control, has one h1 per screen, and tabs through the navigation in its order with a visible ring', async () => {
    await signUp(bob, url, 'Bob', 'bob');
    await follow(bob, `alice@${host}`);
    await seen(bob, 'Down the rabbit hole');
    await bob.locator('article', { hasText: 'Down the rabbit hole' }).getByRole('button', { name: /^Like/ }).click();
    await bob.goto(`${url}/#/messages`);
    await bob.getByLabel('Recipient handle').fill(`alice@${host}`);
    await bob.getByLabel('Message', { exact: true }).fill('Tea at four?');
    await bob.getByRole('button', { name: 'Send' }).click();
    await bob.getByText(`Sent to alice@${host}`).waitFor({ timeout: 20_000 });

    const screens: [string, string | RegExp][] = [
      ['/', 'Home'],
      ['/search?q=wonderland', 'Search'],
      ['/messages', 'Messages'],
      ['/notifications', 'Notifications'],
      ['/followers', 'Followers'],
      ['/me', 'Alice Liddell'],
      [`/@bob@${host}`, 'Bob'],
      ['/settings', 'Settings'],
    ];
    await alice.goto(`${url}/#/followers`);
    await alice.locator('.requests li', { hasText: `bob@${host}` }).waitFor({ timeout: 30_000 });
    for (const [route, h1] of screens) {
      await open(alice, url, route, h1);
      await alice.waitForLoadState('networkidle');
      expect(await a11yProblems(alice), route).toEqual([]);
    }
    // The buttons say for whom they act.
    await open(alice, url, '/followers', 'Followers');
    await alice.getByRole('button', { name: `Approve bob@${host}` }).waitFor();
    await alice.getByRole('button', { name: `Deny bob@${host}` }).waitFor();

    // Tabbing from the top runs through the navigation in the order it is laid out, each stop showing a ring.
    await open(alice, url, '/', 'Home');
    const stops = await tabStops(alice, 40);
    const nav = stops.filter((s) => s.landmark === 'nav');
    expect(nav.map((s) => s.name.replace(/\d+$/, ''))).toEqual(['Home', 'Search', 'Messages', 'Notifications', 'Followers', 'Profile', 'Settings']);
    for (let i = 1; i < nav.length; i++) expect(nav[i]!.y).toBeGreaterThan(nav[i - 1]!.y);
    expect(stops.findIndex((s) => s.landmark === 'main')).toBeGreaterThan(stops.indexOf(nav.at(-1)!));
    expect(stops.filter((s) => !s.ring)).toEqual([]);

    await alice.setViewportSize(PHONE);
    const phone = (await tabStops(alice, 12)).filter((s) => s.landmark === 'nav');
    for (let i = 1; i < phone.length; i++) expect(phone[i]!.x).toBeGreaterThan(phone[i - 1]!.x);
    await alice.setViewportSize(DESKTOP);
  }, 240_000);

  it('shows initials on a colour for accounts without a picture, relative times, and phone and desktop layouts', async () => {
    await open(alice, url, '/', 'Home');
    const avatar = alice.locator('article', { hasText: 'Down the rabbit hole' }).locator('.avatar').first();
    expect((await avatar.textContent())?.trim()).toBe('AL');
    expect(await avatar.evaluate((e) => getComputedStyle(e).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    await alice.locator('article', { hasText: 'Down the rabbit hole' }).locator('time').first().waitFor();
    await shot(alice, 'desktop-home');
    await open(alice, url, '/me', 'Alice Liddell');
    await shot(alice, 'desktop-profile');
    await alice.setViewportSize(PHONE);
    await open(alice, url, '/', 'Home');
    await shot(alice, 'phone-home');
    await open(alice, url, '/notifications', 'Notifications');
    await shot(alice, 'phone-notifications');
    await alice.setViewportSize(DESKTOP);
  }, 120_000);

  it('opens the split-off screens from the service worker with the provider down', async () => {
    await bob.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    // The worker keeps every chunk of the build once installed, not only those this browser happened to open.
    await bob.reload();
    await server.stop();
    await bob.reload();
    for (const [route, h1] of [
      ['/settings', 'Settings'],
      ['/search?q=rabbit', 'Search'],
      ['/notifications', 'Notifications'],
      ['/followers', 'Followers'],
    ] as const) {
      await bob.goto(`${url}/#${route}`);
      await bob.getByRole('heading', { level: 1, name: h1 }).waitFor({ timeout: 20_000 });
    }
    await bob.locator('.status.offline').waitFor({ timeout: 30_000 });
  }, 120_000);
});
