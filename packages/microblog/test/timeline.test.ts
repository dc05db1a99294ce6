import { describe, expect, it } from 'vitest';
import { copy, follow, person } from './people.js';

describe('the timeline read again', () => {
  it('shows an edit that arrives later with an older time, though the post was read before', async () => {
    const [alice, bob] = [await person('alice'), await person('bob')];
    await follow(bob, alice);
    const ref = await alice.post('first words');
    await copy(bob, alice);
    expect((await bob.timeline()).map((i) => i.post.text)).toEqual(['first words']);
    // Written on a device whose clock is behind: the edit's entry is older than the post's newest one so far,
    // so the newest entry of the document Bob reads is the same as before; what changed is what his replica took.
    alice.device.replica.now = () => Date.now() - 3_600_000;
    await alice.editPost(ref, 'second words');
    await copy(bob, alice);
    expect((await bob.timeline()).map((i) => i.post.text)).toEqual(['second words']);
  });
});
