import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser } from 'playwright-core';
import { readExport, toId } from '@freehold/core';
import { launchChromium } from '../../../test-support/browser.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { cli } from '../../../packages/cli/test/cli-run.js';
import { seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-account-data-'));
const { fh, ok } = cli(tmp);

describe('the recovery phrase and an export from Settings, in Chromium', () => {
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

  it('a new phrase replaces the old one, and the export is what `freehold import` reads', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true })).newPage();
    page.on('dialog', (d) => void d.accept());
    const old = await signUp(page, server.url, 'Erin', 'erin');
    await page.getByLabel('Post text').fill('Erin keeps a copy');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(page, 'Erin keeps a copy');
    await page.locator('.status', { hasText: 'Synced' }).waitFor({ timeout: 30_000 });

    await page.goto(`${server.url}/#/settings`);
    await page.getByRole('button', { name: 'Make a new recovery phrase' }).click();
    const list = page.getByRole('list', { name: 'New recovery phrase' });
    await list.waitFor({ timeout: 20_000 });
    const words = await list.locator('li').allTextContents();
    expect(words).toHaveLength(24);
    expect(words.join(' ')).not.toBe(old);
    await page.getByRole('heading', { name: 'Recovery phrase' }).scrollIntoViewIfNeeded();
    await shot(page, 'settings-phrase');
    await page.locator('.status', { hasText: 'Synced' }).waitFor({ timeout: 30_000 });

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export everything' }).click();
    const file = join(tmp, 'erin.export');
    await (await download).saveAs(file);
    await page.getByText(/Exported \d+ entries/).waitFor();
    const exported = readExport(new Uint8Array(readFileSync(file)));
    expect(exported.entries.length).toBeGreaterThan(0);
    const account = toId(exported.account);

    // The old phrase no longer recovers the account; the new one does, with the account named.
    writeFileSync(join(tmp, 'old.phrase'), old);
    writeFileSync(join(tmp, 'new.phrase'), words.join(' '));
    const refused = fh(['recover', '--provider', server.url, '--phrase-file', join(tmp, 'old.phrase')], 'erin-old');
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/replaced by a newer one/);
    ok(['recover', '--provider', server.url, '--account', account, '--phrase-file', join(tmp, 'new.phrase')], 'erin-cli');
    expect(ok(['feed'], 'erin-cli')).toMatch(/Erin keeps a copy/);
    // Everything in the file is what the recovered device holds already.
    expect(ok(['import', file], 'erin-cli')).toMatch(new RegExp(`imported 0 entries \\(${exported.entries.length} already held\\)`));
  }, 180_000);
});
