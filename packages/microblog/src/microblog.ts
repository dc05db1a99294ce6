import {
  encode,
  definedOnly,
  fromId,
  Kind,
  listDocs,
  openDoc,
  openDocById,
  randomBytes,
  reject,
  toId,
  FreeholdError,
  type Device,
  type IdentityState,
} from '@freehold/core';
import { Follow, Like, MAX_IMAGES, Message, parse, Post, PostRef, Profile, type Repost } from './schema.js';
import { imageRef, storeImages, withoutMetadata, type ImageInput } from './images.js';
import { NONCES, POST_PREFIX, refToString, spacesOf } from './refs.js';
import { approve, deny, followersOf, removedBy, removeFollower, type Follower } from './followers.js';
import { absorbInbox, recordReaction, recordReply, repost, repostsOf, unrepost } from './reactions.js';
import { deletePost, editPost } from './revisions.js';
import { mentionsIn } from './text.js';
import { feedItem, isLive, newestPosts, PostCache, type FeedItem, type TimelineItem } from './timeline.js';
import { inboxOf, postSends, recipientOf, sentName, type Sent, type SentPlace } from './sent.js';
import { Moderation } from './moderation.js';
import { purgeInbox, readInbox, type InboxItem } from './inbox-read.js';

export type { Follower, InboxItem };

/** A space of another account, and that account. */
export interface Mirror {
  space: Uint8Array;
  owner: Uint8Array;
}

export interface MicroblogDeps {
  /** Looks up and verifies name@host (the caller brings the network). */
  resolve(handle: string): Promise<IdentityState>;
  /**
   * Brings these spaces of other accounts (e.g. someone's inbox, to write to it) into the replica; the owners
   * let the caller's provider mirror them from the owners' providers.
   */
  fetch(spaces: Mirror[]): Promise<void>;
}

/**
 * The microblog over one device's replica. Everything it keeps is an ordinary document in the account's spaces,
 * in the shapes of ./schema.ts, so the web app and the CLI (and any other client) see the same network.
 */
export class Microblog {
  readonly spaces: ReturnType<typeof spacesOf>;
  /** Block and mute lists (see moderation.ts). */
  readonly moderation: Moderation = new Moderation(this);
  /** The timeline's post documents as last read (see PostCache). */
  private readonly postCache = new PostCache();

  constructor(
    readonly device: Device,
    private readonly deps: MicroblogDeps,
  ) {
    this.spaces = spacesOf(device.account);
  }

  get me(): string {
    return toId(this.device.account);
  }

  private async has(space: Uint8Array): Promise<boolean> {
    return (await this.device.replica.graph(space)).created;
  }

  /** Creates the account's four spaces once. Call after syncing: a space is created by exactly one device. */
  async ensure(): Promise<void> {
    if (!(await this.has(this.spaces.public))) await this.device.createSpace(true, { nonce: NONCES.public });
    if (!(await this.has(this.spaces.friends))) await this.device.createSpace(false, { nonce: NONCES.friends });
    if (!(await this.has(this.spaces.inbox))) await this.device.createSpace(false, { nonce: NONCES.inbox, inbox: true });
    if (!(await this.has(this.spaces.private))) await this.device.createSpace(false, { nonce: NONCES.private });
  }

  /** What this account reads from others: followed accounts' spaces and the inboxes it writes to. */
  async interest(): Promise<Uint8Array[]> {
    return (await this.mirrors()).map((m) => m.space);
  }

  /** The same, with the account that owns each space: what this account's providers mirror for it. */
  async mirrors(): Promise<Mirror[]> {
    const out: Mirror[] = [];
    for (const f of await this.following()) {
      const owner = fromId(f.account, 'account');
      const s = spacesOf(owner);
      for (const space of [s.public, s.friends, s.inbox]) out.push({ space, owner });
    }
    return out;
  }

  /** Sets fields of one of this account's documents (the modules of this package write through it too). */
  async edit(space: Uint8Array, name: string, fields: Record<string, unknown>): Promise<void> {
    const doc = await openDoc(this.device, space, name);
    doc.merge(fields);
    await doc.flush();
  }

  /** A document as plain JSON, if this replica holds it and may read it. */
  async read(space: Uint8Array, name: string): Promise<Record<string, unknown> | undefined> {
    if (!(await this.has(space)) || !(await this.device.canRead(space))) return undefined;
    // The document's own rows, not the space's: a timeline reads the follow list each time, beside every post.
    const docId = await this.device.docId(space, name);
    const rows = await this.device.store.docEntries(space, docId);
    return rows.length ? (await openDocById(this.device, space, docId, rows))?.toJSON() : undefined;
  }

