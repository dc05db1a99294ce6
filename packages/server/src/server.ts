import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { pino, type Logger } from 'pino';
import { isFreeholdError, MAX_FRAME, reject, type Store } from '@freehold/core';
import { PostgresStore, SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { Connection, DEFAULT_LIMITS, type ConnectionLimits } from './connection.js';
import { httpHandler } from './http.js';
import { DEFAULT_WEB_ROOT } from './static.js';
import { createMetrics } from './metrics.js';
import { Provider } from './provider.js';

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
  /** SQLite: skip `PRAGMA quick_check` at start (it reads the whole file). */
  skipIntegrityCheck?: boolean;
  /** SQLite: start even though acknowledged writes are missing, making what is there the new baseline. */
  acceptDataLoss?: boolean;
}

export interface RunningServer {
  url: string;
  provider: Provider;
  close(): Promise<void>;
}

export interface StoreOptions {
  data?: string;
  db?: string;
  skipIntegrityCheck?: boolean;
  acceptDataLoss?: boolean;
  /** Hears what the check at start found, and damage found later. */
  logger?: Logger;
  /** Called once if damage is found while the store runs. */
  onFault?: (problem: string) => void;
}

const RECOVERY =
  'Refusing to open it, so that nothing is lost silently. To recover, restore the data folder from a backup (or salvage the ' +
  'database with `sqlite3 provider.db .recover`), then start once with --accept-data-loss to go on without what is missing; ' +
  'devices send what they still hold when they next sync. See docs/OPERATING.md, "Storage integrity and recovery".';

/**
 * SQLite in a folder, checked before it opens (see @freehold/stores sqlite-check.ts), or PostgreSQL (`?schema=NAME`
 * in the URL picks the schema, default freehold), which keeps and checks its own log.
 */
export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.db) {
    const url = new URL(opts.db);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return PostgresStore.open(url.toString(), schema);
  }
  const dir = opts.data ?? 'data';
  mkdirSync(dir, { recursive: true });
  const log = opts.logger;
  let store: SqliteStore;
  try {
    store = new SqliteStore(join(dir, 'provider.db'), {
      integrity: { quickCheck: !opts.skipIntegrityCheck, acceptDataLoss: opts.acceptDataLoss ?? false },
      onFault: (problem) => {
        log?.error({ event: 'storage-fault', problem }, `storage damaged: ${problem} (/healthz now answers 503)`);
        opts.onFault?.(problem);
      },
    });
  } catch (e) {
    if (!isFreeholdError(e, 'damaged')) throw e;
    log?.fatal({ event: 'storage-damaged', problem: e.message }, 'storage damaged: refusing to start');
    return reject('damaged', `${e.message}. ${RECOVERY}`);
  }
  const report = store.integrity!;
  if (report.accepted) {
    log?.warn({ event: 'accept-data-loss', problem: report.accepted }, `ACCEPTING DATA LOSS (--accept-data-loss): ${report.accepted}; what the database holds is the new baseline`);
  }
  for (const note of report.notes) log?.warn({ event: 'storage-note', note }, note);
  log?.info({ event: 'storage-check', ms: Math.round(report.ms), quickCheck: !opts.skipIntegrityCheck }, 'storage checked');
  return store;
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  installNativeCrypto();
  const logger = opts.logger ?? pino({ base: { service: 'freehold' } });
  const metrics = createMetrics();
  let fault: string | undefined;
  const store = await openStore({ ...opts, logger, onFault: (problem) => (fault = problem) });
  const http: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const publicUrl = (opts.publicUrl ?? `http://localhost:${port}`).replace(/\/$/, '');
  const provider = await Provider.open({ store, publicUrl, defaultQuota: opts.quota, logger, metrics, appendsPerMinute: opts.appendsPerMinute });
  http.on('request', httpHandler(provider, metrics, opts.webRoot ?? DEFAULT_WEB_ROOT, () => fault));
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
