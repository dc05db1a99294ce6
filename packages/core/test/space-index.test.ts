import { describe, expect, it } from 'vitest';
import { Replica, SPACE_INDEX_META, toHex, type Store } from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { introduce, newUser } from './helpers.js';

const named = async (store: Store, account: Uint8Array) => (await store.spacesOf(account)).map((n) => [toHex(n.space), n.creator]);

describe('the space index', () => {
  it('names a space under its creator and every account an operation gives a role or removes', async () => {
    const [alice, bob, carol, dave] = [await newUser('alice'), await newUser('bob'), await newUser('carol'), await newUser('dave')];
    await introduce(alice.device, bob.device, carol.device, dave.device);
    const a = alice.device;
    const space = await a.createSpace(false);
    const other = await a.createSpace(true);
    await a.setRole(space, bob.device.account, 'writer');
    await a.setRole(space, carol.device.account, 'reader');
    await a.remove(space, carol.device.account);
    await a.rotate(space);
    const byId = (xs: [string, boolean][]) => xs.sort((x, y) => (x[0] < y[0] ? -1 : 1));
    expect(await named(a.store, a.account)).toEqual(byId([[toHex(space), true], [toHex(other), true]]));
    expect(await named(a.store, bob.device.account)).toEqual([[toHex(space), false]]);
    // Removed, and still named: the visibility rule, not the index, decides what a former member sees.
    expect(await named(a.store, carol.device.account)).toEqual([[toHex(space), false]]);
    expect(await named(a.store, dave.device.account)).toEqual([]);
  });

  it('is filled once, when a replica opens a store written without it', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const space = await alice.device.createSpace(false);
    await alice.device.setRole(space, bob.device.account, 'reader');
    // An older store: the same rows, no index, no mark.
    const old = new MemoryStore();
    for (const { account, card } of await alice.device.store.cards()) await old.putCard(account, card);
    await old.putEntries(await alice.device.store.spaceEntries(space));
    expect(await old.spacesOf(bob.device.account)).toEqual([]);
    await Replica.open(old);
    expect(await named(old, alice.device.account)).toEqual([[toHex(space), true]]);
    expect(await named(old, bob.device.account)).toEqual([[toHex(space), false]]);
    expect(await old.getMeta(SPACE_INDEX_META)).toBeDefined();
    // Marked done: a later open does not read every membership entry again (a row put without its name stays
    // out of the index, where a second fill would have added it).
    const bobs = await bob.device.createSpace(true);
    await old.putEntries(await bob.device.store.spaceEntries(bobs));
    await Replica.open(old);
    expect(await named(old, bob.device.account)).toEqual([[toHex(space), false]]);
  });
});
