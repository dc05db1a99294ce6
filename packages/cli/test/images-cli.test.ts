import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AVATAR_SIDE, THUMB_SIDE } from '@freehold/microblog';
import { spawnServer } from '../../server/test/process.js';
import { chunk, randomPng } from '../../../test-support/png.js';
import { GPS_LATITUDE, PLACE, photoJpeg, photoPng } from '../../../test-support/photos.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-images-'));
const { fh, ok, eventually } = cli(root);

interface ImageJson {
  blob: string;
  mime: string;
  width: number;
  height: number;
  size: number;
  alt: string;
  thumb?: Omit<ImageJson, 'alt' | 'thumb'>;
}
interface FeedJson {
  id: string;
  text: string;
  images: ImageJson[];
}
const feed = (home: string) => JSON.parse(ok(['feed', '--json'], home)) as FeedJson[];
const file = (name: string, bytes: Uint8Array) => {
  const path = join(root, name);
  writeFileSync(path, bytes);
  return path;
};
/** Everything the provider's SQLite store holds on disk: the database and its write-ahead log. */
const storeBytes = (data: string) => Buffer.concat(['provider.db', 'provider.db-wal'].map((f) => join(data, f)).filter(existsSync).map((f) => readFileSync(f)));

describe('images in posts from the CLI: blob entries, readable by exactly who reads the post', () => {
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let host: string;
  const data = join(root, 'srv');
  // Pixels stored as they are (no compression): three chunks each, every run of them a pattern to grep for.
  const secret = randomPng(300, 300);
  const open = randomPng(300, 300);
  const pattern = (png: Buffer) => png.subarray(150_000, 150_048);
  const phrase = join(root, 'alice.phrase');
  /** Alice's posts: friends-only with `secret`, public with `open`. */
  let friends: string;
  let pub: string;

  beforeAll(async () => {
    server = await spawnServer(['--port', '0', '--data', data]);
    host = new URL(server.url).host;
    for (const who of ['alice', 'bob', 'carol']) {
      ok(['init', '--name', who, ...(who === 'alice' ? ['--phrase-file', phrase] : [])], who);
      ok(['provider', 'add', server.url], who);
      ok(['handle', 'claim', who], who);
      ok(['profile', '--name', who], who);
    }
    // Bob is an approved follower of Alice; Carol follows her without being approved.
    const bob = accountOf(ok, 'bob');
    ok(['follow', `alice@${host}`], 'bob');
    ok(['follow', `alice@${host}`], 'carol');
    await eventually(['followers', '--json'], 'alice', new RegExp(bob));
    ok(['followers', 'approve', `bob@${host}`], 'alice');
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a friends-only image reaches an approved follower, not others, and never the provider as plaintext', async () => {
    const used = () => (JSON.parse(ok(['admin', 'usage', '--json', '--data', data])) as { account: string; used: number }[]).find((u) => u.account === accountOf(ok, 'alice'))!.used;
    const before = used();
    friends = ok(['post', 'Our garden', '--friends', '--image', file('secret.png', secret), '--alt', 'Tomatoes on the vine'], 'alice');
    pub = ok(['post', 'The view', '--image', file('open.png', open)], 'alice');
    // The bytes of both images are charged to Alice, with their entries' overhead.
    expect(used() - before).toBeGreaterThan(secret.length + open.length);

    await eventually(['feed'], 'bob', /Our garden/);
    const seen = feed('bob').find((p) => p.id === friends)!;
    expect(seen.images).toEqual([{ blob: expect.any(String), mime: 'image/png', width: 300, height: 300, size: secret.length, alt: 'Tomatoes on the vine' }]);
    expect(feed('bob').find((p) => p.id === pub)!.images).toEqual([expect.objectContaining({ size: open.length, alt: '' })]);
    expect(ok(['image', friends, join(root, 'bob.png')], 'bob')).toBe(`saved ${secret.length} bytes to ${join(root, 'bob.png')} (Tomatoes on the vine)`);
    expect(readFileSync(join(root, 'bob.png')).equals(secret)).toBe(true);

    // Carol holds Alice's spaces through the same provider, yet sees only the public image.
    await eventually(['feed'], 'carol', /The view/);
    expect(feed('carol').map((p) => p.id)).not.toContain(friends);
    const refused = fh(['image', friends, join(root, 'carol.png')], 'carol');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/\[not-found\]/);
    ok(['image', pub, join(root, 'carol.png')], 'carol');
    expect(readFileSync(join(root, 'carol.png')).equals(open)).toBe(true);

    // The provider's public pages show the public image (no script: an img of its own address), not the other.
    const html = await (await fetch(`${server.url}/@alice/${pub.split('/')[1]}`)).text();
    const src = `${server.url}/@alice/${pub.split('/')[1]}/images/1`;
    expect(html).toContain(`<img src="${src}" alt="" width="300" height="300" loading="lazy">`);
    const served = await fetch(src);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer()).equals(open)).toBe(true);
    expect((await fetch(`${server.url}/@alice/${friends.split('/')[1]}/images/1`)).status).toBe(404);
    expect((await fetch(`${src.slice(0, -1)}2`)).status).toBe(404);

    // The public image is in the provider's file as it is (so the search below can find what is there); the
    // friends-only one is not, in any of its chunks.
    const held = storeBytes(data);
    expect(held.includes(pattern(open))).toBe(true);
    for (const at of [1_000, 150_000, 262_144 - 24, 262_144 + 1_000, secret.length - 100]) expect(held.includes(secret.subarray(at, at + 48))).toBe(false);
  });

  it('publishes a photo without where it was taken: not at the provider, not in what a follower reads back', async () => {
    const located = [GPS_LATITUDE, Buffer.from(PLACE, 'latin1')];
    const photo = photoJpeg();
    for (const b of located) expect(photo.includes(b)).toBe(true);
    const id = ok(['post', 'Out for a walk', '--image', file('walk.jpg', photo), '--image', file('walk.png', photoPng())], 'alice');
    ok(['profile', '--avatar', file('me.jpg', photoJpeg(1))], 'alice');
    await eventually(['feed'], 'bob', /Out for a walk/);
    const [jpeg, png] = feed('bob').find((p) => p.id === id)!.images;
    // Turned a quarter by the orientation it keeps: stored 16×8, shown 8×16.
    expect(jpeg).toMatchObject({ mime: 'image/jpeg', width: 8, height: 16 });
    expect(jpeg!.size).toBeLessThan(photo.length);
    expect(png).toMatchObject({ mime: 'image/png', width: 10, height: 12 });
    for (const [n, name] of [[1, 'bob.jpg'], [2, 'bob-walk.png']] as const) {
      ok(['image', id, join(root, name), '--index', String(n)], 'bob');
      const read = readFileSync(join(root, name));
      for (const b of located) expect(read.includes(b), name).toBe(false);
    }
    expect(readFileSync(join(root, 'bob.jpg')).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    // A public post's images and the avatar are plaintext at the provider: the position is in none of its bytes.
    const held = storeBytes(data);
    expect(held.includes(Buffer.from('Out for a walk'))).toBe(true);
    for (const b of located) expect(held.includes(b)).toBe(false);
  });

  it('makes the thumbnail the web app makes: upright, THUMB_SIDE on its longest side, without metadata; none of a small image', async () => {
    // Stored 2400×1600, red above blue, with the orientation of a phone held upright (6: turn a quarter clockwise).
    const photo = await sharp({ create: { width: 2400, height: 1600, channels: 3, background: 'red' } })
      .composite([{ input: { create: { width: 2400, height: 800, channels: 3, background: 'blue' } }, top: 800, left: 0 }])
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const id = ok(['post', 'Portrait', '--image', file('portrait.jpg', photo), '--image', file('little.png', randomPng(64, 48))], 'alice');
    await eventually(['feed'], 'bob', /Portrait/);
    const [big, little] = feed('bob').find((p) => p.id === id)!.images;
    expect(big).toMatchObject({ mime: 'image/jpeg', width: 1600, height: 2400, thumb: { mime: 'image/jpeg', width: 427, height: THUMB_SIDE } });
    expect(big!.thumb!.size).toBeLessThan(big!.size);
    expect(little).toMatchObject({ mime: 'image/png', width: 64, height: 48 });
    expect(little!.thumb).toBeUndefined();

    ok(['image', id, join(root, 'thumb.jpg'), '--thumb'], 'bob');
    const thumb = readFileSync(join(root, 'thumb.jpg'));
    const meta = await sharp(thumb).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 427, height: THUMB_SIDE, size: big!.thumb!.size });
    expect(meta.orientation).toBeUndefined();
    expect(meta.exif).toBeUndefined();
    // Turned upright in its pixels: what was stored on top is on the right.
    const colour = async (left: number) => {
      const [r, g, b] = await sharp(thumb).extract({ left, top: 320, width: 1, height: 1 }).raw().toBuffer();
      return r! > 200 && g! < 60 && b! < 60 ? 'red' : r! < 60 && g! < 60 && b! > 200 ? 'blue' : `${r},${g},${b}`;
    };
    expect([await colour(20), await colour(400)]).toEqual(['blue', 'red']);
  });

  it('refuses what does not fit with a typed error, storing nothing', () => {
    const posts = feed('alice').length;
    const png = file('small.png', randomPng(8, 8));
    const cases: [string[], RegExp][] = [
      [Array.from({ length: 5 }, () => ['--image', png]).flat(), /at most 4 images.*\[invalid-argument\]/],
      [['--image', file('notes.txt', Buffer.from('not an image at all'))], /notes\.txt is not a PNG, JPEG, WebP or GIF image \[invalid-argument\]/],
      [['--image', file('huge.png', Buffer.concat([randomPng(8, 8), Buffer.alloc(8 * 1024 * 1024)]))], /over the 8\.0 MiB it may take \[too-large\]/],
      [['--image', png, '--alt', 'x'.repeat(1501)], /alt text is at most 1500 characters \[invalid-argument\]/],
      [['--alt', 'no image before it', '--image', png], /--alt describes the --image just before it/],
    ];
    for (const [args, want] of cases) {
      const r = fh(['post', 'Refused', ...args], 'alice');
      expect(r.code, r.err).not.toBe(0);
      expect(r.err).toMatch(want);
    }
    // A PNG whose header and chunks are in order but whose pixels do not inflate: refused in one line, as damaged.
    const head = Buffer.alloc(13);
    head.writeUInt32BE(1000, 0);
    head.writeUInt32BE(800, 4);
    head.set([8, 2, 0, 0, 0], 8);
    const signature = randomPng(1, 1).subarray(0, 8);
    const broken = Buffer.concat([signature, chunk('IHDR', head), chunk('IDAT', Buffer.alloc(4000, 0x5a)), chunk('IEND', Buffer.alloc(0))]);
    const r = fh(['post', 'Refused', '--image', png, '--image', file('broken.png', broken)], 'alice');
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/^freehold: \S+broken\.png does not decode as an image: .+ \[malformed\]$/);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(feed('alice').length).toBe(posts);
  });

  it('an avatar is a blob the profile names, and over quota it is refused like any entry', async () => {
    const small = await spawnServer(['--port', '0', '--data', join(root, 'small'), '--quota', '200KiB']);
    try {
      ok(['init', '--name', 'dave'], 'dave');
      ok(['provider', 'add', small.url], 'dave');
      // Scaled to the web app's square whatever its size, as a JPEG: a small one up, a photo of 1.2 MiB down.
      const profile = (path: string) => (JSON.parse(ok(['profile', '--name', 'Dave', '--avatar', path, '--json'], 'dave')) as { picture: ImageJson }).picture;
      const square = { blob: expect.any(String), mime: 'image/jpeg', width: AVATAR_SIDE, height: AVATAR_SIDE, size: expect.any(Number) };
      expect(profile(file('dave.png', randomPng(40, 40)))).toEqual(square);
      const big = randomPng(700, 600);
      expect(big.length).toBeGreaterThan(1024 * 1024);
      const shown = profile(file('big-avatar.png', big));
      expect(shown).toEqual(square);
      expect(shown.size).toBeLessThan(50_000);
      // The post says that the provider refused it and why, in one line, and stays on the device.
      const refused = fh(['post', 'Too big for my quota', '--image', file('big.png', randomPng(300, 300))], 'dave');
      expect(refused.code).toBe(1);
      const host = new URL(small.url).host.replace(/[.]/g, '\\.');
      const said = new RegExp(`^freehold: ${host} refused post (\\w+): over quota: .*; it is kept on this device and goes out once a provider accepts it .*\\[quota-exceeded\\]$`).exec(refused.err);
      expect(said, refused.err).not.toBeNull();
      expect(refused.err.split('\n')).toHaveLength(1);
      // The line names the post as other commands take it, so it can be deleted or looked at.
      const kept = feed('dave').find((p) => p.text === 'Too big for my quota')!;
      expect(kept.id.split('/')[1]).toBe(said![1]);
      ok(['image', said![1]!, join(root, 'kept.png')], 'dave');
      // With --json, the post's id and the refusal are in the JSON, and the command still fails.
      const json = fh(['post', 'Refused again', '--json', '--image', file('big3.png', randomPng(300, 300))], 'dave');
      expect(json.code).toBe(1);
      const answer = JSON.parse(json.out) as { id: string; error: { reason: string; message: string } };
      expect(answer).toEqual({
        id: feed('dave').find((p) => p.text === 'Refused again')!.id,
        error: { reason: 'quota-exceeded', message: expect.stringMatching(/refused post \w+: over quota/) },
      });
      expect(ok(['sync'], 'dave')).toMatch(/refused \d+ entr(y|ies): over quota: .* \[quota-exceeded\]/);
      // With a second provider that stores it, the refusal is a warning, in one line, naming both.
      const roomy = await spawnServer(['--port', '0', '--data', join(root, 'roomy')]);
      try {
        ok(['provider', 'add', roomy.url], 'dave');
        const warned = fh(['post', 'Half stored', '--image', file('big2.png', randomPng(300, 300))], 'dave');
        expect(warned.code, warned.err).toBe(0);
        expect(warned.err).toMatch(new RegExp(`^freehold: warning: ${host} refused post \\w+: over quota: .* \\[quota-exceeded\\]; ${new URL(roomy.url).host} stored it$`));
      } finally {
        await roomy.stop();
      }
      // Once the provider accepts it, it goes out with the next command.
      ok(['admin', 'quota', accountOf(ok, 'dave'), '10MiB', '--data', join(root, 'small')]);
      expect(ok(['sync'], 'dave')).not.toMatch(/refused/);
      const usage = JSON.parse(ok(['admin', 'usage', '--json', '--data', join(root, 'small')])) as { account: string; used: number }[];
      expect(usage.find((u) => u.account === accountOf(ok, 'dave'))!.used).toBeGreaterThan(300 * 300 * 3);
    } finally {
      await small.stop();
    }
  });

  it('the images reach every provider of the account, as ciphertext there too: a device recovered through the second alone reads them', async () => {
    const data2 = join(root, 'second');
    const second = await spawnServer(['--port', '0', '--data', data2]);
    try {
      ok(['provider', 'add', second.url], 'alice');
      await server.stop();
      ok(['recover', '--provider', second.url, '--phrase-file', phrase], 'alice-again');
      ok(['image', friends, join(root, 'again.png')], 'alice-again');
      expect(readFileSync(join(root, 'again.png')).equals(secret)).toBe(true);
      const held = storeBytes(data2);
      expect(held.includes(pattern(open))).toBe(true);
      for (const at of [1_000, 150_000, 262_144 + 1_000]) expect(held.includes(secret.subarray(at, at + 48))).toBe(false);
    } finally {
      await second.stop();
    }
  });
});
