import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';

/** Debian's Chromium, headless, with the flags this machine's closed network needs. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', ...extraArgs],
  });
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

/** Builds a page with Vite (workspace packages from source) and serves it on loopback. */
export async function buildAndServe(root: string, outDir: string): Promise<{ url: string; close(): Promise<void> }> {
  await build({
    root,
    logLevel: 'silent',
    resolve: { conditions: ['source', 'browser', 'module', 'import', 'default'] },
    // A profile (FREEHOLD_BENCH_PROFILE) names functions as the source does.
    build: { outDir, emptyOutDir: true, target: 'es2022', minify: !process.env.FREEHOLD_BENCH_PROFILE },
  });
  const server: Server = createServer(async (req, res) => {
    const path = normalize(join(outDir, new URL(req.url ?? '/', 'http://x').pathname));
    if (!path.startsWith(outDir)) return void res.writeHead(403).end();
    try {
      const body = await readFile(path.endsWith('/') ? join(path, 'index.html') : path);
      res.writeHead(200, { 'content-type': TYPES[extname(path) || '.html'] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise((r) => server.close(() => r())) };
}
