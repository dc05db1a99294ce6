import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { decodeFrame, encode, encodeCard, encodeFrame, MAX_FRAME, Reconciler, type Device } from '@freehold/core';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink } from '@freehold/client';
import { get, join_, newDevice, put, startServer, syncWith, tempDir, until, WS } from './helpers.js';

installNativeCrypto();
const tmp = tempDir('fuzz');
afterAll(() => tmp.cleanup());
const TOTAL = 100_000;

/** Valid frames of every kind, as raw material for mutation. */
async function seeds(d: Device): Promise<Uint8Array[]> {
  const space = (await d.store.spaces())[0]!;
  const rows = await d.store.spaceEntries(space);
  return [
    encodeFrame(['hello', d.account, [space], [encodeCard(d.identity())]]),
    encodeFrame(['rec', space, new Reconciler(await d.store.keys(space)).initiate()]),
    encodeFrame(['entries', rows.slice(0, 2).map((r) => r.bytes)]),
    encodeFrame(['want', rows.slice(0, 3).map((r) => r.id)]),
    encodeFrame(['sub', [space]]),
    encodeFrame(['sync', 7]),
    encodeFrame(['auth', encodeCard(d.identity()), d.id, new Uint8Array(64)]),
    encodeFrame(['ack', 1, []]),
  ];
}

function mutate(rng: fc.Random, seed: Uint8Array): Uint8Array {
  const b = seed.slice();
  switch (rng.nextInt(0, 5)) {
    case 0: // flip a few bytes
      for (let i = rng.nextInt(1, 4); i > 0; i--) {
        const at = rng.nextInt(0, b.length - 1);
        b[at] = b[at]! ^ (1 << rng.nextInt(0, 7));
      }
      return b;
    case 1: // truncate
      return b.subarray(0, rng.nextInt(0, b.length - 1));
    case 2: // trailing garbage
      return Uint8Array.from([...b, ...Array.from({ length: rng.nextInt(1, 8) }, () => rng.nextInt(0, 255))]);
    case 3: // random bytes
      return Uint8Array.from({ length: rng.nextInt(0, 64) }, () => rng.nextInt(0, 255));
    case 4: // well-formed CBOR, wrong shapes
      return encode([['hello', 'rec', 'entries', 'want', 'sub', 'zzz'][rng.nextInt(0, 5)], rng.nextInt(-5, 5), 'x'.repeat(rng.nextInt(0, 40)), [new Uint8Array(rng.nextInt(0, 40))]]);
    default: // a byte of the header rewritten
      b[rng.nextInt(0, Math.min(8, b.length - 1))] = rng.nextInt(0, 255);
      return b;
  }
}

interface Outcome {
  sent: number;
  bad: number;
  errors: number;
  closed: boolean;
}

/** One fuzzing connection: sends frames until it has sent `count` or the server closes it. */
function fuzzConnection(url: string, frames: Uint8Array[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/sync`);
    const o: Outcome = { sent: 0, bad: 0, errors: 0, closed: false };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(o);
    };
    ws.on('message', (data: Buffer) => {
      const f = decodeFrame(new Uint8Array(data));
      if (f[0] === 'error') o.errors++;
      // Every frame answered or the connection closed: done.
    });
    ws.on('close', () => {
      o.closed = true;
      finish();
    });
    ws.on('error', () => {});
    ws.on('open', () => {
      for (const f of frames) {
        let bad = false;
        try {
          decodeFrame(f);
        } catch {
          bad = true;
        }
        if (bad) o.bad++;
        o.sent++;
        ws.send(f);
      }
      // A barrier: once answered, every earlier frame has been handled.
      ws.send(encodeFrame(['sync', 424242]));
      ws.on('message', (data: Buffer) => {
        const f = decodeFrame(new Uint8Array(data));
        if (f[0] === 'synced' && f[1] === 424242) {
          ws.close();
          finish();
        }
      });
    });
  });
}

describe('fuzzing the WebSocket endpoint', () => {
  it(`survives ${TOTAL.toLocaleString('en')} random and mutated frames while a good client is unaffected`, async () => {
    const server = await startServer({ data: tempDir('fuzz-srv').dir });
    const alice = await newDevice(tmp.dir, 'alice');
    await join_(alice, server.url);
    const space = await alice.createSpace(false);
    await put(alice, space, 'doc', { n: 0 });
    await syncWith(alice, server.url);
    const material = await seeds(alice);
    // Seeded, so a failure replays exactly.
    const random = new fc.Random(xoroshiro128plus(20261121));

    // A well-behaved second device of Alice keeps syncing and watching the whole time.
    const phone = await newDevice(tmp.dir, 'phone');
    await join_(phone, server.url);
    await alice.replica.addCard(encodeCard(phone.identity()));
    await alice.setRole(space, phone.account, 'writer');
    await syncWith(alice, server.url);
    const watcher = await ProviderLink.connect(server.url, phone, WS);
    const { session } = await watcher.sync(phone);
    await watcher.subscribe([space]);
    const ctl = new AbortController();
    let pushed = 0;
    const watching = watcher.watch(session, (f) => f[0] === 'entries' && (pushed += f[1].length), ctl.signal);

    let sent = 0;
    let bad = 0;
    let answered = 0;
    let connections = 0;
    let goodSyncs = 0;
    const good = (async () => {
      while (sent < TOTAL) {
        await put(alice, space, 'doc', { n: goodSyncs + 1 });
        const r = await syncWith(alice, server.url);
        expect(r.rejected).toEqual([]);
        goodSyncs++;
      }
    })();
    while (sent < TOTAL) {
      const batch: Uint8Array[] = [];
      for (let i = 0; i < 250 && sent + batch.length < TOTAL; i++) {
        const roll = random.nextInt(0, 999);
        batch.push(roll === 0 ? new Uint8Array(MAX_FRAME + 1) : roll < 700 ? mutate(random, material[random.nextInt(0, material.length - 1)]!) : material[random.nextInt(0, material.length - 1)]!);
      }
      const outcomes = await Promise.all([fuzzConnection(server.url, batch.slice(0, 125)), fuzzConnection(server.url, batch.slice(125))]);
      for (const o of outcomes) {
        connections++;
        sent += o.sent;
        bad += o.bad;
        // Each undecodable frame got an error frame, or the server closed the connection.
        if (o.closed) answered += o.bad;
        else {
          expect(o.errors).toBeGreaterThanOrEqual(o.bad);
          answered += o.bad;
        }
      }
    }
    await good;
    expect(answered).toBe(bad);
    expect(bad).toBeGreaterThan(TOTAL / 3);
    expect(goodSyncs).toBeGreaterThan(3);
    await until(() => pushed >= goodSyncs);
    ctl.abort();
    await watching;
    watcher.close();
    expect((await get(phone, space, 'doc')).n).toBe(goodSyncs);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    console.log(`fuzz: ${sent} frames (${bad} undecodable) over ${connections} connections; good client synced ${goodSyncs} times meanwhile`);
    await server.close();
  }, 600_000);
});
