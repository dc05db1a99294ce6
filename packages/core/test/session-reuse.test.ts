import { describe, expect, it } from 'vitest';
import { SyncSession, syncPair } from '@freehold/core';
import { get, introduce, newUser, put } from './helpers.js';

describe('a sync session that reconciles more than once', () => {
  it('answers a second hello from what it holds now, not from what it held at the first', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const space = await alice.device.createSpace(false);
    await alice.device.setRole(space, bob.device.account, 'writer');
    await put(alice.device, space, 'plan', { where: 'alps' });
    // Bob's side keeps one session open, as a provider does for a connected client.
    const bobSide = new SyncSession(bob.device.replica, { account: bob.device.account });
    await syncPair(new SyncSession(alice.device.replica, { account: alice.device.account }), bobSide);
    expect(await get(bob.device, space, 'plan')).toEqual({ where: 'alps' });

    await put(bob.device, space, 'plan', { when: 'july' });
    await syncPair(new SyncSession(alice.device.replica, { account: alice.device.account }), bobSide);
    expect(await get(alice.device, space, 'plan')).toEqual({ where: 'alps', when: 'july' });
  });

  it('sends an identity log again once it has grown since it was sent', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const space = await alice.device.createSpace(false);
    await alice.device.setRole(space, bob.device.account, 'reader');
    const aliceSide = new SyncSession(alice.device.replica, { account: alice.device.account });
    await syncPair(new SyncSession(bob.device.replica, { account: bob.device.account }), aliceSide);
    await alice.device.setProviders(['https://coop.example']);
    await syncPair(new SyncSession(bob.device.replica, { account: bob.device.account }), aliceSide);
    expect(bob.device.replica.contact(alice.device.account)?.providers).toEqual(['https://coop.example']);
  });
});
