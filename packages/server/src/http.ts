import type { IncomingMessage, ServerResponse } from 'node:http';
import { asArray, asBytes, encodeCard, FreeholdError, fromId, reject, toBase64, toHex, toId, verifyRequest } from '@freehold/core';
import { OUTBOX_LIMIT, type Provider } from './provider.js';
import { publicImage, publicPost, publicProfile } from './public-web.js';
import { decodeSegment, serveStatic } from './static.js';
import { pageCsp, secure } from './headers.js';
import { crossOriginApi } from './origin.js';
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
  'quota-exceeded': 403,
  'forbidden-role': 409,
  'too-large': 413,
  'not-found': 404,
  duplicate: 409,
  'rate-limited': 429,
  unavailable: 503,
};

/** An outbox request's places: a space and a document id each, at most OUTBOX_LIMIT of them. */
function sentPlaces(v: unknown): { space: Uint8Array; doc: Uint8Array }[] {
  return asArray(v, 'sent', OUTBOX_LIMIT).map((pair, i) => {
    const [space, doc] = asArray(pair, `sent[${i}]`, 2);
    return { space: asBytes(space, `sent[${i}].space`, 32), doc: asBytes(doc, `sent[${i}].doc`, 16) };
  });
}

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
const notFoundPage = (name: string, post = false): Page => ({
  style: NOT_FOUND_STYLE,
  html: `<!doctype html><meta charset="utf-8"><title>Not found</title><style>${NOT_FOUND_STYLE}</style><p>${
    post ? `No public post of @${name.replace(/[^a-z0-9_-]/gi, '')} at this address.` : `No one is @${name.replace(/[^a-z0-9_-]/gi, '')} on this provider.`
  }</p>`,
});

/** The request target as a URL; Node hands over whatever the client sent, absolute forms included. */
function parseUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return reject('malformed', 'the request target is not a URL');
  }
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

/** What the node says of itself besides its data: damage found in its store, and whether it is stopping. */
export interface NodeState {
  fault(): string | undefined;
  draining(): boolean;
}

/** How long a readiness check waits for the store. */
const READY_WAIT_MS = 2000;

/** Whether this node should be sent sessions now: not stopping, not damaged, and its store answers. */
async function readiness(provider: Provider, node: NodeState): Promise<{ ready: true } | { ready: false; error: string; message: string }> {
  const problem = node.fault();
  if (problem) return { ready: false, error: 'damaged', message: problem };
  if (node.draining()) return { ready: false, error: 'unavailable', message: 'this node is stopping' };
  const timeout = new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`no answer within ${READY_WAIT_MS} ms`)), READY_WAIT_MS).unref());
  try {
    await Promise.race([provider.store.getMeta('ready'), timeout]);
    return { ready: true };
  } catch (e) {
    return { ready: false, error: 'unavailable', message: `the store does not answer: ${(e as Error).message}` };
  }
}

/**
 * Liveness: 503 once the store has found its files damaged (until a restart checks them), else 200 with the entry
 * count (when the store answers), whether the node is ready (see /readyz) and, with --nats, whether NATS is.
 */
async function health(res: ServerResponse, provider: Provider, node: NodeState): Promise<void> {
  const problem = node.fault();
  if (problem) return json(res, 503, { ok: false, error: 'damaged', message: problem });
  const state = await readiness(provider, node);
  const entries = state.ready ? await provider.store.countEntries().catch(() => undefined) : undefined;
  const nats = provider.nodes && { nats: provider.nodes.connected };
  return json(res, 200, { ok: true, ready: state.ready, entries, peers: provider.peering.status(), ...nats });
}

/** Readiness, for a load balancer: 200 while this node should get sessions, 503 (and why) otherwise. */
async function ready(res: ServerResponse, provider: Provider, node: NodeState): Promise<void> {
  const state = await readiness(provider, node);
  return json(res, state.ready ? 200 : 503, state.ready ? { ready: true } : { ready: false, error: state.error, message: state.message });
}

