/** What a store keeps of an entry besides its bytes: the fields it indexes by. */
export interface EntryRow {
  id: Uint8Array;
  space: Uint8Array;
  doc: Uint8Array;
  kind: number;
  device: Uint8Array;
  seq: number;
  time: number;
  bytes: Uint8Array;
  /**
   * Given with a membership operation when it is written: the account it names, which the store indexes the
   * space under (see `Store.spacesOf`). Stores do not return it.
   */
  names?: SpaceName;
  /**
   * Given on a provider when a row is written: the account that pays for holding it, charged only if this write
   * inserts the row (the same entry stored at the same moment through another node is paid for once). Stores do
   * not return it.
   */
  charge?: Charge;
}

/**
 * An account a space's membership log names: its creator (named by the create operation), or an account an
 * operation gives a role or removes. Naming is never undone, so an account's spaces are those it was ever named in.
 */
export interface SpaceName {
  account: Uint8Array;
  creator: boolean;
}

/** A space an account is named in, and whether the account created it. */
export interface NamedSpace {
  space: Uint8Array;
  creator: boolean;
}

/** An entry to prune and, on a provider, who paid for holding it: that payer's usage goes down by the bytes. */
export interface PrunedRow {
  id: Uint8Array;
  refund?: Charge;
}

/** An account a provider hosts: its quota and what its entries take, in bytes. */
export interface AccountRow {
  account: Uint8Array;
  quota: number;
  used: number;
  created: number;
}

/** Bytes to charge to an account for holding an entry. */
export interface Charge {
  account: Uint8Array;
  bytes: number;
}

/** A name in a provider's handle directory and the account holding it. */
export interface HandleRow {
  name: string;
  account: Uint8Array;
  /** When the provider first saw the holder's identity log no longer claim the name (ms); absent while it does. */
  dropped?: number;
}

/** What a provider's directory allows one claim: a cap per account, and when dropped names become free. */
export interface HandleRules {
  /** Most names one account may hold, counting names it dropped until they are released. */
  max: number;
  /** Names dropped at or before this time are released: anyone may claim them. */
  releasedBefore: number;
}

export type HandleClaim = 'claimed' | 'taken' | 'over-limit';

/** What one device's entries in a space take. */
export interface DeviceUsage {
  device: Uint8Array;
  entries: number;
  /** The entries' encoded size, as held. */
  bytes: number;
}

/**
 * What validation read, for a store that several processes write (PostgreSQL behind several nodes): the
 * authority version the replica had caught up to (see `Store.changesSince`) and the accounts whose identity logs
 * it used. The store refuses the batch with `stale` if any of them, or the membership log of a space the rows are
 * in, changed after that version.
 */
export interface WriteBasis {
  version: number;
  accounts: Uint8Array[];
}

/** What changed in the record of authority (membership logs, identity logs) after a version, and the version now. */
export interface AuthorityChanges {
  version: number;
  /** Spaces whose membership log changed. */
  spaces: Uint8Array[];
  /** Accounts whose identity log changed. */
  accounts: Uint8Array[];
}

/** Reconciliation orders a space's entries by (time, id). */
export interface EntryKey {
  time: number;
  id: Uint8Array;
}

/**
 * Persistence for a replica. Stores hold validated entries and identity logs and never interpret them; the
 * replica decides what goes in. Every implementation passes the one conformance suite in @freehold/stores.
 */
