import { fromId, toId, type IdentityState } from '@freehold/core';
import { refToString, spacesOf } from './refs.js';
import type { Post, PostRef } from './schema.js';

/**
 * Something this account left in another account's inbox: a direct message, a follow request, a like or a repost or their undoing,
 * the news that the recipient was removed from this account's followers, or the
 * notice of a reply or a mention. Each is named by what the sender keeps of it (the message's time, the
 * following entry, the like, the post), so any device of the account can find it again.
 */
export type Sent =
  | { type: 'dm'; to: string; at: number }
  | { type: 'follow'; account: string; since: number }
  | { type: 'like'; post: PostRef; at: number }
  | { type: 'unlike'; post: PostRef; at: number }
  | { type: 'repost' | 'unrepost'; post: PostRef; at: number }
  | { type: 'follower-removed'; account: string; at: number }
  | { type: 'reply'; ref: PostRef; to: string }
  | { type: 'mention'; ref: PostRef; handle: string; account: string };

/** Where a sent entry went, as its author's devices find it: the inbox, and the entry's document id there. */
export interface SentPlace {
  space: Uint8Array;
  doc: Uint8Array;
}

/** The account whose inbox a send goes to. */
export function recipientOf(s: Sent): string {
  switch (s.type) {
    case 'dm':
      return s.to;
    case 'follow':
      return s.account;
    case 'like':
    case 'unlike':
    case 'repost':
    case 'unrepost':
      return s.post.account;
    case 'follower-removed':
      return s.account;
    case 'reply':
      return s.to;
    case 'mention':
      return s.account;
  }
}

export const inboxOf = (s: Sent): Uint8Array => spacesOf(fromId(recipientOf(s), 'account')).inbox;

/**
 * The name a send's document id is derived from. The id itself is keyed with a secret only the sender's devices
 * hold (see Microblog.sentPlace), so the providers on the way see an opaque id, as for any document.
 */
export function sentName(s: Sent): string {
  switch (s.type) {
    case 'dm':
      return `sent/dm/${s.to}/${s.at}`;
    case 'follow':
      return `sent/follow/${s.account}/${s.since}`;
    case 'like':
      return `sent/like/${refToString(s.post)}/${s.at}`;
    case 'unlike':
    case 'repost':
    case 'unrepost':
      return `sent/${s.type}/${refToString(s.post)}/${s.at}`;
    case 'follower-removed':
      return `sent/follower-removed/${s.account}/${s.at}`;
    case 'reply':
      return `sent/reply/${refToString(s.ref)}`;
    case 'mention':
      return `sent/mention/${refToString(s.ref)}/${s.handle}`;
  }
}

/**
 * What publishing a post sent elsewhere: the notice to the author it replies to, and one to each mentioned account
 * (found among the identity logs `known`: for showing what went out, never for sending).
 */
export function postSends(ref: PostRef, post: Post, known: Iterable<IdentityState>): Sent[] {
  const out: Sent[] = [];
  const to = post.replyTo?.account;
  if (to && to !== ref.account) out.push({ type: 'reply', ref, to });
  const claims = new Map<string, string>();
  for (const log of known) for (const h of log.handles) claims.set(h, toId(log.account));
  for (const handle of post.mentions) {
    const account = claims.get(handle);
    if (account && account !== ref.account) out.push({ type: 'mention', ref, handle, account });
  }
  return out;
}
