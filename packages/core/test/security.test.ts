import { describe, expect, it } from 'vitest';
import {
  createEntry,
  encode,
  Kind,
  newDeviceKeys,
  randomBytes,
  readEntry,
  toHex,
  Device,
  encodeCard,
  type Entry,
  type Header,
  type SigningKey,
  possessionProof,
} from '@freehold/core';
import { MemoryStore } from '@freehold/stores';
import { introduce, newUser, put, sync, type User } from './helpers.js';

/** What an attacker can put on the wire: any header, any payload, signed with whatever key they hold. */
function craft(key: SigningKey, h: Partial<Header> & Pick<Header, 'space' | 'basis'>, payload = randomBytes(40)): Entry {
  const header: Header = { kind: Kind.update, doc: randomBytes(16), device: key.publicKey, seq: 1, prev: new Uint8Array(0), time: Date.now(), ...h };
  return createEntry(header, key, payload.length, () => payload);
}

async function snapshotOf(d: Device) {
  const spaces = await d.store.spaces();
  const keys = [];
  for (const s of spaces) keys.push(...(await d.store.keys(s)).map((k) => toHex(k.id)));
  return { count: await d.store.countEntries(), keys: keys.sort() };
}

/** Ingests into the victim and checks the typed reason and that nothing changed. */
async function expectRejected(victim: Device, bytes: Uint8Array, reason: string) {
  const before = await snapshotOf(victim);
  const [r] = await victim.replica.ingest([bytes]);
  expect(r!.ok).toBe(false);
  expect(r!.reason).toBe(reason);
  expect(await snapshotOf(victim)).toEqual(before);
}

async function basisOf(d: Device, space: Uint8Array) {
  return (await d.replica.graph(space)).latest!.entryId;
}

async function setup(): Promise<{ alice: User; bob: User; mallory: User; space: Uint8Array; good: Entry }> {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const mallory = await newUser('mallory');
  await introduce(alice.device, bob.device, mallory.device);
  const space = await alice.device.createSpace(false);
  const good = (await put(alice.device, space, 'doc', { a: 1 }))!;
  return { alice, bob, mallory, space, good };
}

