import { describe, expect, it } from 'vitest';
import { newUser, introduce, sync, put, get } from './helpers.js';

describe('two accounts sharing a private space', () => {
  it('a writer added by the admin edits a document and both converge', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const space = await alice.device.createSpace(false);
    await put(alice.device, space, 'notes', { title: 'hello' });
    await alice.device.setRole(space, bob.device.account, 'writer');
    await sync(alice.device, bob.device);
    expect(await get(bob.device, space, 'notes')).toEqual({ title: 'hello' });
    await put(bob.device, space, 'notes', { body: 'from bob' });
    await sync(bob.device, alice.device);
    expect(await get(alice.device, space, 'notes')).toEqual({ title: 'hello', body: 'from bob' });
  });
});
