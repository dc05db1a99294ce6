import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FreeholdError, randomBytes, toId } from '@freehold/core';
import { installNativeCrypto } from '@freehold/node';
import { Deliveries, outbox, Providers, type DeliveryState, type LinkEvent } from '@freehold/client';
import { type Microblog, type Sent } from '@freehold/microblog';
import { newDevice, startServer, syncWith, tempDir, until, WS } from '../../server/test/helpers.js';
import { aliceAndBob } from '../../server/test/bloggers.js';

installNativeCrypto();
const tmp = tempDir('deliveries');
afterAll(() => tmp.cleanup());


/** Alice's direct message to `to` with this text, as the copy in her own inbox names it. */
async function sentDm(mb: Microblog, to: string, text: string): Promise<Sent> {
  const copy = (await mb.inbox()).find((i) => i.message.type === 'dm' && i.message.text === text)!.message;
  return { type: 'dm', to, at: copy.at };
}

describe('the delivery state of what a device sent to another account', () => {
  it('is unsent until a provider has it, delivered once it is in the recipient’s space, and failed, with the reason, when the own provider refuses it', async () => {
    const server = await startServer({ data: join(tmp.dir, 'p') });
    try {
      const { alice, bob, aliceBlog } = await aliceAndBob(tmp.dir, server.url);

      const links = new Providers(alice, { WebSocket: WS });
      const deliveries = new Deliveries(alice, links, { firstMs: 50, maxMs: 200 });
      const pushed: LinkEvent[] = [];
      links.listen((e) => e.type === 'pushed' && pushed.push(e));
      const stateOf = async (text: string): Promise<DeliveryState | undefined> => {
        const place = (await aliceBlog.sentPlace(await sentDm(aliceBlog, toId(bob.account), text)))!;
        deliveries.track([place]);
        return deliveries.state([place]);
      };

      // No provider linked yet: it is on this device only.
      await aliceBlog.dm(toId(bob.account), 'first');
      expect(await until(async () => (await stateOf('first'))?.state === 'unsent' && 'unsent', 5000)).toBe('unsent');
      // Once the link has sent it: Bob lives at the same provider, so storing it there delivered it.
      links.set([server.url]);
      const delivered = await until(async () => {
        const s = await stateOf('first');
        return s?.state === 'delivered' ? s : undefined;
      }, 10_000);
      expect(delivered).toMatchObject({ state: 'delivered', to: server.url });

      // Alice's quota is spent: her provider refuses what she sends next, and says which entry.
      const row = (await server.provider.store.getAccount(alice.account))!;
      await server.provider.store.putAccount({ ...row, quota: row.used });
      await aliceBlog.dm(toId(bob.account), 'second');
      const reports = await links.flush();
      expect(reports[0]!.refused.length).toBeGreaterThan(0);
      expect(reports[0]!.refused.every((r) => r.entry !== undefined && r.reason === 'quota-exceeded')).toBe(true);
      expect(pushed.length).toBeGreaterThan(0);
      const failed = await until(async () => {
        const s = await stateOf('second');
        return s?.state === 'failed' ? s : undefined;
      }, 10_000);
      expect(failed).toMatchObject({ state: 'failed', reason: 'quota-exceeded', to: server.url });
      // What was delivered stays delivered.
      expect((await stateOf('first'))?.state).toBe('delivered');
      deliveries.close();
      links.close();

      // Opened again (a reload) with no provider reachable: what was delivered and what was refused are
      // remembered, and only what no provider has answered is unsent.
      await aliceBlog.dm(toId(bob.account), 'third');
      const offline = new Deliveries(alice, new Providers(alice, { WebSocket: WS }));
      const places = await Promise.all(['first', 'second', 'third'].map(async (t) => (await aliceBlog.sentPlace(await sentDm(aliceBlog, toId(bob.account), t)))!));
      offline.track(places);
      const states = await until(() => {
        const all = places.map((p) => offline.state([p]));
        return all.every((x) => x !== undefined) ? all : undefined;
      }, 5000);
      expect(states.map((x) => x!.state)).toEqual(['delivered', 'failed', 'unsent']);
      expect(states[1]).toMatchObject({ reason: 'quota-exceeded', to: server.url });
      offline.close();
    } finally {
      await server.close();
    }
  });

  it('asks no more once nothing is pending', async () => {
    const server = await startServer({ data: join(tmp.dir, 'q') });
    try {
      const { alice, bob, aliceBlog } = await aliceAndBob(tmp.dir, server.url, '2');
      await aliceBlog.dm(toId(bob.account), 'hello');
      await syncWith(alice, server.url);

      let asked = 0;
      const counted = async (input: RequestInfo | URL, init?: RequestInit) => {
        if (String(input).endsWith('/v1/outbox')) asked++;
        return realFetch(input, init);
      };
      const realFetch = globalThis.fetch;
      globalThis.fetch = counted as typeof fetch;
      const links = new Providers(alice, { WebSocket: WS });
      const deliveries = new Deliveries(alice, links, { firstMs: 50, maxMs: 100 });
      try {
        links.set([server.url]);
        const place = (await aliceBlog.sentPlace(await sentDm(aliceBlog, toId(bob.account), 'hello')))!;
        deliveries.track([place]);
        await until(() => deliveries.state([place])?.state === 'delivered', 10_000);
        const after = asked;
        await new Promise((r) => setTimeout(r, 600));
        expect(asked).toBe(after);
      } finally {
        globalThis.fetch = realFetch;
        deliveries.close();
        links.close();
      }
    } finally {
      await server.close();
    }
  });

  it('refuses a provider’s malformed outbox answer with a typed error', async () => {
    const items: unknown[] = [];
    const hostile = createServer((req, res) => {
      const { port } = hostile.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}`;
      const body =
        req.url === '/.well-known/freehold/provider'
          ? { url, host: `127.0.0.1:${port}`, key: toId(randomBytes(32)), protocols: ['freehold-sync/1'] }
          : { items };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
    try {
      const alice = await newDevice(tmp.dir, 'alice3');
      const good = { entry: 'ab'.repeat(32), space: toId(randomBytes(32)), doc: 'cd'.repeat(16), time: 1 };
      for (const bad of [
        { ...good, delivery: { state: 'delivered', at: 1, to: 'javascript:alert(1)' } },
        { ...good, delivery: { state: 'lost' } },
        { ...good, entry: '<b>', delivery: { state: 'pending' } },
        { ...good, delivery: { state: 'failed', reason: 'x'.repeat(65), message: '', to: url } },
      ]) {
        items.splice(0, items.length, bad);
        const e = await outbox(url, alice, []).catch((x: unknown) => x);
        expect(e, JSON.stringify(bad)).toBeInstanceOf(FreeholdError);
        expect((e as FreeholdError).reason).toBe('malformed');
      }
      items.splice(0, items.length, { ...good, delivery: { state: 'delivered', at: 1, to: url } });
      expect(await outbox(url, alice, [])).toEqual(items);
    } finally {
      await new Promise((r) => hostile.close(r));
    }
  });
});
