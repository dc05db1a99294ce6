import { decode, storedEntry, FreeholdError, Kind, toHex, toId } from '@freehold/core';
import type { Microblog } from './microblog.js';
import { Message } from './schema.js';

export interface InboxItem {
  id: string;
  message: Message;
}

const held = async (mb: Microblog): Promise<boolean> => (await mb.device.replica.graph(mb.spaces.inbox)).created;

/**
 * Messages in this account's inbox, newest first. A message claiming a sender other than its signer is dropped,
 * and so is every message of an account this one blocked (so nothing folds its likes or replies in either).
 */
export async function readInbox(mb: Microblog): Promise<InboxItem[]> {
  if (!(await held(mb))) return [];
  const blocked = await mb.moderation.blocked();
  const out: InboxItem[] = [];
  for (const row of await mb.device.store.spaceEntries(mb.spaces.inbox, Kind.append)) {
    try {
      const e = storedEntry(row);
      const m = Message.safeParse(decode(await mb.device.decrypt(e), 'message'));
      const signer = mb.device.replica.authorOf(e.device);
      if (m.success && signer && toId(signer.account.account) === m.data.from && !blocked.has(m.data.from)) out.push({ id: toHex(e.id), message: m.data });
    } catch (err) {
      if (!(err instanceof FreeholdError)) throw err;
    }
  }
  return out.sort((a, b) => b.message.at - a.message.at);
}

/**
 * Deletes from this replica what others left in this account's inbox up to `before` (what it absorbed into
 * posts, like counts and replies, stays); the providers purge their copies on request. Returns how many went.
 */
export async function purgeInbox(mb: Microblog, before: number): Promise<number> {
  if (!(await held(mb))) return 0;
  const drop: Uint8Array[] = [];
  for (const row of await mb.device.store.spaceEntries(mb.spaces.inbox, Kind.append)) {
    const signer = mb.device.replica.authorOf(row.device);
    if (row.time <= before && (!signer || toId(signer.account.account) !== mb.me)) drop.push(row.id);
  }
  if (drop.length) await mb.device.store.deleteEntries(drop);
  return drop.length;
}
