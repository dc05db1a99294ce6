import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-people-'));
/** A 1×1 PNG: the app scales any image to a 160×160 avatar. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

const nav = (page: Page, name: RegExp): Locator => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });
/** The unread count on a navigation link, 0 when it shows none. */
const badge = async (page: Page, name: RegExp): Promise<number> => {
  const b = nav(page, name).locator('.badge');
  return (await b.count()) ? Number(await b.textContent()) : 0;
};
const go = (page: Page, hash: string) => page.goto(`${page.url().split('#')[0]}${hash}`);

describe('conversations, notifications and profiles in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let url: string;
  let host: string;
  let alice: Page;
  let bob: Page;
  let alicePhrase: string;

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: join(tmp, 'web'), emptyOutDir: true } });
    server = await spawnServer(['--port', '0', '--data', join(tmp, 'srv'), '--web', join(tmp, 'web')]);
    url = server.url;
    host = new URL(url).host;
    browser = await launchChromium();
    const page = async () => {
      const p = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
      p.on('dialog', (d) => void d.accept());
      return p;
    };
    alice = await page();
    bob = await page();
    alicePhrase = await signUp(alice, url, 'Alice', 'alice');
    await signUp(bob, url, 'Bob', 'bob');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('groups DMs by person, both ways; the unread badge goes down when read, on every device of the account', async () => {
    await go(alice, '#/messages');
    await alice.getByLabel('Recipient handle').fill(`bob@${host}`);
    await alice.getByLabel('Message', { exact: true }).fill('Hi Bob, lunch?');
    await alice.getByRole('button', { name: 'Send' }).click();
    await alice.getByText(`Sent to bob@${host}`).waitFor({ timeout: 20_000 });

    // Bob's badge counts it, live; opening the conversation reads it.
    await expect.poll(() => badge(bob, /^Messages/), { timeout: 30_000 }).toBe(1);
    await go(bob, '#/messages');
    await bob.locator('.conversations li', { hasText: 'Hi Bob, lunch?' }).getByRole('link', { name: 'Alice' }).click();
    await seen(bob, 'Hi Bob, lunch?', 20_000, '.dms li');
    await expect.poll(() => badge(bob, /^Messages/), { timeout: 20_000 }).toBe(0);
    for (const text of ['Sure, at noon', 'The usual place']) {
      await bob.getByLabel('Message', { exact: true }).fill(text);
      await bob.getByRole('button', { name: 'Send' }).click();
      await seen(bob, text, 20_000, '.dms li.mine');
    }
    // The recipient is named on what Bob sent.
    expect(await bob.locator('.dms li.mine').first().textContent()).toContain(`You to alice@${host}`);

    // A second device of Alice's, from her phrase, before she reads anything.
    const laptop = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    await laptop.goto(url);
    await laptop.getByRole('button', { name: 'I have a recovery phrase' }).click();
    await laptop.getByLabel('Recovery phrase').fill(alicePhrase);
    await laptop.getByRole('button', { name: 'Recover account' }).click();
    await laptop.getByLabel('Post text').waitFor({ timeout: 60_000 });
    await expect.poll(() => badge(laptop, /^Messages/), { timeout: 60_000 }).toBe(2);

    await expect.poll(() => badge(alice, /^Messages/), { timeout: 30_000 }).toBe(2);
    await go(alice, '#/messages');
    // One conversation, with the newest message and what is unread; DMs are not among the notifications.
    const rows = alice.locator('.conversations li');
    await rows.filter({ hasText: 'The usual place' }).waitFor({ timeout: 20_000 });
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('.badge').textContent()).toBe('2');
    await shot(alice, 'conversations');
    await rows.first().getByRole('link', { name: 'Bob' }).click();
    const thread = alice.locator('.dms li');
    await thread.filter({ hasText: 'The usual place' }).waitFor({ timeout: 20_000 });
    expect((await thread.allTextContents()).map((t) => /Hi Bob|Sure|usual/.exec(t)?.[0])).toEqual(['Hi Bob', 'Sure', 'usual']);
    expect(await thread.first().textContent()).toContain(`You to bob@${host}`);
    await shot(alice, 'conversation');
    await expect.poll(() => badge(alice, /^Messages/), { timeout: 20_000 }).toBe(0);
    // Read on one device, read on the other.
    await expect.poll(() => badge(laptop, /^Messages/), { timeout: 30_000 }).toBe(0);
    // Messages are not notifications: she has none yet.
    await go(alice, '#/notifications');
    await alice.getByText('Nothing yet.').waitFor({ timeout: 20_000 });
    await go(bob, '#/messages');
    await bob.locator('.conversations li', { hasText: 'You: The usual place' }).waitFor({ timeout: 20_000 });
    expect(await bob.locator('.conversations li').count()).toBe(1);
    await laptop.context().close();
  }, 240_000);

  it('has Follow, Unfollow and Message on a profile, with follower and following counts', async () => {
    await go(bob, `#/@alice@${host}`);
    await bob.getByRole('heading', { name: 'Alice' }).waitFor({ timeout: 20_000 });
    await bob.getByRole('button', { name: `Follow alice@${host}` }).click();
    await bob.getByRole('button', { name: `Unfollow alice@${host}` }).waitFor({ timeout: 20_000 });
    await go(bob, '#/me');
    await bob.getByText('1 following').waitFor({ timeout: 20_000 });

    // Alice approves him: both see one follower on her profile.
    await go(alice, '#/followers');
    await alice.getByRole('button', { name: `Approve bob@${host}` }).click();
    await alice.locator('.requests li', { hasText: 'approved' }).waitFor({ timeout: 20_000 });
    await go(alice, '#/me');
    await alice.getByText('1 follower', { exact: true }).waitFor({ timeout: 20_000 });
    await alice.getByText('0 following').waitFor();
    await go(bob, `#/@alice@${host}`);
    await bob.getByText('1 follower', { exact: true }).waitFor({ timeout: 30_000 });
    await shot(bob, 'profile-actions');

    await bob.getByRole('button', { name: `Unfollow alice@${host}` }).click();
    await bob.getByRole('button', { name: `Follow alice@${host}` }).waitFor({ timeout: 20_000 });
    await go(bob, '#/me');
    await bob.getByText('0 following').waitFor({ timeout: 20_000 });

    // Message opens the conversation with her, ready to write.
    await go(bob, `#/@alice@${host}`);
    await bob.getByRole('link', { name: `Message alice@${host}` }).click();
    await bob.getByRole('form', { name: `Reply to alice@${host}` }).waitFor();
    expect(bob.url()).toMatch(/#\/messages\/[1-9A-HJ-NP-Za-km-z]{40,50}$/);
    await seen(bob, 'The usual place', 20_000, '.dms li');
  }, 180_000);

  it('opens a post by its permalink, and a notification opens its post and quotes the reply', async () => {
    await go(alice, '#/');
    await alice.getByLabel('Post text').fill('A post with a page of its own');
    await alice.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(alice, 'A post with a page of its own');
    await alice.locator('article', { hasText: 'A post with a page of its own' }).getByRole('link', { name: /just now/ }).click();
    expect(alice.url()).toMatch(new RegExp(`#/@alice@${host.replace(/\./g, '\\.')}/[1-9A-HJ-NP-Za-km-z]{10,30}$`));
    await alice.getByRole('heading', { name: 'Post' }).waitFor();
    await seen(alice, 'A post with a page of its own');
    const permalink = alice.url().split('#')[1]!;
    // A post id that is not one says so, and one that is not here says that.
    await go(alice, `#/@alice@${host}/not-an-id!`);
    await alice.getByText('That is not a post address.').waitFor();
    await go(alice, `#/@alice@${host}/1111111111111111111111`);
    await alice.getByText('This post is not here').waitFor({ timeout: 20_000 });

    await go(alice, '#/notifications');
    await expect.poll(() => badge(alice, /^Notifications/), { timeout: 20_000 }).toBe(0);
    await go(bob, `#${permalink}`);
    const card = bob.locator('article', { hasText: 'A post with a page of its own' });
    await card.waitFor({ timeout: 30_000 });
    await card.getByRole('button', { name: /^Reply/ }).click();
    await card.getByLabel('Reply text').fill('Nice page');
    await card.getByRole('form', { name: 'Reply' }).getByRole('button', { name: 'Reply', exact: true }).click();

    await go(alice, '#/');
    await expect.poll(() => badge(alice, /^Notifications/), { timeout: 30_000 }).toBeGreaterThan(0);
    await nav(alice, /^Notifications/).click();
    const note = alice.locator('.notifications li', { hasText: 'replied to your post' });
    await note.locator('blockquote', { hasText: 'Nice page' }).waitFor({ timeout: 30_000 });
    await expect.poll(() => badge(alice, /^Notifications/), { timeout: 20_000 }).toBe(0);
    await shot(alice, 'notifications');
    await note.getByRole('link', { name: 'replied to your post' }).click();
    expect(alice.url().split('#')[1]).toBe(permalink);
    await seen(alice, 'A post with a page of its own');
  }, 180_000);

  it('previews the avatar while the profile is edited', async () => {
    await go(alice, '#/me');
    await alice.getByRole('button', { name: 'Edit profile' }).click();
    expect(await alice.getByRole('img', { name: 'New avatar, as it will be saved' }).count()).toBe(0);
    await alice.getByLabel('Avatar image').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: PNG });
    const preview = alice.getByRole('img', { name: 'New avatar, as it will be saved' });
    await preview.waitFor({ timeout: 10_000 });
    // The preview is the scaled image that will be saved, not the file as picked.
    await expect.poll(() => preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160);
    await alice.getByRole('button', { name: 'Save' }).click();
    await alice.getByRole('button', { name: 'Edit profile' }).click();
    await alice.getByRole('img', { name: 'Current avatar' }).waitFor({ timeout: 10_000 });
  }, 60_000);
});