export interface Store {
  /**
   * Inserts the rows not already present, atomically: all of them become durable or none do. The rows it inserts
   * that carry a `charge` grow their payers' usage in the same transaction (a row already present charges nothing);
   * if a payer is not registered (`not-hosted`) or would pass its quota (`quota-exceeded`), nothing is stored and a
   * FreeholdError is thrown. The `names` of every row are indexed in the same
   * transaction, of rows already present too (which is how a store written before the index is filled). A store
   * that keeps an authority version checks `basis` in the same transaction (see WriteBasis); others ignore it.
   */
  putEntries(rows: EntryRow[], basis?: WriteBasis): Promise<void>;
  getEntries(ids: Uint8Array[]): Promise<(EntryRow | undefined)[]>;
  hasEntry(id: Uint8Array): Promise<boolean>;
  /** The id of the entry a device signed with this sequence number, if held. */
  idBySeq(device: Uint8Array, seq: number): Promise<Uint8Array | undefined>;
  /** The highest sequence number held from a device (0 if none). */
  maxSeq(device: Uint8Array): Promise<number>;
  deleteEntries(ids: Uint8Array[]): Promise<void>;
  /**
   * Deletes content entries (a membership operation is never pruned: it is left) and gives each deleted row's
   * `refund` back to its payer, in one durable write. A row not held gives nothing back, so pruning twice refunds
   * once; usage never goes below zero.
   */
  pruneEntries(rows: PrunedRow[]): Promise<void>;
  /** Every key in the space, sorted by (time, id). */
  keys(space: Uint8Array): Promise<EntryKey[]>;
  /** Entries of a space (optionally of one kind), in (time, id) order. */
  spaceEntries(space: Uint8Array, kind?: number): Promise<EntryRow[]>;
  docEntries(space: Uint8Array, doc: Uint8Array): Promise<EntryRow[]>;
  /**
   * The newest entries across these spaces dated before `before`, newest first: what a timeline reads first. With
   * `kinds`, only entries of those kinds (a timeline reads documents, not the blobs among them).
   */
  recentEntries(spaces: Uint8Array[], limit: number, before?: number, kinds?: number[]): Promise<EntryRow[]>;
  /** What a device signed after a sequence number, in one space or (null) in every space, in (time, id) order. */
  deviceEntries(space: Uint8Array | null, device: Uint8Array, afterSeq: number): Promise<EntryRow[]>;
  spaces(): Promise<Uint8Array[]>;
  /**
   * The spaces whose membership log names this account, in space id order: what a session offers the account,
   * without looking at every space held. A space created by it is `creator` even where later operations name it.
   */
  spacesOf(account: Uint8Array): Promise<NamedSpace[]>;
  /** Entries held, in all or in one space (without reading them: progress of a copy is asked for often). */
  countEntries(space?: Uint8Array): Promise<number>;
  /** What each device's entries in a space take (a provider sizing a mirror); no row for a device with none. */
  spaceUsage(space: Uint8Array): Promise<DeviceUsage[]>;
  /** Deletes, in one durable write, every entry these devices signed in a space (a provider evicting a mirror). */
  deleteDeviceEntries(space: Uint8Array, devices: Uint8Array[]): Promise<void>;

  /** Identity logs (contact cards), one per account, replaced as the log grows. */
  putCard(account: Uint8Array, card: Uint8Array): Promise<void>;
  getCard(account: Uint8Array): Promise<Uint8Array | undefined>;
  cards(): Promise<{ account: Uint8Array; card: Uint8Array }[]>;

  /** Accounts registered with a provider. `putAccount` creates or updates quota (usage is kept). */
  putAccount(row: AccountRow): Promise<void>;
  getAccount(account: Uint8Array): Promise<AccountRow | undefined>;
  accounts(): Promise<AccountRow[]>;
  /** Forgets an account that deleted itself here: its registration and usage (its log and names are kept apart). */
  deleteAccount(account: Uint8Array): Promise<void>;

  /**
   * A provider's handle directory. Claiming is atomic: the name goes to the account if it is free, already the
   * account's (re-claiming clears a drop), or released under the rules; otherwise it is `taken`. An account that
   * already holds `max` other names (released ones not counted) gets `over-limit`.
   */
  claimHandle(name: string, account: Uint8Array, rules: HandleRules): Promise<HandleClaim>;
  handle(name: string): Promise<HandleRow | undefined>;
  handlesOf(account: Uint8Array): Promise<HandleRow[]>;
  /**
   * Records when the holder's log stopped claiming the name (an earlier record is kept), or with null that it
   * claims it again. Does nothing unless `account` holds the name.
   */
  markHandleDropped(name: string, account: Uint8Array, at: number | null): Promise<void>;

  /**
   * Only in a store several processes write: what changed in membership and identity logs after `version`, or
   * without one just the version now. Versions grow in the order changes commit, so a replica that applies every
   * change up to a version holds what the store held at that version.
   */
  changesSince?(version?: number): Promise<AuthorityChanges>;

  /** Small local state (e.g. the device's entry counter). */
  getMeta(key: string): Promise<Uint8Array | undefined>;
  setMeta(key: string, value: Uint8Array): Promise<void>;

  close(): Promise<void>;
}
