import type { PairingBounds, SharedState } from '@freehold/core';
import type { TestApi } from './conformance.js';

export interface SharedStateFactory {
  /** Opens the state as one more node sees it: every open shares what the others hold. */
  open(): Promise<SharedState>;
  cleanup(): Promise<void>;
}

const bounds: PairingBounds = { ttlMs: 60_000, maxPairings: 6, perNetwork: 3, perAccount: 2 };
const box = (n: number) => new Uint8Array([n, n, n]);
const id = (n: number) => n.toString(16).padStart(64, '0');
const rate = { perMinute: 60, burst: 2 };

/**
 * The one suite every SharedState implementation passes: token buckets (granted, refused with the wait, a refusal
 * costing nothing, atomic under concurrent takes from several nodes), counts held to their caps likewise, and the
 * linking mailbox's slots and bounds.
 */
export function sharedStateConformance(name: string, make: () => Promise<SharedStateFactory>, t: TestApi): void {
  const { describe, it, afterEach, expect } = t;
  describe(`shared state conformance: ${name}`, () => {
    let factory: SharedStateFactory | undefined;
    const open = async () => (factory ??= await make()).open();
    afterEach(async () => {
      await factory?.cleanup();
      factory = undefined;
    });

    it('grants a bucket its burst, then one token per refill period, and says how long to wait', async () => {
      const s = await open();
      expect(await s.take('k', rate, 0)).toBe(0);
      expect(await s.take('k', rate, 0)).toBe(0);
      expect(await s.take('k', rate, 0)).toBe(1000);
      // A refused take costs nothing: the wait only shrinks with time.
      expect(await s.take('k', rate, 400)).toBe(600);
      expect(await s.take('k', rate, 1000)).toBe(0);
      expect(await s.take('k', rate, 1000)).toBe(1000);
      // Other keys have buckets of their own; a long pause refills only up to the burst.
      expect(await s.take('other', rate, 1000)).toBe(0);
      expect(await s.take('k', rate, 3_600_000)).toBe(0);
      expect(await s.take('k', rate, 3_600_000)).toBe(0);
      expect(await s.take('k', rate, 3_600_000)).toBe(1000);
    });

    it('grants exactly the burst to concurrent takes from several nodes', async () => {
      const nodes = [await open(), await open(), await open()];
      const r = { perMinute: 1, burst: 5 };
      const waits = await Promise.all(Array.from({ length: 30 }, (_, i) => nodes[i % 3]!.take('shared', r, 10)));
      expect(waits.filter((w) => w === 0).length).toBe(5);
    });

    it('keeps a bucket that has not refilled through a sweep, and forgets one that has', async () => {
      const s = await open();
      await s.take('k', rate, 0);
      await s.take('k', rate, 0);
      await s.sweep(500);
      expect(await s.take('k', rate, 500)).toBe(500);
      await s.sweep(10_000);
      expect(await s.take('k', rate, 10_000)).toBe(0);
    });

    it('adds to a count up to its cap, started once from the store’s figure, and counts again once forgotten', async () => {
      const s = await open();
      let started = 0;
      const start = async () => (started++, 100);
      expect(await s.add('c', 50, 200, start, 0)).toBe(true);
      expect(await s.add('c', 50, 200, start, 1)).toBe(true);
      expect(await s.add('c', 1, 200, start, 2)).toBe(false);
      expect(started).toBe(1);
      // A refused add adds nothing.
      expect(await s.add('c', 0, 200, start, 3)).toBe(true);
      await s.forget('c');
      expect(await s.add('c', 100, 200, async () => 150, 4)).toBe(false);
      expect(await s.add('c', 50, 200, start, 5)).toBe(true);
      expect(await s.add('other', 200, 200, async () => 0, 6)).toBe(true);
    });

    it('holds a count to its cap under concurrent adds through several nodes', async () => {
      const nodes = [await open(), await open(), await open()];
      const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => nodes[i % 3]!.add('shared', 10, 95, async () => 0, 7)));
      expect(outcomes.filter(Boolean).length).toBe(9);
    });

    it('fills a pairing’s slots once each, in order, and shows them through every node', async () => {
      const [a, b] = [await open(), await open()];
      expect(await a.openPairing({ id: id(1), owner: 'alice', network: 'n1', offer: box(1) }, bounds, 0)).toEqual({ expires: 60_000 });
      expect(await b.getPairing(id(1), 'offer', 1)).toEqual(box(1));
      expect(await b.getPairing(id(1), 'request', 1)).toBeUndefined();
      await expect(b.putPairing(id(1), 'answer', box(3), 1)).rejects.toMatchObject({ reason: 'invalid-argument' });
      await b.putPairing(id(1), 'request', box(2), 1);
      await expect(a.putPairing(id(1), 'request', box(9), 2)).rejects.toMatchObject({ reason: 'duplicate' });
      await a.putPairing(id(1), 'answer', box(3), 2);
      await expect(b.putPairing(id(1), 'answer', box(9), 2)).rejects.toMatchObject({ reason: 'duplicate' });
      expect(await b.getPairing(id(1), 'request', 3)).toEqual(box(2));
      expect(await a.getPairing(id(1), 'answer', 3)).toEqual(box(3));
      await expect(b.openPairing({ id: id(1), owner: 'bob', network: 'n2', offer: box(1) }, bounds, 4)).rejects.toMatchObject({ reason: 'duplicate' });
      await expect(b.putPairing(id(2), 'request', box(2), 4)).rejects.toMatchObject({ reason: 'not-found' });
    });

    it('expires pairings after their time to live', async () => {
      const s = await open();
      await s.openPairing({ id: id(1), owner: 'alice', network: 'n1', offer: box(1) }, bounds, 0);
      expect(await s.getPairing(id(1), 'offer', 59_999)).toEqual(box(1));
      expect(await s.getPairing(id(1), 'offer', 60_000)).toBeUndefined();
      await expect(s.putPairing(id(1), 'request', box(2), 60_000)).rejects.toMatchObject({ reason: 'not-found' });
      await s.sweep(60_000);
      // The id is free again once its pairing expired.
      expect(await s.openPairing({ id: id(1), owner: 'bob', network: 'n2', offer: box(4) }, bounds, 60_001)).toEqual({ expires: 120_001 });
    });

    it('closes an account’s oldest pairing past its cap, and refuses a full network or provider with the wait', async () => {
      const s = await open();
      const opened = (n: number, owner: string, network: string, now: number) => s.openPairing({ id: id(n), owner, network, offer: box(n) }, bounds, now);
      await opened(1, 'alice', 'n1', 0);
      await opened(2, 'alice', 'n1', 1);
      await opened(3, 'alice', 'n1', 2);
      expect(await s.getPairing(id(1), 'offer', 3)).toBeUndefined();
      expect(await s.getPairing(id(2), 'offer', 3)).toEqual(box(2));
      await opened(4, 'bob', 'n1', 3);
      // n1 holds three (2, 3, 4); the first of them frees its slot at 60 001.
      expect(await opened(5, 'carol', 'n1', 10)).toEqual({ full: 'network', retryAfterMs: 59_991 });
      // Alice replacing her own oldest does not need another slot of the network.
      expect(await opened(6, 'alice', 'n1', 10)).toEqual({ expires: 60_010 });
      await opened(7, 'dave', 'n2', 11);
      await opened(8, 'erin', 'n2', 12);
      await opened(9, 'frank', 'n3', 13);
      // Six held (3, 4, 6, 7, 8, 9): the oldest (3) expires at 60 002.
      expect(await opened(10, 'grace', 'n4', 20)).toEqual({ full: 'provider', retryAfterMs: 59_982 });
      expect(await s.getPairing(id(10), 'offer', 21)).toBeUndefined();
    });

    it('holds a network to its share under concurrent opens through several nodes', async () => {
      const nodes = [await open(), await open(), await open()];
      const outcomes = await Promise.all(
        Array.from({ length: 9 }, (_, i) => nodes[i % 3]!.openPairing({ id: id(100 + i), owner: `acct${i}`, network: 'n1', offer: box(i) }, bounds, 5)),
      );
      expect(outcomes.filter((o) => 'expires' in o).length).toBe(3);
    });
  });
}
