import { definedOnly, openDoc, randomBytes, reject, toId } from '@freehold/core';
import type { Microblog } from './microblog.js';
import { POST_PREFIX, refToString } from './refs.js';
import { parse, Post, readPost, Repost, type Message, type PostRef } from './schema.js';

/**
 * Likes, reposts and replies as their targets' authors keep them: others announce them in the author's inbox,
 * and the author's devices fold them into the post document (`likedBy`/`likes`, `repostedBy`/`reposts`,
 * `replies`), so every reader sees the counts without asking everyone.
 */
const COUNTS = { like: ['likedBy', 'likes'], repost: ['repostedBy', 'reposts'] } as const;

/** Sets whether `from` likes (or reposts) one of this account's posts, as of `at`, keeping the count with it. */
export async function recordReaction(mb: Microblog, kind: 'like' | 'repost', ref: PostRef, from: string, at: number, on: boolean): Promise<void> {
  const [byField, countField] = COUNTS[kind];
  const doc = await openDoc(mb.device, mb.postSpace(ref), `${POST_PREFIX}${ref.post}`);
  const by = { ...((doc.doc.getMap('root').get(byField) as Record<string, number> | undefined) ?? {}) };
  const current = readPost(doc.toJSON());
  if ((by[from] !== undefined) === on || !current || !('post' in current)) return;
  if (on) by[from] = at;
  else delete by[from];
  doc.merge({ [byField]: by, [countField]: Object.keys(by).length });
  await doc.flush();
}

export async function recordReply(mb: Microblog, ref: PostRef, reply: PostRef): Promise<void> {
  const doc = await openDoc(mb.device, mb.postSpace(ref), `${POST_PREFIX}${ref.post}`);
  const replies = (doc.doc.getMap('root').get('replies') as PostRef[] | undefined) ?? [];
  const current = readPost(doc.toJSON());
  if (replies.some((r) => r.post === reply.post) || !current || !('post' in current)) return;
  doc.merge({ replies: [...replies, reply] });
  await doc.flush();
}

type Reaction = Extract<Message, { type: 'like' | 'unlike' | 'repost' | 'unrepost' }>;

/**
 * Folds the inbox into this account's posts: per sender, post and kind, the newest of a like and an unlike (a
 * repost and an unrepost) decides, so a message read twice or late changes nothing. Idempotent; run after each sync.
 */
export async function absorbInbox(mb: Microblog): Promise<void> {
  const latest = new Map<string, Reaction>();
  // The inbox lists newest first.
  for (const { message: m } of await mb.inbox()) {
    if (m.type === 'reply' && m.post.account === mb.me) await recordReply(mb, m.post, m.reply);
    if (!(m.type === 'like' || m.type === 'unlike' || m.type === 'repost' || m.type === 'unrepost') || m.post.account !== mb.me) continue;
    const key = `${m.type.replace(/^un/, '')} ${m.from} ${refToString(m.post)}`;
    if (!latest.has(key)) latest.set(key, m);
  }
  for (const m of latest.values()) {
    const kind = m.type === 'like' || m.type === 'unlike' ? 'like' : 'repost';
    await recordReaction(mb, kind, m.post, m.from, m.at, !m.type.startsWith('un'));
  }
}

/** This account's reposts, by the reference of the post each passes on. */
export async function repostsOf(mb: Microblog): Promise<Map<string, Repost>> {
  const raw = (await mb.read(mb.spaces.public, 'reposts')) ?? {};
  const out = new Map<string, Repost>();
  for (const [k, v] of Object.entries(raw)) {
    const r = Repost.safeParse(v);
    if (r.success) out.set(k, r.data);
  }
  return out;
}

/** Passes a public post on to this account's followers, once; its author is told, for the count. */
export async function repost(mb: Microblog, ref: PostRef): Promise<PostRef> {
  if (ref.audience !== 'public') reject('invalid-argument', 'only public posts can be reposted: a friends-only post is for its author’s friends');
  const done = (await repostsOf(mb)).get(refToString(ref));
  if (done) return done.repost;
  const createdAt = Date.now();
  const id = toId(randomBytes(16)).slice(0, 22);
  const post = parse(Post, { schema: 'microblog.post@1', text: '', createdAt, audience: 'public', repostOf: ref }, 'repost');
  const own: PostRef = { account: mb.me, post: id, audience: 'public' };
  // As for likes, the author is told before the repost is kept as done.
  if (ref.account === mb.me) await recordReaction(mb, 'repost', ref, mb.me, createdAt, true);
  else await mb.notify({ type: 'repost', post: ref, at: createdAt }, { type: 'repost', post: ref, repost: own });
  await mb.edit(mb.spaces.public, `${POST_PREFIX}${id}`, definedOnly(post));
  await mb.edit(mb.spaces.public, 'reposts', { [refToString(ref)]: parse(Repost, { schema: 'microblog.repost@1', post: ref, repost: own, createdAt }, 'repost') });
  return own;
}

/** Takes a repost back: the repost is deleted (a tombstone, as any post) and the author is told. */
export async function unrepost(mb: Microblog, ref: PostRef): Promise<void> {
  const done = (await repostsOf(mb)).get(refToString(ref));
  if (!done) return reject('not-found', `you have not reposted ${refToString(ref)}`);
  const at = Date.now();
  const doc = await openDoc(mb.device, mb.spaces.public, `${POST_PREFIX}${done.repost.post}`);
  const gone = Object.fromEntries(Object.keys(doc.toJSON()).map((k) => [k, null]));
  doc.merge({ ...gone, schema: 'microblog.post@1', createdAt: done.createdAt, deletedAt: at });
  await doc.flush();
  await mb.edit(mb.spaces.public, 'reposts', { [refToString(ref)]: null });
  if (ref.account === mb.me) await recordReaction(mb, 'repost', ref, mb.me, at, false);
  else await mb.notify({ type: 'unrepost', post: ref, at }, { type: 'unrepost', post: ref });
}
