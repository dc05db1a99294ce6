import type { Microblog } from './microblog.js';
import { blobsOf, dropUnnamedImages } from './images.js';
import { deletePost } from './revisions.js';

/** The profile an account leaves behind: contacts see that it was deleted, and nothing it said. */
const DELETED_NAME = 'Deleted account';

/**
 * The first step of deleting an account, before its providers are asked to drop its data: every post becomes a
 * tombstone and the profile says the account was deleted. Those replicate like any edit, so contacts' replicas
 * and the mirrors they read from keep nothing the account said once their providers delete it; the images of
 * the posts and the profile's picture are pruned, so those replicas drop them too.
 */
export async function closeAccount(mb: Microblog, now = Date.now()): Promise<{ posts: number }> {
  const own = await mb.postsOf(mb.me);
  const picture = (await mb.profile())?.picture;
  for (const item of own) await deletePost(mb, item.ref, { keepImages: true });
  const space = mb.spaces.public;
  const fields = Object.keys((await mb.read(space, 'profile')) ?? {});
  const gone = Object.fromEntries(fields.map((k) => [k, null]));
  await mb.edit(space, 'profile', { ...gone, schema: 'microblog.profile@1', name: DELETED_NAME, bio: '', deletedAt: now });
  for (const audience of ['public', 'friends'] as const) {
    const images = own.filter((i) => i.ref.audience === audience).flatMap((i) => blobsOf(i.post));
    await dropUnnamedImages(mb, audience, audience === 'public' && picture ? [...images, picture.blob] : images);
  }
  return { posts: own.length };
}
