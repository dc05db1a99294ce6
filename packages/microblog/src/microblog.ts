import {
  encode,
  decode,
  definedOnly,
  fromId,
  Kind,
  listDocs,
  openDoc,
  randomBytes,
  decodeEntry,
  reject,
  toHex,
  toId,
  FreeholdError,
  type Device,
  type IdentityState,
} from '@freehold/core';
import { Follow, Like, Message, parse, Post, PostRef, Profile } from './schema.js';
import { NONCES, POST_PREFIX, refToString, spacesOf } from './refs.js';
import { newestPosts, type TimelineItem } from './timeline.js';
import { inboxOf, postSends, recipientOf, sentName, type Sent, type SentPlace } from './sent.js';

export interface Follower {
  account: string;
  handle?: string;
  status: 'pending' | 'approved' | 'denied' | 'removed';
  since: number;
}

export interface InboxItem {
  id: string;
  message: Message;
}

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

const MENTION = /(?:^|[\s(])@([a-z0-9][a-z0-9_-]{0,31}@[a-z0-9.-]+(?::\d+)?)/gi;

/**
 * The microblog over one device's replica. Everything it keeps is an ordinary document in the account's spaces,
 * in the shapes of ./schema.ts, so the web app and the CLI (and any other client) see the same network.
 */
export class Microblog {
  readonly spaces: ReturnType<typeof spacesOf>;

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

  /** Creates the account's three spaces once. Call after syncing: a space is created by exactly one device. */
  async ensure(): Promise<void> {
    if (!(await this.has(this.spaces.public))) await this.device.createSpace(true, { nonce: NONCES.public });
    if (!(await this.has(this.spaces.friends))) await this.device.createSpace(false, { nonce: NONCES.friends });
    if (!(await this.has(this.spaces.inbox))) await this.device.createSpace(false, { nonce: NONCES.inbox, inbox: true });
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

  private async edit(space: Uint8Array, name: string, fields: Record<string, unknown>): Promise<void> {
    const doc = await openDoc(this.device, space, name);
    doc.merge(fields);
    await doc.flush();
  }

  private async read(space: Uint8Array, name: string): Promise<Record<string, unknown> | undefined> {
    if (!(await this.has(space)) || !(await this.device.canRead(space))) return undefined;
    if (!(await listDocs(this.device, space)).includes(name)) return undefined;
    return (await openDoc(this.device, space, name, { autoSnapshot: false })).toJSON();
  }

  async profile(account: string = this.me): Promise<Profile | undefined> {
    const raw = await this.read(spacesOf(fromId(account, 'account')).public, 'profile');
    const r = raw && Profile.safeParse(raw);
    return r && r.success ? r.data : undefined;
  }

  async setProfile(fields: Partial<Omit<Profile, 'schema'>>): Promise<Profile> {
    const current = (await this.profile()) ?? { schema: 'microblog.profile@1' as const, name: 'me', bio: '' };
    const next = parse(Profile, { ...current, ...fields }, 'profile');
    await this.edit(this.spaces.public, 'profile', next);
    return next;
  }

  /** Publishes a post (public, or to approved followers only) and tells whoever it replies to or mentions. */
  async post(text: string, opts: { audience?: 'public' | 'friends'; replyTo?: PostRef } = {}): Promise<PostRef> {
    const audience = opts.audience ?? 'public';
    const mentions = [...new Set([...text.matchAll(MENTION)].map((m) => m[1]!.toLowerCase()))];
    const post = parse(Post, { schema: 'microblog.post@1', text, createdAt: Date.now(), audience, replyTo: opts.replyTo, mentions }, 'post');
    const id = toId(randomBytes(16)).slice(0, 22);
    const space = audience === 'friends' ? this.spaces.friends : this.spaces.public;
    await this.edit(space, `${POST_PREFIX}${id}`, definedOnly(post));
    const ref: PostRef = { account: this.me, post: id, audience };
    if (opts.replyTo && opts.replyTo.account !== this.me) {
      await this.notify({ type: 'reply', ref, to: opts.replyTo.account }, { type: 'reply', post: opts.replyTo, reply: ref });
    } else if (opts.replyTo) await this.recordReply(opts.replyTo, ref);
    for (const handle of mentions) {
      const who = await this.deps.resolve(handle).catch(() => undefined);
      const account = who && toId(who.account);
      if (account && account !== this.me) await this.notify({ type: 'mention', ref, handle, account }, { type: 'mention', post: ref });
    }
    return ref;
  }

  /** Appends a message to another account's inbox (sealed: only they can read it), named as `sent` (see sentPlace). */
  private async notify(sent: Sent, body: Record<string, unknown>): Promise<void> {
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

  async follow(account: string, handle?: string): Promise<void> {
    if (account === this.me) reject('invalid-argument', 'you cannot follow yourself');
    const f = parse(Follow, { schema: 'microblog.follow@1', account, handle, since: Date.now() }, 'follow');
    await this.edit(this.spaces.public, 'following', { [account]: definedOnly(f) });
    // Also a request to see their friends-only posts; they approve or deny it. Someone who has not set up a
    // microblog yet has no inbox: following their public posts still works.
    try {
      await this.notify({ type: 'follow', account, since: f.since }, { type: 'follow-request', handle: (await this.profile())?.handle });
    } catch (e) {
      if (!(e instanceof FreeholdError && e.reason === 'not-found')) throw e;
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
      const r = Post.safeParse((await openDoc(this.device, space, name, { autoSnapshot: false })).toJSON());
      if (r.success) out.push({ ref: { account, post: name.slice(POST_PREFIX.length), audience }, author: account, post: r.data });
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
    return newestPosts(this.device, [this.me, ...(await this.following()).map((f) => f.account)], opts.limit ?? 50);
  }

  async like(ref: PostRef): Promise<void> {
    const like = parse(Like, { schema: 'microblog.like@1', post: ref, createdAt: Date.now() }, 'like');
    await this.edit(this.spaces.public, 'likes', { [refToString(ref)]: like });
    if (ref.account === this.me) await this.recordLike(ref, this.me);
    else await this.notify({ type: 'like', post: ref, at: like.createdAt }, { type: 'like', post: ref });
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

  /** Messages in this account's inbox, newest first. A message claiming a sender other than its signer is dropped. */
  async inbox(): Promise<InboxItem[]> {
    if (!(await this.has(this.spaces.inbox))) return [];
    const out: InboxItem[] = [];
    for (const row of await this.device.store.spaceEntries(this.spaces.inbox, Kind.append)) {
      try {
        const e = decodeEntry(row.bytes);
        const m = Message.safeParse(decode(await this.device.decrypt(e), 'message'));
        const signer = this.device.replica.authorOf(e.device);
        if (m.success && signer && toId(signer.account.account) === m.data.from) out.push({ id: toHex(e.id), message: m.data });
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
  async purgeInbox(before: number): Promise<number> {
    if (!(await this.has(this.spaces.inbox))) return 0;
    const drop: Uint8Array[] = [];
    for (const row of await this.device.store.spaceEntries(this.spaces.inbox, Kind.append)) {
      const signer = this.device.replica.authorOf(row.device);
      if (row.time <= before && (!signer || toId(signer.account.account) !== this.me)) drop.push(row.id);
    }
    if (drop.length) await this.device.store.deleteEntries(drop);
    return drop.length;
  }

  /**
   * Folds notifications into this account's own documents: like counts and reply lists on its posts, so every
   * reader sees them. Idempotent; run after each sync.
   */
  async absorbInbox(): Promise<void> {
    for (const { message: m } of await this.inbox()) {
      if (m.type === 'like' && m.post.account === this.me) await this.recordLike(m.post, m.from);
      if (m.type === 'reply' && m.post.account === this.me) await this.recordReply(m.post, m.reply);
    }
  }

  private postSpace(ref: PostRef): Uint8Array {
    return ref.audience === 'friends' ? this.spaces.friends : this.spaces.public;
  }

  private async recordLike(ref: PostRef, from: string): Promise<void> {
    const doc = await openDoc(this.device, this.postSpace(ref), `${POST_PREFIX}${ref.post}`);
    const likedBy = (doc.doc.getMap('root').get('likedBy') as Record<string, number> | undefined) ?? {};
    if (likedBy[from] !== undefined || doc.doc.getMap('root').get('text') === undefined) return;
    doc.merge({ likedBy: { ...likedBy, [from]: Date.now() }, likes: Object.keys(likedBy).length + 1 });
    await doc.flush();
  }

  private async recordReply(ref: PostRef, reply: PostRef): Promise<void> {
    const doc = await openDoc(this.device, this.postSpace(ref), `${POST_PREFIX}${ref.post}`);
    const replies = (doc.doc.getMap('root').get('replies') as PostRef[] | undefined) ?? [];
    if (replies.some((r) => r.post === reply.post) || doc.doc.getMap('root').get('text') === undefined) return;
    doc.merge({ replies: [...replies, reply] });
    await doc.flush();
  }

  /** Who asked to follow, and what became of it (the friends space's members are the approved ones). */
  async followers(): Promise<Follower[]> {
    const roles = (await this.device.replica.graph(this.spaces.friends)).current().roles;
    const decisions = (await this.read(this.spaces.friends, 'requests')) ?? {};
    const out = new Map<string, Follower>();
    for (const { message: m } of await this.inbox()) {
      if (m.type !== 'follow-request' || out.has(m.from)) continue;
      const approved = roles.get(toHex(fromId(m.from, 'account'))) === 'reader';
      const decided = decisions[m.from];
      const status = approved ? 'approved' : decided === 'denied' || decided === 'removed' ? decided : 'pending';
      out.set(m.from, { account: m.from, handle: m.handle, status, since: m.at });
    }
    return [...out.values()];
  }

  private async requested(account: string): Promise<void> {
    if (!(await this.followers()).some((f) => f.account === account)) reject('not-found', `${account} has not asked to follow you`);
  }

  async approve(account: string): Promise<void> {
    await this.requested(account);
    await this.device.setRole(this.spaces.friends, fromId(account, 'account'), 'reader');
    await this.edit(this.spaces.friends, 'requests', { [account]: 'approved' });
  }

  async deny(account: string): Promise<void> {
    await this.requested(account);
    await this.edit(this.spaces.friends, 'requests', { [account]: 'denied' });
  }

  /** Removes an approved follower: the friends key rotates, so they cannot read what is posted next. */
  async removeFollower(account: string): Promise<void> {
    await this.device.remove(this.spaces.friends, fromId(account, 'account'));
    await this.edit(this.spaces.friends, 'requests', { [account]: 'removed' });
  }
}
