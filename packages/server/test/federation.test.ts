import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installNativeCrypto } from '@freehold/node';
import { register } from '@freehold/client';
import { freePort } from '../../../test-support/net.js';
import { newDevice, put, syncWith, tempDir, until } from './helpers.js';
import { spawnServer } from './process.js';

installNativeCrypto();
const tmp = tempDir('federation');
afterAll(() => tmp.cleanup());

type Server = Awaited<ReturnType<typeof spawnServer>>;
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
});
