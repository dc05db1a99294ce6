import { encodeCard, type Device } from '@freehold/core';
import { Microblog, spacesOf } from '@freehold/microblog';
import { join_, newDevice, syncWith } from './helpers.js';

/** A microblog with no network of its own: the test syncs the device. */
export const blog = (d: Device) => new Microblog(d, { resolve: () => Promise.reject(new Error('no network here')), fetch: async () => {} });

/**
 * Alice and Bob, both hosted at `url` with their microblog spaces set up there; Alice holds Bob's log and his
 * inbox, so she can write to him.
 */
export async function aliceAndBob(dir: string, url: string, suffix = ''): Promise<{ alice: Device; bob: Device; aliceBlog: Microblog; bobBlog: Microblog }> {
  const alice = await newDevice(dir, `alice${suffix}`);
  const bob = await newDevice(dir, `bob${suffix}`);
  await join_(alice, url);
  await join_(bob, url);
  const [aliceBlog, bobBlog] = [blog(alice), blog(bob)];
  await bobBlog.ensure();
  await syncWith(bob, url);
  await aliceBlog.ensure();
  await alice.replica.addCard(encodeCard(bob.identity()));
  await syncWith(alice, url, [spacesOf(bob.account).inbox]);
  return { alice, bob, aliceBlog, bobBlog };
}
