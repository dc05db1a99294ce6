import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { reject, type RejectReason } from '@freehold/core';
import { SECURITY_HEADERS } from './headers.js';

/** An `--allow-origin` value as the origin browsers send (`*` stays `*`). */
export function normalizeOrigin(value: string): string {
  if (value === '*') return value;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) reject('invalid-argument', `--allow-origin ${value} is not an http(s) URL`);
  return url.origin;
}

const hostOf = (origin: string): string | undefined => {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
};

/**
 * Which browser pages may open sync sessions here. Sessions are protected by device keys, not cookies, so this is
 * about drive-by use of visitors' browsers: clients that send no Origin (the CLI, other servers) are let in, and
 * pages are if they come from the host the request was sent to (any name of this provider), from the public URL,
 * or from an origin the operator lists (`*`: any).
 */
export function originCheck(publicUrl: string, allowed: readonly string[]): (req: IncomingMessage) => boolean {
  const origins = new Set([new URL(publicUrl).origin, ...allowed.map(normalizeOrigin)]);
  if (origins.has('*')) return () => true;
  return (req) => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (origins.has(origin)) return true;
    const host = req.headers.host && hostOf(`http://${req.headers.host}`);
    return host !== undefined && hostOf(origin) === host;
  };
}

/** Answers an upgrade request with a typed JSON error instead of a WebSocket. */
export function refuseUpgrade(socket: Duplex, status: number, reason: RejectReason, message: string): void {
  const body = JSON.stringify({ error: reason, message });
  const headers = { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${String(v)}\r\n`);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head.join('')}\r\n${body}`);
}

/**
 * The API (`/v1/...`) from browser pages, under the same rule as sessions. Requests are signed by device keys
 * and carry no cookies, so a page an operator allows (`--allow-origin`) may read the answers; a page from
 * anywhere else gets a readable refusal and nothing is done, rather than an opaque network failure. Preflights
 * are answered for any page for that reason. Returns whether the request was answered here.
 */
export function crossOriginApi(req: IncomingMessage, res: ServerResponse, allows: (req: IncomingMessage) => boolean): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'origin');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, PUT', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' });
    res.end();
    return true;
  }
  if (allows(req)) return false;
  const body = JSON.stringify({ error: 'unauthenticated', message: `pages from ${origin.slice(0, 200)} may not use this provider (its operator can allow them with --allow-origin)` });
  res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}
