import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, FRAME_LIMITS, randomBytes, toId, type Device, type Frame } from '@freehold/core';
import { ForgedLog } from '../../../test-support/forge.js';
import { installNativeCrypto } from '@freehold/node';
import { allowedUnderAttack, medianMs, rssOf } from '../../../test-support/latency.js';
import { RawSession } from '../../../test-support/raw-session.js';
import { join_, newDevice, put, syncWith, tempDir } from './helpers.js';
import { spawnServer } from './process.js';

installNativeCrypto();
const tmp = tempDir('attack-resources');
let server: Awaited<ReturnType<typeof spawnServer>>;
let good: Device;
let baseline: number;

/** What a well-behaved user does all day: write a post and sync it. */
const goodSync = async () => {
  await put(good, (await good.store.spaces())[0]!, 'note', { at: Date.now() });
  await syncWith(good, server.url);
};

/** The good client's latency while `attack` runs must stay within 2x what it was before. */
async function underAttack(attack: () => Promise<void>, stop: () => void): Promise<number> {
  const running = attack();
  await new Promise((r) => setTimeout(r, 300));
  const during = await medianMs(15, goodSync);
  stop();
  await running;
  return during;
}

beforeAll(async () => {
  server = await spawnServer(['--port', '0', '--data', tmp.dir]);
  good = await newDevice(tmp.dir, 'good');
  await join_(good, server.url);
  await good.createSpace(false);
  await goodSync();
  baseline = await medianMs(15, goodSync);
});
afterAll(async () => {
  await server.stop();
  tmp.cleanup();
});

describe('cheap frames cannot exhaust the provider or stall other users', () => {
  it('subscribing to hundreds of thousands of unknown spaces keeps nothing and stalls no one', async () => {
    const mallory = await newDevice(tmp.dir, 'mallory');
    await join_(mallory, server.url);
    const { ProviderLink } = await import('@freehold/client');
    const { WS } = await import('./helpers.js');
    const before = await rssOf(server.child.pid!);
    const link = await ProviderLink.connect(server.url, mallory, WS);
    // 40 frames of 4,096 unknown space ids each, one after another (164k ids).
    const attack = async () => {
      for (let i = 0; i < 40; i++) {
        const ids = Array.from({ length: FRAME_LIMITS.spaces }, () => randomBytes(32));
        const r = await link.subscribe(ids);
        expect(r.subscribed).toEqual([]);
      }
    };
    const during = await underAttack(attack, () => {});
    link.close();
    const after = await rssOf(server.child.pid!);
    console.log(`sub flood: baseline ${baseline.toFixed(1)} ms, during ${during.toFixed(1)} ms; server RSS +${((after - before) / 2 ** 20).toFixed(1)} MiB`);
    expect(during).toBeLessThan(allowedUnderAttack(baseline));
    expect(after - before).toBeLessThan(64 << 20);
    // More ids than a frame may carry is refused outright.
    const { session } = await RawSession.open(server.url);
    session.send(encode(['sub', Array.from({ length: FRAME_LIMITS.spaces + 1 }, () => randomBytes(32))]));
    const refused = await session.next();
    expect(refused[0] === 'error' && refused[1]).toBe('too-large');
    session.close();
  });

  it('identity logs from strangers are not kept, and a hello does not grow with the accounts held', async () => {
    const helloBytes = async () => {
      const { session } = await RawSession.open(server.url);
      let bytes = 0;
      session.ws.on('message', (d: Buffer) => (bytes += d.length));
      session.send(['hello', new Uint8Array(0), [], []]);
      await session.barrier(1);
      session.close();
      return bytes;
    };
    const empty = await helloBytes();
    // 64 logs padded to ~60 KiB each with long handle lists, handed over in anonymous sessions.
    const flooded: Uint8Array[] = [];
    const cards: Uint8Array[] = [];
    const handles = Array.from({ length: 32 }, (_, i) => `${'x'.repeat(300)}${i}@example.org`);
    for (let i = 0; i < 64; i++) {
      const log = new ForgedLog();
      for (let j = 0; j < 6; j++) log.append({ t: 'set-handles', handles });
      flooded.push(log.account);
      cards.push(encode(log.records));
    }
    for (let i = 0; i < cards.length; i += 8) {
      const { session } = await RawSession.open(server.url);
      session.send(['hello', new Uint8Array(0), [], []]);
      session.send(['cards', cards.slice(i, i + 8)]);
      await session.barrier(1);
      session.close();
    }
    for (const a of flooded.slice(0, 5)) expect((await fetch(`${server.url}/.well-known/freehold/accounts/${toId(a)}`)).status).toBe(404);
    expect(await helloBytes()).toBe(empty);
    // Registered accounts do not make it grow either: a hello carries the logs of what it shows, not all of them.
    for (let i = 0; i < 20; i++) await join_(await newDevice(tmp.dir, `user${i}`), server.url);
    expect(await helloBytes()).toBe(empty);
    // A log over the size bound is refused as too large.
    const { session } = await RawSession.open(server.url);
    session.send(encode(['cards', [new Uint8Array(300 << 10)]]));
    const f = await session.next();
    expect(f[0] === 'error' && f[1]).toBe('too-large');
    session.close();
  });

  it('floods of tiny frames and of large id lists from many sessions stall no one', async () => {
    const sessions: RawSession[] = [];
    let stopped = false;
    const flood = async (frame: () => Frame | Uint8Array) => {
      const { session } = await RawSession.open(server.url);
      sessions.push(session);
      session.send(['hello', new Uint8Array(0), [], []]);
      // As fast as the provider reads: past a megabyte in flight, TCP holds the rest back anyway.
      while (!stopped && !session.closed) {
        while (session.ws.bufferedAmount < 1 << 20) session.send(frame());
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const ids = Array.from({ length: FRAME_LIMITS.ids }, () => randomBytes(32));
    const want = encode(['want', ids]);
    const attack = async () => {
      await Promise.all([
        ...Array.from({ length: 8 }, () => flood(() => ['sync', 1])),
        flood(() => want),
        flood(() => ['rec', randomBytes(32), new Uint8Array(FRAME_LIMITS.recMessage - 64).fill(7)]),
      ]);
    };
    const during = await underAttack(attack, () => {
      stopped = true;
      for (const s of sessions) s.close();
    });
    console.log(`frame flood: baseline ${baseline.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(during).toBeLessThan(allowedUnderAttack(baseline));
  });
});
