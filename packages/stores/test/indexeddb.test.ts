import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAndServe, launchChromium } from '../../../test-support/browser.js';

const out = mkdtempSync(join(tmpdir(), 'freehold-idb-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('Store conformance: indexeddb (in Chromium)', () => {
  it('passes the same suite as the memory, SQLite and PostgreSQL stores', async () => {
    const site = await buildAndServe(fileURLToPath(new URL('../browser-test', import.meta.url)), out);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(site.url);
      await page.waitForFunction(() => (window as unknown as { __results?: unknown }).__results !== undefined, null, { timeout: 60_000 });
      const results = (await page.evaluate(() => (window as unknown as { __results: { name: string; ok: boolean; error?: string }[] }).__results)) ?? [];
      expect(results.filter((r) => r.name.startsWith('Store conformance: indexeddb, cursor walks')).length).toBeGreaterThanOrEqual(10);
      expect(results.length).toBeGreaterThanOrEqual(20);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    } finally {
      await browser.close();
      await site.close();
    }
  }, 120_000);
});
