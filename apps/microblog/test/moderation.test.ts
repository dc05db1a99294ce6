import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-moderation-'));

const go = (page: Page, hash: string) => page.goto(`${page.url().split('#')[0]}${hash}`);
/** Reloads, so the page reconciles with its provider: what was delivered to this account is in its replica then. */
const resync = async (page: Page) => {
  await page.reload();
  await page.locator('.status', { hasText: 'Synced' }).waitFor({ timeout: 30_000 });
};

describe('block, mute and devices in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let url: string;
  let host: string;
  let alice: Page;
  let bob: Page;
  let alicePhrase: string;
  /** What each confirmation asked, in order; every one is accepted. */
  const asked: string[] = [];

  const page = async () => {
    const p = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    p.on('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    return p;
  };
  const dm = async (from: Page, to: string, text: string) => {
    await go(from, '#/messages');
    await from.getByLabel('Recipient handle').fill(to);
    await from.getByLabel('Message', { exact: true }).fill(text);
    await from.getByRole('button', { name: 'Send' }).click();
    await from.getByText(`Sent to ${to}`).waitFor({ timeout: 20_000 });
    // Delivered: in the recipient's inbox at their provider.
    await from.locator('.conversations li', { hasText: `You: ${text}` }).locator('[data-state="delivered"]').waitFor({ timeout: 30_000 });
  };
  const post = async (from: Page, text: string) => {
    await go(from, '#/');
    await from.getByLabel('Post text').fill(text);
    await from.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(from, text);
  };

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: join(tmp, 'web'), emptyOutDir: true } });
    server = await spawnServer(['--port', '0', '--data', join(tmp, 'srv'), '--web', join(tmp, 'web')]);
    url = server.url;
    host = new URL(url).host;
    browser = await launchChromium();
    alice = await page();
    bob = await page();
    alicePhrase = await signUp(alice, url, 'Alice', 'alice');
    await signUp(bob, url, 'Bob', 'bob');

    // Bob follows Alice and she approves him; she follows him back, so his posts are in her timeline.
    await go(bob, `#/@alice@${host}`);
    await bob.getByRole('button', { name: `Follow alice@${host}` }).click();
    await bob.getByRole('button', { name: `Unfollow alice@${host}` }).waitFor({ timeout: 20_000 });
    await go(alice, '#/followers');
    await alice.getByRole('button', { name: `Approve bob@${host}` }).click({ timeout: 30_000 });
    await alice.locator('.requests li', { hasText: 'approved' }).waitFor({ timeout: 20_000 });
    await go(alice, `#/@bob@${host}`);
    await alice.getByRole('button', { name: `Follow bob@${host}` }).click({ timeout: 20_000 });
    await alice.getByRole('button', { name: `Unfollow bob@${host}` }).waitFor({ timeout: 20_000 });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('blocking from a profile drops what the account sends, its posts and its follow; unblocking in Settings brings the messages back', async () => {
    await post(bob, 'Bob before the block');
    await dm(bob, `alice@${host}`, 'First message from Bob');
    await go(alice, '#/');
    await seen(alice, 'Bob before the block', 30_000);
    await go(alice, '#/messages');
    await seen(alice, 'First message from Bob', 30_000, '.conversations li');

    await go(alice, `#/@bob@${host}`);
    await alice.getByRole('heading', { name: 'Bob' }).waitFor({ timeout: 20_000 });
    await shot(alice, 'profile-moderation');
    await alice.getByRole('button', { name: `Block bob@${host}` }).click();
    // It said what a block does before doing it.
    expect(asked.at(-1)).toMatch(new RegExp(`^Block bob@${host.replace(/\./g, '\\.')}\\? Nothing they send .* removed from your followers`));
    await alice.getByText('You blocked them').waitFor({ timeout: 20_000 });
    await alice.getByRole('button', { name: `Unblock bob@${host}` }).waitFor();
    await shot(alice, 'profile-blocked');

    // His posts leave her timeline although she still follows him, and he is no longer among her followers.
    // She has not posted, so with his posts gone it is empty.
    await go(alice, '#/');
    await alice.getByText(/^Nothing here yet/).waitFor({ timeout: 20_000 });
    await go(alice, '#/followers');
    await alice.getByText('No follow requests yet.').waitFor({ timeout: 20_000 });

    // What he sends now reaches her provider and her replica, and does not show.
    await dm(bob, `alice@${host}`, 'Second message, blocked');
    await go(alice, '#/messages');
    await resync(alice);
    // Nothing of his shows, not even what came before the block: she never wrote to him, so no conversation is left.
    await alice.getByText('No conversations yet.').waitFor({ timeout: 20_000 });

    await go(alice, '#/settings');
    const card = alice.getByRole('region', { name: 'Blocked and muted' });
    const blocked = card.getByRole('list', { name: 'Blocked accounts' });
    await blocked.getByRole('link', { name: 'Bob' }).waitFor({ timeout: 20_000 });
    await card.scrollIntoViewIfNeeded();
    await shot(alice, 'settings-blocked');
    await blocked.getByRole('button', { name: `Unblock bob@${host}` }).click();
    await card.getByText('You have blocked and muted no one. To block or mute someone, open their profile').waitFor({ timeout: 20_000 });
    await shot(alice, 'settings-blocked-empty');

    // The message was in her replica all along: it shows at once, and so do his posts.
    await go(alice, '#/messages');
    await seen(alice, 'Second message, blocked', 10_000, '.conversations li');
    await go(alice, '#/');
    await seen(alice, 'Bob before the block', 10_000);
    // He is not a follower again until she approves him.
    await go(alice, '#/followers');
    await alice.locator('.requests li', { hasText: 'removed' }).getByRole('button', { name: `Allow bob@${host} again` }).waitFor({ timeout: 20_000 });
    await go(alice, `#/@bob@${host}`);
    await alice.getByRole('button', { name: `Block bob@${host}` }).waitFor({ timeout: 20_000 });
    expect(await alice.getByText('You blocked them').count()).toBe(0);
  }, 240_000);

  it('muting hides posts from Home and leaves messages; unmuting in Settings shows them again', async () => {
    await post(bob, 'Bob speaks loudly');
    await go(alice, '#/');
    await seen(alice, 'Bob speaks loudly', 30_000);

    await go(alice, `#/@bob@${host}`);
    const before = asked.length;
    await alice.getByRole('button', { name: `Mute bob@${host}` }).click({ timeout: 20_000 });
    await alice.locator('.profile-actions').getByText('Muted', { exact: true }).waitFor({ timeout: 20_000 });
    await alice.getByRole('button', { name: `Unmute bob@${host}` }).waitFor();
    // A mute takes nothing away from anyone, so it asks nothing.
    expect(asked.length).toBe(before);
    await shot(alice, 'profile-muted');

    await go(alice, '#/');
    await alice.getByText(/^Nothing here yet/).waitFor({ timeout: 20_000 });
    await dm(bob, `alice@${host}`, 'Muted but still talking');
    await go(alice, '#/messages');
    await seen(alice, 'Muted but still talking', 30_000, '.conversations li');

    await go(alice, '#/settings');
    const muted = alice.getByRole('region', { name: 'Blocked and muted' }).getByRole('list', { name: 'Muted accounts' });
    await muted.getByRole('link', { name: 'Bob' }).waitFor({ timeout: 20_000 });
    expect(await alice.getByRole('list', { name: 'Blocked accounts' }).count()).toBe(0);
    await muted.scrollIntoViewIfNeeded();
    await shot(alice, 'settings-muted');
    await muted.getByRole('button', { name: `Unmute bob@${host}` }).click();
    await alice.getByText('You have blocked and muted no one.').waitFor({ timeout: 20_000 });
    await go(alice, '#/');
    await seen(alice, 'Bob speaks loudly', 10_000);
  }, 180_000);

  it('lists the devices of the account, renames one and revokes another', async () => {
    await go(alice, '#/settings');
    const devices = alice.getByRole('list', { name: 'Your devices' });
    await devices.getByText('this browser').waitFor({ timeout: 20_000 });
    expect(await devices.getByRole('listitem').count()).toBe(1);
    // This browser cannot revoke itself.
    expect(await devices.getByRole('button', { name: /^Revoke/ }).count()).toBe(0);

    // A second device of Alice's, recovered from her phrase in another browser.
    const laptop = await page();
    await laptop.goto(url);
    await laptop.getByRole('button', { name: 'I have a recovery phrase' }).click();
    await laptop.getByLabel('Recovery phrase').fill(alicePhrase);
    await laptop.getByRole('button', { name: 'Recover account' }).click();
    await laptop.getByLabel('Post text').waitFor({ timeout: 60_000 });

    // It shows on the first device without a reload, and the laptop lists both, itself as this browser.
    await expect.poll(() => devices.getByRole('listitem').count(), { timeout: 60_000 }).toBe(2);
    const other = devices.getByRole('listitem').filter({ hasNot: alice.getByText('this browser') });
    const name = (await other.locator('strong').textContent())!;
    expect(name).toMatch(/ \(recovered\)$/);
    await go(laptop, '#/settings');
    const theirs = laptop.getByRole('list', { name: 'Your devices' });
    await expect.poll(() => theirs.getByRole('listitem').count(), { timeout: 30_000 }).toBe(2);
    expect(await theirs.getByRole('listitem').filter({ hasText: 'this browser' }).locator('strong').textContent()).toBe(name);
    await theirs.getByRole('button', { name: "Revoke Alice's browser" }).waitFor();

    // The laptop names itself; the first device shows the new name without a reload, and revokes by it.
    const renamed = 'Alice’s laptop';
    await theirs.getByRole('button', { name: `Rename ${name}` }).click();
    await theirs.getByLabel(`New name for ${name}`).fill('  Alice’s laptop ');
    await theirs.getByRole('button', { name: 'Save' }).click();
    await laptop.getByRole('status').filter({ hasText: `Renamed “${name}” to “${renamed}”.` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => other.locator('strong').textContent(), { timeout: 30_000 }).toBe(renamed);

    await devices.scrollIntoViewIfNeeded();
    await shot(alice, 'settings-devices');
    await devices.getByRole('button', { name: `Revoke ${renamed}` }).click();
    expect(asked.at(-1)).toMatch(new RegExp(`^Revoke “${renamed}”\\? It can no longer read or write anything of your account`));
    await alice.getByRole('status').filter({ hasText: `Revoked “${renamed}”.` }).waitFor({ timeout: 30_000 });
    await expect.poll(() => devices.getByRole('listitem').count(), { timeout: 10_000 }).toBe(1);
    await devices.getByText('this browser').waitFor();
    // And so it is on a reload: the revocation is in the identity log, not only on the screen.
    await resync(alice);
    await devices.getByText('this browser').waitFor({ timeout: 20_000 });
    expect(await devices.getByRole('listitem').count()).toBe(1);
    await laptop.context().close();
  }, 240_000);
});