  async profile(account: string = this.me): Promise<Profile | undefined> {
    const raw = await this.read(spacesOf(fromId(account, 'account')).public, 'profile');
    const r = raw && Profile.safeParse(raw);
    return r && r.success ? r.data : undefined;
  }

  async setProfile(fields: Partial<Omit<Profile, 'schema'>>): Promise<Profile> {
    const current = (await this.profile()) ?? { schema: 'microblog.profile@1' as const, name: 'me', bio: '' };
    // A profile that names its avatar's blob drops the inline image an older one carried.
    const { avatar, avatarType, ...rest } = { ...current, ...fields };
    const next = parse(Profile, rest.picture ? rest : { ...rest, avatar, avatarType }, 'profile');
    await this.edit(this.spaces.public, 'profile', { ...next, ...(next.picture && { avatar: null, avatarType: null }) });
    return next;
  }

  /**
   * Publishes a post (public, or to approved followers only), with its images stored in the same space, and tells
   * whoever it replies to or mentions. Everything is checked before anything is stored.
   */
  async post(text: string, opts: { audience?: 'public' | 'friends'; replyTo?: PostRef; quoteOf?: PostRef; images?: ImageInput[] } = {}): Promise<PostRef> {
    const audience = opts.audience ?? 'public';
    const mentions = mentionsIn(text);
    if (opts.quoteOf && opts.quoteOf.audience !== 'public') reject('invalid-argument', 'only public posts can be quoted');
    const given = opts.images ?? [];
    if (given.length > MAX_IMAGES) reject('invalid-argument', `a post carries at most ${MAX_IMAGES} images, not ${given.length}`);
    const inputs = given.map(withoutMetadata);
    const images = inputs.map(imageRef);
    const post = parse(Post, { schema: 'microblog.post@1', text, createdAt: Date.now(), audience, replyTo: opts.replyTo, quoteOf: opts.quoteOf, mentions, images }, 'post');
    const id = toId(randomBytes(16)).slice(0, 22);
    const space = audience === 'friends' ? this.spaces.friends : this.spaces.public;
    await storeImages(this.device, space, inputs);
    await this.edit(space, `${POST_PREFIX}${id}`, definedOnly(post));
    const ref: PostRef = { account: this.me, post: id, audience };
    if (opts.replyTo && opts.replyTo.account !== this.me) {
      await this.notify({ type: 'reply', ref, to: opts.replyTo.account }, { type: 'reply', post: opts.replyTo, reply: ref });
    } else if (opts.replyTo) await recordReply(this, opts.replyTo, ref);
    for (const handle of mentions) {
      const who = await this.deps.resolve(handle).catch(() => undefined);
      const account = who && toId(who.account);
      if (account && account !== this.me) await this.notify({ type: 'mention', ref, handle, account }, { type: 'mention', post: ref });
    }
    return ref;
  }

  /** Appends a message to another account's inbox (sealed: only they can read it), named as `sent` (see sentPlace). */
  async notify(sent: Sent, body: Record<string, unknown>): Promise<void> {
    const inbox = inboxOf(sent);
    const owner = fromId(recipientOf(sent), 'account');
    if (!(await this.has(inbox))) await this.deps.fetch([{ space: inbox, owner }]);
    if (!(await this.has(inbox))) reject('not-found', `${recipientOf(sent)} has no inbox this device can reach (have they set up their microblog?)`);
    const message = parse(Message, { schema: 'microblog.message@1', from: this.me, at: Date.now(), ...body }, 'message');
    const doc = (await this.sentPlace(sent))?.doc ?? new Uint8Array(16);
    await this.device.write(inbox, Kind.append, doc, encode(message));
  }

  /**
   * Where a send went: the recipient's inbox, and a document id derived from the send and keyed with the names
   * key of this account's own inbox, which only its devices hold. Every device of the account finds its sends
   * by it; providers see an id like any other. Undefined before this account's spaces exist.
   */
  async sentPlace(sent: Sent): Promise<SentPlace | undefined> {
    if (!(await this.has(this.spaces.inbox))) return undefined;
    return { space: inboxOf(sent), doc: await this.device.docId(this.spaces.inbox, sentName(sent)) };
  }

  /** What publishing one of this account's posts sent elsewhere: the notice to the author it replies to, and mentions. */
  sentWith(item: TimelineItem): Sent[] {
    return item.author === this.me ? postSends(item.ref, item.post, this.device.replica.contacts()) : [];
  }

