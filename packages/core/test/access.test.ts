import { describe, expect, it } from 'vitest';
import {
  beginRecovery,
  completeRecovery,
  Device,
  encodeCard,
  isFreeholdError,
  Kind,
  listDocs,
  newDeviceKeys,
  readEntry,
  toHex,
  possessionProof,
} from '@freehold/core';
import { secretToPhrase, phraseToSecret } from '@freehold/core/words';
import { MemoryStore } from '@freehold/stores';
import { get, introduce, newUser, put, sync } from './helpers.js';

describe('read access follows membership, devices and recovery', () => {
  it('a removed reader cannot decrypt entries written after the removal', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const space = await alice.device.createSpace(false);
    await put(alice.device, space, 'doc', { before: 'visible' });
    await alice.device.setRole(space, bob.device.account, 'reader');
    await sync(alice.device, bob.device);
    expect(await get(bob.device, space, 'doc')).toEqual({ before: 'visible' });

    await alice.device.remove(space, bob.device.account);
    const secret = (await put(alice.device, space, 'doc', { after: 'secret' }))!;
    // A relay hands Bob everything regardless: he can store it, not read it.
    const all = await alice.device.store.spaceEntries(space);
    const results = await bob.device.replica.ingest(all.map((r) => r.bytes));
    expect(results.every((r) => r.ok || r.reason === 'duplicate')).toBe(true);
    await expect(bob.device.decrypt(readEntry((await bob.device.store.getEntries([secret.id]))[0]!.bytes))).rejects.toMatchObject({ reason: 'no-key' });
    // Alice's normal sync no longer offers him the space at all.
    const bob2 = await newUser('bob-fresh');
    await introduce(alice.device, bob2.device);
    await sync(alice.device, bob2.device);
    expect(await bob2.device.store.countEntries()).toBe(0);
  });

  it('a new device of the account reads all of its spaces without other members acting', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const own = await alice.device.createSpace(false);
    await put(alice.device, own, 'diary', { day: 1 });
    // A space Bob administers and shared with Alice before her new device existed.
    const shared = await bob.device.createSpace(false);
    await put(bob.device, shared, 'plans', { trip: 'alps' });
    await bob.device.setRole(shared, alice.device.account, 'reader');
    await sync(bob.device, alice.device);

    const keys = newDeviceKeys();
    await alice.device.addDevice({ sign: keys.sign.publicKey, box: keys.box.publicKey, name: 'phone', proof: possessionProof(alice.device.account, keys) });
    const store = new MemoryStore();
    await store.putCard(alice.device.account, encodeCard(alice.device.identity()));
    const phone = await Device.open(store, keys, alice.device.account);
    await sync(phone, alice.device);
    expect(await get(phone, own, 'diary')).toEqual({ day: 1 });
    expect(await get(phone, shared, 'plans')).toEqual({ trip: 'alps' });
  });

  it('a revoked device cannot read what is written after its revocation', async () => {
    const alice = await newUser('alice');
    const space = await alice.device.createSpace(false);
    const keys = newDeviceKeys();
    await alice.device.addDevice({ sign: keys.sign.publicKey, box: keys.box.publicKey, name: 'stolen phone', proof: possessionProof(alice.device.account, keys) });
    const store = new MemoryStore();
    await store.putCard(alice.device.account, encodeCard(alice.device.identity()));
    const phone = await Device.open(store, keys, alice.device.account);
    await sync(phone, alice.device);
    const rotated = await alice.device.revokeDevice(phone.id);
    expect(rotated.map(toHex)).toEqual([toHex(space)]);
    const after = (await put(alice.device, space, 'doc', { secret: 'after revocation' }))!;
    await phone.replica.addCard(encodeCard(alice.device.identity()));
    const results = await phone.replica.ingest((await alice.device.store.spaceEntries(space)).map((r) => r.bytes));
    expect(results.every((r) => r.ok || r.reason === 'duplicate')).toBe(true);
    await expect(phone.decrypt(after)).rejects.toSatisfy((e) => isFreeholdError(e, 'no-key'));
  });

  it('a recovered account (phrase only) reads everything after syncing with a replica', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const a = await alice.device.createSpace(false);
    const pub = await alice.device.createSpace(true);
    await put(alice.device, a, 'secret', { pin: 1234 });
    await put(alice.device, pub, 'hello', { text: 'hi all' });
    const shared = await bob.device.createSpace(false);
    await put(bob.device, shared, 'notes', { from: 'bob' });
    await bob.device.setRole(shared, alice.device.account, 'writer');
    await sync(bob.device, alice.device);
    // Alice's device is lost; only the phrase and a replica remain (here: the lost device's last backup).
    const phrase = secretToPhrase(alice.recoverySecret);
    const pending = beginRecovery(phraseToSecret(phrase), 'new laptop');
    expect(toHex(pending.account)).toBe(toHex(alice.device.account));
    const fresh = await Device.open(new MemoryStore(), pending.device, pending.account);
    await sync(fresh, alice.device);
    expect(await completeRecovery(fresh.replica, pending)).toBe(true);
    expect(await get(fresh, a, 'secret')).toEqual({ pin: 1234 });
    expect(await get(fresh, pub, 'hello')).toEqual({ text: 'hi all' });
    expect(await get(fresh, shared, 'notes')).toEqual({ from: 'bob' });
    expect(await listDocs(fresh, a)).toEqual(['secret']);
    // And it writes as a full device of the account, accepted by others.
    await put(fresh, shared, 'notes', { reply: 'alice again' });
    await sync(fresh, bob.device);
    expect(await get(bob.device, shared, 'notes')).toEqual({ from: 'bob', reply: 'alice again' });
  });

  it('an appender writes to an inbox it cannot read; only readers open it', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const inbox = await alice.device.createSpace(false);
    await alice.device.setRole(inbox, bob.device.account, 'appender');
    await sync(alice.device, bob.device);
    const msg = await bob.device.write(inbox, Kind.append, new Uint8Array(16), new TextEncoder().encode('hello alice'));
    await expect(bob.device.decrypt(msg)).rejects.toMatchObject({ reason: 'no-key' });
    await sync(bob.device, alice.device);
    expect(new TextDecoder().decode(await alice.device.decrypt(msg))).toBe('hello alice');
    await expect(bob.device.write(inbox, Kind.update, new Uint8Array(16), new Uint8Array(4))).rejects.toMatchObject({ reason: 'forbidden-role' });
  });
});
