import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { follow, seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-search-'));

async function post(page: Page, text: string): Promise<void> {
  await page.goto(page.url().replace(/#.*$/, '#/'));
  await page.getByLabel('Post text').fill(text);
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await seen(page, text);
}

describe('search and links in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let host: string;
  let alice: Page;
  let bob: Page;

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: join(tmp, 'web'), emptyOutDir: true } });
    server = await spawnServer(['--port', '0', '--data', join(tmp, 'srv'), '--web', join(tmp, 'web')]);
    host = new URL(server.url).host;
    browser = await launchChromium();
    const page = async () => (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    alice = await page();
    bob = await page();
    await signUp(alice, server.url, 'Alice', 'alice');
    await signUp(bob, server.url, 'Bob', 'bob');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('finds posts by a word and by hashtag, and people by name; links, tags and mentions are clickable', async () => {
    await post(alice, `Growing #Tomatoes this summer with @bob@${host}, notes at https://example.com/tomatoes.`);
    await post(alice, 'Tomato soup tonight');
    await post(alice, 'Nothing about vegetables');
    await follow(bob, `alice@${host}`);
    await seen(bob, 'Tomato soup tonight');

    // The text's links: the address (opened elsewhere), the mention (a profile here), the tag (its search).
    const card = bob.locator('article', { hasText: 'Growing' });
    expect(await card.getByRole('link', { name: 'https://example.com/tomatoes' }).getAttribute('href')).toBe('https://example.com/tomatoes');
    expect(await card.getByRole('link', { name: 'https://example.com/tomatoes' }).getAttribute('rel')).toContain('noopener');
    expect(await card.getByRole('link', { name: `@bob@${host}` }).getAttribute('href')).toBe(`#/@bob@${host}`);
    await card.getByRole('link', { name: '#Tomatoes' }).click();
    await bob.getByRole('heading', { name: 'Search', level: 1 }).waitFor();
    expect(await bob.getByLabel('Search posts and people').inputValue()).toBe('#tomatoes');
    const results = bob.getByRole('region', { name: 'Posts' }).locator('article');
    await results.first().waitFor({ timeout: 20_000 });
    expect(await results.allTextContents()).toEqual([expect.stringContaining('Growing #Tomatoes')]);

    // A word matches the start of words, newest first; a person by name.
    await bob.getByLabel('Search posts and people').fill('tomato');
    await bob.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(async () => (await results.allTextContents()).map((t) => /Tomato soup|Growing/.exec(t)?.[0]), { timeout: 20_000 }).toEqual(['Tomato soup', 'Growing']);
    await bob.getByLabel('Search posts and people').fill('alice');
    await bob.getByRole('button', { name: 'Search', exact: true }).click();
    await bob.getByRole('region', { name: 'People' }).getByRole('link', { name: /Alice/ }).waitFor({ timeout: 20_000 });
    await shot(bob, 'search');

    // A new post is found without reloading; nothing matches says so.
    await post(alice, 'Fresh #tomatoes from the garden');
    await bob.goto(bob.url().replace(/#.*$/, '#/'));
    await seen(bob, 'Fresh #tomatoes');
    await bob.goto(bob.url().replace(/#.*$/, '#/search?q=%23tomatoes'));
    await expect.poll(() => results.count(), { timeout: 20_000 }).toBe(2);
    await bob.goto(bob.url().replace(/#.*$/, '#/search?q=zucchini'));
    await bob.getByText('Nothing here matches “zucchini”.').waitFor({ timeout: 20_000 });
  }, 180_000);
});
