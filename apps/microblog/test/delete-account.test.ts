import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser } from 'playwright-core';
import { decodeCard, fromBase64, toId } from '@freehold/core';
import { spacesOf } from '@freehold/microblog';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-delete-'));

describe('deleting an account in Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: join(tmp, 'web'), emptyOutDir: true } });
    server = await spawnServer(['--port', '0', '--data', join(tmp, 'srv'), '--web', join(tmp, 'web')]);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Entries of the account at the provider: in the spaces it created, or signed by its devices anywhere. */
  const held = (account: Uint8Array, devices: Uint8Array[]) => {
    const db = new Database(join(tmp, 'srv', 'provider.db'), { readonly: true });
    try {
      const count = (sql: string, v: Uint8Array) => db.prepare(sql).pluck().get(Buffer.from(v)) as number;
      const spaces = Object.values(spacesOf(account)).reduce((n, s) => n + count('SELECT COUNT(*) FROM entries WHERE space = (SELECT n FROM refs WHERE value = ?)', s), 0);
      const signed = devices.reduce((n, d) => n + count('SELECT COUNT(*) FROM entries WHERE device = (SELECT n FROM refs WHERE value = ?)', d), 0);
      return { spaces, signed, registered: count('SELECT COUNT(*) FROM accounts WHERE account = ?', account) };
    } finally {
      db.close();
    }
  };

  it('asks for the handle, then leaves no entry of the account at its provider and this browser at the start', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    await signUp(page, server.url, 'Dora', 'dora');
    await page.getByLabel('Post text').fill('Words Dora will take back');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(page, 'Words Dora will take back');
    await page.locator('.status', { hasText: 'Synced' }).waitFor({ timeout: 30_000 });
    const host = new URL(server.url).host;
    const found = (await (await fetch(`${server.url}/.well-known/freehold/handles/dora`)).json()) as { card: string };
    const log = decodeCard(fromBase64(found.card));
    const devices = [...log.devices.values()].map((d) => d.device);
    expect(held(log.account, devices).spaces).toBeGreaterThan(0);

    await page.goto(`${server.url}/#/settings`);
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Delete your account' }) });
    const button = card.getByRole('button', { name: 'Delete my account' });
    await card.getByLabel(/to confirm/).fill('dora');
    await expect.poll(() => button.isDisabled()).toBe(true);
    await card.getByLabel(/to confirm/).fill(`dora@${host}`);
    await expect.poll(() => button.isEnabled()).toBe(true);
    await card.scrollIntoViewIfNeeded();
    await shot(page, 'delete-account');
    await button.click();
    await page.getByRole('button', { name: 'Create an account' }).waitFor({ timeout: 60_000 });

    expect(held(log.account, devices)).toEqual({ spaces: 0, signed: 0, registered: 0 });
    expect((await fetch(`${server.url}/.well-known/freehold/handles/dora`)).status).toBe(404);
    const after = (await (await fetch(`${server.url}/.well-known/freehold/accounts/${toId(log.account)}`)).json()) as { providers: string[] };
    expect(after.providers).toEqual([]);
  }, 180_000);
});
