import type { Server } from './process.js';

/** The text every system stores per document: a small record, the same bytes everywhere. */
export const docBody = (i: number) => ({ title: `document ${i}`, body: `the body of small document number ${i}, as short notes are` });

/** A client holding every seeded document in memory. */
export interface Loaded {
  /**
   * Drops its connection(s) and connects again to 127.0.0.1:port, as a client already up to date does. Resolves
   * 'synced' when the client knows it is in sync again, or 'sent' when its library has no such signal (the
   * harness then waits for the wire to go quiet).
   */
  reconnect(port: number): Promise<'synced' | 'sent'>;
  close(): Promise<void>;
}

/** One write of a fan-out, on the bench's performance.now(): when the writer sent it, when the last subscriber had it. */
export interface FanoutWrite {
  sent: number;
  delivered: number;
}

/** One system under test, driven through its own public client and server packages. */
export interface System {
  name: string;
  /** How the server's keepalive data messages begin, if it sends any (control frames are told apart anyway). */
  keepalive?: string;
  /** Why a scenario cannot run on this system (it then reports n/a). */
  cannot?: Partial<Record<'cold' | 'ingest' | 'fanout' | 'reconnect' | 'idle' | 'disk', string>>;
  start(dir: string): Promise<Server>;
  /** Writes `docs` small documents through one client; resolves once the server holds them all. */
  seed(server: Server, docs: number): Promise<unknown>;
  /** A fresh client connecting to 127.0.0.1:port that loads every seeded document; resolves when all are there. */
  coldLoad(port: number, seeded: unknown): Promise<Loaded>;
  /** `clients` writers, one document each, writing for `ms`: acknowledged writes per second. */
  ingest(server: Server, clients: number, ms: number): Promise<number>;
  /**
   * One writer connected to the server, `subscribers` readers of its document connected to 127.0.0.1:port (the
   * relay in front of it), `writes` writes one after another: each write's delivery latency to each reader (ms).
   */
  fanout(server: Server, port: number, subscribers: number, writes: number): Promise<{ latencies: number[]; writes: FanoutWrite[] }>;
  /** Opens `connections` clients, each connected and following one document; resolves to their closer. */
  idle(server: Server, connections: number): Promise<() => Promise<void>>;
}
