import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installNativeCrypto } from '@freehold/node';
import { outbox } from '@freehold/client';
import { encodeCard, signRequest, toHex, toId, type Device } from '@freehold/core';
import { startServer, syncWith, tempDir } from './helpers.js';
import { aliceAndBob } from './bloggers.js';

installNativeCrypto();
const tmp = tempDir('outbox');
afterAll(() => tmp.cleanup());


/** POST /v1/outbox with any payload, signed by the device: the status and the answer. */
async function ask(url: string, device: Device, payload: Record<string, unknown>): Promise<{ status: number; body: { error?: string; items?: unknown[] } }> {
  const request = signRequest('outbox', new URL(url).host, payload, encodeCard(device.identity()), device.keys.sign, Date.now());
  const res = await fetch(`${url}/v1/outbox`, { method: 'POST', body: request.slice().buffer as ArrayBuffer });
  return { status: res.status, body: (await res.json()) as { error?: string; items?: unknown[] } };
}

describe('the outbox, asked about particular sends', () => {
  it('answers for the asking account’s own entries only, and refuses malformed or oversized questions', async () => {
    const server = await startServer({ data: join(tmp.dir, 'p') });
    try {
      const { alice, bob, aliceBlog } = await aliceAndBob(tmp.dir, server.url);
      await aliceBlog.dm(toId(bob.account), 'hi Bob');
      await syncWith(alice, server.url);
      const at = (await aliceBlog.inbox()).find((i) => i.message.type === 'dm')!.message.at;
      const place = (await aliceBlog.sentPlace({ type: 'dm', to: toId(bob.account), at }))!;

      const items = await outbox(server.url, alice, [place]);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ space: toId(place.space), doc: toHex(place.doc), delivery: { state: 'delivered', to: server.url } });
      // The entry is Alice's: Bob, naming the same place, learns nothing of it.
      expect(await outbox(server.url, bob, [place])).toEqual([]);

      for (const [sent, status, error] of [
        ['not a list', 400, 'malformed'],
        [[[place.space.subarray(0, 31), place.doc]], 400, 'malformed'],
        [[[place.space]], 400, 'malformed'],
        [Array.from({ length: 201 }, () => [place.space, place.doc]), 413, 'too-large'],
      ] as const) {
        const r = await ask(server.url, alice, { sent });
        expect(r.status).toBe(status);
        expect(r.body.error).toBe(error);
      }
      expect((await ask(server.url, alice, { sent: [[place.space, place.doc]] })).body.items).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
