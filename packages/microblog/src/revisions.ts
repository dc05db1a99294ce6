import { listDocs, openDoc, reject } from '@freehold/core';
import type { Microblog } from './microblog.js';
import { POST_PREFIX, refToString } from './refs.js';
import { unrepost } from './reactions.js';
import { blobsOf, dropUnnamedImages } from './images.js';
import { parse, Post, readPost, type PostRef } from './schema.js';
import { mentionsIn } from './text.js';

/** One of this account's own posts, open for a change; someone else's, a deleted or an unknown one is refused. */
async function ownPost(mb: Microblog, ref: PostRef): Promise<{ doc: Awaited<ReturnType<typeof openDoc>>; post: Post }> {
  if (ref.account !== mb.me) reject('invalid-argument', `${refToString(ref)} is not your post: only its author can change it`);
  const name = `${POST_PREFIX}${ref.post}`;
  const space = mb.postSpace(ref);
  const doc = (await listDocs(mb.device, space)).includes(name) ? await openDoc(mb.device, space, name) : undefined;
  const r = doc && readPost(doc.toJSON());
  if (!doc || !r) return reject('not-found', `no post ${refToString(ref)} in this replica`);
  if (!('post' in r)) return reject('not-found', `${refToString(ref)} was deleted`);
  return { doc, post: r.post };
}

/** Replaces a post's text with a new revision, marked as edited (likes and replies stay). */
export async function editPost(mb: Microblog, ref: PostRef, text: string): Promise<Post> {
  const { doc, post } = await ownPost(mb, ref);
  if (post.repostOf) reject('invalid-argument', 'a repost has no text of its own to edit');
  const next = parse(Post, { ...post, text, mentions: mentionsIn(text), editedAt: Date.now() }, 'post');
  doc.merge({ text: next.text, mentions: next.mentions, editedAt: next.editedAt });
  await doc.flush();
  return next;
}

/**
 * Deletes a post: every field but its creation time goes, and the time it was deleted stays (see DeletedPost). Its
 * images go too, unless another live post or the profile names them; `keepImages` leaves that to the caller
 * (closing an account drops every image once, rather than looking through the posts left after each one).
 */
export async function deletePost(mb: Microblog, ref: PostRef, opts: { keepImages?: boolean } = {}): Promise<void> {
  const { doc, post } = await ownPost(mb, ref);
  // A repost goes as an unrepost, so its author's count follows.
  if (post.repostOf) return unrepost(mb, post.repostOf);
  const gone = Object.fromEntries(Object.keys(doc.toJSON()).map((k) => [k, null]));
  doc.merge({ ...gone, schema: 'microblog.post@1', createdAt: post.createdAt, deletedAt: Date.now() });
  await doc.flush();
  if (!opts.keepImages) await dropUnnamedImages(mb, ref.audience, blobsOf(post));
}
