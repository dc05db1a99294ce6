import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';

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

/** Serves a built file if there is one at this path; returns whether it did. */
export async function serveStatic(root: string, pathname: string, res: ServerResponse): Promise<boolean> {
  const file = normalize(join(root, pathname === '/' ? 'index.html' : decodeURIComponent(pathname)));
  if (!file.startsWith(root)) return false;
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return false;
  }
  // Hashed asset names never change; index.html must always be fresh.
  const cache = pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': cache });
  res.end(body);
  return true;
}
