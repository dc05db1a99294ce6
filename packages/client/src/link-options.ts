import type { Entry, SyncStats } from '@freehold/core';
import type { WebSocketFactory } from './link.js';

/** Delays between attempts: a short first retry, doubling, capped; reset once a connection reconciles. */
export interface Backoff {
  firstMs: number;
  maxMs: number;
}
export const CLIENT_BACKOFF: Backoff = { firstMs: 500, maxMs: 15_000 };

export interface LinkOptions {
  WebSocket: WebSocketFactory;
  /** Spaces to ask for besides those the replica holds (the accounts one follows, say); read at each reconcile. */
  interest?: () => Promise<Uint8Array[]>;
  backoff?: Backoff;
  /** Bounds the handshake of each attempt. */
  connectTimeoutMs?: number;
  /**
   * While a space asked for is still unknown here (a follow request not yet approved), reconcile again this
   * often: a grant into a space this device cannot read yet is in no space it can subscribe to. 0: never.
   */
  recheckMs?: number;
  /** A barrier goes out this often on a quiet link; a provider that does not answer in time is taken for gone. */
  heartbeatMs?: number;
  onProgress?: (url: string, stats: SyncStats) => void;
}

export type LinkStatus = 'connecting' | 'online' | 'offline' | 'closed';

/** An entry (or frame) a provider did not take, with its reason (a RejectReason) and message. */
export interface Refusal {
  reason: string;
  message: string;
  /** The entry's id, where the refusal names one (a flush's). */
  entry?: Uint8Array;
}

export interface SyncReport {
  url: string;
  stats: SyncStats;
  roundTrips: number;
  refused: Refusal[];
  /** Spaces this connection receives live pushes for. */
  subscribed: number;
  /** This device's entries up to this sequence number have been answered by the provider (stored, or refused). */
  acked: number;
}

export interface PushReport {
  url: string;
  /** Every entry sent was answered (stored, or refused for a reason of its own); false when offline. */
  delivered: boolean;
  sent: number;
  refused: Refusal[];
  error?: string;
  /** As in SyncReport, when the provider answered. */
  acked?: number;
}

export type LinkEvent =
  | { type: 'status'; url: string; status: LinkStatus; error?: string; retryInMs?: number }
  | { type: 'synced'; url: string; report: SyncReport }
  /** Entries new to this replica, from a reconciliation (`live` false) or pushed as they were written. */
  | { type: 'entries'; url: string; entries: Entry[]; live: boolean }
  /** This device's entries went out in a flush, and the provider answered (or the link was down). */
  | { type: 'pushed'; url: string; report: PushReport }
  /**
   * The account's newest identity log no longer lists this provider (it said so, with the log, or the log came
   * from elsewhere): the link has closed for good, and `providers` are where the account lives now.
   */
  | { type: 'moved'; url: string; providers: string[] };
