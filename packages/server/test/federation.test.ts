import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installNativeCrypto } from '@freehold/node';
import { outbox, ProviderLink, register } from '@freehold/client';
import { decodeEntry, decodeFrame, encodeCard, encodeFrame, Kind, type Device } from '@freehold/core';
import { freePort } from '../../../test-support/net.js';
import { blobEntries, get, newDevice, put, syncWith, tempDir, until, WS } from './helpers.js';
import { spawnServer } from './process.js';

installNativeCrypto();
const tmp = tempDir('federation');
afterAll(() => tmp.cleanup());

type Server = Awaited<ReturnType<typeof spawnServer>>;
/** Entries frames a provider has handled, from its metrics. */
const entriesFrames = async (metricsUrl: string): Promise<number> =>
  Number(/freehold_sync_latency_seconds_count\{frame="entries"\} (\d+)/.exec(await (await fetch(metricsUrl)).text())?.[1] ?? 0);
const entriesAt = async (url: string): Promise<number> => ((await (await fetch(`${url}/healthz`)).json()) as { entries: number }).entries;

describe('providers home to the same account replicate it among themselves', () => {
  it('live, after a restart and after a wipe, with no client online; both ways', async () => {
    const [port1, port2] = [await freePort(), await freePort()];
    const data1 = join(tmp.dir, 'p1');
    const data2 = join(tmp.dir, 'p2');
    const servers: Server[] = [];
    const start = async (port: number, data: string) => {
      const s = await spawnServer(['--port', String(port), '--data', data]);
      servers.push(s);
      return s;
    };
    try {
      const p1 = await start(port1, data1);
      let p2 = await start(port2, data2);
      // Alice lists both providers but only ever talks to P1.
      const alice = await newDevice(tmp.dir, 'alice');
      await alice.setProviders([p1.url, p2.url]);
      await register(p1.url, alice);
      const space = await alice.createSpace(false);
      for (let i = 0; i < 5; i++) await put(alice, space, `note/${i}`, { text: `note ${i}` });
      await syncWith(alice, p1.url);
      const held = await entriesAt(p1.url);
      expect(held).toBeGreaterThan(5);
      await until(async () => (await entriesAt(p2.url)) === held, 15_000);

      // Live: one more entry through P1 shows up at P2 quickly.
      await put(alice, space, 'note/live', { text: 'live' });
      const t = Date.now();
      await syncWith(alice, p1.url);
      await until(async () => (await entriesAt(p2.url)) === held + 1, 10_000);
      console.log(`replication P1→P2 of one entry: ${Date.now() - t} ms after the write was sent`);

      // P2 down while Alice writes through P1; back up, it catches up on its own.
      await p2.stop('SIGKILL');
      for (let i = 0; i < 5; i++) await put(alice, space, `while-down/${i}`, { text: `${i}` });
      await syncWith(alice, p1.url);
      p2 = await start(port2, data2);
      await until(async () => (await entriesAt(p2.url)) === (await entriesAt(p1.url)), 30_000);

      // P2 loses everything; it converges from P1 (the account's log lists it, so it hosts it again).
      await p2.stop('SIGKILL');
      rmSync(data2, { recursive: true, force: true });
      p2 = await start(port2, data2);
      await until(async () => (await entriesAt(p2.url)) === (await entriesAt(p1.url)), 30_000);

      // And the other way: what P2 acknowledges reaches P1.
      await put(alice, space, 'via-p2', { text: 'written through P2' });
      await syncWith(alice, p2.url);
      await until(async () => (await entriesAt(p1.url)) === (await entriesAt(p2.url)), 15_000);
      const peers = ((await (await fetch(`${p1.url}/healthz`)).json()) as { peers: { url: string; state: string }[] }).peers;
      expect(peers).toEqual([{ url: p2.url, state: 'up' }]);
    } finally {
      for (const s of servers) await s.stop();
    }
  });

  it('pushes to a peer in batches while earlier ones await its acknowledgement, not a frame per entry', async () => {
    const servers: Server[] = [];
    try {
      const p1 = await spawnServer(['--port', '0', '--data', join(tmp.dir, 'batch1')]);
      servers.push(p1);
      const p2 = await spawnServer(['--port', '0', '--data', join(tmp.dir, 'batch2'), '--metrics', '127.0.0.1:0']);
      servers.push(p2);
      // 40 accounts on P1 and P2, each with a public space, writing through P1 only.
      const writers = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const d = await newDevice(tmp.dir, `writer${i}`);
          await d.setProviders([p1.url, p2.url]);
          await register(p1.url, d);
          const space = await d.createSpace(true);
          await syncWith(d, p1.url);
          return { d, entries: await blobEntries(d, space, 10) };
        }),
      );
      await until(async () => (await entriesAt(p2.url)) === (await entriesAt(p1.url)), 30_000);
      const before = await entriesFrames(p2.metricsUrl!);
      // Each writer sends its 10 entries one a frame, all at once: 400 frames reach P1 together.
      await Promise.all(
        writers.map(async ({ d, entries }) => {
          const link = await ProviderLink.connect(p1.url, d, WS);
          for (const e of entries) link.send(encodeFrame(['entries', [e.bytes]]));
          for (let acked = 0; acked < entries.length; ) {
            const f = decodeFrame(await link.next());
            if (f[0] !== 'ack') continue;
            expect(f[2]).toEqual([]);
            acked++;
          }
          link.close();
        }),
      );
      const held = await entriesAt(p1.url);
      await until(async () => (await entriesAt(p2.url)) === held, 30_000);
      // P2 handles a peer's frames one at a time, each made durable before the next: a frame per entry would
      // cost it 400 of those (and queue up the replication lag), batches a few dozen.
      const frames = (await entriesFrames(p2.metricsUrl!)) - before;
      console.log(`400 entries written through P1 reached P2 in ${frames} entries frames`);
      expect(frames).toBeGreaterThan(0);
      expect(frames).toBeLessThan(400 / 3);
    } finally {
      for (const s of servers) await s.stop();
    }
  });

  it('a client talks only to its own provider: it reads and writes to others through mirrors, and sees delivery', async () => {
    const servers: Server[] = [];
    try {
      const p1 = await spawnServer(['--port', '0', '--data', join(tmp.dir, 'home')]);
      servers.push(p1);
      const p3 = await spawnServer(['--port', '0', '--data', join(tmp.dir, 'bobs')]);
      servers.push(p3);
      const homeAt = async (d: Device, url: string) => {
        await d.setProviders([url]);
        await register(url, d);
      };
      const alice = await newDevice(tmp.dir, 'alice2');
      await homeAt(alice, p1.url);
      const board = await alice.createSpace(true);
      const inbox = await alice.createSpace(false, { inbox: true });
      await put(alice, board, 'hello', { text: 'from Alice' });
      await syncWith(alice, p1.url);

      // Bob knows Alice's log (from her handle or card) but only ever connects to P3.
      const bob = await newDevice(tmp.dir, 'bob2');
      await homeAt(bob, p3.url);
      await bob.replica.addCard(encodeCard(alice.identity()));
      const link = await ProviderLink.connect(p3.url, bob, WS);
      await link.mirror(bob, [
        { space: board, owner: alice.account },
        { space: inbox, owner: alice.account },
      ]);
      link.close();
      // The mirrors fill from P1; Bob reads Alice's board through P3.
      await until(async () => {
        await syncWith(bob, p3.url, [board, inbox]);
        return (await bob.replica.graph(inbox)).created && (await get(bob, board, 'hello').catch(() => ({}) as Record<string, unknown>)).text === 'from Alice';
      }, 20_000);
      // A message to Alice goes to P3 only, and reaches her at P1.
      const msg = await bob.write(inbox, Kind.append, new Uint8Array(16), new TextEncoder().encode('hi Alice, via my provider'));
      expect((await syncWith(bob, p3.url)).rejected).toEqual([]);
      await until(async () => {
        await syncWith(alice, p1.url);
        return alice.store.hasEntry(msg.id);
      }, 20_000);
      const got = decodeEntry((await alice.store.getEntries([msg.id]))[0]!.bytes);
      expect(new TextDecoder().decode(await alice.decrypt(got))).toBe('hi Alice, via my provider');
      // Bob's provider tells him it was delivered, and to whom.
      const items = await until(async () => {
        const list = await outbox(p3.url, bob);
        return list.find((i) => i.delivery.state === 'delivered') ? list : undefined;
      }, 10_000);
      expect(items.find((i) => i.entry === Buffer.from(msg.id).toString('hex'))?.delivery).toMatchObject({ state: 'delivered', to: p1.url });
      // Alice's later post reaches Bob's mirror live, with no client of Bob's involved.
      await put(alice, board, 'later', { text: 'second post' });
      await syncWith(alice, p1.url);
      await until(async () => {
        await syncWith(bob, p3.url, [board]);
        return (await get(bob, board, 'later').catch(() => ({}) as Record<string, unknown>)).text === 'second post';
      }, 10_000);
    } finally {
      for (const s of servers) await s.stop();
    }
  });
});
