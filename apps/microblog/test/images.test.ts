import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { fromId, Kind } from '@freehold/core';
import { spacesOf } from '@freehold/microblog';
import { launchChromium } from '../../../test-support/browser.js';
import { randomPng } from '../../../test-support/png.js';
import { GPS_LATITUDE, PLACE, photoJpeg } from '../../../test-support/photos.js';
import { spawnServer } from '../../../packages/server/test/process.js';
import { seen, shot, signUp } from './app.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'freehold-images-'));

const go = (page: Page, hash: string) => page.goto(`${page.url().split('#')[0]}${hash}`);
const resync = async (page: Page) => {
  await page.reload();
  await page.locator('.status', { hasText: 'Synced' }).waitFor({ timeout: 30_000 });
};
/** The bytes behind an image the page shows (an object URL of what it decrypted). */
const shownBytes = async (page: Page, alt: string, where = 'article'): Promise<Buffer> => {
  const img = page.locator(`${where} img[alt="${alt}"]`).first();
  await img.waitFor({ timeout: 30_000 });
  await page.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await img.elementHandle(), { timeout: 30_000 });
  return Buffer.from(await img.evaluate(async (el: HTMLImageElement) => Array.from(new Uint8Array(await (await fetch(el.src)).arrayBuffer()))));
};
const naturalWidth = (page: Page, alt: string, where = 'article') => page.locator(`${where} img[alt="${alt}"]`).first().evaluate((el: HTMLImageElement) => el.naturalWidth);

