import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, encodeCard, Kind, toHex } from '@freehold/core';
import { claimHandle, resolveHandle, register } from '@freehold/client';
import type { RunningServer } from '@freehold/server';
import { join_, newDevice, put, startServer, syncWith, tempDir } from './helpers.js';

const tmp = tempDir('provider');
afterAll(() => tmp.cleanup());

describe('accounts, quotas, handles and inboxes', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ data: tempDir('srv').dir, quota: 40_000, inbox: { appendsPerMinute: 20 } });
  });
  afterAll(() => server.close());

  it('refuses registration that the identity log does not back, and writes from unregistered accounts', async () => {
    const d = await newDevice(tmp.dir, 'eve');
    await expect(register(server.url, d)).rejects.toMatchObject({ reason: 'invalid-argument' });
    const space = await d.createSpace(false);
    await put(d, space, 'x', { a: 1 });
    const r = await syncWith(d, server.url);
    // The create op is not hosted; what depends on it then has nothing to stand on.
    expect(r.rejected.map((x) => x[1]).sort()).toEqual(['missing-dependency', 'not-hosted']);
    expect(r.rejected.find((x) => x[1] === 'not-hosted')![2]).toMatch(/not registered .*freehold provider add/);
    expect(await server.provider.store.countEntries()).toBe(0);
  });

  it('refuses a write over quota with a clear error and stores nothing of it', async () => {
    const alice = await newDevice(tmp.dir, 'alice');
    await join_(alice, server.url);
    const space = await alice.createSpace(false);
    await put(alice, space, 'small', { text: 'fits' });
    expect((await syncWith(alice, server.url)).rejected).toEqual([]);
    const before = (await server.provider.store.getAccount(alice.account))!;
    expect(before.used).toBeGreaterThan(0);
    const big = await put(alice, space, 'big', { text: 'x'.repeat(45_000) });
    const r = await syncWith(alice, server.url);
    expect(r.rejected.map((x) => x[1])).toEqual(['quota-exceeded']);
    expect(r.rejected[0]![2]).toMatch(/over quota: \d+ of 40000 bytes used/);
    expect(await server.provider.store.hasEntry(big.id)).toBe(false);
    expect((await server.provider.store.getAccount(alice.account))!.used).toBe(before.used);
  });

  it('handles resolve to the account that signed them, and a lying directory is caught', async () => {
    const bob = await newDevice(tmp.dir, 'bob');
    const mallory = await newDevice(tmp.dir, 'mallory');
    await join_(bob, server.url);
    await join_(mallory, server.url);
    const host = new URL(server.url).host;
    await bob.setHandles([`bob@${host}`]);
    expect(await claimHandle(server.url, bob, 'bob')).toBe(`bob@${host}`);
    const state = await resolveHandle(`bob@${host}`);
    expect(toHex(state.account)).toBe(toHex(bob.account));
    // Taken, unclaimed in the log, malformed, missing.
    await mallory.setHandles([`bob@${host}`]);
    await expect(claimHandle(server.url, mallory, 'bob')).rejects.toThrow(/already taken/);
    await expect(claimHandle(server.url, mallory, 'mal')).rejects.toThrow(/does not claim mal@/);
    await expect(resolveHandle(`nobody@${host}`)).rejects.toMatchObject({ reason: 'not-found' });
    await expect(resolveHandle('not a handle')).rejects.toMatchObject({ reason: 'invalid-argument' });
    // The operator points "mal" at Bob's account behind his back: Bob's log never claimed it, so it is not answered.
    await server.provider.store.claimHandle('mal', bob.account, { max: 10, releasedBefore: 0 });
    await expect(resolveHandle(`mal@${host}`)).rejects.toMatchObject({ reason: 'not-found' });
    // A provider that answers it anyway, with Bob's real directory entry, is caught by the client.
    const entry = await (await fetch(`${server.url}/.well-known/freehold/handles/bob`)).text();
    const liar = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(entry));
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    try {
      await expect(resolveHandle(`mal@127.0.0.1:${(liar.address() as AddressInfo).port}`)).rejects.toThrow(/does not claim mal@/);
    } finally {
      await new Promise((r) => liar.close(r));
    }
  });

  it('anyone authenticated may append to an inbox (rate limited); only the owner reads it', async () => {
    const owner = await newDevice(tmp.dir, 'owner');
    await join_(owner, server.url);
    const inbox = await owner.createSpace(false, { inbox: true });
    await syncWith(owner, server.url);
    // Carol is not registered here and is not a member: she gets the inbox's membership log and nothing else.
    const carol = await newDevice(tmp.dir, 'carol');
    await syncWith(carol, server.url, [inbox]);
    expect(await carol.store.countEntries()).toBe(1);
    const msg = await carol.write(inbox, Kind.append, new Uint8Array(16), new TextEncoder().encode('hi owner'));
    expect((await syncWith(carol, server.url)).rejected).toEqual([]);
    await owner.replica.addCard(encodeCard(carol.identity()));
    await syncWith(owner, server.url);
    const got = await owner.store.getEntries([msg.id]);
    expect(new TextDecoder().decode(await owner.decrypt(decodeEntry(got[0]!.bytes)))).toBe('hi owner');
    // Dave cannot read Carol's message: the provider shows him only his own appends.
    const dave = await newDevice(tmp.dir, 'dave');
    await syncWith(dave, server.url, [inbox]);
    expect(await dave.store.hasEntry(msg.id)).toBe(false);
    // A flood is cut off.
    for (let i = 0; i < 40; i++) await carol.write(inbox, Kind.append, new Uint8Array(16), new TextEncoder().encode(`spam ${i}`));
    const flood = await syncWith(carol, server.url);
    expect(flood.rejected.length).toBeGreaterThan(0);
    expect(new Set(flood.rejected.map((x) => x[1]))).toEqual(new Set(['rate-limited']));
  });
});
