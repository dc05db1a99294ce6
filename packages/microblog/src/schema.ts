import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { reject } from '@freehold/core';

/**
 * The open schemas of the microblog. Every document carries its schema name, so any app can tell what it holds
 * and refuse what it does not understand; the web app and the CLI use these and nothing else.
 */
// zod's smaller build, whose parts a bundle keeps only if used (the web app's first screen checks documents with
// these); its default messages are English, as the full build's are.
z.config(en());

const accountId = z.string().check(z.regex(/^[1-9A-HJ-NP-Za-km-z]{40,50}$/, 'an account id'));
const postId = z.string().check(z.regex(/^[1-9A-HJ-NP-Za-km-z]{10,30}$/, 'a post id'));
const handle = z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,31}@[a-z0-9.:[\]-]+$/i, 'a handle like name@host'));
const nonNegativeInt = z.int().check(z.nonnegative());

export const PostRef = z.object({ account: accountId, post: postId, audience: z._default(z.enum(['public', 'friends']), 'public') });
export type PostRef = z.infer<typeof PostRef>;

/** Images: what a post or profile may carry, bounded before anything is stored. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];
export const MAX_IMAGE = 8 * 1024 * 1024;
export const MAX_IMAGES = 4;
export const MAX_ALT = 1500;
/** An avatar shows beside every post of its account: clients scale it to AVATAR_SIDE, far below this. */
export const MAX_AVATAR = 1024 * 1024;
/**
 * What clients make of a picked image, one definition for the web app and the CLI: a thumbnail no longer than this
 * on its longest side (what a timeline shows, about a tenth of the bytes of a photo; none for an image that small
 * already), an avatar scaled to a square of this side, both as JPEG of this quality (0 to 1, as a canvas takes it).
 */
export const THUMB_SIDE = 640;
export const AVATAR_SIDE = 160;
export const JPEG_QUALITY = 0.82;

/** A stored image: a blob of the space of the document naming it (see @freehold/core blob.ts). */
export const Picture = z.object({
  blob: z.string().check(z.regex(/^[1-9A-HJ-NP-Za-km-z]{40,50}$/, 'a blob id')),
  mime: z.enum(IMAGE_TYPES),
  width: z.int().check(z.minimum(1), z.maximum(65_535)),
  height: z.int().check(z.minimum(1), z.maximum(65_535)),
  size: z.int().check(z.minimum(1), z.maximum(MAX_IMAGE)),
});
export type Picture = z.infer<typeof Picture>;

/** An image of a post: what it shows in words, and a smaller copy made by the device that posted it. */
export const ImageRef = z.extend(Picture, { alt: z._default(z.string().check(z.maxLength(MAX_ALT)), ''), thumb: z.optional(Picture) });
export type ImageRef = z.infer<typeof ImageRef>;

export const Profile = z.object({
  schema: z.literal('microblog.profile@1'),
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(80)),
  bio: z._default(z.string().check(z.maxLength(500)), ''),
  handle: z.optional(handle),
  /** The avatar, a blob of the public space: editing the profile no longer rewrites the image. */
  picture: z.optional(Picture),
  /** Profiles written before blobs carried the image inline; still read, never written. */
  avatar: z.optional(
    z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'avatar must be image bytes').check(z.refine((b) => b.length <= 256 * 1024, 'avatar over 256 KiB')),
  ),
  avatarType: z.optional(z.enum(['image/png', 'image/jpeg', 'image/webp'])),
  /** Set as the account is deleted: what contacts' replicas keep of it says so, and nothing else. */
  deletedAt: z.optional(nonNegativeInt),
});
export type Profile = z.infer<typeof Profile>;

export const Post = z
  .object({
    schema: z.literal('microblog.post@1'),
    /** Empty only in a repost, which shows the post it passes on. */
    text: z.string().check(z.trim(), z.maxLength(5000, 'a post is at most 5000 characters')),
    createdAt: nonNegativeInt,
    audience: z.enum(['public', 'friends']),
    replyTo: z.optional(PostRef),
    images: z._default(z.array(ImageRef).check(z.maxLength(MAX_IMAGES, `a post carries at most ${MAX_IMAGES} images`)), []),
    mentions: z._default(z.array(handle).check(z.maxLength(50)), []),
    /** Kept by the author from inbox notifications, so every reader sees them without asking everyone. */
    likes: z._default(nonNegativeInt, 0),
    likedBy: z._default(z.record(accountId, z.number()), {}),
    replies: z._default(z.array(PostRef).check(z.maxLength(10_000)), []),
    /** Set when the author changed the text; the document holds the newest revision. */
    editedAt: z.optional(nonNegativeInt),
    /** A repost passes this public post on to the reposter's followers, as it is. */
    repostOf: z.optional(PostRef),
    /** A quote post shows this post under its own text. */
    quoteOf: z.optional(PostRef),
    /** Kept by the author from inbox notifications, as likes are. */
    reposts: z._default(nonNegativeInt, 0),
    repostedBy: z._default(z.record(accountId, z.number()), {}),
  })
  .check(
    z.superRefine((p, ctx) => {
      if (!p.text && !p.repostOf && !p.images.length) ctx.addIssue({ code: 'custom', path: ['text'], message: 'a post needs some text' });
      if (p.repostOf && (p.text || p.quoteOf || p.replyTo || p.images.length)) ctx.addIssue({ code: 'custom', path: ['repostOf'], message: 'a repost carries nothing of its own' });
    }),
  );
export type Post = z.infer<typeof Post>;

