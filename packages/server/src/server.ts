import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { pino, type Logger } from 'pino';
import { definedOnly, MAX_FRAME, type Store } from '@freehold/core';
import { PostgresStore, SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { Connection, DEFAULT_LIMITS, type ConnectionLimits } from './connection.js';
import { httpHandler } from './http.js';
import { DEFAULT_WEB_ROOT } from './static.js';
import { createMetrics, serveMetrics } from './metrics.js';
import { Provider } from './provider.js';
import type { InboxLimits } from './inbox.js';
import { normalizeOrigin, originCheck, refuseUpgrade } from './origin.js';
import { DEFAULT_PAIRING_LIMITS, type PairingLimits } from './pairing.js';
import { clientNetwork } from './rate-limit.js';

export interface ServeOptions {
  port: number;
  host?: string;
  /** SQLite data folder (default) … */
  data?: string;
  /** … or a PostgreSQL URL. */
  db?: string;
  publicUrl?: string;
  quota: number;
  logger?: Logger;
  heartbeatMs?: number;
  idleMs?: number;
  inbox?: Partial<InboxLimits>;
  graphCache?: number;
  limits?: Partial<ConnectionLimits>;
  /** The built web app to serve at / (default: apps/microblog/dist). */
  webRoot?: string;
  /** Browser origins, besides this provider's own, whose pages may open sync sessions (`*`: any). */
  allowOrigins?: string[];
  /** `HOST:PORT` of a separate listener for GET /metrics; without it no metrics are served. */
  metrics?: string;
  /** Most handles one account may hold here (default 3). */
  maxHandles?: number;
  /** How long a dropped handle stays reserved before anyone may claim it (default 30 days). */
  handleGraceMs?: number;
  /** Bounds of the device-linking mailbox (docs/OPERATING.md). */
  pairing?: Partial<PairingLimits>;
}

export interface RunningServer {
  url: string;
  /** Where GET /metrics is served, with the `metrics` option. */
  metricsUrl?: string;
  provider: Provider;
  close(): Promise<void>;
}

/** SQLite in a folder, or PostgreSQL (`?schema=NAME` in the URL picks the schema, default freehold). */
export async function openStore(opts: { data?: string; db?: string }): Promise<Store> {
  if (opts.db) {
    const url = new URL(opts.db);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return PostgresStore.open(url.toString(), schema);
  }
  const dir = opts.data ?? 'data';
  mkdirSync(dir, { recursive: true });
  return new SqliteStore(join(dir, 'provider.db'));
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  installNativeCrypto();
  const logger = opts.logger ?? pino({ base: { service: 'freehold' } });
  const metrics = createMetrics();
  const allowOrigins = (opts.allowOrigins ?? []).map(normalizeOrigin);
  const metricsServer = opts.metrics ? await serveMetrics(opts.metrics, metrics) : undefined;
  const store = await openStore(opts);
  const http: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const publicUrl = (opts.publicUrl ?? `http://localhost:${port}`).replace(/\/$/, '');
  const provider = await Provider.open({
    store,
    publicUrl,
    defaultQuota: opts.quota,
    logger,
    metrics,
    inbox: opts.inbox,
    graphCache: opts.graphCache,
    handles: { maxHandles: opts.maxHandles, graceMs: opts.handleGraceMs },
  });
  http.on('request', httpHandler(provider, opts.webRoot ?? DEFAULT_WEB_ROOT, { ...DEFAULT_PAIRING_LIMITS, ...definedOnly(opts.pairing ?? {}) }));
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME, perMessageDeflate: false });
  const allowsOrigin = originCheck(publicUrl, allowOrigins);
  http.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== '/v1/sync') return refuseUpgrade(socket, 404, 'not-found', 'sync sessions are at /v1/sync');
    if (!allowsOrigin(req)) {
      return refuseUpgrade(socket, 403, 'unauthenticated', `pages from ${req.headers.origin!.slice(0, 200)} may not open sessions here (see --allow-origin)`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  const connections = new Set<Connection>();
  const limits = { ...DEFAULT_LIMITS, ...definedOnly(opts.limits ?? {}) };
  wss.on('connection', (ws, req) => {
    const c = new Connection(ws, provider, logger, metrics, limits, clientNetwork(req.socket.remoteAddress));
    connections.add(c);
    ws.on('close', () => connections.delete(c));
  });
  const idleMs = opts.idleMs ?? 120_000;
  const beat = setInterval(() => {
    for (const c of connections) c.heartbeat(idleMs);
  }, opts.heartbeatMs ?? 30_000);
  beat.unref();
  const metricsUrl = metricsServer?.url;
  logger.info({ event: 'start', url: publicUrl, port, metrics: metricsUrl, store: opts.db ? 'postgres' : 'sqlite' }, `freehold provider listening on ${publicUrl}`);
  // Links to the other providers of the accounts hosted here: reconcile now, then push as entries arrive.
  provider.peering.refresh();
  return {
    url: publicUrl,
    metricsUrl,
    provider,
    async close() {
      clearInterval(beat);
      provider.peering.stop();
      await metricsServer?.close();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
      await store.close();
    },
  };
}
