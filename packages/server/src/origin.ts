import { STATUS_CODES, type IncomingMessage } from 'node:http';
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
