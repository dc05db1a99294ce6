import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { pino, type Logger } from 'pino';
import { MAX_FRAME, type Store } from '@freehold/core';
import { PostgresStore, SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { Connection, DEFAULT_LIMITS, type ConnectionLimits } from './connection.js';
import { httpHandler } from './http.js';
import { DEFAULT_WEB_ROOT } from './static.js';
import { createMetrics } from './metrics.js';
import { Provider } from './provider.js';
import { DEFAULT_PAIRING_LIMITS, type PairingLimits } from './pairing.js';

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
  appendsPerMinute?: number;
  limits?: Partial<ConnectionLimits>;
  /** The built web app to serve at / (default: apps/microblog/dist). */
  webRoot?: string;
  /** Bounds of the device-linking mailbox (docs/OPERATING.md). */
  pairing?: Partial<PairingLimits>;
}

export interface RunningServer {
  url: string;
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
  const store = await openStore(opts);
  const http: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const publicUrl = (opts.publicUrl ?? `http://localhost:${port}`).replace(/\/$/, '');
  const provider = await Provider.open({ store, publicUrl, defaultQuota: opts.quota, logger, metrics, appendsPerMinute: opts.appendsPerMinute });
  http.on('request', httpHandler(provider, metrics, opts.webRoot ?? DEFAULT_WEB_ROOT, { ...DEFAULT_PAIRING_LIMITS, ...opts.pairing }));
  const wss = new WebSocketServer({ server: http, path: '/v1/sync', maxPayload: MAX_FRAME, perMessageDeflate: false });
  const connections = new Set<Connection>();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  wss.on('connection', (ws) => {
    const c = new Connection(ws, provider, logger, metrics, limits);
    connections.add(c);
    ws.on('close', () => connections.delete(c));
  });
  const idleMs = opts.idleMs ?? 120_000;
  const beat = setInterval(() => {
    for (const c of connections) c.heartbeat(idleMs);
  }, opts.heartbeatMs ?? 30_000);
  beat.unref();
  logger.info({ event: 'start', url: publicUrl, port, store: opts.db ? 'postgres' : 'sqlite' }, `freehold provider listening on ${publicUrl}`);
  return {
    url: publicUrl,
    provider,
    async close() {
      clearInterval(beat);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
      await store.close();
    },
  };
}
