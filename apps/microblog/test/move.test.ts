import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../../../test-support/net.js';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { follow, seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/bin/freehold.cjs', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-web-move-'));
const web = join(tmp, 'web');

type Server = Awaited<ReturnType<typeof spawnServer>>;

function cli(home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args, '--home', join(tmp, home)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`freehold ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Asks again (delivery between providers is asynchronous) until the command's output shows `want`. */
async function eventually(home: string, args: string[], want: RegExp, ms = 40_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const out = cli(home, args);
    if (want.test(out) || Date.now() > end) return out;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Where an account lives by the log `provider` serves for the handle `name` there. */
async function providersOf(provider: string, account: string): Promise<string[] | undefined> {
  const res = await fetch(`${provider}/.well-known/freehold/accounts/${account}`);
  return res.ok ? ((await res.json()) as { providers: string[] }).providers : undefined;
}

const accountAt = async (provider: string, name: string): Promise<string> =>
  ((await (await fetch(`${provider}/.well-known/freehold/handles/${name}`)).json()) as { account: string }).account;

async function home(page: Page): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' }).click();
  await page.getByLabel('Post text').waitFor();
}

const articles = (page: Page, text: string) => page.locator('article', { hasText: text }).count();

let browser: Browser;
const servers: Server[] = [];
const start = async (args: string[]): Promise<Server> => {
  const s = await spawnServer(args);
  servers.push(s);
  return s;
};

beforeAll(async () => {
  await build({ root: ROOT, logLevel: 'silent', build: { outDir: web, emptyOutDir: true } });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('a contact in Chromium does not notice a move', () => {
  it('Alice moves from P1 to P4 (CLI); P1 is killed and wiped; Bob, in Chromium on P3, carries on with no action of his', async () => {
    const [p1, p3, p4] = [
      await start(['--port', '0', '--data', join(tmp, 'p1')]),
      await start(['--port', '0', '--data', join(tmp, 'p3'), '--web', web]),
      await start(['--port', '0', '--data', join(tmp, 'p4')]),
    ];
    const [h1, h3, h4] = [p1.url, p3.url, p4.url].map((u) => new URL(u).host);
    cli('alice', ['init', '--name', 'alice']);
    cli('alice', ['provider', 'add', p1.url]);
    cli('alice', ['handle', 'claim', 'alice']);
    cli('alice', ['profile', '--name', 'Alice']);
    cli('alice', ['post', 'old public']);
    cli('alice', ['post', 'old friends', '--friends']);

    const bob = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    await signUp(bob, p3.url, 'Bob', 'bob');
    await follow(bob, `alice@${h1}`);
    cli('alice', ['follow', `bob@${h3}`]);
    await seen(bob, 'old public', 40_000);
    const requests = await eventually('alice', ['followers', '--json'], new RegExp(`bob@${h3}`));
    const bobAccount = (JSON.parse(requests) as { account: string; handle?: string }[]).find((f) => f.handle === `bob@${h3}`)!.account;

    const moved = JSON.parse(cli('alice', ['provider', 'move', p1.url, p4.url, '--json'])) as { retired: { told: boolean }; handles: { claimed: string[] } };
    expect(moved.retired.told).toBe(true);
    expect(moved.handles.claimed).toEqual([`alice@${h4}`]);
    await p1.stop('SIGKILL');
    rmSync(join(tmp, 'p1'), { recursive: true, force: true });
    cli('alice', ['post', 'new public']);
    cli('alice', ['post', 'new friends', '--friends']);

    // Bob's page, reloaded, still holds Alice's old card (naming P1): her posts come through his own provider.
    await bob.reload();
    await home(bob);
    await seen(bob, 'new public', 60_000);
    await seen(bob, 'old public');
    expect(await articles(bob, 'friends')).toBe(0);
    // Approved after the move, he reads her friends-only posts, old and new.
    cli('alice', ['followers', 'approve', bobAccount]);
    await seen(bob, 'new friends', 60_000);
    await seen(bob, 'old friends');

    // Messages both ways; nobody names P1.
    cli('alice', ['dm', `bob@${h3}`, 'alice to bob']);
    await bob.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Messages/ }).click();
    await seen(bob, 'alice to bob', 60_000, '.conversations li');
    await bob.getByLabel('Recipient handle').fill(`alice@${h4}`);
    await bob.getByLabel('Message', { exact: true }).fill('bob to alice');
    await bob.getByRole('button', { name: 'Send' }).click();
    await bob.getByText(`Sent to alice@${h4}`).waitFor({ timeout: 20_000 });
    expect(await eventually('alice', ['inbox'], /bob to alice/)).toMatch(/bob to alice/);

    // Unfollowing and following again (by the new handle) work as before.
    await home(bob);
    await bob.getByRole('button', { name: /^Unfollow alice@/ }).click();
    await expect.poll(() => articles(bob, 'old public'), { timeout: 20_000 }).toBe(0);
    await follow(bob, `alice@${h4}`);
    await seen(bob, 'old public', 60_000);
    await seen(bob, 'new friends');
  }, 400_000);
});

describe('Settings → Providers', () => {
  it('lists the providers with their status, adds one, refuses moves that cannot work with nothing published, and moves to a provider that allows the page', async () => {
    const port = await freePort();
    const from = await start(['--port', String(port), '--data', join(tmp, 'q1'), '--web', web]);
    const allow = ['--allow-origin', from.url];
    const to = await start(['--port', '0', '--data', join(tmp, 'q2'), '--web', web, ...allow]);
    const closed = await start(['--port', '0', '--data', join(tmp, 'q3')]);
    const small = await start(['--port', '0', '--data', join(tmp, 'q5'), '--quota', '1KiB', ...allow]);
    const extra = await start(['--port', '0', '--data', join(tmp, 'q4'), ...allow]);
    const host = (s: Server) => new URL(s.url).host;
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    await signUp(page, from.url, 'Alice', 'alice');
    await page.getByLabel('Post text').fill('before the move');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(page, 'before the move');
    const account = await accountAt(from.url, 'alice');

    await page.getByRole('link', { name: 'Settings' }).click();
    const list = page.getByRole('list', { name: 'Your providers' });
    await expect.poll(() => list.locator('li').evaluateAll((li) => li.map((l) => l.getAttribute('data-status')))).toEqual(['current']);
    expect(await list.textContent()).toContain(host(from));

    // A move that cannot work says why in one alert, and publishes nothing.
    const moveTo = async (url: string) => {
      await page.getByLabel('New provider URL').fill(url);
      await page.getByRole('button', { name: 'Move my account' }).click();
    };
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    await moveTo(unreachable);
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 30_000 }).toMatch(/cannot reach .*nothing was changed/);
    expect(await alert.textContent()).toContain(`Your account keeps working on ${host(from)}`);
    await moveTo(closed.url);
    await expect.poll(() => alert.textContent(), { timeout: 30_000 }).toMatch(/may not use this provider/);
    expect(await alert.textContent()).toMatch(/--allow-origin/);
    await moveTo(small.url);
    await expect.poll(() => alert.textContent(), { timeout: 30_000 }).toMatch(/offers 1\.0 KiB and this account holds .*; nothing was changed/);
    expect(await providersOf(from.url, account)).toEqual([from.url]);
    expect(await providersOf(closed.url, account)).toBeUndefined();
    expect(await providersOf(small.url, account)).toBeUndefined();

    // Another provider, added from the page, then lost: the list tells.
    await page.getByLabel('Provider URL', { exact: true }).fill(extra.url);
    await page.getByRole('button', { name: 'Add provider' }).click();
    await page.getByText(`Added ${host(extra)}`).waitFor({ timeout: 30_000 });
    const statuses = async () => {
      await page.getByRole('button', { name: 'Check again' }).click();
      await new Promise((r) => setTimeout(r, 300));
      return list.locator('li').evaluateAll((li) => li.map((l) => `${l.querySelector('strong')?.textContent} ${l.getAttribute('data-status')}`));
    };
    await expect.poll(statuses, { timeout: 20_000 }).toEqual([`${host(from)} current`, `${host(extra)} current`]);
    await extra.stop('SIGKILL');
    await expect.poll(statuses, { timeout: 20_000 }).toEqual([`${host(from)} current`, `${host(extra)} unreachable`]);
    expect(await list.textContent()).toMatch(/Nothing is lost: your other providers hold your account/);

    // The move itself, shown with a progress bar, to a provider that lets pages from here use it.
    await page.evaluate(() => {
      const w = window as unknown as { sawProgress: boolean };
      w.sawProgress = false;
      new MutationObserver(() => void (document.querySelector('progress[aria-label="Move progress"]') && (w.sawProgress = true))).observe(document.body, {
        subtree: true,
        childList: true,
      });
    });
    await moveTo(to.url);
    await page.getByText(`Moved: your account lives at ${host(to)} now`).waitFor({ timeout: 120_000 });
    expect(await page.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress)).toBe(true);
    expect(await providersOf(to.url, account)).toEqual([extra.url, to.url]);
    // FROM serves the newest log for its grace period, which points to TO.
    expect(await providersOf(from.url, account)).toEqual([extra.url, to.url]);
    expect(await accountAt(to.url, 'alice')).toBe(account);
    await expect.poll(statuses, { timeout: 20_000 }).toEqual([`${host(extra)} unreachable`, `${host(to)} current`]);
    expect(await page.getByText(`Your account no longer lives at ${host(from)}`).count()).toBe(1);
    await shot(page, 'providers', { fullPage: true });

    // The page keeps working from here, through TO: a reader at TO sees what was written before and after.
    await home(page);
    await page.getByLabel('Post text').fill('after the move');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(page, 'after the move');
    cli('reader', ['init', '--name', 'reader']);
    cli('reader', ['provider', 'add', to.url]);
    cli('reader', ['follow', `alice@${host(to)}`]);
    expect(await eventually('reader', ['feed'], /after the move/)).toMatch(/before the move/);

    // Continuing at TO's own app: this page opens a linking code at TO, which TO's app takes like any new device.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: `Link the app at ${host(to)}` }).click();
    const code = (await page.locator('.link-device .code').textContent({ timeout: 20_000 }))!;
    const there = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    await there.goto(to.url);
    await there.getByRole('button', { name: 'Link to my account on another device' }).click();
    await there.getByLabel('Linking code').fill(code);
    await there.getByRole('button', { name: 'Link this browser' }).click();
    const words = async (p: Page) => (await p.locator('.fingerprint').textContent({ timeout: 30_000 }))!;
    expect(await words(page)).toBe(await words(there));
    await page.getByRole('button', { name: 'They match: link it' }).click();
    await seen(there, 'after the move', 60_000);
    await seen(there, 'before the move');
    expect(await there.locator('.provider.online').allTextContents()).toContain(host(to));
  }, 400_000);
});
