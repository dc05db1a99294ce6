import type { IncomingMessage, ServerResponse } from 'node:http';
import { FreeholdError, fromId, toBase64 } from '@freehold/core';
import type { Provider } from './provider.js';
import type { Metrics } from './metrics.js';
import { publicProfile } from './public-web.js';
import { serveStatic } from './static.js';
import { PairingMailbox } from './pairing.js';

const MAX_BODY = 1 << 20;

const STATUS: Record<string, number> = {
  'invalid-argument': 400,
  malformed: 400,
  'bad-signature': 401,
  'unknown-author': 401,
  'clock-skew': 400,
  'not-hosted': 403,
  'forbidden-role': 409,
  'too-large': 413,
};

function html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const notFoundPage = (name: string) =>
  `<!doctype html><meta charset="utf-8"><title>Not found</title><p style="font:16px system-ui;margin:3rem">No one is @${name.replace(/[^a-z0-9_-]/gi, '')} on this provider.</p>`;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function body(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new FreeholdError('too-large', `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

const LANDING = (host: string) => `<!doctype html><meta charset="utf-8"><title>Freehold provider ${host}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1em .3em}</style>
<h1>Freehold provider</h1>
<p>The web app is not built (run <code>npm run build</code>). This is a Freehold cloud peer at <strong>${host}</strong>. It stores and relays signed, encrypted entries for the
accounts registered here; it cannot read their private spaces.</p>
<p>Register from the command line: <code>freehold provider add http://${host}</code></p>
<p><a href="/healthz">health</a> · <a href="/metrics">metrics</a></p>`;

/** 503 once the store has found its files damaged (until a restart checks them), else the entry count. */
async function health(res: ServerResponse, provider: Provider, fault: () => string | undefined): Promise<void> {
  let entries: number | undefined;
  try {
    entries = await provider.store.countEntries();
  } catch (e) {
    if (!fault()) throw e;
  }
  const problem = fault();
  return problem ? json(res, 503, { ok: false, error: 'damaged', message: problem }) : json(res, 200, { ok: true, entries });
}

/** Plain HTTP: health, metrics, the handle directory and signed account requests. */
export function httpHandler(provider: Provider, metrics: Metrics, webRoot: string, storageFault: () => string | undefined) {
  const pairing = new PairingMailbox();
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method === 'GET' && url.pathname === '/healthz') return await health(res, provider, storageFault);
      if (req.method === 'GET' && url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        return void res.end(await metrics.registry.metrics());
      }
      const handle = /^\/\.well-known\/freehold\/handles\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && handle) {
        const found = await provider.lookupHandle(decodeURIComponent(handle[1]!));
        return found ? json(res, 200, found) : json(res, 404, { error: 'not-found', message: `no handle ${handle[1]} here` });
      }
      const pair = /^\/v1\/pair\/([0-9a-f]{64})\/(request|answer)$/.exec(url.pathname);
      if (pair && (req.method === 'GET' || req.method === 'PUT')) return await pairing.handle(req, res, pair[1]!, pair[2]!);
      const card = /^\/v1\/accounts\/([1-9A-HJ-NP-Za-km-z]{40,50})\/card$/.exec(url.pathname);
      if (req.method === 'GET' && card) {
        // Identity logs are public and self-certifying; a recovering device starts from one.
        const bytes = await provider.store.getCard(fromId(card[1]!, 'account'));
        return bytes ? json(res, 200, { card: toBase64(bytes) }) : json(res, 404, { error: 'not-found', message: 'no such account here' });
      }
      const profile = /^\/@([a-z0-9][a-z0-9_-]{0,31})$/i.exec(url.pathname);
      if (req.method === 'GET' && profile) {
        const page = await publicProfile(provider, profile[1]!.toLowerCase());
        const wantsJson = /application\/(activity|ld)\+json/.test(req.headers.accept ?? '');
        if (!page) return wantsJson ? json(res, 404, { error: 'not-found', message: `no one is @${profile[1]} here` }) : html(res, 404, notFoundPage(profile[1]!));
        if (wantsJson) {
          const body = JSON.stringify(page.json);
          res.writeHead(200, { 'content-type': 'application/activity+json; charset=utf-8', 'content-length': Buffer.byteLength(body), vary: 'Accept' });
          return void res.end(body);
        }
        return html(res, 200, page.html, { vary: 'Accept' });
      }
      if (req.method === 'POST' && url.pathname === '/v1/accounts') {
        const a = await provider.register(await body(req));
        return json(res, 200, { account: Buffer.from(a.account).toString('hex'), quota: a.quota, used: a.used });
      }
      if (req.method === 'POST' && url.pathname === '/v1/handles') return json(res, 200, { handle: await provider.claimHandle(await body(req)) });
      if (req.method === 'GET' && (await serveStatic(webRoot, url.pathname, res))) return;
      if (req.method === 'GET' && url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end(LANDING(provider.host));
      }
      return json(res, 404, { error: 'not-found', message: `nothing at ${url.pathname}` });
    } catch (e) {
      if (e instanceof FreeholdError) return json(res, STATUS[e.reason] ?? 400, { error: e.reason, message: e.message });
      provider.opts.logger.error({ err: e }, 'http request failed');
      return json(res, 500, { error: 'internal', message: 'internal error' });
    }
  };
}
