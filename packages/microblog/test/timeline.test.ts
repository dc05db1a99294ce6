import { describe, expect, it } from 'vitest';
import { createAccount, Device, encodeCard, openDoc, type Store } from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { Microblog, spacesOf } from '../src/index.js';

async function person(name: string): Promise<Microblog> {
  const store: Store = new MemoryStore();
  const acct = createAccount(name, Date.now());
  await store.putCard(acct.state.account, encodeCard(acct.state));
  const mb = new Microblog(await Device.open(store, acct.device, acct.state.account), { resolve: () => Promise.reject(new Error('offline')), fetch: async () => {} });
  await mb.ensure();
  return mb;
}

/** What sync does: what the reader lacks of the author's public space lands in its replica. */
async function copy(reader: Microblog, author: Microblog): Promise<void> {
  const all = await author.device.store.spaceEntries(spacesOf(author.device.account).public);
  const held = await reader.device.store.getEntries(all.map((r) => r.id));
  for (const r of await reader.device.replica.ingest(all.filter((_, i) => !held[i]).map((row) => row.bytes))) expect(r).toMatchObject({ ok: true });
}

describe('the timeline read again', () => {
  it('shows an edit that arrives later with an older time, though the post was read before', async () => {
    const [alice, bob] = [await person('alice'), await person('bob')];
    await bob.device.replica.addCard(encodeCard(alice.device.identity()));
    const following = await openDoc(bob.device, bob.spaces.public, 'following');
    following.merge({ [alice.me]: { schema: 'microblog.follow@1', account: alice.me, since: Date.now() } });
    await following.flush();
    const ref = await alice.post('first words');
    await copy(bob, alice);
    expect((await bob.timeline()).map((i) => i.post.text)).toEqual(['first words']);
    // Written on a device whose clock is behind: the edit's entry is older than the post's newest one so far,
    // so the newest entry of the document Bob reads is the same as before; what changed is what his replica took.
    alice.device.replica.now = () => Date.now() - 3_600_000;
    await alice.editPost(ref, 'second words');
    await copy(bob, alice);
    expect((await bob.timeline()).map((i) => i.post.text)).toEqual(['second words']);
  });
});
