import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    rejections: new Counter({ name: 'freehold_rejections_total', help: 'Entries and frames refused, by reason', labelNames: ['reason'], registers: [registry] }),
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
