import { fromId, Kind, openDocById, toHex, type Device } from '@freehold/core';
import { POST_PREFIX, spacesOf } from './refs.js';
import { Post, type PostRef } from './schema.js';

export interface TimelineItem {
  ref: PostRef;
  author: string;
  post: Post;
}

/**
 * The newest `limit` posts of these accounts that this device holds and may read, newest first. Walks the
 * replica's time index backwards and opens only the documents it needs, so the cost follows `limit`, not the
 * number of posts held.
 */
export async function newestPosts(device: Device, accounts: string[], limit: number): Promise<TimelineItem[]> {
  const held = new Set((await device.store.spaces()).map(toHex));
  const candidates = accounts.flatMap((account) => {
    const s = spacesOf(fromId(account, 'account'));
    return [
      { space: s.public, account, audience: 'public' as const },
      { space: s.friends, account, audience: 'friends' as const },
    ].filter((c) => held.has(toHex(c.space)));
  });
  const readable = await Promise.all(candidates.map((c) => device.canRead(c.space)));
  const spaces = candidates.filter((_, i) => readable[i]);
  const bySpace = new Map(spaces.map((s) => [toHex(s.space), s]));
  const seen = new Set<string>();
  const items: TimelineItem[] = [];
  let before = Number.MAX_SAFE_INTEGER;
  while (items.length < limit) {
    const rows = await device.store.recentEntries(
      spaces.map((s) => s.space),
      limit,
      before,
    );
    // The newest entry of each document, newest first: documents open together, their reads pipelined.
    const fresh = rows.filter((r) => {
      const key = `${toHex(r.space)}/${toHex(r.doc)}`;
      if ((r.kind !== Kind.update && r.kind !== Kind.snapshot) || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const docs = await Promise.all(fresh.map((r) => openDocById(device, r.space, r.doc)));
    for (const [i, doc] of docs.entries()) {
      if (!doc?.name.startsWith(POST_PREFIX)) continue;
      const post = Post.safeParse(doc.toJSON());
      const where = bySpace.get(toHex(fresh[i]!.space))!;
      if (post.success) items.push({ ref: { account: where.account, post: doc.name.slice(POST_PREFIX.length), audience: where.audience }, author: where.account, post: post.data });
    }
    if (rows.length < limit) break;
    // Entries sharing the last time are read again next round (and skipped), so none is missed; the bound
    // still moves back every round.
    const last = rows[rows.length - 1]!.time;
    before = last + 1 < before ? last + 1 : last;
  }
  return items.sort((a, b) => b.post.createdAt - a.post.createdAt).slice(0, limit);
}