/**
 * A post its author deleted: the document keeps only when it was written and when it went (its text and mentions
 * are removed), so every client drops it, and one that does not know tombstones fails to read it as a post.
 */
export const DeletedPost = z.object({
  schema: z.literal('microblog.post@1'),
  createdAt: nonNegativeInt,
  deletedAt: nonNegativeInt,
});
export type DeletedPost = z.infer<typeof DeletedPost>;

/** A post document as every client reads it: a tombstone wins over any text an older edit left. */
export function readPost(raw: unknown): { post: Post } | { deleted: DeletedPost } | undefined {
  const gone = DeletedPost.safeParse(raw);
  if (gone.success) return { deleted: gone.data };
  const live = Post.safeParse(raw);
  return live.success ? { post: live.data } : undefined;
}

export const Follow = z.object({
  schema: z.literal('microblog.follow@1'),
  account: accountId,
  handle: z.optional(handle),
  since: nonNegativeInt,
  /**
   * Whether the request to see friends-only posts reached their inbox. False while they have no inbox (they have
   * not set up a microblog yet): it goes out once they have (see Microblog.sendPendingRequests).
   */
  requested: z._default(z.boolean(), true),
});
export type Follow = z.infer<typeof Follow>;

export const Like = z.object({
  schema: z.literal('microblog.like@1'),
  post: PostRef,
  createdAt: nonNegativeInt,
});
export type Like = z.infer<typeof Like>;

/** This account's repost of someone's post (in its `reposts` document, by the original's reference). */
export const Repost = z.object({
  schema: z.literal('microblog.repost@1'),
  post: PostRef,
  repost: PostRef,
  createdAt: nonNegativeInt,
});
export type Repost = z.infer<typeof Repost>;

const restriction = <S extends string>(schema: S) =>
  z.object({ schema: z.literal(schema), account: accountId, handle: z.optional(handle), since: nonNegativeInt });
/**
 * An account this one blocked: its messages (follow requests, replies, mentions, likes, reposts, DMs) are dropped
 * and it is out of the friends space. Kept by account in the `blocked` document of the account's private space.
 */
export const Block = restriction('microblog.block@1');
export type Block = z.infer<typeof Block>;
/** An account this one muted: its posts and notifications are hidden, nothing else. In the `muted` document. */
export const Mute = restriction('microblog.mute@1');
export type Mute = z.infer<typeof Mute>;

/** What others append to an inbox: requests, notifications and direct messages. */
export const Message = z.discriminatedUnion('type', [
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('follow-request'), from: accountId, handle: z.optional(handle), at: z.int() }),
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('reply'), from: accountId, post: PostRef, reply: PostRef, at: z.int() }),
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('mention'), from: accountId, post: PostRef, at: z.int() }),
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('like'), from: accountId, post: PostRef, at: z.int() }),
  /** Takes back the sender's like; the newer of a like and an unlike decides. */
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('unlike'), from: accountId, post: PostRef, at: z.int() }),
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('repost'), from: accountId, post: PostRef, repost: PostRef, at: z.int() }),
  /** Takes back a repost; as for likes, the newer of the two decides. */
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('unrepost'), from: accountId, post: PostRef, at: z.int() }),
  /** The sender removed the recipient from its followers: friends-only posts from now on are not for them. */
  z.object({ schema: z.literal('microblog.message@1'), type: z.literal('follower-removed'), from: accountId, at: z.int() }),
  z.object({
    schema: z.literal('microblog.message@1'),
    type: z.literal('dm'),
    from: accountId,
    to: accountId,
    text: z.string().check(z.trim(), z.minLength(1), z.maxLength(5000)),
    at: z.int(),
  }),
]);
export type Message = z.infer<typeof Message>;

/** A document checked against its schema; what does not fit is refused (`invalid-argument`) with the first problem. */
export function parse<T>(schema: z.ZodMiniType<T>, v: unknown, what: string): T {
  const r = schema.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return reject('invalid-argument', `${what}: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  }
  return r.data;
}

/** Maps the schemas onto ActivityStreams 2.0 with full IRIs, so it expands offline without fetching a context. */
export const JSONLD_CONTEXT = {
  as: 'https://www.w3.org/ns/activitystreams#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  id: '@id',
  type: '@type',
  Person: 'as:Person',
  Note: 'as:Note',
  Follow: 'as:Follow',
  Like: 'as:Like',
  OrderedCollection: 'as:OrderedCollection',
  Image: 'as:Image',
  name: 'as:name',
  preferredUsername: 'as:preferredUsername',
  summary: 'as:summary',
  content: 'as:content',
  icon: { '@id': 'as:icon', '@type': '@id' },
  url: { '@id': 'as:url', '@type': '@id' },
  attributedTo: { '@id': 'as:attributedTo', '@type': '@id' },
  actor: { '@id': 'as:actor', '@type': '@id' },
  object: { '@id': 'as:object', '@type': '@id' },
  inReplyTo: { '@id': 'as:inReplyTo', '@type': '@id' },
  outbox: { '@id': 'as:outbox', '@type': '@id' },
  orderedItems: { '@id': 'as:orderedItems', '@container': '@list' },
  totalItems: { '@id': 'as:totalItems', '@type': 'xsd:nonNegativeInteger' },
  published: { '@id': 'as:published', '@type': 'xsd:dateTime' },
  attachment: 'as:attachment',
  mediaType: 'as:mediaType',
  width: { '@id': 'as:width', '@type': 'xsd:nonNegativeInteger' },
  height: { '@id': 'as:height', '@type': 'xsd:nonNegativeInteger' },
} as const;
