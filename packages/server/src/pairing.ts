import type { IncomingMessage, ServerResponse } from 'node:http';

const TTL_MS = 10 * 60_000;
const MAX_BOX = 4096;
const MAX_BOXES = 10_000;

/**
 * A mailbox for linking a new device with a one-time code. The provider only relays two sealed boxes per code
 * (the new device's keys, then the account's answer); it cannot read or forge them without the code.
 */
export class PairingMailbox {
  private readonly boxes = new Map<string, { body: Buffer; expires: number }>();

  async handle(req: IncomingMessage, res: ServerResponse, id: string, slot: string): Promise<void> {
    const key = `${id}/${slot}`;
    const now = Date.now();
    for (const [k, v] of this.boxes) if (v.expires < now) this.boxes.delete(k);
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of req) {
        n += (c as Buffer).length;
        if (n > MAX_BOX) return void res.writeHead(413).end();
        chunks.push(c as Buffer);
      }
      if (this.boxes.has(key)) return void res.writeHead(409).end();
      if (this.boxes.size >= MAX_BOXES) return void res.writeHead(503).end();
      this.boxes.set(key, { body: Buffer.concat(chunks), expires: now + TTL_MS });
      return void res.writeHead(204).end();
    }
    const box = this.boxes.get(key);
    if (!box) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': box.body.length });
    res.end(box.body);
  }
}
