import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';

/**
 * Saves a screenshot of the page as NAME.png into the folder named by FREEHOLD_SCREENSHOTS (`npm run screenshots`
 * sets docs/screenshots); without it, nothing is written, so a test run leaves the work tree as it was.
 */
export async function shot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  const dir = process.env.FREEHOLD_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(resolve(dir), { recursive: true });
  await page.screenshot({ path: join(resolve(dir), `${name}.png`), ...opts });
}

/** Signs up in the web app at `url`, confirming the recovery phrase (shot as `phraseShot` if given); returns it. */
export async function signUp(page: Page, url: string, name: string, handle: string, phraseShot?: string): Promise<string> {
  await page.goto(url);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Display name').fill(name);
  await page.getByLabel('Handle').fill(handle);
  await page.getByRole('button', { name: 'Continue' }).click();
  return confirmPhrase(page, phraseShot);
}

/** On the phrase screen: writes the phrase down, types three of its words back (one wrong first), and waits for the app. */
export async function confirmPhrase(page: Page, phraseShot?: string): Promise<string> {
  await page.locator('ol.phrase li').first().waitFor({ timeout: 20_000 });
  const words = await page.locator('ol.phrase li').allTextContents();
  expect(words).toHaveLength(24);
  if (phraseShot) await shot(page, phraseShot);
  await page.getByRole('button', { name: 'I have written it down' }).click();
  const labels = await page.locator('form label').allTextContents();
  const positions = labels.map((l) => Number(/#(\d+)/.exec(l)![1]));
  for (const n of positions) await page.getByLabel(`Word #${n}`, { exact: true }).fill(words[n - 1]!);
  // A wrong word is named, and nothing is created.
  await page.getByLabel(`Word #${positions[1]}`, { exact: true }).fill('wrong');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('alert').filter({ hasText: `Word #${positions[1]} does not match your phrase.` }).waitFor();
  expect(await page.getByLabel(`Word #${positions[1]}`, { exact: true }).getAttribute('aria-invalid')).toBe('true');
  await page.getByLabel(`Word #${positions[1]}`, { exact: true }).fill(words[positions[1]! - 1]!);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByLabel('Post text').waitFor({ timeout: 30_000 });
  await page.locator('.status', { hasText: 'Synced' }).waitFor({ timeout: 30_000 });
  return words.join(' ');
}

export async function follow(page: Page, handle: string): Promise<void> {
  await page.goto(page.url().replace(/#.*$/, '#/'));
  await page.getByLabel('Handle to follow').fill(handle);
  await page.getByRole('button', { name: 'Follow', exact: true }).click();
  await page.getByText(`Following ${handle}`).waitFor({ timeout: 20_000 });
}

/** Waits for an element (`where`) holding `text`; on failure the page is shot to the temporary folder. */
export async function seen(page: Page, text: string, timeout = 20_000, where = 'article'): Promise<void> {
  try {
    await page.locator(where, { hasText: text }).first().waitFor({ timeout });
  } catch (e) {
    await page.screenshot({ path: join(tmpdir(), `freehold-failed-${text.slice(0, 20).replace(/\W/g, '_')}.png`) });
    throw e;
  }
}
