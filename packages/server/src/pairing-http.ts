import type { IncomingMessage, ServerResponse } from 'node:http';
import { asBytes, reject, toHex, verifyRequest } from '@freehold/core';
import type { Provider } from './provider.js';
import { PairingMailbox, type PairingLimits } from './pairing.js';
import { clientNetwork, takeShared } from './rate-limit.js';
import { json, readBody } from './respond.js';

const SLOT = /^\/v1\/pair\/([0-9a-f]{64})\/(offer|request|answer)$/;

/**
 * The linking mailbox over HTTP (the boxes are opaque to the provider; see the client's pairing module):
 *
 * | route                                  | body                                   | answer                 |
 * |----------------------------------------|----------------------------------------|------------------------|
 * | `POST /v1/pair`                        | signed `pair` request `{ id, offer }`   | 201 `{ expires }`      |
 * | `PUT /v1/pair/ID/request` or `/answer` | the sealed box                         | 204                    |
 * | `GET /v1/pair/ID/offer` (or the others)| —                                      | 200 the box, or 404    |
 *
 * Writes are metered per client network before any other work; refusals are typed JSON errors (404 no such
 * pairing, 409 slot already used, 413 too large, 429 and 503 with Retry-After).
 */
export function pairingRoutes(provider: Provider, limits: PairingLimits) {
  const mailbox = new PairingMailbox(provider.state, limits);
  const writes = { perMinute: limits.writesPerMinute, burst: limits.writeBurst };
  const charge = async (req: IncomingMessage): Promise<string> => {
    const network = clientNetwork(req.socket.remoteAddress);
    await takeShared(provider.state, `pair-writes:${network}`, writes, 'linking requests from this network');
    return network;
  };
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/v1/pair' && req.method === 'POST') {
      const network = await charge(req);
      const r = verifyRequest(await readBody(req), 'pair', provider.host, Date.now());
      if (!(await provider.hosts(r.account.account))) reject('not-hosted', 'only an account registered with this provider can link devices here');
      const id = toHex(asBytes(r.payload.id, 'pair.id', 32));
      const expires = await mailbox.open(id, toHex(r.account.account), network, asBytes(r.payload.offer, 'pair.offer'));
      return json(res, 201, { expires });
    }
    const slot = SLOT.exec(path);
    if (slot && req.method === 'PUT' && slot[2] !== 'offer') {
      await charge(req);
      await mailbox.put(slot[1]!, slot[2] as 'request' | 'answer', await readBody(req, limits.maxBox));
      return void res.writeHead(204).end();
    }
    if (slot && req.method === 'GET') {
      const box = await mailbox.get(slot[1]!, slot[2] as 'offer' | 'request' | 'answer');
      if (!box) return json(res, 404, { error: 'not-found', message: 'nothing in that slot' });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': box.length, 'cache-control': 'no-store' });
      return void res.end(box);
    }
    return json(res, 405, { error: 'invalid-argument', message: `${req.method ?? ''} ${path} is not a linking route` });
  };
}
