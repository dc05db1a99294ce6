import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, MAX_FRAME } from '@freehold/core';
import { startServer, tempDir } from './helpers.js';

const tmp = tempDir('limits');
afterAll(() => tmp.cleanup());

function open(url: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; ms: number }> }> {
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/sync`);
    const closed = new Promise<{ code: number; ms: number }>((r) => ws.on('close', (code) => r({ code, ms: Date.now() - t })));
    ws.once('message', () => resolve({ ws, closed }));
    ws.once('error', reject);
  });
}

describe('session limits', () => {
  it('closes idle sessions, keeps answering ones alive, and drops oversized frames', async () => {
    const server = await startServer({ data: tmp.dir, idleMs: 300, heartbeatMs: 100 });
    try {
      const idle = await open(server.url);
      const { code, ms } = await idle.closed;
      expect(code).toBe(1000);
      expect(ms).toBeLessThan(3000);
      // A session that keeps talking stays.
      const busy = await open(server.url);
      const ticker = setInterval(() => busy.ws.send(encodeFrame(['sync', 1])), 50);
      await new Promise((r) => setTimeout(r, 800));
      expect(busy.ws.readyState).toBe(WebSocket.OPEN);
      clearInterval(ticker);
      busy.ws.close();
      // A frame over the limit closes the connection (1009: message too big).
      const big = await open(server.url);
      big.ws.send(new Uint8Array(MAX_FRAME + 10));
      expect((await big.closed).code).toBe(1009);
      // A bad frame gets an error frame and the session goes on.
      const bad = await open(server.url);
      const reply = new Promise<Uint8Array>((r) => bad.ws.once('message', (d: Buffer) => r(new Uint8Array(d))));
      bad.ws.send(new Uint8Array([1, 2, 3]));
      const f = decodeFrame(await reply);
      expect(f[0]).toBe('error');
      expect(f[0] === 'error' && f[1]).toBe('malformed');
      expect(bad.ws.readyState).toBe(WebSocket.OPEN);
      bad.ws.close();
    } finally {
      await server.close();
    }
  });
});
