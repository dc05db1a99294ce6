import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../test-support/net.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import jsonld from 'jsonld';
import { decodeCard, fromBase64, liveDevices, randomBytes } from '@freehold/core';
import { secretToPhrase } from '@freehold/core/words';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { follow, seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/bin/freehold.cjs', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-web-'));
const data = join(tmp, 'srv');
const web = join(tmp, 'web');

function cli(home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args, '--home', join(tmp, home)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`freehold ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Every Content-Security-Policy violation any page of the run reports, as a DOM event or a console error. */
const violations: string[] = [];

async function watchCsp(context: BrowserContext, into: string[] = violations): Promise<void> {
  await context.exposeBinding('__cspViolation', (_source, v: string) => void into.push(v));
  await context.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { __cspViolation(v: string): void }).__cspViolation(`${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`),
    ),
  );
  context.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) into.push(`console: ${m.text()}`);
  });
}

async function newPage(browser: Browser, options: BrowserContextOptions = { viewport: { width: 1100, height: 820 } }): Promise<Page> {
  const context = await browser.newContext(options);
  await watchCsp(context);
  return context.newPage();
}

async function post(page: Page, text: string, friends = false): Promise<void> {
  await page.goto(page.url().replace(/#.*$/, '#/'));
  await page.getByLabel('Post text').fill(text);
  await page.getByLabel('Friends only').setChecked(friends);
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await page.locator('article', { hasText: text }).first().waitFor();
}

describe('the microblog in Chromium, with a CLI user on the same network', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let port: number;
  let url: string;
  let host: string;
  let alice: Page;
  let bob: Page;
  let alicePhrase: string;

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: web, emptyOutDir: true } });
    port = await freePort();
    server = await spawnServer(['--port', String(port), '--data', data, '--web', web]);
    url = server.url;
    host = new URL(url).host;
    browser = await launchChromium();
    alice = await newPage(browser);
    bob = await newPage(browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('signs up two people and a CLI user, who follow each other and see posts live', async () => {
    await alice.goto(url);
    await alice.getByRole('button', { name: 'Create an account' }).waitFor();
    await shot(alice, 'welcome');
    alicePhrase = await signUp(alice, url, 'Alice Liddell', 'alice', 'recovery-phrase');
    await signUp(bob, url, 'Bob Builder', 'bob');
    cli('carol', ['init', '--name', 'carol']);
    cli('carol', ['provider', 'add', url]);
    expect(cli('carol', ['handle', 'claim', 'carol'])).toBe(`carol@${host}`);
    cli('carol', ['profile', '--name', 'Carol Terminal']);

    await follow(bob, `alice@${host}`);
    await follow(bob, `carol@${host}`);
    cli('carol', ['follow', `alice@${host}`]);
    await post(alice, 'Hello from Alice, whose keys never leave her browser');
    // Bob's page updates without a reload.
    await seen(bob, 'Hello from Alice');
    // The CLI reads the same network.
    const feed = JSON.parse(cli('carol', ['feed', '--json'])) as { text: string; handle: string }[];
    expect(feed.map((p) => p.text)).toContain('Hello from Alice, whose keys never leave her browser');
    // And a CLI post reaches the browser.
    cli('carol', ['post', 'Carol here, posting from a terminal']);
    await seen(bob, 'Carol here, posting from a terminal');
  }, 180_000);

  it('sends a post over the link the page already has: no WebSocket per write, no polling', async () => {
    await alice.goto(`${url}/#/`);
    await alice.locator('.status.online').waitFor({ timeout: 30_000 });
    expect(await alice.locator('.provider.online').allTextContents()).toEqual([host]);
    const opened: string[] = [];
    const count = (ws: { url(): string }) => opened.push(ws.url());
    alice.on('websocket', count);
    const text = `Over the open link ${Math.random().toString(36).slice(2)}`;
    await alice.getByLabel('Post text').fill(text);
    await alice.getByRole('button', { name: 'Post', exact: true }).click();
    // Bob's page has it live, and the CLI reads it from the provider.
    await seen(bob, text);
    expect((JSON.parse(cli('carol', ['feed', '--json'])) as { text: string }[]).map((p) => p.text)).toContain(text);
    alice.off('websocket', count);
    expect(opened).toEqual([]);
  }, 60_000);

  it('shows friends-only posts to approved followers only, and the server holds no plaintext of them', async () => {
    await alice.goto(`${url}/#/followers`);
    await alice.getByText('pending').first().waitFor({ timeout: 20_000 });
    await shot(alice, 'followers');
    const bobRow = alice.locator('.requests li', { hasText: `bob@${host}` });
    await bobRow.getByRole('button', { name: 'Approve' }).click();
    await bobRow.getByText('approved').waitFor({ timeout: 20_000 });
    const secret = `For friends only ${Math.random().toString(36).slice(2)}`;
    await post(alice, secret, true);
    await seen(bob, secret, 30_000);
    const carolFeed = JSON.parse(cli('carol', ['feed', '--json'])) as { text: string }[];
    expect(carolFeed.map((p) => p.text)).not.toContain(secret);
    for (const f of readdirSync(data)) expect(readFileSync(join(data, f)).includes(secret), f).toBe(false);

    // Removing Bob rotates the key: what Alice posts next is not for him.
    await alice.goto(`${url}/#/followers`);
    await alice.locator('.requests li', { hasText: `bob@${host}` }).getByRole('button', { name: 'Remove' }).click();
    await alice.locator('.requests li', { hasText: `bob@${host}` }).getByText('removed').waitFor({ timeout: 20_000 });
    const later = `After Bob was removed ${Math.random().toString(36).slice(2)}`;
    await post(alice, later, true);
    await post(alice, 'A public marker after the removal');
    await seen(bob, 'A public marker after the removal', 30_000);
    expect(await bob.locator('article', { hasText: later }).count()).toBe(0);
  }, 180_000);

  it('replies, likes, direct messages and notifications', async () => {
    await bob.goto(`${url}/#/`);
    const card = bob.locator('article', { hasText: 'Hello from Alice' }).first();
    await card.getByRole('button', { name: /^Reply/ }).click();
    const form = card.getByRole('form', { name: 'Reply' });
    await form.getByLabel('Reply text').fill('Welcome, Alice!');
    await form.getByRole('button', { name: 'Reply', exact: true }).click();
    await form.waitFor({ state: 'detached' });
    await card.getByRole('button', { name: /^Like/ }).click();
    await bob.goto(`${url}/#/messages`);
    await bob.getByLabel('Recipient handle').fill(`alice@${host}`);
    await bob.getByLabel('Message', { exact: true }).fill('A private word, Alice');
    await bob.getByRole('button', { name: 'Send' }).click();
    await bob.getByText(`Sent to alice@${host}`).waitFor({ timeout: 20_000 });

    await alice.goto(`${url}/#/messages`);
    await seen(alice, 'A private word, Alice', 30_000, 'li');
    await alice.goto(`${url}/#/notifications`);
    await seen(alice, 'liked your post', 30_000, 'li');
    await seen(alice, 'replied to your post', 30_000, 'li');
    await shot(alice, 'inbox');
    await alice.goto(`${url}/#/`);
    const mine = alice.locator('article', { hasText: 'Hello from Alice' }).first();
    await mine.getByRole('button', { name: 'Like (1)' }).waitFor({ timeout: 30_000 });
    await mine.getByRole('button', { name: 'Reply (1)' }).waitFor({ timeout: 30_000 });
    const inbox = JSON.parse(cli('carol', ['inbox', '--json'])) as unknown[];
    expect(Array.isArray(inbox)).toBe(true);
    await shot(alice, 'timeline');
  }, 180_000);

  it('keeps working offline, even across a reload, and delivers what was written once the provider is back', async () => {
    await bob.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await server.stop();
    await bob.locator('.status.offline').waitFor({ timeout: 30_000 });
    const offline = `Written with the provider down ${Math.random().toString(36).slice(2)}`;
    await post(bob, offline);
    // The provider that serves the app is down: the service worker still opens it, from the device's own replica.
    await bob.reload();
    await seen(bob, offline, 30_000);
    await bob.locator('.status.offline').waitFor({ timeout: 30_000 });
    await shot(bob, 'offline');
    server = await spawnServer(['--port', String(port), '--data', data, '--web', web]);
    await bob.locator('.status.online').waitFor({ timeout: 30_000 });
    await alice.goto(`${url}/#/u/${await bob.evaluate(() => location.hash)}`.replace(/#\/u\/#.*$/, '#/'));
    // Alice follows Bob to read him; his offline post arrives.
    await follow(alice, `bob@${host}`);
    await seen(alice, offline, 30_000);
  }, 180_000);

  it('recovers Alice from her phrase in a fresh browser with all her data', async () => {
    const fresh = await newPage(browser);
    await fresh.goto(url);
    await fresh.getByRole('button', { name: 'I have a recovery phrase' }).click();
    // A phrase that checks out but names an account nobody knows: said so, and nothing is kept.
    await fresh.getByLabel('Recovery phrase').fill(secretToPhrase(randomBytes(32)));
    await fresh.getByRole('button', { name: 'Recover account' }).click();
    await fresh.getByRole('alert').getByText('No provider knows the account this phrase names').waitFor({ timeout: 20_000 });
    await fresh.reload();
    await fresh.getByRole('button', { name: 'I have a recovery phrase' }).click();
    await fresh.getByLabel('Recovery phrase').fill(alicePhrase);
    await fresh.getByRole('button', { name: 'Recover account' }).click();
    await seen(fresh, 'Hello from Alice, whose keys never leave her browser', 60_000);
    await seen(fresh, 'After Bob was removed', 30_000);
    await fresh.goto(`${url}/#/messages`);
    await seen(fresh, 'A private word, Alice', 30_000, 'li');
    await fresh.goto(`${url}/#/me`);
    await fresh.getByRole('heading', { name: 'Alice Liddell' }).waitFor({ timeout: 30_000 });
    await shot(fresh, 'profile');
  }, 180_000);

  it('links a new browser to Alice once she confirms that both screens show the same words', async () => {
    const devices = async () => {
      const entry = (await (await fetch(`${url}/.well-known/freehold/handles/alice`)).json()) as { card: string };
      return liveDevices(decodeCard(fromBase64(entry.card))).length;
    };
    const start = async (): Promise<{ code: string; page: Page }> => {
      await alice.goto(`${url}/#/me`);
      await alice.getByRole('button', { name: 'Link a new device' }).click();
      const code = (await alice.locator('.code').textContent())!;
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{5}$/);
      const page = await newPage(browser);
      await page.goto(url);
      await page.getByRole('button', { name: 'Link to my account on another device' }).click();
      await page.getByLabel('Linking code').fill(code.toLowerCase());
      await page.getByRole('button', { name: 'Link this browser' }).click();
      return { code, page };
    };
    const words = async (page: Page) => {
      const shown = page.locator('.fingerprint');
      await shown.waitFor({ timeout: 30_000 });
      return (await shown.textContent())!;
    };
    const before = await devices();

    const { code, page: linked } = await start();
    const onNew = await words(linked);
    expect(onNew).toMatch(/^[a-z]+ [a-z]+ [a-z]+ [a-z]+$/);
    expect(await words(alice)).toBe(onNew);
    await alice.getByRole('button', { name: 'They match: link it' }).click();
    await seen(linked, 'Hello from Alice, whose keys never leave her browser', 60_000);
    await alice.getByText(/^Linked “/).waitFor({ timeout: 30_000 });
    expect(await devices()).toBe(before + 1);
    // A used code cannot be used again.
    const again = await newPage(browser, {});
    await again.goto(url);
    await again.getByRole('button', { name: 'Link to my account on another device' }).click();
    await again.getByLabel('Linking code').fill(code);
    await again.getByRole('button', { name: 'Link this browser' }).click();
    await again.getByRole('alert').getByText('already used').waitFor({ timeout: 20_000 });

    // When the person says the words differ, nothing is added and the new browser is told.
    const { page: refused } = await start();
    expect(await words(alice)).toBe(await words(refused));
    await alice.getByRole('button', { name: 'They differ' }).click();
    await alice.getByText(/^Not linked/).waitFor({ timeout: 10_000 });
    await refused.getByRole('alert').getByText('not confirmed').waitFor({ timeout: 20_000 });
    expect(await devices()).toBe(before + 1);
  }, 180_000);

  it('keeps two tabs of the same account consistent', async () => {
    const tab2 = await bob.context().newPage();
    await tab2.goto(`${url}/#/`);
    await tab2.locator('.status.online').waitFor({ timeout: 30_000 });
    await post(bob, 'Written in the first tab');
    await seen(tab2, 'Written in the first tab');
    await post(tab2, 'Written in the second tab');
    await seen(bob, 'Written in the second tab');
    // Both tabs write as one device: its entries stay one unbroken chain the provider accepts.
    await post(bob, 'First tab again');
    await alice.goto(`${url}/#/`);
    await seen(alice, 'First tab again', 30_000);
    await seen(alice, 'Written in the second tab', 30_000);
    await tab2.close();
  }, 120_000);

  it('works the same when opened at 127.0.0.1 instead of localhost: the handle and the log name the canonical host', async () => {
    const page = await newPage(browser);
    const alias = url.replace('//localhost:', '//127.0.0.1:');
    expect(alias).not.toBe(url);
    await signUp(page, alias, 'Ivy', 'ivy');
    await post(page, 'Posted from 127.0.0.1');
    const entry = (await (await fetch(`${url}/.well-known/freehold/handles/ivy`)).json()) as { card: string };
    const state = decodeCard(fromBase64(entry.card));
    expect(state.providers).toEqual([url]);
    expect(state.handles).toEqual([`ivy@${host}`]);
    await page.context().close();
  }, 90_000);

  it('serves the public profile as HTML without JavaScript and as ActivityStreams JSON-LD', async () => {
    const html = await (await fetch(`${url}/@alice`)).text();
    expect(html).toContain('Hello from Alice');
    expect(html).not.toContain('For friends only');
    expect(html).toContain('application/ld+json');
    const res = await fetch(`${url}/@alice`, { headers: { accept: 'application/activity+json' } });
    expect(res.headers.get('content-type')).toMatch(/application\/activity\+json/);
    const expanded = (await jsonld.expand((await res.json()) as object)) as Record<string, unknown[]>[];
    const AS = 'https://www.w3.org/ns/activitystreams#';
    const person = expanded[0]!;
    expect(person['@type']).toEqual([`${AS}Person`]);
    expect((person[`${AS}name`] as { '@value': string }[])[0]!['@value']).toBe('Alice Liddell');
    const outbox = (person[`${AS}outbox`] as Record<string, unknown[]>[])[0]!;
    const items = ((outbox[`${AS}orderedItems`] as { '@list': Record<string, unknown[]>[] }[])[0]!['@list']);
    expect(items.every((n) => (n['@type'] as string[])[0] === `${AS}Note`)).toBe(true);
    const texts = items.map((n) => (n[`${AS}content`] as { '@value': string }[])[0]!['@value']);
    expect(texts).toContain('Hello from Alice, whose keys never leave her browser');
    expect(texts.some((t) => t.startsWith('For friends only'))).toBe(false);
    const noJs = await newPage(browser, { javaScriptEnabled: false });
    await noJs.goto(`${url}/@alice`);
    await noJs.getByText('Hello from Alice').first().waitFor();
    await shot(noJs, 'public-profile');
    // Under its script-free CSP the page's own stylesheet still applies.
    const page = await newPage(browser);
    const served = await page.goto(`${url}/@alice`);
    expect(served!.headers()['content-security-policy']).toMatch(/^default-src 'none'.*style-src 'sha256-/);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(247, 248, 250)');
  }, 60_000);

  it('runs every page of the app and the public profile without a Content-Security-Policy violation', async () => {
    const res = await fetch(url);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(violations).toEqual([]);
    // The watcher does catch a violation: an inline script injected into the app is refused and reported.
    const control: string[] = [];
    const context = await browser.newContext();
    await watchCsp(context, control);
    const page = await context.newPage();
    await page.goto(url);
    await page.evaluate(() => document.body.append(Object.assign(document.createElement('script'), { textContent: 'window.ran = 1' })));
    await expect.poll(() => control.length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { ran?: number }).ran)).toBeUndefined();
  }, 60_000);
});
