import type { IncomingMessage, ServerResponse } from 'node:http';
import { FreeholdError } from '@freehold/core';

/** The largest request body any route reads (signed requests carry the account's whole card). */
export const MAX_BODY = 1 << 20;

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new FreeholdError('too-large', `request body over ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
