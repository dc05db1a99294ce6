import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Nothing may load, run, submit or frame: for JSON, errors and anything not a page. */
const LOCKED = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The web app's policy: scripts, styles and its service worker from this provider only. It reaches providers by
 * fetch and WebSocket, other providers included, and shows avatars from data: and blob: URLs.
 */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self' http: https: ws: wss:",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** A page the provider renders itself: no script at all, its one inline stylesheet (by hash), data: images and its posts' images. */
export const pageCsp = (style: string): string =>
  `${LOCKED}; style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'; img-src data: 'self'`;

/** What every response carries; routes that serve pages or the app replace the CSP. */
export const SECURITY_HEADERS: OutgoingHttpHeaders = {
  'content-security-policy': LOCKED,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export function secure(res: ServerResponse): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v!);
}