describe('security matrix: every bad entry is rejected with its reason and the store is unchanged', () => {
  it('forged signature', async () => {
    const { alice, bob, space, good } = await setup();
    const forged = encode([good.header, good.payload, craft(bob.device.keys.sign, { space, basis: good.basis }).signature]);
    await expectRejected(alice.device, forged, 'bad-signature');
    const [r] = await bob.device.replica.ingest([forged]);
    expect(r!.reason).toBe('bad-signature');
  });

  it('forged signature in a batch whose signatures were checked ahead (Replica.prepare): the same answers as without', async () => {
    const { bob, mallory, space, good } = await setup();
    const forged = encode([good.header, good.payload, craft(bob.device.keys.sign, { space, basis: good.basis }).signature]);
    const other = craft(mallory.device.keys.sign, { space, basis: good.basis });
    const batch = [forged, other.bytes, good.bytes];
    bob.device.replica.prepare(batch);
    const ahead = (await bob.device.replica.ingest(batch)).map((r) => r.reason ?? 'ok');
    const plain = (await mallory.device.replica.ingest([...batch])).map((r) => r.reason ?? 'ok');
    expect(ahead[0]).toBe('bad-signature');
    expect(ahead).toEqual(plain);
  });

  it('tampered ciphertext', async () => {
    const { bob, good } = await setup();
    const payload = good.payload.slice();
    payload[payload.length - 3]! ^= 0x20;
    await expectRejected(bob.device, encode([good.header, payload, good.signature]), 'bad-signature');
  });

  it('ciphertext that does not open under the epoch key, correctly signed by a writer', async () => {
    const { alice, space, good } = await setup();
    const key = alice.device.keys.sign;
    const seq = (await alice.device.store.maxSeq(key.publicKey)) + 1;
    const prev = (await alice.device.store.idBySeq(key.publicKey, seq - 1))!;
    const e = craft(key, { space, basis: good.basis, doc: good.doc, seq, prev });
    await expectRejected(alice.device, e.bytes, 'decrypt-failed');
  });

  it('tampered header', async () => {
    const { bob, good } = await setup();
    const header = good.header.slice();
    header[10]! ^= 1; // inside the space id
    await expectRejected(bob.device, encode([header, good.payload, good.signature]), 'bad-signature');
  });

  it('replayed entry, and a second entry claiming the same sequence number', async () => {
    const { alice, space, good } = await setup();
    await expectRejected(alice.device, good.bytes, 'duplicate');
    const fork = craft(alice.device.keys.sign, { space, basis: good.basis, seq: good.seq, prev: good.prev });
    await expectRejected(alice.device, fork.bytes, 'fork');
  });

  it('write by a non-member', async () => {
    const { alice, mallory, space, good } = await setup();
    await expectRejected(alice.device, craft(mallory.device.keys.sign, { space, basis: good.basis }).bytes, 'not-member');
  });

  it('write by a device of no known account', async () => {
    const { alice, space, good } = await setup();
    await expectRejected(alice.device, craft(newDeviceKeys().sign, { space, basis: good.basis }).bytes, 'unknown-author');
  });

  it('write by a reader (refused locally before signing, and by every replica)', async () => {
    const { alice, bob, space } = await setup();
    await alice.device.setRole(space, bob.device.account, 'reader');
    await sync(alice.device, bob.device);
    const before = await snapshotOf(bob.device);
    await expect(put(bob.device, space, 'doc', { b: 2 })).rejects.toMatchObject({ reason: 'forbidden-role' });
    expect(await snapshotOf(bob.device)).toEqual(before);
    await expectRejected(alice.device, craft(bob.device.keys.sign, { space, basis: await basisOf(alice.device, space) }).bytes, 'forbidden-role');
  });

  it('write by a removed writer after removal, while earlier writes stay', async () => {
    const { alice, bob, space } = await setup();
    await alice.device.setRole(space, bob.device.account, 'writer');
    await sync(alice.device, bob.device);
    const early = (await put(bob.device, space, 'doc', { b: 'before' }))!;
    await sync(bob.device, alice.device);
    await alice.device.remove(space, bob.device.account);
    // Bob has not seen the removal and writes under the membership state he knows.
    const late = (await put(bob.device, space, 'doc', { b: 'after' }))!;
    await expectRejected(alice.device, late.bytes, 'removed-member');
    expect(await alice.device.store.hasEntry(early.id)).toBe(true);
  });

  it('a removal that arrives after the removed writer’s late entry evicts it, so all replicas agree', async () => {
    const { alice, bob, mallory, space } = await setup();
    await alice.device.setRole(space, bob.device.account, 'writer');
    await alice.device.setRole(space, mallory.device.account, 'reader');
    await sync(alice.device, bob.device);
    await sync(alice.device, mallory.device);
    await alice.device.remove(space, bob.device.account);
    const late = (await put(bob.device, space, 'doc', { b: 'after' }))!;
    await sync(bob.device, mallory.device);
    expect(await mallory.device.store.hasEntry(late.id)).toBe(true);
    await sync(alice.device, mallory.device);
    expect(await mallory.device.store.hasEntry(late.id)).toBe(false);
  });

  it('write by a revoked device after its revocation', async () => {
    const { alice, space } = await setup();
    const keys2 = newDeviceKeys();
    await alice.device.addDevice({ sign: keys2.sign.publicKey, box: keys2.box.publicKey, name: 'phone', proof: possessionProof(alice.device.account, keys2) });
    const store2 = new MemoryStore();
    await store2.putCard(alice.device.account, encodeCard(alice.device.identity()));
    const phone = await Device.open(store2, keys2, alice.device.account);
    await sync(alice.device, phone);
    const before = (await put(phone, space, 'doc', { phone: 'before' }))!;
    await sync(phone, alice.device);
    await alice.device.revokeDevice(phone.id);
    const after = (await put(phone, space, 'doc', { phone: 'after' }))!;
    await expectRejected(alice.device, after.bytes, 'revoked-device');
    expect(await alice.device.store.hasEntry(before.id)).toBe(true);
    // The phone, once it learns of its revocation, cannot sign anything anyone accepts.
    await sync(alice.device, phone);
    expect(await phone.store.hasEntry(after.id)).toBe(false);
  });

  it('membership change by a non-admin', async () => {
    const { alice, bob, mallory, space } = await setup();
    await alice.device.setRole(space, bob.device.account, 'writer');
    await sync(alice.device, bob.device);
    await expect(bob.device.setRole(space, mallory.device.account, 'admin')).rejects.toMatchObject({ reason: 'forbidden-role' });
    const graph = await bob.device.replica.graph(space);
    const op = { t: 'set-role', deps: graph.heads().map((h) => Uint8Array.from(Buffer.from(h, 'hex'))), account: mallory.device.account, role: 'admin' };
    const payload = encode(op);
    const seq = (await bob.device.store.maxSeq(bob.device.id)) + 1;
    const prev = seq > 1 ? (await bob.device.store.idBySeq(bob.device.id, seq - 1))! : new Uint8Array(0);
    const e = createEntry(
      { kind: Kind.membership, space, doc: new Uint8Array(0), device: bob.device.id, seq, prev, basis: new Uint8Array(0), time: Date.now() },
      bob.device.keys.sign,
      payload.length,
      () => payload,
    );
    await expectRejected(alice.device, e.bytes, 'forbidden-role');
  });

  it('malformed bytes and entries from the future', async () => {
    const { alice, space, good } = await setup();
    await expectRejected(alice.device, new Uint8Array([0x83, 1, 2]), 'malformed');
    await expectRejected(alice.device, randomBytes(100), 'malformed');
    const e = craft(alice.device.keys.sign, { space, basis: good.basis, seq: 99, prev: randomBytes(32), time: Date.now() + 3_600_000 });
    await expectRejected(alice.device, e.bytes, 'clock-skew');
    expect(readEntry(good.bytes).seq).toBe(good.seq);
  });

  it('an update carrying another client’s Yjs ops', async () => {
    const { alice, bob, space } = await setup();
    await alice.device.setRole(space, bob.device.account, 'writer');
    await sync(alice.device, bob.device);
    // Bob replays Alice's own update as if it were his: it carries Alice's client id.
    const aliceUpdate = (await put(alice.device, space, 'doc', { forged: true }))!;
    const plaintext = await alice.device.decrypt(aliceUpdate);
    await sync(alice.device, bob.device);
    const before = await snapshotOf(alice.device);
    await expect(bob.device.write(space, Kind.update, aliceUpdate.doc, plaintext)).rejects.toMatchObject({ reason: 'foreign-client-id' });
    expect(await snapshotOf(alice.device)).toEqual(before);
  });
});
