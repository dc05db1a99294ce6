import { join } from 'node:path';
import { freePort } from '../../../test-support/net.js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, toHex, type Entry } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink } from '@freehold/client';
import { blobEntries, join_, newDevice, syncWith, tempDir, WS } from './helpers.js';
import { spawnServer } from './process.js';

installNativeCrypto();
const tmp = tempDir('durable');
afterAll(() => tmp.cleanup());

describe('nothing acknowledged is lost', () => {
  it('a client whose sync is cut by a server restart resumes and loses nothing', async () => {
    const data = join(tmp.dir, 'restart');
    const port = await freePort();
    let server = await spawnServer(['--port', String(port), '--data', data]);
    const alice = await newDevice(tmp.dir, 'alice');
    await join_(alice, server.url);
    const space = await alice.createSpace(true);
    const all = await blobEntries(alice, space, 3000);
    await alice.replica.ingest(all.map((e) => e.bytes));
    const first = syncWith(alice, server.url).then(
      () => 'completed',
      (e: Error) => e,
    );
    await new Promise((r) => setTimeout(r, 150));
    await server.stop('SIGKILL');
    expect(await first).toMatchObject({ reason: 'unavailable' });
    server = await spawnServer(['--port', String(port), '--data', data]);
    const again = await syncWith(alice, server.url);
    expect(again.rejected).toEqual([]);
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { entries: number };
    expect(health.entries).toBe(await alice.store.countEntries());
    await server.stop();
  });

  it('kill -9 while 10k entries are pushed: every acknowledged entry is there after restart', async () => {
    const data = join(tmp.dir, 'kill9');
    const port = await freePort();
    const server = await spawnServer(['--port', String(port), '--data', data]);
    const bob = await newDevice(tmp.dir, 'bob');
    await join_(bob, server.url);
    const space = await bob.createSpace(true);
    await syncWith(bob, server.url);
    const all = await blobEntries(bob, space, 10_000);
    const link = await ProviderLink.connect(server.url, bob, WS);
    const frames: Entry[][] = [];
    for (let i = 0; i < all.length; i += 100) frames.push(all.slice(i, i + 100));
    for (const f of frames) link.send(encodeFrame(['entries', f.map((e) => e.bytes)]));
    // Acks come back in order, one per entries frame, each sent only after its entries are durable.
    const acked: Entry[] = [];
    let killedAt = -1;
    try {
      for (let k = 0; k < frames.length; k++) {
        const f = decodeFrame(await link.next());
        expect(f[0]).toBe('ack');
        if (f[0] === 'ack') {
          expect(f[2]).toEqual([]);
          acked.push(...frames[k]!);
        }
        if (k === 20) {
          killedAt = k;
          server.child.kill('SIGKILL');
        }
      }
    } catch {
      // The connection dies with the server.
    }
    await server.stop();
    expect(killedAt).toBe(20);
    expect(acked.length).toBeGreaterThanOrEqual(2100);
    expect(acked.length).toBeLessThan(10_000);
    const restarted = await spawnServer(['--port', String(port), '--data', data]);
    await restarted.stop();
    const store = new SqliteStore(join(data, 'provider.db'));
    const missing = [];
    for (const e of acked) if (!(await store.hasEntry(e.id))) missing.push(toHex(e.id));
    await store.close();
    expect(missing).toEqual([]);
  });
});
