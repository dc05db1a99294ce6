import { describe, expect, it } from 'vitest';
import {
  addDevice,
  createAccount,
  decodeCard,
  Device,
  encode,
  encodeCard,
  possessionProof,
  Replica,
  revokeDevice,
  toHex,
} from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { ForgedLog } from '../../../test-support/forge.js';
import { put } from './helpers.js';

describe('a device key belongs to the account its holder agreed to join', () => {
  it('refuses a log that adds someone else’s device, with or without a proof lifted from their log', () => {
    const alice = createAccount('laptop', Date.now());
    const bare = new ForgedLog().addForeignDevice(alice.state, alice.device.sign.publicKey, false);
    expect(() => decodeCard(encode(bare.records))).toThrow(expect.objectContaining({ reason: 'bad-signature' }));
    const lifted = new ForgedLog().addForeignDevice(alice.state, alice.device.sign.publicKey, true);
    expect(() => decodeCard(encode(lifted.records))).toThrow(expect.objectContaining({ reason: 'bad-signature' }));
    // Revoking a device one's own log never added is refused too.
    const revoke = new ForgedLog().revoke(alice.device.sign.publicKey, 0);
    expect(() => decodeCard(encode(revoke.records))).toThrow(/not a live device/);
  });

  it('a key its holder put in two accounts is owned by the first claim on every replica, whatever the order', async () => {
    const first = createAccount('laptop', 1_000);
    const second = createAccount('laptop', 1_000);
    // The key's holder itself signs a second proof, later, for another account.
    const shared = first.device;
    addDevice(
      second.state,
      second.device.sign,
      second.accountSecret,
      { sign: shared.sign.publicKey, box: shared.box.publicKey, name: 'shared', proof: possessionProof(second.state.account, shared) },
      2_000,
    );
    const owners: string[] = [];
    for (const order of [
      [first, second],
      [second, first],
    ]) {
      const replica = await Replica.open(new MemoryStore());
      for (const a of order) await replica.addCard(encodeCard(a.state));
      owners.push(toHex(replica.authorOf(shared.sign.publicKey)!.account.account));
    }
    expect(owners).toEqual([toHex(first.state.account), toHex(first.state.account)]);
  });

  it('a log that does not own a device cannot evict what that device wrote', async () => {
    const store = new MemoryStore();
    const owner = createAccount('laptop', 1_000);
    await store.putCard(owner.state.account, encodeCard(owner.state));
    const device = await Device.open(store, owner.device, owner.state.account);
    const space = await device.createSpace(false);
    const entry = (await put(device, space, 'note', { text: 'mine' }))!;
    // A second account that the device's holder also joined (later), and that then revokes it with cut 0.
    const other = createAccount('laptop', 1_000);
    addDevice(
      other.state,
      other.device.sign,
      other.accountSecret,
      { sign: owner.device.sign.publicKey, box: owner.device.box.publicKey, name: 'x', proof: possessionProof(other.state.account, owner.device) },
      5_000,
    );
    revokeDevice(other.state, other.device.sign, other.accountSecret, owner.device.sign.publicKey, 0, 6_000);
    await device.replica.addCard(encodeCard(other.state));
    expect(await store.hasEntry(entry.id)).toBe(true);
    expect(toHex(device.replica.authorOf(owner.device.sign.publicKey)!.account.account)).toBe(toHex(owner.state.account));
  });
});
