import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntry, decodeFrame, encodeCard, encodeFrame, Kind, randomBytes, type Device } from '@freehold/core';
import { PostgresStore } from '@freehold/stores';
import { ProviderLink } from '@freehold/client';
import type { RunningServer } from '@freehold/server';
import { get, join_, newDevice, PG_URL, put, startServer, syncWith, tempDir, until, WS } from './helpers.js';

const tmp = tempDir('sharing');
afterAll(() => tmp.cleanup());

const schema = `fh_share_${process.pid}`;

describe.each([
  ['SQLite', { data: tempDir('srv').dir }],
  ['PostgreSQL', { db: `${PG_URL}?schema=${schema}` }],
])('two people share a space through one provider (%s)', (_name, storeOpts) => {
  let server: RunningServer;
  let alice: Device;
  let bob: Device;
  let space: Uint8Array;

  beforeAll(async () => {
    server = await startServer(storeOpts);
    alice = await newDevice(tmp.dir, 'alice');
    bob = await newDevice(tmp.dir, 'bob');
    await join_(alice, server.url);
    await join_(bob, server.url);
    await alice.replica.addCard(encodeCard(bob.identity()));
    space = await alice.createSpace(false);
    await put(alice, space, 'notes', { title: 'shared' });
    await alice.setRole(space, bob.account, 'reader');
    await syncWith(alice, server.url);
  });

  afterAll(async () => {
    await server.close();
    if ('db' in storeOpts) {
      const s = await PostgresStore.open(PG_URL, schema);
      await s.drop();
      await s.close();
    }
  });

  it('a reader gets the space and cannot write to it, even by going around its own client', async () => {
    const r = await syncWith(bob, server.url);
    expect(r.stats.entriesReceived).toBeGreaterThan(0);
    expect(await get(bob, space, 'notes')).toEqual({ title: 'shared' });
    await expect(put(bob, space, 'notes', { by: 'bob' })).rejects.toMatchObject({ reason: 'forbidden-role' });
    const graph = await bob.replica.graph(space);
    const basis = graph.latest!.entryId;
    const seq = (await bob.store.maxSeq(bob.id)) + 1;
    const prev = seq > 1 ? (await bob.store.idBySeq(bob.id, seq - 1))! : new Uint8Array(0);
    const payload = randomBytes(60);
    const forged = createEntry({ kind: Kind.update, space, doc: randomBytes(16), device: bob.id, seq, prev, basis, time: Date.now() }, bob.keys.sign, 60, () => payload);
    const push = await ProviderLink.connect(server.url, bob, WS);
    push.send(encodeFrame(['entries', [forged.bytes]]));
    const ack = decodeFrame(await push.next());
    push.close();
    expect(ack[0]).toBe('ack');
    expect(ack[0] === 'ack' && ack[2][0]?.[1]).toBe('forbidden-role');
    expect(await server.provider.store.hasEntry(forged.id)).toBe(false);
  });

  it('a writer’s offline edits and the admin’s merge after both reconnect', async () => {
    await alice.setRole(space, bob.account, 'writer');
    await syncWith(alice, server.url);
    await syncWith(bob, server.url);
    // Both offline: each edits.
    await put(alice, space, 'notes', { a: 1 });
    await put(bob, space, 'notes', { b: 2 });
    await put(bob, space, 'todo', { item: 'bread' });
    await syncWith(bob, server.url);
    await syncWith(alice, server.url);
    await syncWith(bob, server.url);
    const expected = { title: 'shared', a: 1, b: 2 };
    expect(await get(alice, space, 'notes')).toEqual(expected);
    expect(await get(bob, space, 'notes')).toEqual(expected);
    expect(await get(alice, space, 'todo')).toEqual({ item: 'bread' });
  });

  it('live push reaches a subscribed session without polling', async () => {
    const link = await ProviderLink.connect(server.url, bob, WS);
    const { session } = await link.sync(bob);
    const sub = await link.subscribe([space]);
    expect(sub.subscribed).toHaveLength(1);
    const ctl = new AbortController();
    let pushed = 0;
    const watching = link.watch(session, (f) => f[0] === 'entries' && (pushed += f[1].length), ctl.signal);
    const t = performance.now();
    await put(alice, space, 'notes', { live: true });
    await syncWith(alice, server.url);
    await until(() => pushed > 0);
    const ms = performance.now() - t;
    await until(async () => ((await get(bob, space, 'notes')).live === true ? true : undefined));
    ctl.abort();
    await watching;
    link.close();
    expect(ms).toBeLessThan(5000);
  });

  it('a removed member is refused the space and its later writes', async () => {
    await alice.remove(space, bob.account);
    await syncWith(alice, server.url);
    const late = await put(bob, space, 'notes', { late: true });
    // Bob is shown the membership log (he was a member, so he learns of his removal); whichever comes first,
    // his late entry is refused by the provider or evicted from his own replica.
    const r = await syncWith(bob, server.url, [space]);
    expect(r.rejected.every((x) => x[1] === 'removed-member')).toBe(true);
    expect(await server.provider.store.hasEntry(late.id)).toBe(false);
    expect(await bob.store.hasEntry(late.id)).toBe(false);
    expect(await bob.replica.roleOf(space, bob.account)).toBeUndefined();
    const link = await ProviderLink.connect(server.url, bob, WS);
    const sub = await link.subscribe([space]);
    link.close();
    expect(sub.subscribed).toHaveLength(0);
    expect(sub.refused[0]).toMatch(/not readable/);
  });

  it('an anonymous session sees public spaces only and cannot subscribe to a private one', async () => {
    const pub = await alice.createSpace(true);
    await put(alice, pub, 'hello', { text: 'hi' });
    await syncWith(alice, server.url);
    const stranger = await newDevice(tmp.dir, 'stranger');
    const link = await ProviderLink.connect(server.url, null, WS);
    const sub = await link.subscribe([space, pub]);
    expect(sub.subscribed).toHaveLength(1);
    expect(sub.refused.join()).toMatch(/authenticate first/);
    // Public spaces come to whoever asks for them.
    const { stats } = await link.sync(stranger, { interest: [pub] });
    link.close();
    expect(stats.entriesReceived).toBeGreaterThan(0);
    expect(await stranger.store.countEntries()).toBe((await alice.store.spaceEntries(pub)).length);
    expect((await stranger.store.spaces()).length).toBe(1);
  });
});
