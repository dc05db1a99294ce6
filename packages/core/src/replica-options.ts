import type { RejectReason } from './errors.js';
import type { Entry } from './entry.js';
import type { IdentityState } from './identity/state.js';
import type { OpNode, SpaceGraph } from './space/graph.js';
import type { Charge, EntryRow } from './store.js';

// What a replica answers, and what it is given besides the entries: the keyed layer's check and a provider's rules.

export interface IngestResult {
  id?: string;
  ok: boolean;
  /** The stored entry, decoded (ok results only). */
  entry?: Entry;
  reason?: RejectReason;
  message?: string;
}

export interface Author {
  account: IdentityState;
  device: Uint8Array;
}

/**
 * Checks an entry's plaintext where this replica can read it; a replica without the key (a provider) skips it.
 * Supplied by the keyed layer above so this one stays about signatures and membership.
 */
export type ContentCheck = (entry: Entry, basis: OpNode, graph: SpaceGraph) => void;

/**
 * A provider's hosting rule, run on entries that are otherwise valid: which account pays for the entry, or a
 * FreeholdError (not hosted here, rate limited) that refuses it. For membership operations it must answer
 * synchronously (it runs before the operation enters the space's graph); for content it may be async.
 */
export type HostPolicy = (entry: Entry, graph: SpaceGraph) => Charge | undefined | Promise<Charge | undefined>;

/** A provider's answer to who paid for holding an entry that a prune takes out (see HostPolicy). */
export type RefundPolicy = (row: EntryRow, graph: SpaceGraph) => Charge | undefined;

export interface ReplicaOptions {
  /**
   * Whether to store the identity log of an account that is not (yet) needed by anything stored: a provider
   * keeps only those of accounts it hosts, the rest stay in a bounded memory cache until an entry or a
   * membership operation it stores names them. By default every log is kept.
   */
  keepLog?: (log: IdentityState) => boolean;
  /** Called once an identity log is stored (a provider hosts accounts whose logs list it). */
  onLogStored?: (log: IdentityState) => Promise<void>;
  /** Membership graphs held in memory (each reloads from the store when it is needed again). */
  graphCache?: number;
}

export interface IngestOptions {
  /** The provider's hosting rule for this batch (who pays, rate limits); clients have none. */
  host?: HostPolicy;
  /** Who gets back what the entries this batch's prunes take out were charged; clients have none. */
  refund?: RefundPolicy;
}
