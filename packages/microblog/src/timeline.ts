import { fromId, Kind, openDocById, toHex, type Device } from '@freehold/core';
import { POST_PREFIX, spacesOf } from './refs.js';
import { readPost, type Post, type PostRef } from './schema.js';

export interface TimelineItem {
  ref: PostRef;
  author: string;
  post: Post;
}

/** Where a post was before its author deleted it, for clients that drop their copies (see DeletedPost). */
export interface DeletedItem {
  ref: PostRef;
  author: string;
  createdAt: number;
  deletedAt: number;
}

export type FeedItem = TimelineItem | DeletedItem;

export const isLive = (i: FeedItem): i is TimelineItem => 'post' in i;
const createdAt = (i: FeedItem): number => (isLive(i) ? i.post.createdAt : i.createdAt);

/** A post document read as a feed item: the post, its tombstone, or undefined when it is neither. */
export function feedItem(ref: PostRef, raw: unknown): FeedItem | undefined {
  const r = readPost(raw);
  if (!r) return undefined;
  return 'post' in r ? { ref, author: ref.account, post: r.post } : { ref, author: ref.account, createdAt: r.deleted.createdAt, deletedAt: r.deleted.deletedAt };
}

/** Post documents kept as read, so a timeline read again (after a post, a like, a live entry) opens only what changed. */
export class PostCache {
  private readonly docs = new Map<string, { version: number; head: string; item: FeedItem | undefined }>();

  constructor(private readonly max = 2000) {}

  /**
   * What a document held when read, if its space took nothing since (the replica's space version) and its newest
   * entry is the same; `null` when it was not a post.
   */
  get(key: string, version: number, head: string): FeedItem | null | undefined {
    const hit = this.docs.get(key);
    if (!hit || hit.version !== version || hit.head !== head) return undefined;
    return hit.item ?? null;
  }

  set(key: string, version: number, head: string, item: FeedItem | undefined): void {
    this.docs.delete(key);
    this.docs.set(key, { version, head, item });
    // Oldest written first out: a timeline reads the newest posts, which were written last.
    if (this.docs.size > this.max) this.docs.delete(this.docs.keys().next().value!);
  }
}

/**
 * The newest `limit` posts of these accounts that this device holds and may read, newest first, with the
 * tombstones of deleted ones among them. Walks the replica's time index backwards and opens only the documents
 * it needs, so the cost follows `limit`, not the number of posts held.
 */
export async function newestPosts(device: Device, accounts: string[], limit: number, cache = new PostCache()): Promise<FeedItem[]> {
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
  const items: FeedItem[] = [];
  let before = Number.MAX_SAFE_INTEGER;
  while (items.length < limit) {
    // Documents only: the images among a space's newest entries are not read.
    const rows = await device.store.recentEntries(
      spaces.map((s) => s.space),
      limit,
      before,
      [Kind.update, Kind.snapshot],
    );
    // The newest entry of each document, newest first: documents open together, their reads pipelined.
    const fresh = rows.filter((r) => {
      const key = `${toHex(r.space)}/${toHex(r.doc)}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const read = await Promise.all(
      fresh.map(async (r) => {
        const key = `${toHex(r.space)}/${toHex(r.doc)}`;
        const [version, head] = [device.replica.spaceVersion(r.space), toHex(r.id)];
        const kept = cache.get(key, version, head);
        if (kept !== undefined) return kept ?? undefined;
        const doc = await openDocById(device, r.space, r.doc);
        const where = bySpace.get(toHex(r.space))!;
        const item = doc?.name.startsWith(POST_PREFIX) ? feedItem({ account: where.account, post: doc.name.slice(POST_PREFIX.length), audience: where.audience }, doc.toJSON()) : undefined;
        // A document that cannot be opened yet (its key not here) is asked again next time.
        if (doc) cache.set(key, version, head, item);
        return item;
      }),
    );
    for (const item of read) if (item) items.push(item);
    if (rows.length < limit) break;
    // Entries sharing the last time are read again next round (and skipped), so none is missed; the bound
    // still moves back every round.
    const last = rows[rows.length - 1]!.time;
    before = last + 1 < before ? last + 1 : last;
  }
  return items.sort((a, b) => createdAt(b) - createdAt(a)).slice(0, limit);
}
