import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { installNativeCrypto } from '@freehold/node';
import { outbox, ProviderLink, register } from '@freehold/client';
import { decodeFrame, encodeCard, encodeFrame, Kind, toHex, type Device } from '@freehold/core';
import { FaultProxy, NO_FAULTS } from '../../../test-support/fault-proxy.js';
import { freePort } from '../../../test-support/net.js';
import type { RunningServer } from '@freehold/server';
import { newDevice, put, startServer, syncWith, tempDir, until, WS } from './helpers.js';
import { ProviderNode } from './provider-node.js';

installNativeCrypto();
const tmp = tempDir('fedlinks');
afterAll(() => tmp.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes into a space through one provider, one entry per sync, for `ms`. */
async function writeFor(d: Device, space: Uint8Array, url: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let n = 0;
  for (; Date.now() < end; n++) {
    await put(d, space, `burst/${n % 4}`, { [`n${n}`]: n });
    await syncWith(d, url);
  }
  return n;
}

/** Waits until two providers hold the same entries of a space; says how far apart they are if they do not. */
async function same(a: ProviderNode, b: ProviderNode, space: Uint8Array, ms: number): Promise<void> {
  const agree = async () => {
    const [x, y] = [await a.peek(space), await b.peek(space)];
    return x.size > 0 && x.size === y.size && [...x].every((id) => y.has(id));
  };
  await until(agree, ms).catch(async () => {
    throw new Error(`${b.name} holds ${(await b.peek(space)).size} entries of the space, ${a.name} ${(await a.peek(space)).size}`);
  });
}

/** Faults aimed at one moment of a peer link's life, each of which once lost entries or sockets. */
describe('peer links under targeted faults', () => {
  it('what a provider stores while its link to a peer reconciles reaches the peer, with no further reconnect', async () => {
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'lead-p1') }, Math.random);
    const p2 = await ProviderNode.create('P2', { dir: join(tmp.dir, 'lead-p2') }, Math.random);
    try {
      await Promise.all([p1.start(), p2.start()]);
      const alice = await newDevice(tmp.dir, 'alice-lead');
      await alice.setProviders([p1.url, p2.url]);
      for (const n of [p1, p2]) await register(n.url, alice);
      const space = await alice.createSpace(false);
      await put(alice, space, 'first', { n: 0 });
      await syncWith(alice, p1.directUrl);
      await same(p1, p2, space, 15_000);
      // P1's link to P2 drops and reconciles again over a slow network while Alice keeps writing through P1.
      // P2's own link to P1 stays up and subscribes to nothing: only P1's link carries her entries to P2.
      p2.proxy.set({ delayMs: 200 });
      p2.proxy.cutAll();
      const written = await writeFor(alice, space, p1.directUrl, 4000);
      p2.proxy.set(NO_FAULTS);
      expect(written).toBeGreaterThan(5);
      await same(p1, p2, space, 5000);
    } finally {
      for (const n of [p1, p2]) await n.dispose();
    }
  }, 60_000);

  it('what the owner’s provider stores while a mirror’s link reconciles reaches the mirror, with no further reconnect', async () => {
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'sub-p1') }, Math.random);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'sub-p3') }, Math.random);
    try {
      await Promise.all([p1.start(), p3.start()]);
      const alice = await newDevice(tmp.dir, 'alice-sub');
      await alice.setProviders([p1.url]);
      await register(p1.url, alice);
      const board = await alice.createSpace(true);
      await put(alice, board, 'first', { n: 0 });
      await syncWith(alice, p1.directUrl);
      const bob = await newDevice(tmp.dir, 'bob-sub');
      await bob.setProviders([p3.url]);
      await register(p3.url, bob);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const link = await ProviderLink.connect(p3.directUrl, bob, WS);
      await link.mirror(bob, [{ space: board, owner: alice.account }]);
      link.close();
      await same(p1, p3, board, 15_000);
      // P3's link to P1 (the only link: P1 mirrors nothing of P3's) drops and reconciles again slowly while
      // Alice writes through P1; P3 then subscribes to the board again, and nothing may fall between.
      p1.proxy.set({ delayMs: 200 });
      p1.proxy.cutAll();
      const written = await writeFor(alice, board, p1.directUrl, 4000);
      p1.proxy.set(NO_FAULTS);
      expect(written).toBeGreaterThan(5);
      await same(p1, p3, board, 5000);
    } finally {
      for (const n of [p1, p3]) await n.dispose();
    }
  }, 60_000);

  it('a provider closes each session a peer refuses, and exits at once on SIGTERM', async () => {
    // A peer that answers this provider's key with a refusal and then leaves the socket open, as a rate-limited
    // peer does.
    const peer = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => peer.once('listening', r));
    const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
    let attempts = 0;
    let mostOpen = 0;
    peer.on('connection', (ws) => {
      attempts++;
      mostOpen = Math.max(mostOpen, peer.clients.size);
      ws.send(encodeFrame(['challenge', randomBytes(32), new URL(peerUrl).host]));
      ws.on('message', (d: Buffer) => {
        if (decodeFrame(new Uint8Array(d))[0] === 'peer') ws.send(encodeFrame(['error', 'rate-limited', 'too many provider sessions from this network']));
      });
    });
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'refused-p1') }, Math.random);
    try {
      await p1.start();
      const alice = await newDevice(tmp.dir, 'alice-refused');
      await alice.setProviders([p1.url, peerUrl]);
      await register(p1.url, alice);
      await until(() => attempts >= 4, 15_000);
      expect(mostOpen).toBe(1);
      const t = Date.now();
      await p1.stop();
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      await p1.dispose();
      for (const ws of peer.clients) ws.terminate();
      await new Promise((r) => peer.close(r));
    }
  }, 60_000);

  it('a mirror asked for while the link to the owner’s provider is reconciling fills', async () => {
    // Every chunk to and from P1 waits exactly delayMs (the proxy's random draw is always 1).
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'kick-p1') }, () => 1);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'kick-p3') }, Math.random);
    try {
      await Promise.all([p1.start(), p3.start()]);
      const alice = await newDevice(tmp.dir, 'alice-kick');
      await alice.setProviders([p1.url]);
      await register(p1.url, alice);
      const boards = [await alice.createSpace(true), await alice.createSpace(true)];
      await syncWith(alice, p1.directUrl);
      const bob = await newDevice(tmp.dir, 'bob-kick');
      await bob.setProviders([p3.url]);
      await register(p3.url, bob);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const follow = async (board: Uint8Array) => {
        const link = await ProviderLink.connect(p3.directUrl, bob, WS);
        await link.mirror(bob, [{ space: board, owner: alice.account }]);
        link.close();
      };
      // Bob follows one board: P3 links to P1 over a slow network. P1 logs when it lets the link in; its answer
      // reaches P3 300 ms later, and the reconciliation that follows takes several 600 ms round trips. Bob
      // follows the second board in the middle of it.
      p1.proxy.set({ delayMs: 300 });
      await follow(boards[0]!);
      await until(() => p1.output().includes('"event":"peer-auth"'), 10_000);
      await sleep(700);
      await follow(boards[1]!);
      p1.proxy.set(NO_FAULTS);
      for (const board of boards) await same(p1, p3, board, 10_000);
    } finally {
      for (const n of [p1, p3]) await n.dispose();
    }
  }, 60_000);

  it('what a user writes into a mirror while the link to its owner’s provider reconnects is delivered', async () => {
    // The outbox crosses only by push (P3 is not home to Alice's inbox, so no reconciliation carries it): an entry
    // stored between one session and the next must wait for the next, not be dropped.
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'gap-p1') }, () => 1);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'gap-p3') }, Math.random);
    try {
      await Promise.all([p1.start(), p3.start()]);
      const alice = await newDevice(tmp.dir, 'alice-gap');
      await alice.setProviders([p1.url]);
      await register(p1.url, alice);
      const inbox = await alice.createSpace(false, { inbox: true });
      const board = await alice.createSpace(true);
      await syncWith(alice, p1.directUrl);
      const bob = await newDevice(tmp.dir, 'bob-gap');
      await bob.setProviders([p3.url]);
      await register(p3.url, bob);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const mirror = async (space: Uint8Array) => {
        const link = await ProviderLink.connect(p3.directUrl, bob, WS);
        await link.mirror(bob, [{ space, owner: alice.account }]);
        link.close();
      };
      await mirror(inbox);
      await until(async () => {
        await syncWith(bob, p3.directUrl, [inbox]);
        return (await bob.replica.graph(inbox)).created;
      }, 20_000);
      // A new mirror closes P3's session with P1 and opens another, over a network where each chunk waits 400 ms:
      // Bob's message reaches P3 while there is no session.
      p1.proxy.set({ delayMs: 400 });
      const kicked = mirror(board);
      await until(() => (p3.output().match(/"event":"peer-up"/g) ?? []).length >= 1, 10_000);
      await sleep(300);
      const msg = await bob.write(inbox, Kind.append, new Uint8Array(16), new TextEncoder().encode('written in the gap'));
      expect((await syncWith(bob, p3.directUrl)).rejected).toEqual([]);
      await kicked;
      p1.proxy.set(NO_FAULTS);
      await until(async () => (await p1.peek(inbox)).has(toHex(msg.id)), 20_000);
      const delivered = await until(async () => (await outbox(p3.directUrl, bob)).find((i) => i.entry === toHex(msg.id) && i.delivery.state === 'delivered'), 10_000);
      expect(delivered.delivery).toMatchObject({ state: 'delivered' });
    } finally {
      for (const n of [p1, p3]) await n.dispose();
    }
  }, 60_000);

  it('a mirror of more spaces than an anonymous session may subscribe to gets live pushes of all of them', async () => {
    const p1 = await startServer({ data: join(tmp.dir, 'many-p1') });
    const p3 = await startServer({ data: join(tmp.dir, 'many-p3') });
    try {
      const alice = await newDevice(tmp.dir, 'alice-many');
      await alice.setProviders([p1.url]);
      await register(p1.url, alice);
      const boards: Uint8Array[] = [];
      for (let i = 0; i < 70; i++) boards.push(await alice.createSpace(true));
      await syncWith(alice, p1.url);
      const bob = await newDevice(tmp.dir, 'bob-many');
      await bob.setProviders([p3.url]);
      await register(p3.url, bob);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const link = await ProviderLink.connect(p3.url, bob, WS);
      await link.mirror(bob, boards.map((space) => ({ space, owner: alice.account })));
      link.close();
      const held = async (s: RunningServer, space: Uint8Array) => (await s.provider.store.keys(space)).length;
      await until(async () => (await Promise.all(boards.map((b) => held(p3, b)))).every((n) => n > 0), 15_000);
      // Now live: one entry in each board through P1 reaches P3 without a reconnect of P3's link.
      for (const [i, board] of boards.entries()) await put(alice, board, 'news', { n: i });
      await syncWith(alice, p1.url);
      await until(async () => (await Promise.all(boards.map((b) => held(p3, b)))).every((n) => n > 1), 5000).catch(async () => {
        const behind = (await Promise.all(boards.map((b) => held(p3, b)))).filter((n) => n < 2).length;
        throw new Error(`${behind} of ${boards.length} mirrored boards did not get the live entry`);
      });
    } finally {
      await p1.close();
      await p3.close();
    }
  }, 60_000);

  it('a mirror of a private space fills once its owner lets an account of the mirroring provider read it', async () => {
    const p1 = await startServer({ data: join(tmp.dir, 'grant-p1') });
    const p3 = await startServer({ data: join(tmp.dir, 'grant-p3') });
    try {
      const alice = await newDevice(tmp.dir, 'alice-grant');
      await alice.setProviders([p1.url]);
      await register(p1.url, alice);
      const notes = await alice.createSpace(false);
      await put(alice, notes, 'before', { text: 'written before Bob was let in' });
      await syncWith(alice, p1.url);
      // Bob asks his provider to mirror the space before he may read it: P1 shows P3 nothing of it.
      const bob = await newDevice(tmp.dir, 'bob-grant');
      await bob.setProviders([p3.url]);
      await register(p3.url, bob);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const link = await ProviderLink.connect(p3.url, bob, WS);
      await link.mirror(bob, [{ space: notes, owner: alice.account }]);
      link.close();
      await until(() => p3.provider.peering.status().some((s) => s.state === 'up'), 10_000);
      const held = async (s: RunningServer) => (await s.provider.store.keys(notes)).length;
      expect(await held(p3)).toBe(0);
      // Alice lets Bob read: P3 takes the whole space, what was written before included, with no client's help.
      await alice.replica.addCard(encodeCard(bob.identity()));
      await alice.setRole(notes, bob.account, 'reader');
      await syncWith(alice, p1.url);
      await until(async () => (await held(p3)) === (await held(p1)), 5000);
    } finally {
      await p1.close();
      await p3.close();
    }
  }, 60_000);

  it('a link whose connection goes silent (no close, no answer) notices and reconnects', async () => {
    // In this process, so that links check their peers every 300 ms. P2 sits behind the proxy.
    const proxy = await FaultProxy.start(await freePort(), await freePort(), Math.random);
    const p2 = await startServer({ port: proxy.target, publicUrl: proxy.url, data: join(tmp.dir, 'silent-p2'), heartbeatMs: 300 });
    const p1 = await startServer({ data: join(tmp.dir, 'silent-p1'), heartbeatMs: 300 });
    try {
      const alice = await newDevice(tmp.dir, 'alice-silent');
      await alice.setProviders([p1.url, p2.url]);
      for (const url of [p1.url, p2.url]) await register(url, alice);
      const space = await alice.createSpace(false);
      await put(alice, space, 'first', { n: 0 });
      await syncWith(alice, p1.url);
      const held = async (s: RunningServer) => new Set((await s.provider.store.keys(space)).map((k) => toHex(k.id)));
      const agree = async () => {
        const [a, b] = [await held(p1), await held(p2)];
        return a.size === b.size && [...a].every((id) => b.has(id));
      };
      await until(agree, 15_000);
      // P1's link to P2 goes silent; P1 is not told. What Alice then writes through P1 must still reach P2.
      proxy.strand();
      await put(alice, space, 'after', { n: 1 });
      await syncWith(alice, p1.url);
      await until(agree, 5000);
    } finally {
      await p1.close();
      await p2.close();
      await proxy.close();
    }
  }, 60_000);
  it('two providers reconciling both ways at once send each entry once', async () => {
    // Both behind proxies that count what crosses and slow it, so the two links' reconciliations overlap.
    const proxies = await Promise.all([0, 1].map(async () => FaultProxy.start(await freePort(), await freePort(), Math.random)));
    const [x1, x2] = proxies as [FaultProxy, FaultProxy];
    const p1 = await startServer({ port: x1.target, publicUrl: x1.url, data: join(tmp.dir, 'once-p1') });
    const p2 = await startServer({ port: x2.target, publicUrl: x2.url, data: join(tmp.dir, 'once-p2') });
    try {
      const alice = await newDevice(tmp.dir, 'alice-once');
      await alice.setProviders([x1.url, x2.url]);
      for (const url of [x1.url, x2.url]) await register(url, alice);
      const space = await alice.createSpace(false);
      await put(alice, space, 'first', { n: 0 });
      await syncWith(alice, p1.url);
      const held = async (s: RunningServer) => (await s.provider.store.keys(space)).length;
      await until(async () => (await held(p2)) === (await held(p1)), 15_000);
      // P2 is cut off while Alice writes through P1, so nothing is pushed; then both links reconnect and each
      // reconciles the difference (P2's pulls it, P1's sends it).
      x2.set({ refuse: true });
      x2.cutAll();
      for (let i = 0; i < 400; i++) await put(alice, space, `doc${i}`, { text: randomBytes(3000).toString('base64') });
      await syncWith(alice, p1.url);
      const entryBytes = (await p1.provider.store.spaceEntries(space)).reduce((n, r) => n + r.bytes.length, 0);
      x1.stats.bytes = x2.stats.bytes = 0;
      x1.set({ delayMs: 40 });
      x2.set({ delayMs: 40, refuse: false });
      x1.cutAll();
      await until(async () => (await held(p2)) === (await held(p1)), 60_000);
      await sleep(1000);
      const wire = x1.stats.bytes + x2.stats.bytes;
      expect(wire / entryBytes).toBeGreaterThan(1);
      expect(wire / entryBytes).toBeLessThan(1.3);
    } finally {
      await p1.close();
      await p2.close();
      for (const x of proxies) await x.close();
    }
  }, 120_000);
});
