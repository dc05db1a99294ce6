import { toHex } from '../bytes.js';
import type { RejectReason } from '../errors.js';
import type { Entry } from '../entry.js';
import type { IngestResult, Replica } from '../replica.js';
import type { EntryRow } from '../store.js';
import { canRead } from '../space/ops.js';

export interface SyncStats {
  /** Entries this side asked the peer for: with entriesReceived, a progress measure. */
  entriesWanted: number;
  entriesSent: number;
  entriesReceived: number;
  entriesRejected: number;
  bytesSent: number;
  bytesReceived: number;
  /** Reconcile messages sent: a measure of round trips. */
  reconcileMessages: number;
}

/**
 * `all`: every entry. `own`: the membership log and the peer's own entries, for appenders who may write to an
 * inbox without reading it. `false`: nothing, not even that the space exists.
 */
export type Visibility = 'all' | 'own' | false;

export interface SessionOptions {
  /** The account this side acts for (empty for a provider or relay). */
  account: Uint8Array;
  /**
   * The peer's account as proven by a signed challenge. When set, the account a hello claims is ignored; when
   * absent on a provider, the peer is anonymous and sees public spaces only.
   */
  peer?: Uint8Array | null;
  /** What of a space the peer may see; by default see `defaultOffer`. */
  offer?: (space: Uint8Array, peer: Uint8Array | null, peerWants: Set<string>) => Promise<Visibility>;
  /** Spaces this side wants from the peer though it holds nothing of them yet (e.g. an account it follows). */
  interest?: Uint8Array[];
  /**
   * The spaces held here that may be offered to this peer besides those it asks for (default: every space
   * held). A provider offers a peer it does not host only what it asks for.
   */
  offerable?: (peer: Uint8Array | null) => Promise<Uint8Array[]>;
  /**
   * Validates and stores received entries (the batches of one or more entries frames, stored together); a
   * provider adds quotas and hosting rules here.
   */
  ingest?: (frames: Uint8Array[][]) => Promise<IngestResult[]>;
  /**
   * Whether an account's entries count as the peer's own (`own` visibility); by default, whether it is the
   * peer's account. A provider peering with another counts every account that lists that provider.
   */
  ownedByPeer?: (account: Uint8Array) => boolean;
  /**
   * Entries about to be sent, before they are framed: returns those to send. A provider leaves out what another
   * of its sessions with the same peer is carrying (two providers linked both ways reconcile at the same time).
   */
  claim?: <E extends Outgoing>(entries: E[]) => E[];
  /** Called with entries this side stored from the peer (a provider fans them out to subscribers). */
  onStored?: (entries: Entry[]) => void;
  /** Called for each entry refused (other than duplicates and those waiting for a dependency). */
  onRejected?: (entry: Uint8Array, reason: string, message: string) => void;
  onAck?: (stored: number, rejected: [number, string, string][]) => void;
  onError?: (reason: RejectReason, message: string) => void;
  onProgress?: (stats: SyncStats) => void;
}

/** What framing an entry to send takes: an Entry, or a row of the replica's own store, which needs no decoding. */
export type Outgoing = Pick<EntryRow, 'id' | 'space' | 'kind' | 'device' | 'seq' | 'bytes'>;

/**
 * Members: everything. Public spaces: everything, to a peer that asked for them (public spaces are not pushed
 * on everyone who syncs). Appenders, anyone for an inbox they asked for, and former members (so they learn
 * they were removed): the membership log and their own entries.
 */
export async function defaultOffer(replica: Replica, space: Uint8Array, peer: Uint8Array | null, peerWants: Set<string>): Promise<Visibility> {
  const graph = await replica.graph(space);
  const asked = peerWants.has(toHex(space));
  const peerHex = peer === null ? undefined : toHex(peer);
  const role = peerHex === undefined ? undefined : graph.current().roles.get(peerHex);
  if (canRead(role) || (graph.isPublic && asked)) return 'all';
  if (peerHex === undefined || graph.isPublic) return false;
  const former = asked && graph.named(peerHex);
  return role === 'appender' || (graph.openAppend && asked) || former ? 'own' : false;
}
