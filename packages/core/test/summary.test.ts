import { describe, expect, it } from 'vitest';
import { decodeFrame, Device, encode, encodeCard, encodeFrame, newDeviceKeys, possessionProof, Replica, SyncSession, syncPair, toHex } from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { newUser, put } from './helpers.js';

/** A device's session with a provider of its own: it shows the provider everything. */
const upload = (device: Device, relay: Replica) => syncPair(new SyncSession(device.replica, { account: device.account, offer: async () => 'all' }), relaySide(relay));

/** A replica that relays another's spaces (as a provider does): it shows every space to every peer. */
async function relayOf(device: Device): Promise<Replica> {
  const relay = await Replica.open(new MemoryStore());
  await upload(device, relay);
  expect((await relay.store.spaces()).length).toBe((await device.store.spaces()).length);
  return relay;
}
const relaySide = (r: Replica) => new SyncSession(r, { account: new Uint8Array(0), offer: async () => 'all' });

/** Syncs two relays, each showing the other everything (providers home to the same account). */
async function between(a: Replica, b: Replica) {
  const leader = relaySide(a);
  const follower = relaySide(b);
  const { roundTrips } = await syncPair(leader, follower);
  return { roundTrips, bytes: leader.stats.bytesSent + leader.stats.bytesReceived, rec: leader.stats.reconcileMessages + follower.stats.reconcileMessages };
}

async function accountWithSpaces(n: number) {
  const alice = await newUser('alice');
  const spaces: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const s = await alice.device.createSpace(false);
    await put(alice.device, s, 'note', { i });
    spaces.push(s);
  }
  return { alice, spaces };
}

describe('a session opens with a summary of what both sides share', () => {
  it('settles in one round of a few hundred bytes when nothing differs, however many spaces are shared', async () => {
    const small = await accountWithSpaces(10);
    const large = await accountWithSpaces(120);
    const cost = async (d: Device) => between(await relayOf(d), await relayOf(d));
    const [a, b] = [await cost(small.alice.device), await cost(large.alice.device)];
    expect(a.roundTrips).toBe(1);
    expect(b.roundTrips).toBe(1);
    expect(b.bytes).toBeLessThan(400);
    // 12 times the spaces, the same cost: the summary is one fingerprint.
    expect(b.bytes).toBeLessThan(a.bytes + 64);
  });

  it('reconciles only the spaces that differ, in either direction, and a space one side lacks', async () => {
    const { alice, spaces } = await accountWithSpaces(100);
    const p1 = await relayOf(alice.device);
    const p2 = await relayOf(alice.device);
    await put(alice.device, spaces[7]!, 'note', { changed: 'via p1' });
    await upload(alice.device, p1);
    const late = await alice.device.createSpace(false);
    await put(alice.device, late, 'note', { late: true });
    const p3 = await relayOf(alice.device);
    // p2 lacks the change and the new space; p3 holds both. p2 leads towards p3, then p1 towards p2.
    const r = await between(p2, p3);
    expect(await p2.store.keys(late)).toHaveLength((await p3.store.keys(late)).length);
    expect(await p2.store.keys(spaces[7]!)).toHaveLength((await p3.store.keys(spaces[7]!)).length);
    expect(r.rec).toBeLessThan(20);
    const again = await between(p1, p2);
    expect(again.rec).toBeLessThan(20);
    for (const s of [...spaces, late]) expect((await p1.store.keys(s)).map((k) => toHex(k.id)).sort()).toEqual((await p2.store.keys(s)).map((k) => toHex(k.id)).sort());
  });

  it('passes on an identity log that grew though no space differs', async () => {
    const { alice } = await accountWithSpaces(5);
    const p1 = await relayOf(alice.device);
    const p2 = await relayOf(alice.device);
    await alice.device.setProviders(['https://coop.example']);
    await upload(alice.device, p1);
    await between(p2, p1);
    expect(p2.contact(alice.device.account)?.providers).toEqual(['https://coop.example']);
  });

  it('gives a device of an account with no space the newer log its other device left with the relay', async () => {
    const alice = await newUser('alice');
    const keys = newDeviceKeys();
    await alice.device.addDevice({ sign: keys.sign.publicKey, box: keys.box.publicKey, name: 'phone', proof: possessionProof(alice.device.account, keys) });
    const store = new MemoryStore();
    await store.putCard(alice.device.account, encodeCard(alice.device.identity()));
    const phone = await Device.open(store, keys, alice.device.account);
    const relay = await Replica.open(new MemoryStore());
    await upload(alice.device, relay);
    await phone.setProviders(['https://coop.example']);
    await upload(phone, relay);
    await upload(alice.device, relay);
    expect(alice.device.identity().providers).toEqual(['https://coop.example']);
  });

  it('refuses a summary message on a session that opened without a summary', async () => {
    const relay = await Replica.open(new MemoryStore());
    const follower = relaySide(relay);
    await follower.receive(encodeFrame(['hello', new Uint8Array(0), [], [], 1]));
    await expect(follower.receive(encodeFrame(['sum', new Uint8Array(0), [], []]))).rejects.toMatchObject({ reason: 'malformed' });
    // A summary larger than a reconciliation message may be is refused before it is read.
    expect(() => decodeFrame(encode(['hello', new Uint8Array(0), [], [], 2, new Uint8Array((1 << 20) + 1)]))).toThrow(/exceeds/);
  });
});
