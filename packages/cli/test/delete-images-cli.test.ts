import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, fromId, Kind } from '@freehold/core';
import { ProviderLink } from '@freehold/client';
import { spacesOf } from '@freehold/microblog';
import { spawnServer } from '../../server/test/process.js';
import { randomPng } from '../../../test-support/png.js';
import { Profile } from '../src/profile.js';
import { WS } from '../src/ws.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-delete-images-'));
const { ok, eventually } = cli(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const file = (name: string, bytes: Uint8Array) => {
  const path = join(root, name);
  writeFileSync(path, bytes);
  return path;
};
/** Blob chunks a provider's store holds (every image of this test is Alice's). */
function chunksAtProvider(data: string): number {
  const db = new Database(join(data, 'provider.db'), { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) FROM entries WHERE kind = ?').pluck().get(Kind.blob) as number;
  } finally {
    db.close();
  }
}
/** Blob chunks of Alice's public space in a profile's replica (opened here: no command runs on it meanwhile). */
async function chunksIn(home: string, account: string): Promise<number> {
  const p = await Profile.open(join(root, home));
  try {
    return (await p.device.store.spaceEntries(spacesOf(fromId(account, 'account')).public, Kind.blob)).length;
  } finally {
    await p.close();
  }
}
/**
 * The profile's device hands the provider every blob chunk of Alice's public space it holds, over a session of its
 * own, as a replica that never heard of the prunes would: answers the reasons of the refusals.
 */
async function offerChunks(home: string, account: string, url: string): Promise<string[]> {
  const p = await Profile.open(join(root, home));
  const link = await ProviderLink.connect(url, p.device, WS);
  try {
    const rows = await p.device.store.spaceEntries(spacesOf(fromId(account, 'account')).public, Kind.blob);
    link.send(encodeFrame(['entries', rows.map((r) => r.bytes)]));
    const ack = decodeFrame(await link.next());
    return ack[0] === 'ack' ? ack[2].map((r) => r[1]) : [];
  } finally {
    link.close();
    await p.close();
  }
}

describe('deleting a post from the CLI takes its images out of the provider and every replica', () => {
  it('only the blobs no live post or the profile names go, the quota goes down, and no replica brings them back', async () => {
    const data = join(root, 'srv');
    const server = await spawnServer(['--port', '0', '--data', data]);
    try {
      const host = new URL(server.url).host;
      const phrase = join(root, 'alice.phrase');
      for (const who of ['alice', 'bob']) {
        ok(['init', '--name', who, ...(who === 'alice' ? ['--phrase-file', phrase] : [])], who);
        ok(['provider', 'add', server.url], who);
        ok(['handle', 'claim', who], who);
        ok(['profile', '--name', who], who);
      }
      const alice = accountOf(ok, 'alice');
      const used = () => (JSON.parse(ok(['admin', 'usage', '--json', '--data', data])) as { account: string; used: number }[]).find((u) => u.account === alice)!.used;
      const [twice, once, avatar] = [randomPng(300, 300), randomPng(200, 200), randomPng(100, 100)];
      ok(['profile', '--avatar', file('avatar.png', avatar)], 'alice');
      const ofAvatar = chunksAtProvider(data);
      const withoutPosts = used();
      const first = ok(['post', 'Posted twice', '--image', file('twice.png', twice)], 'alice');
      const ofTwice = chunksAtProvider(data) - ofAvatar;
      expect(ofTwice).toBeGreaterThan(1);
      // The same bytes are one blob: posting them again stores nothing new.
      const second = ok(['post', 'Posted twice, again', '--image', file('twice.png', twice)], 'alice');
      expect(chunksAtProvider(data)).toBe(ofAvatar + ofTwice);
      const beforeThird = used();
      const third = ok(['post', 'Once, beside the avatar', '--image', file('once.png', once), '--image', file('avatar.png', avatar)], 'alice');
      const all = chunksAtProvider(data);
      expect(all).toBeGreaterThan(ofAvatar + ofTwice);

      // A second device of Alice and a follower, Bob, hold every image before any post is deleted.
      ok(['recover', '--provider', server.url, '--phrase-file', phrase], 'laptop');
      ok(['follow', `alice@${host}`], 'bob');
      await eventually(['feed'], 'bob', /Once, beside the avatar/);
      for (const home of ['laptop', 'bob']) expect(await chunksIn(home, alice)).toBe(all);

      // What stays charged of a deleted post is its document, its tombstone and its prunes: a few KiB at most.
      const left = 8 * 1024;
      ok(['delete', third], 'alice');
      // Its own image went; the avatar it also showed stays, as the profile names it.
      expect(chunksAtProvider(data)).toBe(ofAvatar + ofTwice);
      expect(used() - beforeThird).toBeLessThan(left);
      // An image another live post shows stays too, until that post goes.
      ok(['delete', first], 'alice');
      expect(chunksAtProvider(data)).toBe(ofAvatar + ofTwice);
      ok(['delete', second], 'alice');
      expect(chunksAtProvider(data)).toBe(ofAvatar);
      const after = used();
      expect(after - withoutPosts).toBeLessThan(3 * left);

      // The laptop and Bob still hold the chunks. Handed back to the provider, the pruned ones are refused; as the
      // two sync, they take the prunes and drop them, and the provider stays as it was.
      for (const home of ['laptop', 'bob']) {
        expect(await chunksIn(home, alice)).toBe(all);
        expect(await offerChunks(home, alice, server.url)).toEqual(Array(all - ofAvatar).fill('pruned'));
      }
      expect(chunksAtProvider(data)).toBe(ofAvatar);
      ok(['sync'], 'laptop');
      ok(['feed'], 'bob');
      for (const home of ['laptop', 'bob']) expect(await chunksIn(home, alice)).toBe(ofAvatar);
      ok(['sync'], 'laptop');
      ok(['sync'], 'bob');
      expect(chunksAtProvider(data)).toBe(ofAvatar);
      expect(used()).toBe(after);
    } finally {
      await server.stop();
    }
  }, 240_000);
});
