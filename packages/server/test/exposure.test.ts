import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from './process.js';
import { encodeCard, signRequest, toId } from '@freehold/core';
import { newDevice, startServer, tempDir } from './helpers.js';

const BIN = fileURLToPath(new URL('../../cli/bin/freehold.cjs', import.meta.url));
const SECRET = 'the operator keeps this out of the web root';

/** A GET with the path sent byte for byte, as an attacker's client would (fetch would normalise it first). */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers, insecureHTTPParser: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request line no HTTP client library would send. */
function rawLine(base: string, line: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(`${line}\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

/** Opens a sync WebSocket with these headers; resolves with 101 or the refusal's status and body. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/sync`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    ws.on('error', reject);
  });
}

/** A request to the provider's API with these headers, as a browser page would send it. */
function apiRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body ? Buffer.from(body) : undefined);
  });
}

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

function expectSecurityHeaders(h: Record<string, unknown>, where: string): void {
  expect(h['x-content-type-options'], where).toBe('nosniff');
  expect(h['x-frame-options'], where).toBe('DENY');
  expect(h['referrer-policy'], where).toBe('no-referrer');
  expect(String(h['content-security-policy']), where).toContain("frame-ancestors 'none'");
}

describe('static files, headers, WebSocket origins and metrics on a real `freehold serve`', () => {
  const tmp = tempDir('exposure');
  const web = join(tmp.dir, 'web');
  let server: Awaited<ReturnType<typeof spawnServer>>;

  beforeAll(async () => {
    // The web root has a sibling whose name starts with the root's: a prefix check without a separator lets it out.
    mkdirSync(join(web, 'assets'), { recursive: true });
    mkdirSync(join(tmp.dir, 'web-secret'));
    writeFileSync(join(tmp.dir, 'web-secret', 'secret.txt'), SECRET);
    writeFileSync(join(tmp.dir, 'secret.txt'), SECRET);
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>app</title><script type="module" src="/assets/app-1.js"></script>');
    writeFileSync(join(web, 'assets', 'app-1.js'), 'console.log(1)');
    writeFileSync(join(web, 'sw.js'), 'self.addEventListener("fetch", () => {})');
    server = await spawnServer(['--port', '0', '--data', join(tmp.dir, 'data'), '--web', web, '--allow-origin', 'http://friend.example:8080', '--metrics', '127.0.0.1:0']);
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it('never serves a file outside the web root, whatever the encoding; bad escapes are a typed 400, not a 500', async () => {
    const attacks = [
      '/..%2fweb-secret/secret.txt',
      '/..%2Fweb-secret%2Fsecret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fweb-secret%2fsecret.txt',
      '/%2e%2e/web-secret/secret.txt',
      '/.%2e/web-secret/secret.txt',
      '/../web-secret/secret.txt',
      '/assets/../../web-secret/secret.txt',
      '/..%252fweb-secret/secret.txt',
      '/%252e%252e%252fweb-secret%252fsecret.txt',
      '/..%5cweb-secret%5csecret.txt',
      '/..\\web-secret\\secret.txt',
      '/..%c0%afweb-secret/secret.txt',
      '/index.html%00.png',
      '/%E0%A4%A',
      '/assets/%',
      '/.well-known/freehold/handles/%E0%A4%A',
    ];
    for (const path of attacks) {
      const res = await rawGet(server.url, path);
      expect([400, 404], path).toContain(res.status);
      expect(res.body, path).not.toContain(SECRET);
      const body = JSON.parse(res.body) as { error: string };
      expect(res.status === 400 ? ['malformed', 'invalid-argument'] : ['not-found'], path).toContain(body.error);
    }
    expect((await rawGet(server.url, '/%E0%A4%A')).body).toContain('"error":"malformed"');
    expect((await rawGet(server.url, '/..%2fweb-secret/secret.txt')).status).toBe(400);
    // A target that is not a URL at all.
    expect(await rawLine(server.url, 'GET http://[ HTTP/1.1')).toMatch(/^HTTP\/1\.1 400/);
    // The root itself is served, and the server is still up.
    expect((await rawGet(server.url, '/assets/app-1.js')).body).toBe('console.log(1)');
    expect((await rawGet(server.url, '/healthz')).status).toBe(200);
  });

  it('puts the security headers on every response, with a script-free CSP on the pages the server renders', async () => {
    const cases: [string, number][] = [
      ['/', 200],
      ['/assets/app-1.js', 200],
      ['/sw.js', 200],
      ['/healthz', 200],
      ['/nothing/here', 404],
      ['/%E0%A4%A', 400],
      ['/.well-known/freehold/handles/nobody', 404],
      ['/.well-known/freehold/accounts/1111111111111111111111111111111111111111', 400],
      ['/@nobody', 404],
    ];
    for (const [path, status] of cases) {
      const res = await rawGet(server.url, path);
      expect(res.status, path).toBe(status);
      expectSecurityHeaders(res.headers, path);
    }
    const app = String((await rawGet(server.url, '/')).headers['content-security-policy']);
    expect(app).toContain("script-src 'self'");
    expect(app).toContain('connect-src ');
    expect(app).not.toContain('unsafe-inline');
    const json = String((await rawGet(server.url, '/healthz')).headers['content-security-policy']);
    expect(json).toMatch(/^default-src 'none'/);
    // The not-found page carries its stylesheet's hash and allows no script.
    const page = await rawGet(server.url, '/@nobody');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/^default-src 'none'/);
    expect(csp).not.toContain('script-src');
    expect(csp).toContain(sha256(/<style>([^<]*)<\/style>/.exec(page.body)![1]!));
    expect(page.body).not.toMatch(/style="/);
    // An error response from the POST API too.
    const post = await fetch(`${server.url}/v1/accounts`, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
    expect(post.status).toBe(400);
    const names = ['x-content-type-options', 'x-frame-options', 'referrer-policy', 'content-security-policy'];
    expectSecurityHeaders(Object.fromEntries(names.map((n) => [n, post.headers.get(n)])), 'POST /v1/accounts');
  });

  it('refuses WebSocket upgrades from pages of other sites with a 403, and lets in non-browsers, its own names and listed origins', async () => {
    const { port } = new URL(server.url);
    const loopback = `http://127.0.0.1:${port}`;
    // No Origin: the CLI and other servers.
    expect((await upgrade(server.url, {})).status).toBe(101);
    // The page's origin is the host the request came to, under either name of this provider.
    expect((await upgrade(loopback, { origin: loopback })).status).toBe(101);
    expect((await upgrade(loopback, { origin: `http://localhost:${port}`, host: `localhost:${port}` })).status).toBe(101);
    expect((await upgrade(loopback, { origin: 'http://friend.example:8080' })).status).toBe(101);
    // Another port on the same host is another site.
    expect((await upgrade(loopback, { origin: `http://localhost:${Number(port) + 1}` })).status).toBe(403);
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${Number(port) + 1}`, 'http://friend.example', `https://127.0.0.1.evil.example:${port}`]) {
      const refused = await upgrade(loopback, { origin });
      expect(refused.status, origin).toBe(403);
      expect(JSON.parse(refused.body), origin).toMatchObject({ error: 'unauthenticated' });
      expectSecurityHeaders(refused.headers!, `upgrade from ${origin}`);
    }
    // Other paths are not sync sessions.
    const elsewhere = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/other`);
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode!));
      ws.on('open', () => resolve(101));
    });
    expect(elsewhere).toBe(404);
  });

  it('answers the signed API to pages of listed origins, and refuses pages of other sites readably, doing nothing', async () => {
    const device = await newDevice(tmp.dir, 'page');
    await device.setProviders([server.url]);
    const registration = signRequest('register', new URL(server.url).host, {}, encodeCard(device.identity()), device.keys.sign, Date.now());
    const account = `/.well-known/freehold/accounts/${toId(device.account)}`;
    const send = (origin: string) => apiRequest(server.url, 'POST', '/v1/accounts', { origin, 'content-type': 'application/cbor' }, registration);
    // The preflight is answered for any page, so that the refusal below reaches it.
    const preflight = await apiRequest(server.url, 'OPTIONS', '/v1/accounts', { origin: 'http://evil.example', 'access-control-request-method': 'POST' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('http://evil.example');
    expect(preflight.headers['access-control-allow-headers']).toBe('content-type');
    const refused = await send('http://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.headers['access-control-allow-origin']).toBe('http://evil.example');
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'unauthenticated', message: expect.stringMatching(/pages from http:\/\/evil\.example may not use this provider/) });
    expectSecurityHeaders(refused.headers, 'API refusal');
    expect((await rawGet(server.url, account)).status).toBe(404);
    // A listed origin registers, and may read the answer.
    const allowed = await send('http://friend.example:8080');
    expect(allowed.status, allowed.body).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('http://friend.example:8080');
    expect(allowed.headers.vary).toMatch(/origin/i);
    expect((await rawGet(server.url, account)).status).toBe(200);
    await device.store.close();
  });

  it('accepts any origin with `--allow-origin *` and refuses a malformed one at start', async () => {
    const open = await startServer({ data: join(tmp.dir, 'any'), allowOrigins: ['*'] });
    try {
      expect((await upgrade(open.url, { origin: 'http://evil.example' })).status).toBe(101);
    } finally {
      await open.close();
    }
    const bad = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--data', join(tmp.dir, 'bad'), '--allow-origin', 'ftp://x'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('[invalid-argument]');
  });

  it('serves metrics only on the separate listener it was given', async () => {
    expect((await rawGet(server.url, '/metrics')).status).toBe(404);
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(server.metricsUrl!);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('freehold_connections');
    expect((await fetch(server.metricsUrl!.replace(/metrics$/, 'healthz'))).status).toBe(404);
    // Without the flag there is no metrics listener at all.
    const plain = await startServer({ data: join(tmp.dir, 'plain'), webRoot: join(tmp.dir, 'no-web') });
    try {
      expect(plain.metricsUrl).toBeUndefined();
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
      expect(await (await fetch(`${plain.url}/`)).text()).not.toContain('/metrics');
    } finally {
      await plain.close();
    }
  });
});
