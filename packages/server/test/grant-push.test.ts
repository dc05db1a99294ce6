import { afterAll, describe, expect, it } from 'vitest';
import { encodeCard, toHex } from '@freehold/core';
import { ProviderLink } from '@freehold/client';
import { join_, newDevice, put, startServer, syncWith, tempDir, until, WS } from './helpers.js';

const tmp = tempDir('grant-push');
afterAll(() => tmp.cleanup());

describe('a grant reaches the providers that mirror a space for the grantee', () => {
  it('a provider refused a private space it mirrors gets it once the owner lets one of its accounts in, without reconnecting', async () => {
    const p1 = await startServer({ data: tempDir('grant-p1').dir });
    const p3 = await startServer({ data: tempDir('grant-p3').dir });
    try {
      const alice = await newDevice(tmp.dir, 'alice');
      const bob = await newDevice(tmp.dir, 'bob');
      await join_(alice, p1.url);
      await join_(bob, p3.url);
      const friends = await alice.createSpace(false);
      await put(alice, friends, 'post', { text: 'for friends' });
      await syncWith(alice, p1.url);
      // Bob's provider mirrors Alice's private space for him; nothing of it is shown to it yet.
      await bob.replica.addCard(encodeCard(alice.identity()));
      const link = await ProviderLink.connect(p3.url, bob, WS);
      await link.mirror(bob, [{ space: friends, owner: alice.account }]);
      link.close();
      await until(() => p1.provider.peering.status().length === 0 && p3.provider.peering.status().some((l) => l.url === p1.url && l.state === 'up'), 10_000);
      expect(await p3.provider.store.keys(friends)).toEqual([]);
      // Alice lets Bob in: P1 sends the space to P3 over the session P3's link already has open.
      await alice.replica.addCard(encodeCard(bob.identity()));
      await alice.setRole(friends, bob.account, 'reader');
      await syncWith(alice, p1.url);
      const held = (await alice.store.keys(friends)).map((k) => toHex(k.id)).sort();
      await until(async () => (await p3.provider.store.keys(friends)).length === held.length, 10_000);
      expect((await p3.provider.store.keys(friends)).map((k) => toHex(k.id)).sort()).toEqual(held);
      // And what Alice writes there from now on is pushed live.
      await put(alice, friends, 'post', { text: 'more' });
      await syncWith(alice, p1.url);
      await until(async () => (await p3.provider.store.keys(friends)).length === held.length + 1, 10_000);
    } finally {
      await p1.close();
      await p3.close();
    }
  });
});