/** Plain HTTP: health, the handle directory, signed account requests, device linking, public profiles and the web app. */
export function httpHandler(
  provider: Provider,
  webRoot: string,
  pairingLimits: PairingLimits,
  node: NodeState,
  allowsOrigin: (req: IncomingMessage) => boolean,
) {
  const pairing = pairingRoutes(provider, pairingLimits);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    secure(res);
    try {
      const url = parseUrl(req.url);
      // The well-known documents are public and self-certifying: a page from any provider may read them (the web
      // app resolves a handle, or fetches an identity log, at the provider that holds it).
      if (req.method === 'GET' && url.pathname.startsWith('/.well-known/freehold/')) res.setHeader('access-control-allow-origin', '*');
      if (url.pathname.startsWith('/v1/') && crossOriginApi(req, res, allowsOrigin)) return;
      if (req.method === 'GET' && url.pathname === '/healthz') return await health(res, provider, node);
      if (req.method === 'GET' && url.pathname === '/readyz') return await ready(res, provider, node);
      // Any name this provider is reached by answers with its canonical one, which clients then sign for.
      if (req.method === 'GET' && url.pathname === '/.well-known/freehold/provider') return json(res, 200, provider.document);
      const handle = /^\/\.well-known\/freehold\/handles\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && handle) {
        const found = await provider.lookupHandle(decodeSegment(handle[1]!));
        return found ? json(res, 200, found) : json(res, 404, { error: 'not-found', message: `no handle ${handle[1]} here` });
      }
      if (/^\/v1\/pair(\/|$)/.test(url.pathname)) return await pairing(req, res, url.pathname);
      const account = /^\/\.well-known\/freehold\/accounts\/([1-9A-HJ-NP-Za-km-z]{40,50})$/.exec(url.pathname);
      if (req.method === 'GET' && account) {
        // Identity logs are public and self-certifying: the newest one held tells where an account lives now,
        // and a recovering device starts from it.
        const log = provider.replica.storedLog(fromId(account[1]!, 'account'));
        if (!log) return json(res, 404, { error: 'not-found', message: 'no identity log of that account here' });
        return json(res, 200, { account: account[1], providers: log.providers, card: toBase64(encodeCard(log)) });
      }
      // The images of a public post, which its page shows: `/@NAME/POSTID/images/N`.
      const image = /^\/@([a-z0-9][a-z0-9_-]{0,31})\/([^/]{1,64})\/images\/([1-4])$/i.exec(url.pathname);
      if (req.method === 'GET' && image) {
        const found = await publicImage(provider, image[1]!.toLowerCase(), image[2]!, Number(image[3]));
        if (!found) return json(res, 404, { error: 'not-found', message: `no image ${image[3]} of a public post ${image[2]} of @${image[1]} here` });
        res.writeHead(200, { 'content-type': found.mime, 'content-length': found.bytes.length, 'cache-control': 'public, max-age=3600' });
        return void res.end(found.bytes);
      }
      // `/@NAME`, or one of its posts, `/@NAME/POSTID` (publicPost checks the id).
      const profile = /^\/@([a-z0-9][a-z0-9_-]{0,31})(?:\/([^/]{1,64}))?$/i.exec(url.pathname);
      if (req.method === 'GET' && profile) {
        const name = profile[1]!.toLowerCase();
        const page = profile[2] === undefined ? await publicProfile(provider, name) : await publicPost(provider, name, profile[2]);
        const wantsJson = /application\/(activity|ld)\+json/.test(req.headers.accept ?? '');
        const missing = profile[2] === undefined ? `no one is @${profile[1]} here` : `no public post ${profile[2]} of @${profile[1]} here`;
        if (!page) return wantsJson ? json(res, 404, { error: 'not-found', message: missing }) : html(res, 404, notFoundPage(profile[1]!, profile[2] !== undefined));
        if (wantsJson) {
          const body = JSON.stringify(page.json);
          res.writeHead(200, { 'content-type': 'application/activity+json; charset=utf-8', 'content-length': Buffer.byteLength(body), vary: 'Accept' });
          return void res.end(body);
        }
        return html(res, 200, page, { vary: 'Accept' });
      }
      if (req.method === 'POST' && url.pathname === '/v1/accounts') {
        const a = await provider.requests.register(await body(req));
        return json(res, 200, { account: Buffer.from(a.account).toString('hex'), quota: a.quota, used: a.used });
      }
      if (req.method === 'POST' && url.pathname === '/v1/accounts/delete') return json(res, 200, await provider.requests.deleteAccount(await body(req)));
      if (req.method === 'POST' && url.pathname === '/v1/outbox') {
        const r = verifyRequest(await body(req), 'outbox', provider.host, Date.now());
        const sent = r.payload.sent === undefined ? undefined : sentPlaces(r.payload.sent);
        const items = (await provider.outbox(r.account.account, sent)).map((i) => ({
          entry: toHex(i.entry),
          space: toId(i.space),
          doc: toHex(i.doc),
          time: i.time,
          delivery: i.delivery,
        }));
        return json(res, 200, { items });
      }
      if (req.method === 'POST' && url.pathname === '/v1/fingerprints') return json(res, 200, await provider.fingerprints.answer(await body(req)));
      if (req.method === 'POST' && url.pathname === '/v1/inbox') return json(res, 200, await provider.requests.inboxSettings(await body(req)));
      if (req.method === 'POST' && url.pathname === '/v1/handles') return json(res, 200, { handle: await provider.requests.claimHandle(await body(req)) });
      if (req.method === 'GET' && (await serveStatic(webRoot, url.pathname, res))) return;
      if (req.method === 'GET' && url.pathname === '/') return html(res, 200, landing(provider.host));
      return json(res, 404, { error: 'not-found', message: `nothing at ${url.pathname.slice(0, 200)}` });
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
