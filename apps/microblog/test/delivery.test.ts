import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser, Locator, Page } from 'playwright-core';
import { freePort } from '../../../test-support/net.js';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { follow, seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/bin/freehold.cjs', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-delivery-'));
const web = join(tmp, 'web');

type Server = Awaited<ReturnType<typeof spawnServer>>;

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args, '--home', join(tmp, 'bob')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`freehold ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The delivery mark of the direct message with this text, as its accessible name says it. */
const markOf = (page: Page, text: string): Locator => page.locator('.dms li', { hasText: text }).locator('.delivery svg');

async function waitForLabel(mark: Locator, label: RegExp, timeout: number): Promise<string> {
  await expect.poll(async () => (await mark.getAttribute('aria-label').catch(() => null)) ?? '', { timeout, interval: 100 }).toMatch(label);
  return (await mark.getAttribute('aria-label'))!;
}

/** Sends from Messages, then opens the conversation, where every message shows how far it got. */
async function dm(page: Page, to: string, text: string): Promise<void> {
  await page.goto(`${page.url().split('#')[0]}#/messages`);
  await page.getByLabel('Recipient handle').fill(to);
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText(`Sent to ${to}`).waitFor({ timeout: 20_000 });
  const row = page.locator('.conversations li', { hasText: `You: ${text}` });
  await row.waitFor({ timeout: 20_000 });
  await row.getByRole('link').first().click();
  await seen(page, text, 20_000, '.dms li');
}

describe('the web app shows how far each message to another provider got', () => {
  let browser: Browser;
  let p1: Server;
  let p2: Server;
  let port1: number;
  let port2: number;
  let alice: Page;
  let bobHandle: string;
  const start1 = async () => (p1 = await spawnServer(['--port', String(port1), '--data', join(tmp, 'p1'), '--web', web]));
  const start2 = async () => (p2 = await spawnServer(['--port', String(port2), '--data', join(tmp, 'p2')]));

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: web, emptyOutDir: true } });
    [port1, port2] = [await freePort(), await freePort()];
    await start1();
    await start2();
    browser = await launchChromium();
    alice = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    // Bob lives at P2 and uses the CLI; Alice lives at P1 and uses the web app. Neither talks to the other's.
    cli(['init', '--name', 'bob']);
    cli(['provider', 'add', p2.url]);
    bobHandle = cli(['handle', 'claim', 'bob']);
    cli(['profile', '--name', 'Bob at P2']);
    cli(['post', 'Hello from P2']);
    await signUp(alice, p1.url, 'Alice', 'alice');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await p1?.stop();
    await p2?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a follow request, a like and a reply reach the other provider and show delivered', async () => {
    const there = `Delivered to ${new URL(p2.url).host}`;
    await follow(alice, bobHandle);
    const mark = alice.locator('.following li', { hasText: bobHandle }).locator('.delivery svg');
    expect(await waitForLabel(mark, /^Delivered/, 30_000)).toBe(there);
    // Without a reload, the app has its provider mirror whom it just followed, and shows Bob's post.
    await seen(alice, 'Hello from P2', 30_000);
    const card = alice.locator('article', { hasText: 'Hello from P2' }).first();
    await card.getByRole('button', { name: /^Like/ }).click();
    expect(await waitForLabel(card.locator('.actions .delivery svg'), /^Delivered/, 30_000)).toBe(there);
    await card.getByRole('button', { name: /^Reply/ }).click();
    const form = card.getByRole('form', { name: 'Reply' });
    await form.getByLabel('Reply text').fill('Hi Bob, from P1');
    await form.getByRole('button', { name: 'Reply', exact: true }).click();
    await form.waitFor({ state: 'detached' });
    const reply = alice.locator('article', { hasText: 'Hi Bob, from P1' }).first();
    expect(await waitForLabel(reply.locator('header .delivery svg'), /^Delivered/, 30_000)).toBe(there);
    // Bob reads both through his own provider.
    await expect.poll(() => cli(['inbox']), { timeout: 30_000, interval: 1000 }).toMatch(/liked .*[\s\S]*replied to|replied to .*[\s\S]*liked/);
  }, 120_000);

  it('a message sent while the recipient’s provider is down shows pending, then delivered once it is back, without a reload', async () => {
    await p2.stop();
    await alice.goto(`${p1.url}/#/messages`);
    const text = 'Are you around? (sent while your provider was down)';
    const sockets: string[] = [];
    alice.on('websocket', (ws) => sockets.push(ws.url()));
    const asked: number[] = [];
    alice.on('request', (r) => r.url().endsWith('/v1/outbox') && asked.push(Date.now()));
    await dm(alice, bobHandle, text);
    const mark = markOf(alice, text);
    expect(await waitForLabel(mark, /^Pending/, 20_000)).toMatch(/^Pending: your provider has it/);
    const pendingSince = Date.now();
    await start2();
    await waitForLabel(mark, /^Delivered/, 90_000);
    console.log(`delivered shown ${Date.now() - pendingSince} ms after P2 was started again; ${asked.length} outbox requests`);
    expect(await mark.getAttribute('aria-label')).toBe(`Delivered to ${new URL(p2.url).host}`);
    // The state came over HTTP: no WebSocket was opened for it, and the providers were not polled hard.
    expect(sockets).toEqual([]);
    expect(asked.length).toBeLessThan(20);
    // Bob reads it through his own provider.
    await expect.poll(() => cli(['inbox']), { timeout: 30_000, interval: 1000 }).toContain(text);
    // With nothing pending any more, the page stops asking.
    const before = asked.length;
    await new Promise((r) => setTimeout(r, 5000));
    expect(asked.length).toBe(before);
  }, 180_000);

  it('a message written while the own provider is down shows not sent, then goes out when it is back', async () => {
    await p1.stop();
    await alice.locator('.status.offline').waitFor({ timeout: 30_000 });
    const text = 'Written while mine was down';
    await dm(alice, bobHandle, text);
    const mark = markOf(alice, text);
    expect(await waitForLabel(mark, /^Not sent/, 20_000)).toMatch(/^Not sent yet: only on this device/);
    await start1();
    await waitForLabel(mark, /^Delivered/, 60_000);
  }, 120_000);

  it('a message the recipient’s provider refuses shows failed, with the reason', async () => {
    // Bob closes his inbox to senders his provider does not host.
    cli(['inbox', 'cap', '0']);
    const text = 'One more, after you closed your inbox';
    await dm(alice, bobHandle, text);
    const mark = markOf(alice, text);
    expect(await waitForLabel(mark, /^Failed/, 30_000)).toMatch(new RegExp(`^Failed at ${new URL(p2.url).host}: .*inbox is full.* \\[quota-exceeded\\]$`));
    const row = alice.locator('.dms li', { hasText: text });
    await row.getByText(`Their provider ${new URL(p2.url).host} refused it`).waitFor();
    // One more while P2 is down, for a picture of every state.
    await p2.stop();
    await dm(alice, bobHandle, 'Still there?');
    await waitForLabel(markOf(alice, 'Still there?'), /^Pending/, 20_000);
    await shot(alice, 'delivery');
  }, 60_000);
});