  /**
   * The account this replica last verified a handle for: one this account follows under that handle, whose
   * signed log still claims it. (Any account may claim any handle in its own log; only the handle's provider
   * ties the two, so a log alone is not enough.) Lets people be reached while their provider is down.
   */
  async knownHandle(handle: string): Promise<IdentityState | undefined> {
    const f = (await this.following()).find((x) => x.handle === handle.toLowerCase());
    const log = f && this.device.replica.contact(fromId(f.account, 'account'));
    return log?.handles.includes(handle.toLowerCase()) ? log : undefined;
  }

  /**
   * Follows an account, and asks it to let this one see its friends-only posts. Someone who has not set up a
   * microblog yet has no inbox: following their public posts works, and the request waits here (`requested`
   * false) until their inbox appears (see sendPendingRequests).
   */
  async follow(account: string, handle?: string): Promise<{ requested: boolean }> {
    if (account === this.me) reject('invalid-argument', 'you cannot follow yourself');
    const f = parse(Follow, { schema: 'microblog.follow@1', account, handle, since: Date.now() }, 'follow');
    let requested = true;
    try {
      await this.sendRequest(f);
    } catch (e) {
      if (!(e instanceof FreeholdError && e.reason === 'not-found')) throw e;
      requested = false;
    }
    await this.edit(this.spaces.public, 'following', { [account]: definedOnly({ ...f, requested }) });
    return { requested };
  }

  private async sendRequest(f: Follow): Promise<void> {
    await this.notify({ type: 'follow', account: f.account, since: f.since }, { type: 'follow-request', handle: (await this.profile())?.handle });
  }

  /** Sends the follow requests that waited for an inbox, to those whose inbox this replica now holds. */
  async sendPendingRequests(): Promise<void> {
    for (const f of await this.following()) {
      if (f.requested || !(await this.has(spacesOf(fromId(f.account, 'account')).inbox))) continue;
      await this.sendRequest(f);
      await this.edit(this.spaces.public, 'following', { [f.account]: definedOnly({ ...f, requested: true }) });
    }
  }

  async unfollow(account: string): Promise<void> {
    if (!(await this.following()).some((f) => f.account === account)) reject('not-found', `you do not follow ${account}`);
    await this.edit(this.spaces.public, 'following', { [account]: null });
  }

  async following(account: string = this.me): Promise<Follow[]> {
    const raw = (await this.read(spacesOf(fromId(account, 'account')).public, 'following')) ?? {};
    return Object.values(raw).flatMap((v) => {
      const r = Follow.safeParse(v);
      return r.success ? [r.data] : [];
    });
  }

  private async posts(account: string, audience: 'public' | 'friends'): Promise<TimelineItem[]> {
    const s = spacesOf(fromId(account, 'account'));
    const space = audience === 'friends' ? s.friends : s.public;
    if (!(await this.has(space)) || !(await this.device.canRead(space))) return [];
    const out: TimelineItem[] = [];
    for (const name of await listDocs(this.device, space)) {
      if (!name.startsWith(POST_PREFIX)) continue;
      const item = feedItem({ account, post: name.slice(POST_PREFIX.length), audience }, (await openDoc(this.device, space, name, { autoSnapshot: false })).toJSON());
      if (item && isLive(item)) out.push(item);
    }
    return out;
  }

  async postsOf(account: string): Promise<TimelineItem[]> {
    const all = [...(await this.posts(account, 'public')), ...(await this.posts(account, 'friends'))];
    return all.sort((a, b) => b.post.createdAt - a.post.createdAt);
  }

  async getPost(ref: PostRef): Promise<TimelineItem | undefined> {
    return (await this.posts(ref.account, ref.audience)).find((p) => p.ref.post === ref.post);
  }

  /**
   * Followed accounts and self, newest first: public posts, and friends-only posts where approved (see
   * newestPosts: the cost follows `limit`, not the number of posts held).
   */
  async timeline(opts: { limit?: number } = {}): Promise<TimelineItem[]> {
    return (await this.feed(opts)).filter(isLive);
  }

  /**
   * The timeline with the tombstones of deleted posts in place, for clients that keep copies of their own. Blocked
   * and muted accounts' posts, and reposts of them, are left out.
   */
  async feed(opts: { limit?: number } = {}): Promise<FeedItem[]> {
    const hidden = await this.moderation.hidden();
    const accounts = [this.me, ...(await this.following()).map((f) => f.account)].filter((a) => !hidden.has(a));
    const items = await newestPosts(this.device, accounts, opts.limit ?? 50, this.postCache);
    return items.filter((i) => !(isLive(i) && i.post.repostOf && hidden.has(i.post.repostOf.account)));
  }

