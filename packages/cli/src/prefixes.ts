import { reject, toId } from '@freehold/core';
import { parseRef, refToString, type Microblog, type PostRef } from '@freehold/microblog';

const ID = /^[1-9A-HJ-NP-Za-km-z]+$/;

/** The one candidate starting with `prefix`, as git takes a unique abbreviation; none or several is refused. */
export function unique<T>(prefix: string, candidates: Iterable<[string, T]>, what: string): T {
  const a = /^[aeiou]/.test(what) ? 'an' : 'a';
  if (prefix.length < 4 || !ID.test(prefix)) return reject('invalid-argument', `"${prefix}" is not ${a} ${what} or the start of one (at least 4 characters)`);
  const found = new Map<string, T>();
  for (const [id, value] of candidates) if (id.startsWith(prefix)) found.set(id, value);
  if (found.size > 1) return reject('invalid-argument', `"${prefix}" starts ${found.size} ${what}s: ${[...found.keys()].slice(0, 3).join(', ')}… (give more of it)`);
  const [one] = found.values();
  return one ?? reject('not-found', `no ${what} starting with "${prefix}" that this replica knows`);
}

/** The accounts this replica knows: itself, whom it follows, who asked to follow it or wrote to it, and its contacts. */
async function knownAccounts(mb: Microblog): Promise<Set<string>> {
  const out = new Set<string>([mb.me]);
  for (const f of await mb.following()) out.add(f.account);
  for (const { message } of await mb.inbox()) out.add(message.from);
  for (const c of mb.device.replica.contacts()) out.add(toId(c.account));
  return out;
}

/** An account id, or the unique start of one this replica knows (as `freehold inbox` shows them). */
export async function accountByPrefix(mb: Microblog, text: string): Promise<string> {
  const all = await knownAccounts(mb);
  if (all.has(text)) return text;
  return unique(text, [...all].map((a) => [a, a] as [string, string]), 'account id');
}

/**
 * A post as `freehold feed` prints it (ACCOUNT/POST), or the unique start of a post id among the posts this
 * replica holds of this account and those it follows; ACCOUNT/POST may each be abbreviated too.
 */
export async function postByPrefix(mb: Microblog, text: string): Promise<PostRef> {
  const t = text.trim();
  try {
    return parseRef(t);
  } catch {
    // Not a whole reference: an abbreviation.
  }
  const [first, second] = t.split('/');
  const accounts = second === undefined ? [mb.me, ...(await mb.following()).map((f) => f.account)] : [await accountByPrefix(mb, first!)];
  const posts: [string, PostRef][] = [];
  for (const a of accounts) for (const i of await mb.postsOf(a)) posts.push([i.ref.post, i.ref]);
  const ref = unique(second ?? first!, posts, 'post id');
  return parseRef(refToString(ref));
}
