import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { confirmPhrase, follow, seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/bin/freehold.cjs', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-everyday-'));

function cli(home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args, '--home', join(tmp, home)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`freehold ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

interface FeedJson {
  id: string;
  text?: string;
  likes?: number;
  editedAt?: string | null;
  deleted?: boolean;
}

async function post(page: Page, text: string): Promise<void> {
  await page.goto(page.url().replace(/#.*$/, '#/'));
  await page.getByLabel('Post text').fill(text);
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await seen(page, text);
}

describe('the microblog as a newcomer uses it: sign-up, posting, likes, followers, edits', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let url: string;
  let host: string;
  let alice: Page;
  let bob: Page;
  /** Answers every request after 2.5 s with 404: a mention's host that is slow to say the name is unknown. */
  let slow: Server;

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: join(tmp, 'web'), emptyOutDir: true } });
    server = await spawnServer(['--port', '0', '--data', join(tmp, 'srv'), '--web', join(tmp, 'web')]);
    url = server.url;
    host = new URL(url).host;
    slow = createServer((_req, res) => void setTimeout(() => res.writeHead(404, { 'access-control-allow-origin': '*' }).end(), 2500));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    browser = await launchChromium();
    const page = async () => {
      const p = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
      p.on('dialog', (d) => void d.accept());
      return p;
    };
    alice = await page();
    bob = await page();
    cli('carol', ['init', '--name', 'carol']);
    cli('carol', ['provider', 'add', url]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    slow?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('checks the handle before showing the phrase, and goes back from the phrase with what was typed', async () => {
    await signUp(alice, url, 'Alice', 'alice');
    await bob.goto(url);
    await bob.getByRole('button', { name: 'Create an account' }).click();
    await bob.getByLabel('Display name').fill('Bob');
    await bob.getByLabel('Handle').fill('alice');
    await bob.getByRole('button', { name: 'Continue' }).click();
    await bob.getByRole('alert').filter({ hasText: `alice@${host} is taken. Choose another handle.` }).waitFor();
    expect(await bob.locator('ol.phrase').count()).toBe(0);
    await bob.getByLabel('Handle').fill('bob');
    await bob.getByRole('button', { name: 'Continue' }).click();
    const first = await bob.locator('ol.phrase li').allTextContents();
    await bob.getByRole('button', { name: 'Back' }).click();
    expect(await bob.getByLabel('Display name').inputValue()).toBe('Bob');
    expect(await bob.getByLabel('Handle').inputValue()).toBe('bob');
    await bob.getByRole('button', { name: 'Continue' }).click();
    await bob.locator('ol.phrase li').first().waitFor();
    // A new phrase for a new try: the one shown before was never used.
    expect(await bob.locator('ol.phrase li').allTextContents()).not.toEqual(first);
    await confirmPhrase(bob);
  }, 120_000);

  it('keeps what is typed while a post is sending', async () => {
    const slowHandle = `nobody@127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const text = `Waiting on @${slowHandle} for a moment`;
    await alice.getByLabel('Post text').fill(text);
    await alice.getByRole('button', { name: 'Post', exact: true }).click();
    // The post is still going out (its mention's host takes 2.5 s to answer): the box is free for the next one.
    expect(await alice.getByRole('button', { name: 'Posting…' }).count()).toBe(1);
    await alice.getByLabel('Post text').fill('The next post, typed meanwhile');
    await seen(alice, 'Waiting on @nobody');
    await alice.getByRole('button', { name: 'Post', exact: true }).waitFor();
    expect(await alice.getByLabel('Post text').inputValue()).toBe('The next post, typed meanwhile');
    await alice.getByLabel('Post text').fill('');
  }, 60_000);

  it('lists a follow at once while the handle is looked up, and takes it back if the lookup fails', async () => {
    const slowHandle = `nobody@127.0.0.1:${(slow.address() as AddressInfo).port}`;
    await bob.goto(`${url}/#/`);
    await bob.getByLabel('Handle to follow').fill(slowHandle);
    await bob.getByRole('button', { name: 'Follow', exact: true }).click();
    // The lookup takes 2.5 s; the list shows the follow meanwhile.
    expect(await bob.locator('.following li', { hasText: slowHandle }).getByText('following…').count()).toBe(1);
    await bob.getByRole('status').filter({ hasText: `${slowHandle} does not exist` }).waitFor({ timeout: 20_000 });
    expect(await bob.locator('.following li', { hasText: slowHandle }).count()).toBe(0);
  }, 60_000);

  it('likes at once, and a second click unlikes instead of liking twice', async () => {
    await follow(bob, `alice@${host}`);
    cli('carol', ['follow', `alice@${host}`]);
    await post(alice, 'Like this one');
    await seen(bob, 'Like this one', 30_000);
    const heart = bob.locator('article', { hasText: 'Like this one' }).getByRole('button', { name: /^Like/ });
    await heart.click();
    // Shown before any provider answered: the click is the state until the replica agrees.
    expect(await heart.getAttribute('aria-pressed')).toBe('true');
    expect((await heart.textContent())?.trim()).toBe('1');
    await alice.locator('article', { hasText: 'Like this one' }).getByRole('button', { name: 'Like (1)' }).waitFor({ timeout: 30_000 });
    await heart.click();
    expect(await heart.getAttribute('aria-pressed')).toBe('false');
    await alice.locator('article', { hasText: 'Like this one' }).getByRole('button', { name: 'Like', exact: true }).waitFor({ timeout: 30_000 });
    const likes = () => (JSON.parse(cli('carol', ['feed', '--json'])) as FeedJson[]).find((p) => p.text === 'Like this one')?.likes;
    await expect.poll(likes, { timeout: 30_000, interval: 1000 }).toBe(0);
    await alice.goto(`${url}/#/notifications`);
    await seen(alice, 'took back their like', 20_000, 'li');
    expect(await alice.locator('li', { hasText: 'liked your post' }).count()).toBe(1);
  }, 120_000);

  it('shows a removed follower as removed, with "allow again"; tells them; a new request is pending', async () => {
    await alice.goto(`${url}/#/followers`);
    const row = alice.locator('.requests li', { hasText: `bob@${host}` });
    await row.getByRole('button', { name: `Approve bob@${host}` }).click();
    await row.getByText('approved').waitFor({ timeout: 20_000 });
    await row.getByRole('button', { name: `Remove bob@${host}` }).click();
    await row.getByText('removed', { exact: true }).waitFor({ timeout: 20_000 });
    expect(await row.getByRole('button', { name: /Approve/ }).count()).toBe(0);
    await row.getByRole('button', { name: `Allow bob@${host} again` }).waitFor();
    await shot(alice, 'followers-removed');
    // Bob is told, in his inbox and where he follows Alice.
    await bob.goto(`${url}/#/notifications`);
    await seen(bob, 'removed you from their followers', 30_000, 'li');
    await bob.goto(`${url}/#/`);
    const following = bob.locator('.following li', { hasText: `alice@${host}` });
    await following.getByText('removed you as a follower').waitFor({ timeout: 20_000 });
    // He asks again: pending, with Approve, not the old removal.
    await following.getByRole('button', { name: /Unfollow/ }).click();
    await following.waitFor({ state: 'detached' });
    await follow(bob, `alice@${host}`);
    await alice.goto(`${url}/#/followers`);
    await row.getByText('pending').waitFor({ timeout: 30_000 });
    await row.getByRole('button', { name: `Approve bob@${host}` }).waitFor();
  }, 120_000);

  it('shows people by name or handle, never by a cut-off id, and links profiles by handle', async () => {
    // Carol (CLI) has neither a handle nor a profile; her request shows without her id.
    const carol = (JSON.parse(cli('carol', ['whoami', '--json'])) as { account: string }).account;
    await alice.goto(`${url}/#/followers`);
    const rows = alice.locator('.requests li');
    await rows.filter({ hasText: 'Someone without a profile yet' }).waitFor({ timeout: 30_000 });
    expect(await rows.filter({ hasText: carol.slice(0, 6) }).count()).toBe(0);
    // A post's author links to /@handle, which opens the profile.
    await bob.goto(`${url}/#/`);
    const author = bob.locator('article', { hasText: 'Like this one' }).locator('header a.name');
    expect(await author.getAttribute('href')).toBe(`#/@alice@${host}`);
    await author.click();
    await bob.getByRole('heading', { level: 1, name: 'Alice' }).waitFor({ timeout: 20_000 });
  }, 60_000);

  it('follows someone without a microblog yet, says so, and sends the request once they have one', async () => {
    cli('dave', ['init', '--name', 'dave']);
    cli('dave', ['provider', 'add', url]);
    cli('dave', ['handle', 'claim', 'dave']);
    await alice.goto(`${url}/#/`);
    await alice.getByLabel('Handle to follow').fill(`dave@${host}`);
    await alice.getByRole('button', { name: 'Follow', exact: true }).click();
    await alice.getByText(`dave@${host} has not set up a microblog yet: your request to see friends-only posts goes out as soon as they have.`).waitFor({ timeout: 20_000 });
    await alice.locator('.following li', { hasText: `dave@${host}` }).getByText('request waits for their microblog').waitFor();
    cli('dave', ['profile', '--name', 'Dave']);
    // Alice's open page asks again for a space it waits for (every 15 s), gets Dave's new inbox and sends the request.
    await alice.locator('.following li', { hasText: `dave@${host}` }).locator('.delivery').waitFor({ timeout: 60_000 });
    await expect.poll(() => cli('dave', ['followers']), { timeout: 30_000, interval: 1000 }).toMatch(/alice@\S+\s+pending/);
  }, 120_000);

  it('edits and deletes own posts, for every reader: the web app, the CLI and the public page', async () => {
    await post(alice, 'A post with a tpyo');
    await post(alice, 'A post to take back');
    await seen(bob, 'A post to take back', 30_000);
    const mine = alice.locator('article', { hasText: 'A post with a tpyo' });
    await mine.getByRole('button', { name: 'Edit' }).click();
    // The article no longer shows the old text while it is edited: the form is found by its name.
    const form = alice.getByRole('form', { name: 'Edit post' });
    await form.getByLabel('Edited text').fill('A post without a typo');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const fixed = bob.locator('article', { hasText: 'A post without a typo' });
    await fixed.getByText('edited').waitFor({ timeout: 30_000 });
    expect(await bob.locator('article', { hasText: 'tpyo' }).count()).toBe(0);
    // Someone else's post has neither button.
    expect(await fixed.getByRole('button', { name: /^(Edit|Delete)$/ }).count()).toBe(0);

    await alice.locator('article', { hasText: 'A post to take back' }).getByRole('button', { name: 'Delete' }).click();
    await alice.locator('article', { hasText: 'A post to take back' }).waitFor({ state: 'detached', timeout: 20_000 });
    await bob.locator('article', { hasText: 'A post to take back' }).waitFor({ state: 'detached', timeout: 30_000 });
    await shot(alice, 'edited-post');
    const feed = async () => JSON.parse(cli('carol', ['feed', '--json'])) as FeedJson[];
    await expect.poll(async () => (await feed()).filter((p) => p.deleted).length, { timeout: 30_000, interval: 1000 }).toBe(1);
    const edited = (await feed()).find((p) => p.text === 'A post without a typo');
    expect(edited?.editedAt).toMatch(/^\d{4}-/);
    expect((await feed()).some((p) => p.text === 'A post to take back')).toBe(false);
    const page = await (await fetch(`${url}/@alice`)).text();
    expect(page).toContain('A post without a typo');
    expect(page).not.toContain('A post to take back');
  }, 120_000);

  it('reposts at once with a count at the author, quotes, and takes the repost back', async () => {
    await post(alice, 'Pass this on');
    await bob.goto(`${url}/#/`);
    await seen(bob, 'Pass this on', 30_000);
    const original = () => bob.locator('article', { hasText: 'Pass this on' }).filter({ hasNotText: 'Quoting' }).first();
    await original().getByRole('button', { name: 'Repost' }).click();
    expect(await original().getByRole('button', { name: 'Repost (1)' }).getAttribute('aria-pressed')).toBe('true');
    await bob.getByLabel('Reposted by You').waitFor({ timeout: 20_000 });
    const mine = alice.locator('article', { hasText: 'Pass this on' });
    await alice.goto(`${url}/#/`);
    await mine.getByRole('button', { name: 'Repost (1)' }).waitFor({ timeout: 30_000 });
    const reposts = () => (JSON.parse(cli('carol', ['feed', '--json'])) as (FeedJson & { reposts?: number })[]).find((p) => p.text === 'Pass this on')?.reposts;
    await expect.poll(reposts, { timeout: 30_000, interval: 1000 }).toBe(1);

    await original().getByRole('button', { name: 'Quote' }).click();
    const form = bob.getByRole('form', { name: 'Quote post' });
    await form.getByLabel('Quote text').fill('Quoting Alice here');
    await form.getByRole('button', { name: 'Post quote' }).click();
    await form.waitFor({ state: 'detached' });
    const quote = bob.locator('article', { hasText: 'Quoting Alice here' });
    await quote.getByRole('blockquote').filter({ hasText: 'Pass this on' }).waitFor({ timeout: 20_000 });
    await shot(bob, 'repost-and-quote');

    await original().getByRole('button', { name: 'Repost (1)' }).click();
    await bob.getByLabel('Reposted by You').waitFor({ state: 'detached', timeout: 20_000 });
    await mine.getByRole('button', { name: 'Repost', exact: true }).waitFor({ timeout: 30_000 });
    await expect.poll(reposts, { timeout: 30_000, interval: 1000 }).toBe(0);
  }, 120_000);
});