  /** Replaces the text of one of this account's posts with a new revision, marked as edited. */
  editPost(ref: PostRef, text: string): Promise<Post> {
    return editPost(this, ref, text);
  }

  /** Deletes one of this account's posts: what it said and the images only it shows go, a tombstone stays (see DeletedPost). */
  deletePost(ref: PostRef): Promise<void> {
    return deletePost(this, ref);
  }

  /** Likes a post once: liking it again changes nothing and tells nobody. */
  async like(ref: PostRef): Promise<void> {
    if ((await this.likes()).has(refToString(ref))) return;
    const like = parse(Like, { schema: 'microblog.like@1', post: ref, createdAt: Date.now() }, 'like');
    // The author is told first: a like that could not reach them is not kept as done, so trying again tells them.
    if (ref.account === this.me) await recordReaction(this, 'like', ref, this.me, like.createdAt, true);
    else await this.notify({ type: 'like', post: ref, at: like.createdAt }, { type: 'like', post: ref });
    await this.edit(this.spaces.public, 'likes', { [refToString(ref)]: like });
  }

  /** Takes a like back; the author's devices take it off the post's count. */
  async unlike(ref: PostRef): Promise<void> {
    if (!(await this.likes()).has(refToString(ref))) reject('not-found', `you have not liked ${refToString(ref)}`);
    const at = Date.now();
    if (ref.account === this.me) await recordReaction(this, 'like', ref, this.me, at, false);
    else await this.notify({ type: 'unlike', post: ref, at }, { type: 'unlike', post: ref });
    await this.edit(this.spaces.public, 'likes', { [refToString(ref)]: null });
  }

  /** The posts this account liked, by reference (ACCOUNT/POST). */
  async likes(): Promise<Map<string, Like>> {
    const raw = (await this.read(this.spaces.public, 'likes')) ?? {};
    const out = new Map<string, Like>();
    for (const [k, v] of Object.entries(raw)) {
      const r = Like.safeParse(v);
      if (r.success) out.set(k, r.data);
    }
    return out;
  }

  async dm(account: string, text: string): Promise<void> {
    if (account === this.me) reject('invalid-argument', 'a direct message goes to someone else');
    const at = Date.now();
    await this.notify({ type: 'dm', to: account, at }, { type: 'dm', to: account, text, at });
    // A copy in our own inbox keeps both sides of the conversation (and, by its time, finds what was sent).
    const copy = parse(Message, { schema: 'microblog.message@1', type: 'dm', from: this.me, to: account, text, at }, 'message');
    await this.device.write(this.spaces.inbox, Kind.append, new Uint8Array(16), encode(copy));
  }

  /** Messages in this account's inbox, newest first (see inbox-read.ts). */
  inbox(): Promise<InboxItem[]> {
    return readInbox(this);
  }

  /** Deletes what others left in this account's inbox up to `before`, on this device (see inbox-read.ts). */
  purgeInbox(before: number): Promise<number> {
    return purgeInbox(this, before);
  }

  /** Folds likes, reposts and replies into this account's posts (see reactions.ts) and sends waiting follow requests. */
  async absorbInbox(): Promise<void> {
    await absorbInbox(this);
    await this.sendPendingRequests();
  }

  /** Passes a public post on to this account's followers, once (see reactions.ts). */
  repost(ref: PostRef): Promise<PostRef> {
    return repost(this, ref);
  }

  unrepost(ref: PostRef): Promise<void> {
    return unrepost(this, ref);
  }

  /** This account's reposts, by the reference (ACCOUNT/POST) of the post each passes on. */
  reposts(): Promise<Map<string, Repost>> {
    return repostsOf(this);
  }

  /** The space one of this account's posts lives in. */
  postSpace(ref: PostRef): Uint8Array {
    return ref.audience === 'friends' ? this.spaces.friends : this.spaces.public;
  }

  /** Who asked to follow, and what became of it (see followers.ts). */
  followers(): Promise<Follower[]> {
    return followersOf(this);
  }

  /** When each account this one follows removed it from its followers, newest. */
  removedBy(): Promise<Map<string, number>> {
    return removedBy(this);
  }

  approve(account: string): Promise<void> {
    return approve(this, account);
  }

  deny(account: string): Promise<void> {
    return deny(this, account);
  }

  /** Removes an approved follower: the friends key rotates, and they are told. */
  removeFollower(account: string): Promise<void> {
    return removeFollower(this, account);
  }

}
