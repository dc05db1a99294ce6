import type { IncomingMessage, ServerResponse } from 'node:http';
import { FreeholdError, fromId, reject, toBase64 } from '@freehold/core';
import type { Provider } from './provider.js';
import { publicProfile } from './public-web.js';
import { decodeSegment, serveStatic } from './static.js';
import { PairingMailbox } from './pairing.js';
import { pageCsp, secure } from './headers.js';

const MAX_BODY = 1 << 20;

const STATUS: Record<string, number> = {
  'invalid-argument': 400,
  malformed: 400,
  'bad-signature': 401,
  'unknown-author': 401,
  'clock-skew': 400,
  'not-hosted': 403,
  'quota-exceeded': 403,
  'forbidden-role': 409,
  'too-large': 413,
};

/** A page the provider renders: its one inline stylesheet is the only thing its CSP lets it use. */
interface Page {
  html: string;
  style: string;
}

function html(res: ServerResponse, status: number, page: Page, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(page.html),
    'content-security-policy': pageCsp(page.style),
    ...headers,
  });
  res.end(page.html);
}

const NOT_FOUND_STYLE = 'p{font:16px system-ui;margin:3rem}';
const notFoundPage = (name: string): Page => ({
  style: NOT_FOUND_STYLE,
  html: `<!doctype html><meta charset="utf-8"><title>Not found</title><style>${NOT_FOUND_STYLE}</style><p>No one is @${name.replace(/[^a-z0-9_-]/gi, '')} on this provider.</p>`,
});

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request target as a URL; Node hands over whatever the client sent, absolute forms included. */
function parseUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return reject('malformed', 'the request target is not a URL');
  }
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

const LANDING_STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1em .3em}';
const landing = (host: string): Page => ({
  style: LANDING_STYLE,
  html: `<!doctype html><meta charset="utf-8"><title>Freehold provider ${host}</title>
<style>${LANDING_STYLE}</style>
<h1>Freehold provider</h1>
<p>The web app is not built (run <code>npm run build</code>). This is a Freehold cloud peer at <strong>${host}</strong>. It stores and relays signed, encrypted entries for the
accounts registered here; it cannot read their private spaces.</p>
<p>Register from the command line: <code>freehold provider add http://${host}</code></p>
<p><a href="/healthz">health</a></p>`,
});

/** Plain HTTP: health, the handle directory, signed account requests, public profiles and the web app. */
export function httpHandler(provider: Provider, webRoot: string) {
  const pairing = new PairingMailbox();
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    secure(res);
    try {
      const url = parseUrl(req.url);
      if (req.method === 'GET' && url.pathname === '/healthz') return json(res, 200, { ok: true, entries: await provider.store.countEntries() });
      const handle = /^\/\.well-known\/freehold\/handles\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && handle) {
        const found = await provider.lookupHandle(decodeSegment(handle[1]!));
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
        return html(res, 200, page, { vary: 'Accept' });
      }
      if (req.method === 'POST' && url.pathname === '/v1/accounts') {
        const a = await provider.register(await body(req));
        return json(res, 200, { account: Buffer.from(a.account).toString('hex'), quota: a.quota, used: a.used });
      }
      if (req.method === 'POST' && url.pathname === '/v1/handles') return json(res, 200, { handle: await provider.claimHandle(await body(req)) });
      if (req.method === 'GET' && (await serveStatic(webRoot, url.pathname, res))) return;
      if (req.method === 'GET' && url.pathname === '/') return html(res, 200, landing(provider.host));
      return json(res, 404, { error: 'not-found', message: `nothing at ${url.pathname.slice(0, 200)}` });
    } catch (e) {
      if (e instanceof FreeholdError) return json(res, STATUS[e.reason] ?? 400, { error: e.reason, message: e.message });
      provider.opts.logger.error({ err: e }, 'http request failed');
      return json(res, 500, { error: 'internal', message: 'internal error' });
    }
  };
}
