import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { pino, type Logger } from 'pino';
import { definedOnly, FreeholdError, isFreeholdError, MAX_FRAME, reject, type Store } from '@freehold/core';
import { MemorySharedState, PostgresStore, SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { Connection, DEFAULT_LIMITS, type ConnectionLimits } from './connection.js';
import { httpHandler } from './http.js';
import { DEFAULT_WEB_ROOT } from './static.js';
import { createMetrics, serveMetrics } from './metrics.js';
import { Provider } from './provider.js';
import { shownUrl } from './nodes.js';
import type { InboxLimits } from './inbox.js';
import { normalizeOrigin, originCheck, refuseUpgrade } from './origin.js';
import { DEFAULT_PAIRING_LIMITS, type PairingLimits } from './pairing.js';
import { clientNetwork } from './rate-limit.js';
import type { FingerprintPage } from './fingerprints.js';

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
  /** How often sessions and peer links check that the other end still answers (default 30 s). */
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
  /** Bytes of mirrored spaces to keep at most (default 2 GiB); past it the least recently read are evicted. */
  mirrorBudget?: number;
  /** How long an account whose log dropped this provider is still answered for (default 30 days). */
  retiredGraceMs?: number;
  /** What one answer to a fingerprint request covers at most (docs/OPERATING.md). */
  fingerprintPage?: Partial<FingerprintPage>;
  /** SQLite: skip `PRAGMA quick_check` at start (it reads the whole file). */
  skipIntegrityCheck?: boolean;
  /** SQLite: start even though acknowledged writes are missing, making what is there the new baseline. */
  acceptDataLoss?: boolean;
  /** With `db`: the NATS server this provider's nodes share (`nats://host:port`), for live pushes across nodes. */
  nats?: string;
  /** This node's name in logs (default: the host name and process id). */
  node?: string;
  /** How long a stopping node waits for its sessions' writes in flight (default 10 s). */
  drainMs?: number;
}

export interface RunningServer {
  url: string;
  /** Where GET /metrics is served, with the `metrics` option. */
  metricsUrl?: string;
  provider: Provider;
  /**
   * Stops: takes no new sessions or frames, lets the writes in flight finish and be acknowledged, asks every
   * session to reconnect elsewhere (RECONNECT_CLOSE), then closes the store.
   */
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
  'devices and peer providers send what they still hold when they next sync. See docs/OPERATING.md, "Storage integrity and recovery".';

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
    const message = `ACCEPTING DATA LOSS (--accept-data-loss): ${report.accepted}; what the database holds is the new baseline`;
    log?.warn({ event: 'accept-data-loss', problem: report.accepted }, message);
  }
  for (const note of report.notes) log?.warn({ event: 'storage-note', note }, note);
  log?.info({ event: 'storage-check', ms: Math.round(report.ms), quickCheck: !opts.skipIntegrityCheck }, 'storage checked');
  return store;
}

/** A listener that could not start, said in one line (the address is taken or not allowed), as a typed error. */
function listenFailed(e: Error & { code?: string }, where: string): Error {
  if (e.code === 'EADDRINUSE') return new FreeholdError('unavailable', `${where} is already in use (another freehold serve, or another program)`);
  if (e.code === 'EACCES') return new FreeholdError('unavailable', `not allowed to listen on ${where} (ports below 1024 need privileges)`);
  if (e.code === 'EADDRNOTAVAIL') return new FreeholdError('invalid-argument', `${where} is not an address of this machine`);
  return e;
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  installNativeCrypto();
  if (opts.nats && !opts.db) reject('invalid-argument', '--nats joins nodes that share one PostgreSQL database: give --db too');
  if (opts.nats && !/^(nats|tls):\/\/[^\s/]{1,200}$/.test(opts.nats)) {
    reject('invalid-argument', `--nats ${opts.nats.slice(0, 200)} is not a NATS URL like nats://127.0.0.1:4222`);
  }
  if (opts.node !== undefined && !/^[\w.-]{1,64}$/.test(opts.node)) reject('invalid-argument', '--node is 1-64 letters, digits, _, . and -');
  const node = opts.node ?? `${hostname()}-${process.pid}`;
  const logger = opts.logger ?? pino({ base: { service: 'freehold', ...(opts.nats && { node }) } });
  const metrics = createMetrics();
  const allowOrigins = (opts.allowOrigins ?? []).map(normalizeOrigin);
  let fault: string | undefined;
  const store = await openStore({ ...opts, logger, onFault: (problem) => (fault = problem) });
  const http: Server = createServer();
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  try {
    metricsServer = opts.metrics ? await serveMetrics(opts.metrics, metrics).catch((e: Error) => Promise.reject(listenFailed(e, opts.metrics!))) : undefined;
    await new Promise<void>((resolve, fail) => {
      http.once('error', (e) => fail(listenFailed(e, `${opts.host ?? '0.0.0.0'}:${opts.port}`)));
      http.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
    });
  } catch (e) {
    await metricsServer?.close();
    await store.close();
    throw e;
  }
  const port = (http.address() as AddressInfo).port;
  const publicUrl = (opts.publicUrl ?? `http://localhost:${port}`).replace(/\/$/, '');
  const provider = await Provider.open({
    store,
    // Nodes sharing a PostgreSQL schema share their rate limits and linking mailbox there too.
    state: store instanceof PostgresStore ? store.sharedState() : new MemorySharedState(),
    publicUrl,
    defaultQuota: opts.quota,
    logger,
    metrics,
    inbox: opts.inbox,
    graphCache: opts.graphCache,
    handles: { maxHandles: opts.maxHandles, graceMs: opts.handleGraceMs },
    heartbeatMs: opts.heartbeatMs,
    mirrorBudget: opts.mirrorBudget,
    retiredGraceMs: opts.retiredGraceMs,
    fingerprintPage: opts.fingerprintPage,
    ...(opts.nats && { nodes: { url: opts.nats, node } }),
  });
  const pairing = { ...DEFAULT_PAIRING_LIMITS, ...definedOnly(opts.pairing ?? {}) };
  let draining = false;
  const allowsOrigin = originCheck(publicUrl, allowOrigins);
  http.on('request', httpHandler(provider, opts.webRoot ?? DEFAULT_WEB_ROOT, pairing, { fault: () => fault, draining: () => draining }, allowsOrigin));
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME, perMessageDeflate: false });
  http.on('upgrade', (req, socket, head) => {
    if (draining) return refuseUpgrade(socket, 503, 'unavailable', 'this node is stopping: connect again');
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
  logger.info(
    { event: 'start', url: publicUrl, port, metrics: metricsUrl, store: opts.db ? 'postgres' : 'sqlite', ...(opts.nats && { nats: shownUrl(opts.nats), node }) },
    `freehold provider listening on ${publicUrl}`,
  );
  // Links to the other providers of the accounts hosted here: reconcile now, then push as entries arrive.
  void provider.peering.refresh();
  return {
    url: publicUrl,
    metricsUrl,
    provider,
    async close() {
      draining = true;
      clearInterval(beat);
      const drainMs = opts.drainMs ?? 10_000;
      const started = Date.now();
      const sessions = connections.size;
      http.close();
      const drained = Promise.all([...connections].map((c) => c.stopping()));
      await Promise.race([drained, new Promise((r) => setTimeout(r, drainMs).unref())]);
      logger.info({ event: 'drained', sessions, ms: Date.now() - started }, 'sessions asked to reconnect elsewhere');
      await provider.stop();
      await metricsServer?.close();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      http.closeAllConnections();
      await store.close();
    },
  };
}
