import { fromId } from '@freehold/core';
import { isLive, refToString, type FeedItem, type Microblog, type TimelineItem } from '@freehold/microblog';
import type { Context } from './command.js';

/** Handles of these accounts, as this replica knows them: what other commands take, as whole ids are. */
export async function namesOf(mb: Microblog, accounts: Iterable<string>): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const a of new Set(accounts)) {
    out.set(a, (await mb.profile(a))?.handle ?? mb.device.replica.contact(fromId(a, 'account'))?.handles[0]);
  }
  return out;
}

/** Posts as the CLI shows them: with the posts their reposts and quotes show, and their authors' handles. */
export interface PostsView {
  items: FeedItem[];
  shown: Map<string, TimelineItem>;
  handles: Map<string, string | undefined>;
}

export async function postsView(mb: Microblog, items: FeedItem[]): Promise<PostsView> {
  // The posts reposts and quotes show, where this replica holds them.
  const shown = new Map<string, TimelineItem>();
  for (const i of items.filter(isLive)) {
    for (const r of [i.post.repostOf, i.post.quoteOf]) {
      const held = r && (await mb.getPost(r));
      if (held) shown.set(refToString(r), held);
    }
  }
  return { items, shown, handles: await namesOf(mb, [...items, ...shown.values()].map((i) => i.author)) };
}

/** A feed item as `feed --json` carries it: a post (with when it was last edited), or a deleted post's tombstone. */
export function itemJson(i: FeedItem, handles: Map<string, string | undefined>) {
  const head = { id: refToString(i.ref), author: i.author, handle: handles.get(i.author) ?? null };
  if (!isLive(i)) return { ...head, deleted: true, createdAt: new Date(i.createdAt).toISOString(), deletedAt: new Date(i.deletedAt).toISOString() };
  return {
    ...head,
    text: i.post.text,
    createdAt: new Date(i.post.createdAt).toISOString(),
    editedAt: i.post.editedAt === undefined ? null : new Date(i.post.editedAt).toISOString(),
    audience: i.post.audience,
    likes: i.post.likes,
    reposts: i.post.reposts,
    replies: i.post.replies.map(refToString),
    replyTo: i.post.replyTo ? refToString(i.post.replyTo) : null,
    repostOf: i.post.repostOf ? refToString(i.post.repostOf) : null,
    quoteOf: i.post.quoteOf ? refToString(i.post.quoteOf) : null,
    // By blob id: `freehold image POST FILE --index N` saves one.
    images: i.post.images,
  };
}

/** Each live post: who, when, what it did, its text, what it passes on or quotes, and its reference. */
export function printPosts(ctx: Context, { items, shown, handles }: PostsView): void {
  for (const i of items.filter(isLive)) {
    const who = handles.get(i.author) ?? i.author;
    const edited = i.post.editedAt === undefined ? '' : ' · edited';
    const counts = `${i.post.likes ? ` · ${i.post.likes} ♥` : ''}${i.post.reposts ? ` · ${i.post.reposts} ↻` : ''}`;
    ctx.out(`${who}${i.post.repostOf ? ' reposted' : ''}${i.post.audience === 'friends' ? ' (friends)' : ''} · ${new Date(i.post.createdAt).toLocaleString('en')}${edited}${counts}`);
    if (i.post.text) ctx.out(`  ${i.post.text}`);
    for (const image of i.post.images) ctx.out(`  [image ${image.width}×${image.height}${image.alt ? `: ${image.alt}` : ''}]`);
    const other = i.post.repostOf ?? i.post.quoteOf;
    if (other) {
      const held = shown.get(refToString(other));
      ctx.out(held ? `  > ${handles.get(held.author) ?? held.author}: ${held.post.text}` : `  > ${refToString(other)} (not in your replica)`);
    }
    ctx.out(`  ${refToString(i.ref)}`);
  }
}
