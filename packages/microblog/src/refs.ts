import { reject, sha256, spaceIdOf, toHex, utf8 } from '@freehold/core';
import type { PostRef } from './schema.js';

const nonce = (purpose: string): Uint8Array => sha256(utf8(`freehold/microblog/${purpose}`)).subarray(0, 16);
/** The create nonces of an account's microblog spaces: fixed, so each can be created only once. */
export const NONCES = { public: nonce('public'), friends: nonce('friends'), inbox: nonce('inbox'), private: nonce('private') };

/**
 * An account's microblog spaces have well-known ids: anyone who knows the account can find them. `private` has
 * the account as its only member (its block and mute lists), so it reaches every device and no one else.
 */
export function spacesOf(account: Uint8Array): MicroblogSpaces {
  const k = toHex(account);
  let s = derived.get(k);
  if (!s) {
    s = {
      public: spaceIdOf(account, NONCES.public, true),
      friends: spaceIdOf(account, NONCES.friends, false),
      inbox: spaceIdOf(account, NONCES.inbox, false),
      private: spaceIdOf(account, NONCES.private, false),
    };
    // Every timeline read derives them for each account followed: four hashes each, kept for the next read.
    if (derived.size >= 10_000) derived.delete(derived.keys().next().value!);
    derived.set(k, s);
  }
  return s;
}

export interface MicroblogSpaces {
  readonly public: Uint8Array;
  readonly friends: Uint8Array;
  readonly inbox: Uint8Array;
  readonly private: Uint8Array;
}

const derived = new Map<string, MicroblogSpaces>();

/** Posts are documents named `post/ID` in the public or the friends space. */
export const POST_PREFIX = 'post/';

/** `ACCOUNT/POST`, and `/friends` for a friends-only post: what parseRef reads back. */
export const refToString = (r: PostRef): string => `${r.account}/${r.post}${r.audience === 'friends' ? '/friends' : ''}`;

export function parseRef(text: string): PostRef {
  const m = /^([1-9A-HJ-NP-Za-km-z]{40,50})\/([1-9A-HJ-NP-Za-km-z]{10,30})(?:\/(public|friends))?$/.exec(text.trim());
  if (!m) return reject('invalid-argument', `"${text}" is not a post reference (ACCOUNT/POST, as \`freehold feed\` prints)`);
  return { account: m[1]!, post: m[2]!, audience: (m[3] as 'public' | 'friends' | undefined) ?? 'public' };
}
