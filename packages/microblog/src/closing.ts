import type { Microblog } from './microblog.js';

/** The profile an account leaves behind: contacts see that it was deleted, and nothing it said. */
const DELETED_NAME = 'Deleted account';

/**
 * The first step of deleting an account, before its providers are asked to drop its data: every post becomes a
 * tombstone and the profile says the account was deleted. Those replicate like any edit, so contacts' replicas
 * and the mirrors they read from keep nothing the account said once their providers delete it.
 */
export async function closeAccount(mb: Microblog, now = Date.now()): Promise<{ posts: number }> {
  const own = await mb.postsOf(mb.me);
  for (const item of own) await mb.deletePost(item.ref);
  const space = mb.spaces.public;
  const fields = Object.keys((await mb.read(space, 'profile')) ?? {});
  const gone = Object.fromEntries(fields.map((k) => [k, null]));
  await mb.edit(space, 'profile', { ...gone, schema: 'microblog.profile@1', name: DELETED_NAME, bio: '', deletedAt: now });
  return { posts: own.length };
}
