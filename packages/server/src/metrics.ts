import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { reject } from '@freehold/core';
import { secure } from './headers.js';

/** One registry per provider, so several providers in one process (tests, benchmarks) do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    connections: new Gauge({ name: 'freehold_connections', help: 'Open WebSocket sessions', registers: [registry] }),
    entriesIn: new Counter({ name: 'freehold_entries_in_total', help: 'Entries received and stored', registers: [registry] }),
    entriesOut: new Counter({ name: 'freehold_entries_out_total', help: 'Entries sent (sync and live push)', registers: [registry] }),
    bytesIn: new Counter({ name: 'freehold_bytes_in_total', help: 'WebSocket bytes received', registers: [registry] }),
    bytesOut: new Counter({ name: 'freehold_bytes_out_total', help: 'WebSocket bytes sent', registers: [registry] }),
    offerChecks: new Counter({
      name: 'freehold_offer_checks_total',
      help: 'Spaces checked, as sessions open, for what the peer may see of them (a membership graph each), by peer kind',
      labelNames: ['peer'],
      registers: [registry],
    }),
    rejections: new Counter({ name: 'freehold_rejections_total', help: 'Entries and frames refused, by reason', labelNames: ['reason'], registers: [registry] }),
    mirrorBytes: new Gauge({
      name: 'freehold_mirror_bytes',
      help: 'Bytes held in mirrored spaces that count against the mirror budget (what accounts hosted elsewhere wrote)',
      registers: [registry],
    }),
    mirrorBudget: new Gauge({ name: 'freehold_mirror_budget_bytes', help: 'The mirror budget (--mirror-budget)', registers: [registry] }),
    mirrorSpaces: new Gauge({
      name: 'freehold_mirror_spaces',
      help: 'Mirrored spaces by state: live (cached), evicted, owed (evicted, with entries of users still to deliver)',
      labelNames: ['state'],
      registers: [registry],
    }),
    mirrorEvictions: new Counter({ name: 'freehold_mirror_evictions_total', help: 'Mirrored spaces evicted to stay within the budget', registers: [registry] }),
    mirrorEvictedBytes: new Counter({ name: 'freehold_mirror_evicted_bytes_total', help: 'Bytes freed by mirror evictions', registers: [registry] }),
    mirrorRefills: new Counter({ name: 'freehold_mirror_refills_total', help: 'Evicted mirrored spaces read again, and so refilled', registers: [registry] }),
    natsConnected: new Gauge({ name: 'freehold_nats_connected', help: 'Whether this node is connected to the NATS server the nodes share (--nats)', registers: [registry] }),
    hintsOut: new Counter({ name: 'freehold_hints_out_total', help: 'Entries stored here and published to the other nodes', registers: [registry] }),
    hintsIn: new Counter({ name: 'freehold_hints_in_total', help: 'Entries other nodes stored, heard through NATS', registers: [registry] }),
    hintsDropped: new Counter({
      name: 'freehold_hints_dropped_total',
      help: 'Entries stored here but not published to the other nodes (NATS unreachable): their sessions get them by reconciling',
      registers: [registry],
    }),
    hintGaps: new Counter({
      name: 'freehold_hint_gaps_total',
      help: 'Times NATS came back after an outage with sessions subscribed here, which were asked to reconcile',
      registers: [registry],
    }),
    staleWrites: new Counter({
      name: 'freehold_stale_retries_total',
      help: 'Batches validated again because another node changed a membership or identity log they depended on',
      registers: [registry],
    }),
    syncLatency: new Histogram({
      name: 'freehold_sync_latency_seconds',
      help: 'Time to handle one sync frame, from receipt to reply (stores included)',
      labelNames: ['frame'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** `HOST:PORT` (IPv6 in brackets) → where to listen. */
export function parseListen(address: string): { host: string; port: number } {
  const m = /^(\[[0-9a-f:.]+\]|[^\s:[\]]+):(\d{1,5})$/i.exec(address);
  const port = Number(m?.[2]);
  if (!m || port > 65535) return reject('invalid-argument', `--metrics ${address} is not HOST:PORT (e.g. 127.0.0.1:9464)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Prometheus metrics on a listener of their own, e.g. on loopback or an internal interface: the counters tell who
 * is busy when, which is no business of the public.
 */
export async function serveMetrics(address: string, metrics: Metrics): Promise<{ url: string; close(): Promise<void> }> {
  const { host, port } = parseListen(address);
  const server = createServer((req, res) => {
    secure(res);
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not-found', message: 'only GET /metrics here' }));
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
