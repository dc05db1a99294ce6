import { expect } from 'vitest';
import { createAccount, Device, encodeCard, openDoc, type Store } from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { Microblog, spacesOf } from '../src/index.js';

export async function person(name: string): Promise<Microblog> {
  const store: Store = new MemoryStore();
  const acct = createAccount(name, Date.now());
  await store.putCard(acct.state.account, encodeCard(acct.state));
  const mb = new Microblog(await Device.open(store, acct.device, acct.state.account), { resolve: () => Promise.reject(new Error('offline')), fetch: async () => {} });
  await mb.ensure();
  return mb;
}

/** What sync would do: the author's public space and card land in the reader's replica, and the reader follows. */
export async function follow(reader: Microblog, author: Microblog): Promise<void> {
  await reader.device.replica.addCard(encodeCard(author.device.identity()));
  await copy(reader, author);
  const following = await openDoc(reader.device, reader.spaces.public, 'following');
  following.merge({ [author.me]: { schema: 'microblog.follow@1', account: author.me, since: Date.now() } });
  await following.flush();
}

/** What sync does: what the reader lacks of the author's public space lands in its replica. */
export async function copy(reader: Microblog, author: Microblog): Promise<void> {
  const all = await author.device.store.spaceEntries(spacesOf(author.device.account).public);
  const held = await reader.device.store.getEntries(all.map((r) => r.id));
  const rows = all.filter((_, i) => !held[i]);
  for (const r of await reader.device.replica.ingest(rows.map((row) => row.bytes))) expect(r).toMatchObject({ ok: true });
}