describe('images in posts and avatars, in Chromium over a real provider', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let host: string;
  let alice: Page;
  let bob: Page;
  let carol: Page;
  const data = join(tmp, 'srv');
  /** The provider's SQLite files as they are on disk. */
  const held = () => Buffer.concat(['provider.db', 'provider.db-wal'].map((f) => join(data, f)).filter(existsSync).map((f) => readFileSync(f)));

  // Readers' pages may fetch the object URLs they show (to compare bytes), which the app's policy forbids; Alice's
  // keeps it, and shows her images under it.
  const page = async (bypassCSP = true) => (await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP })).newPage();

  beforeAll(async () => {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: join(tmp, 'web'), emptyOutDir: true } });
    server = await spawnServer(['--port', '0', '--data', data, '--web', join(tmp, 'web')]);
    host = new URL(server.url).host;
    browser = await launchChromium();
    alice = await page(false);
    bob = await page();
    carol = await page();
    await signUp(alice, server.url, 'Alice', 'alice');
    await signUp(bob, server.url, 'Bob', 'bob');
    await signUp(carol, server.url, 'Carol', 'carol');
    // Bob and Carol follow Alice; only Bob is approved.
    for (const p of [bob, carol]) {
      await go(p, `#/@alice@${host}`);
      await p.getByRole('button', { name: `Follow alice@${host}` }).click();
      await p.getByRole('button', { name: `Unfollow alice@${host}` }).waitFor({ timeout: 20_000 });
    }
    await go(alice, '#/followers');
    await alice.getByRole('button', { name: `Approve bob@${host}` }).click({ timeout: 30_000 });
    await alice.getByRole('button', { name: `Remove bob@${host}` }).waitFor({ timeout: 20_000 });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a friends-only image reaches the approved follower as a thumbnail made on the device, not Carol, and never the provider as plaintext', async () => {
    const garden = randomPng(900, 600);
    const detail = randomPng(200, 150);
    const view = randomPng(300, 200);
    await go(alice, '#/');
    await alice.getByLabel('Post text').fill('Garden photos');
    await alice.getByLabel('Add images').setInputFiles([
      { name: 'garden.png', mimeType: 'image/png', buffer: garden },
      { name: 'detail.png', mimeType: 'image/png', buffer: detail },
    ]);
    await alice.getByLabel('Alt text for image 1').fill('Tomatoes on the vine');
    await alice.getByLabel('Alt text for image 2').fill('A ripe one, close up');
    await alice.getByLabel('Friends only').check();
    await shot(alice, 'compose-images');
    await alice.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(alice, 'Garden photos');
    // Shown from the replica, lazily: the attribute, and an object URL of the decrypted bytes.
    const own = alice.locator('article img[alt="Tomatoes on the vine"]');
    await own.waitFor({ timeout: 30_000 });
    expect(await own.getAttribute('loading')).toBe('lazy');
    expect(await own.getAttribute('src')).toMatch(/^blob:/);
    await alice.waitForFunction((el) => (el as HTMLImageElement).naturalWidth === 640, await own.elementHandle(), { timeout: 30_000 });

    await alice.getByLabel('Post text').fill('The view from here');
    await alice.getByLabel('Add images').setInputFiles([{ name: 'view.png', mimeType: 'image/png', buffer: view }]);
    await alice.getByLabel('Alt text for image 1').fill('Hills at dusk');
    await alice.getByLabel('Friends only').uncheck();
    await alice.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(alice, 'The view from here');

    await resync(bob);
    await seen(bob, 'Garden photos', 30_000);
    // The large image comes as the device's thumbnail (640 px wide); the small one as it is.
    const thumb = await shownBytes(bob, 'Tomatoes on the vine');
    expect(await naturalWidth(bob, 'Tomatoes on the vine')).toBe(640);
    expect((await shownBytes(bob, 'A ripe one, close up')).equals(detail)).toBe(true);
    await shot(bob, 'images');
    // Opened, the image itself, byte for byte.
    await bob.getByRole('button', { name: 'Open image: Tomatoes on the vine' }).click();
    expect((await shownBytes(bob, 'Tomatoes on the vine', 'dialog')).equals(garden)).toBe(true);
    expect(await naturalWidth(bob, 'Tomatoes on the vine', 'dialog')).toBe(900);
    await bob.keyboard.press('Escape');

    await resync(carol);
    await seen(carol, 'The view from here', 30_000);
    expect((await shownBytes(carol, 'Hills at dusk')).equals(view)).toBe(true);
    expect(await carol.getByText('Garden photos').count()).toBe(0);
    expect(await carol.locator('img[alt="Tomatoes on the vine"]').count()).toBe(0);

    // The public image is in the provider's files as it is (what the search finds when it is there); nothing of
    // the friends-only ones is: not the original, not the thumbnail, not the small one.
    const stored = held();
    expect(stored.includes(view.subarray(100_000, 100_048))).toBe(true);
    for (const secret of [garden, thumb, detail]) {
      for (const at of [0.3, 0.5, 0.9].map((f) => Math.floor(secret.length * f))) expect(stored.includes(secret.subarray(at, at + 48))).toBe(false);
    }
  });

  it('a photo posted from the browser loses where it was taken, and still shows upright', async () => {
    const photo = photoJpeg();
    const located = [GPS_LATITUDE, Buffer.from(PLACE, 'latin1')];
    await go(alice, '#/');
    await alice.getByLabel('Post text').fill('Out for a walk');
    await alice.getByLabel('Add images').setInputFiles([{ name: 'walk.jpg', mimeType: 'image/jpeg', buffer: photo }]);
    await alice.getByLabel('Alt text for image 1').fill('A path in the park');
    await alice.getByRole('button', { name: 'Post', exact: true }).click();
    await seen(alice, 'Out for a walk');

    await resync(carol);
    await seen(carol, 'Out for a walk', 30_000);
    const shown = await shownBytes(carol, 'A path in the park');
    for (const b of located) expect(shown.includes(b)).toBe(false);
    // Stored 16 wide and 8 high with orientation 6, which is kept: Chromium shows it turned, 8 wide.
    expect(await naturalWidth(carol, 'A path in the park')).toBe(8);
    // The post is public, so its image is plaintext at the provider: without the position.
    const stored = held();
    expect(stored.includes(shown)).toBe(true);
    for (const b of located) expect(stored.includes(b)).toBe(false);
  });

  it('an avatar is stored once as a blob; the profile names it, so editing the bio writes no image again', async () => {
    await go(alice, `#/@alice@${host}`);
    await alice.getByRole('button', { name: 'Edit profile' }).click();
    await alice.getByLabel('Avatar image').setInputFiles([{ name: 'me.png', mimeType: 'image/png', buffer: randomPng(400, 300) }]);
    await alice.locator('img[alt="New avatar, as it will be saved"]').waitFor();
    await alice.getByRole('button', { name: 'Save' }).click();
    await alice.getByRole('button', { name: 'Edit profile' }).waitFor();
    await alice.locator('.profile-head img.avatar[src^="blob:"]').waitFor({ timeout: 20_000 });

    await alice.getByRole('button', { name: 'Edit profile' }).click();
    await alice.locator('img[alt="Current avatar"][src^="blob:"]').waitFor({ timeout: 20_000 });
    await alice.getByLabel('Bio').fill('Grows tomatoes');
    await alice.getByRole('button', { name: 'Save' }).click();
    await alice.getByText('Grows tomatoes').waitFor();

    // Bob sees it, from the blob; the provider's public page too.
    await resync(bob);
    await go(bob, `#/@alice@${host}`);
    await bob.getByText('Grows tomatoes').waitFor({ timeout: 30_000 });
    await bob.locator('.profile-head img.avatar[src^="blob:"]').waitFor({ timeout: 30_000 });
    const { account } = (await (await fetch(`${server.url}/.well-known/freehold/handles/alice`)).json()) as { account: string };
    const page = await (await fetch(`${server.url}/@alice`)).text();
    expect(page).toMatch(/<img src="data:image\/jpeg;base64,[A-Za-z0-9+/=]{200,}"/);

    // At the provider: the avatar is blob entries of the public space, and the bio edit was one small update.
    const db = new Database(join(data, 'provider.db'), { readonly: true, fileMustExist: true });
    try {
      const space = Buffer.from(spacesOf(fromId(account, 'account')).public);
      const rows = db.prepare('SELECT kind, length(bytes) AS size FROM entries WHERE space = (SELECT n FROM refs WHERE value = ?) ORDER BY n').all(space) as { kind: number; size: number }[];
      const blobs = rows.filter((r) => r.kind === Kind.blob);
      expect(blobs.length).toBeGreaterThanOrEqual(2);
      const last = rows[rows.length - 1]!;
      expect(last.kind).toBe(Kind.update);
      expect(last.size).toBeLessThan(2_000);
      expect(Math.min(...blobs.map((b) => b.size))).toBeGreaterThan(last.size);
    } finally {
      db.close();
    }
  });
});
