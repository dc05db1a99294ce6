import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCard, type Device } from '@freehold/core';
import { installNativeCrypto } from '@freehold/node';
import { ReconnectingLink, type LinkEvent, type LinkStatus, type WebSocketFactory } from '@freehold/client';
import { freePort } from '../../../test-support/net.js';
import { join_, newDevice, put, syncWith, tempDir, until } from '../../server/test/helpers.js';
import { spawnServer } from '../../server/test/process.js';

installNativeCrypto();
const tmp = tempDir('link');
afterAll(() => tmp.cleanup());

type Server = Awaited<ReturnType<typeof spawnServer>>;
const entriesAt = async (url: string): Promise<number> => ((await (await fetch(`${url}/healthz`)).json()) as { entries: number }).entries;

/** Node's WebSocket, counting the sockets the link opens. */
function countingSockets(): { WebSocket: WebSocketFactory; opened: () => number } {
  let opened = 0;
  class Counting extends WebSocket {
    constructor(url: string) {
      super(url);
      opened++;
    }
  }
  return { WebSocket: Counting as unknown as WebSocketFactory, opened: () => opened };
}

/** Statuses in the order they were reported, repeats folded. */
function statusTrail(link: ReconnectingLink): LinkStatus[] {
  const trail: LinkStatus[] = [link.status];
  link.listen((e) => {
    if (e.type === 'status' && trail[trail.length - 1] !== e.status) trail.push(e.status);
  });
  return trail;
}

describe('a reconnecting link to a provider', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });
  const start = async (port: number, data: string) => {
    const s = await spawnServer(['--port', String(port), '--data', data]);
    servers.push(s);
    return s;
  };

  it('comes back by itself after the provider is killed, with what was written meanwhile, and stays live', async () => {
    const port = await freePort();
    const data = join(tmp.dir, 'p');
    let server = await start(port, data);
    const alice = await newDevice(tmp.dir, 'alice');
    await join_(alice, server.url);
    const space = await alice.createSpace(false);
    await put(alice, space, 'note/0', { text: 'before' });
    const sockets = countingSockets();
    const link = new ReconnectingLink(server.url, alice, { WebSocket: sockets.WebSocket, backoff: { firstMs: 100, maxMs: 1000 } });
    const trail = statusTrail(link);
    const live: LinkEvent[] = [];
    link.listen((e) => e.type === 'entries' && e.live && live.push(e));
    link.start();
    await until(() => link.status === 'online', 10_000);
    expect(await entriesAt(server.url)).toBe(await alice.store.countEntries());

    // Bob writes into the space Alice shares with him: it reaches Alice's replica without her asking.
    const bob = await newDevice(tmp.dir, 'bob');
    await share(alice, bob, space);
    expect((await link.flush()).delivered).toBe(true);
    // Bob is not registered there: he names the space he wants.
    await syncWith(bob, server.url, [space]);
    await put(bob, space, 'note/bob', { text: 'from Bob' });
    await syncWith(bob, server.url);
    await until(() => live.length > 0, 10_000);

    await server.stop('SIGKILL');
    await until(() => link.status === 'offline', 10_000);
    await put(alice, space, 'note/down', { text: 'written while the provider was down' });
    const whileDown = await link.flush();
    expect(whileDown).toMatchObject({ delivered: false, sent: 0 });
    server = await start(port, data);
    await until(() => link.status === 'online', 20_000);
    expect(await entriesAt(server.url)).toBe(await alice.store.countEntries());
    expect(trail.slice(0, 3)).toEqual(['connecting', 'online', 'offline']);
    expect(trail[trail.length - 1]).toBe('online');
    expect(link.lastError).toBeUndefined();

    // Subscriptions came back with the connection: Bob's next entry is pushed again.
    const before = live.length;
    await put(bob, space, 'note/bob2', { text: 'after the restart' });
    await syncWith(bob, server.url);
    await until(() => live.length > before, 10_000);
    expect(sockets.opened()).toBeGreaterThanOrEqual(2);
    link.close();
    expect(link.status).toBe('closed');
  });

  it('resolves a write only once the provider holds it durably, over the socket it already has', async () => {
    const port = await freePort();
    const data = join(tmp.dir, 'durable');
    let server = await start(port, data);
    const alice = await newDevice(tmp.dir, 'carol');
    await join_(alice, server.url);
    const space = await alice.createSpace(false);
    const sockets = countingSockets();
    const link = new ReconnectingLink(server.url, alice, { WebSocket: sockets.WebSocket }).start();
    await until(() => link.status === 'online', 10_000);
    const opened = sockets.opened();
    for (let i = 0; i < 3; i++) await put(alice, space, `note/${i}`, { text: `write ${i}` });
    // Three flushes at once share one push.
    const [a, b, c] = await Promise.all([link.flush(), link.flush(), link.flush()]);
    expect(a).toMatchObject({ delivered: true, sent: 3, refused: [] });
    expect(b).toBe(a);
    expect(c).toBe(a);
    // Acknowledged means on disk: a provider killed right now still has all of it when it comes back.
    await server.stop('SIGKILL');
    server = await start(port, data);
    expect(await entriesAt(server.url)).toBe(await alice.store.countEntries());
    expect(opened).toBe(1);
    // Nothing new: a flush sends nothing.
    await until(() => link.status === 'online', 20_000);
    expect(await link.flush()).toMatchObject({ delivered: true, sent: 0 });
    link.close();
  });

  it('takes a provider that stops answering for gone, without waiting for TCP to notice, and connects again', async () => {
    const server = await start(await freePort(), join(tmp.dir, 'silent'));
    const dave = await newDevice(tmp.dir, 'dave');
    await join_(dave, server.url);
    const route = await relay(Number(new URL(server.url).port));
    const link = new ReconnectingLink(route.url, dave, { WebSocket: countingSockets().WebSocket, heartbeatMs: 400, backoff: { firstMs: 100, maxMs: 500 } });
    const errors: string[] = [];
    link.listen((e) => e.type === 'status' && e.status === 'offline' && errors.push(e.error ?? ''));
    const trail = statusTrail(link);
    link.start();
    await until(() => link.status === 'online', 10_000);
    route.silence();
    await until(() => trail.includes('offline'), 5_000);
    expect(errors[0]).toMatch(/stopped answering/);
    await until(() => link.status === 'online', 10_000);
    link.close();
    route.close();
  });
});

/** A TCP relay to `port` whose open connections can be silenced without being closed, as a dead route does. */
async function relay(port: number): Promise<{ url: string; silence(): void; close(): void }> {
  const pairs: [Socket, Socket][] = [];
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => {});
    upstream.on('error', () => {});
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    silence() {
      for (const [a, b] of pairs.splice(0)) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    close: () => server.close(),
  };
}

async function share(owner: Device, member: Device, space: Uint8Array): Promise<void> {
  await owner.replica.addCard(encodeCard(member.identity()));
  await owner.setRole(space, member.account, 'writer');
}
