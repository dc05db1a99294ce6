import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';
import { reject } from '@freehold/core';
import { APP_CSP } from './headers.js';

/** Where `npm run build` puts the web app, relative to this package. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../apps/microblog/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

export const hasWebApp = (root: string): boolean => existsSync(join(root, 'index.html'));

/** One %-encoded path segment, decoded; a malformed escape is the client's error, not the server's. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return reject('malformed', 'the path has a malformed %-escape');
  }
}

/**
 * The file a URL path names inside `root`. Segments are decoded one at a time, and one that decodes to a separator,
 * a NUL or a dot segment is refused, so no encoding can climb out; the result is checked to lie inside the root.
 */
export function fileIn(root: string, pathname: string): string {
  const segments = pathname.split('/').slice(1).map(decodeSegment);
  if (segments.some((s) => s === '.' || s === '..' || /[/\\\0]/.test(s))) reject('invalid-argument', 'the path has a forbidden segment');
  const base = resolve(root);
  const file = resolve(base, pathname === '/' ? 'index.html' : join(...segments));
  const rel = relative(base, file);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) reject('invalid-argument', 'the path leads outside the web root');
  return file;
}

/** Serves a built file if there is one at this path; returns whether it did. */
export async function serveStatic(root: string, pathname: string, res: ServerResponse): Promise<boolean> {
  const file = fileIn(root, pathname);
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return false;
  }
  // Hashed asset names never change; index.html must always be fresh.
  const cache = pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': cache,
    'content-security-policy': APP_CSP,
  });
  res.end(body);
  return true;
}
