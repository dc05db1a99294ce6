import * as z from 'zod/mini';
import { fromId, FreeholdError, reject, toHex } from '@freehold/core';
import type { Microblog } from './microblog.js';

/**
 * Follow requests and their fate, as the account followed keeps them: requests arrive in its inbox, its decisions
 * sit in the friends space's `requests` document, and the friends space's readers are the approved followers.
 */
export interface Follower {
  account: string;
  handle?: string;
  status: 'pending' | 'approved' | 'denied' | 'removed';
  since: number;
}

/** The owner's decision on a request, and when; a bare status (older replicas) stands against every request. */
const Decision = z.union([
  z.object({ status: z.enum(['approved', 'denied', 'removed']), at: z.number() }),
  z.pipe(z.enum(['approved', 'denied', 'removed']), z.transform((status) => ({ status, at: Number.POSITIVE_INFINITY }))),
]);

/** Who asked to follow, and what became of it. A request newer than a denial or a removal is pending again. */
export async function followersOf(mb: Microblog): Promise<Follower[]> {
  const roles = (await mb.device.replica.graph(mb.spaces.friends)).current().roles;
  const decisions = (await mb.read(mb.spaces.friends, 'requests')) ?? {};
  const out = new Map<string, Follower>();
  for (const { message: m } of await mb.inbox()) {
    if (m.type !== 'follow-request' || out.has(m.from)) continue;
    const approved = roles.get(toHex(fromId(m.from, 'account'))) === 'reader';
    const decided = Decision.safeParse(decisions[m.from]);
    const stands = decided.success && decided.data.at >= m.at && decided.data.status !== 'approved';
    const status = approved ? 'approved' : stands ? decided.data.status : 'pending';
    out.set(m.from, { account: m.from, handle: m.handle, status, since: m.at });
  }
  return [...out.values()];
}

/** When each account removed this one from its followers (the newest time, by the remover's clock). */
export async function removedBy(mb: Microblog): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const { message: m } of await mb.inbox()) if (m.type === 'follower-removed' && !out.has(m.from)) out.set(m.from, m.at);
  return out;
}

async function requested(mb: Microblog, account: string): Promise<void> {
  if (!(await followersOf(mb)).some((f) => f.account === account)) reject('not-found', `${account} has not asked to follow you`);
}

/** Lets a follower read friends-only posts (again, after a removal). */
export async function approve(mb: Microblog, account: string): Promise<void> {
  await requested(mb, account);
  await mb.device.setRole(mb.spaces.friends, fromId(account, 'account'), 'reader');
  await mb.edit(mb.spaces.friends, 'requests', { [account]: { status: 'approved', at: Date.now() } });
}

export async function deny(mb: Microblog, account: string): Promise<void> {
  await requested(mb, account);
  await mb.edit(mb.spaces.friends, 'requests', { [account]: { status: 'denied', at: Date.now() } });
}

/**
 * Removes an approved follower: the friends key rotates, so they cannot read what is posted next, and they are
 * told (unless their inbox cannot be reached: the removal stands either way).
 */
export async function removeFollower(mb: Microblog, account: string): Promise<void> {
  const at = Date.now();
  await mb.device.remove(mb.spaces.friends, fromId(account, 'account'));
  await mb.edit(mb.spaces.friends, 'requests', { [account]: { status: 'removed', at } });
  await mb.notify({ type: 'follower-removed', account, at }, { type: 'follower-removed', at }).catch((e: unknown) => {
    if (!(e instanceof FreeholdError && e.reason === 'not-found')) throw e;
  });
}
