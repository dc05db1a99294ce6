import type { IncomingMessage, ServerResponse } from 'node:http';
import { FreeholdError, fromId, toBase64 } from '@freehold/core';
import type { Provider } from './provider.js';
import type { Metrics } from './metrics.js';
import { publicProfile } from './public-web.js';
import { serveStatic } from './static.js';
import type { PairingLimits } from './pairing.js';
import { pairingRoutes } from './pairing-http.js';
import { RetryLater } from './rate-limit.js';
import { json, readBody as body } from './respond.js';

const STATUS: Record<string, number> = {
  'invalid-argument': 400,
  malformed: 400,
  'bad-signature': 401,
  'unknown-author': 401,
  'clock-skew': 400,
  'not-hosted': 403,
  'forbidden-role': 409,
  'too-large': 413,
  'not-found': 404,
  duplicate: 409,
  'rate-limited': 429,
  unavailable: 503,
};

function html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const notFoundPage = (name: string) =>
  `<!doctype html><meta charset="utf-8"><title>Not found</title><p style="font:16px system-ui;margin:3rem">No one is @${name.replace(/[^a-z0-9_-]/gi, '')} on this provider.</p>`;

const LANDING = (host: string) => `<!doctype html><meta charset="utf-8"><title>Freehold provider ${host}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1em .3em}</style>
<h1>Freehold provider</h1>
<p>The web app is not built (run <code>npm run build</code>). This is a Freehold cloud peer at <strong>${host}</strong>. It stores and relays signed, encrypted entries for the
accounts registered here; it cannot read their private spaces.</p>
<p>Register from the command line: <code>freehold provider add http://${host}</code></p>
<p><a href="/healthz">health</a> · <a href="/metrics">metrics</a></p>`;

/** Plain HTTP: health, metrics, the handle directory and signed account requests. */
export function httpHandler(provider: Provider, metrics: Metrics, webRoot: string, pairingLimits: PairingLimits) {
  const pairing = pairingRoutes(provider, pairingLimits);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method === 'GET' && url.pathname === '/healthz') return json(res, 200, { ok: true, entries: await provider.store.countEntries() });
      if (req.method === 'GET' && url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        return void res.end(await metrics.registry.metrics());
      }
      const handle = /^\/\.well-known\/freehold\/handles\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && handle) {
        const found = await provider.lookupHandle(decodeURIComponent(handle[1]!));
        return found ? json(res, 200, found) : json(res, 404, { error: 'not-found', message: `no handle ${handle[1]} here` });
      }
      if (/^\/v1\/pair(\/|$)/.test(url.pathname)) return await pairing(req, res, url.pathname);
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
      if (e instanceof FreeholdError) {
        const retry: Record<string, string> = e instanceof RetryLater ? { 'retry-after': String(Math.ceil(e.retryAfterMs / 1000)) } : {};
        return json(res, STATUS[e.reason] ?? 400, { error: e.reason, message: e.message }, retry);
      }
      provider.opts.logger.error({ err: e }, 'http request failed');
      return json(res, 500, { error: 'internal', message: 'internal error' });
    }
  };
}
