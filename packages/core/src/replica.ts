import { LRUCache } from 'lru-cache';
import { equal, toHex } from './bytes.js';
import { reject, FreeholdError, isFreeholdError } from './errors.js';
import { storedEntry, Kind, readEntries, type Entry } from './entry.js';
import { chooseLog, decodeCard, deviceOf, encodeCard, type IdentityState } from './identity/state.js';
import { AccountIndex } from './identity/account-index.js';
import { SpaceGraph } from './space/graph.js';
import { canAppend, canWrite, readMembershipOp, type Role } from './space/ops.js';
import { dependencyOrder, membershipDeps } from './space/topo.js';
import { fillSpaceIndex, spaceNameOf } from './space/names.js';
import type { AuthorityChanges, Charge, EntryRow, Store } from './store.js';
import { demotedEntries, storedSeqs } from './replica-reads.js';
import { decodePrune, prunedBy, pruneOf, prunes, prunesIn, type Prune } from './prune.js';
import type { Author, ContentCheck, HostPolicy, IngestOptions, IngestResult, RefundPolicy, ReplicaOptions } from './replica-options.js';

export type { Author, ContentCheck, HostPolicy, IngestOptions, IngestResult, RefundPolicy, ReplicaOptions } from './replica-options.js';

/** Entries dated further ahead than this are refused until their time comes (the author's clock is wrong). */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000;

/** Times a batch is validated again after a shared store found it `stale`, before it is refused `unavailable`. */
const STALE_ATTEMPTS = 4;

const rowOf = (e: Entry): EntryRow => {
  const names = spaceNameOf(e);
  return { id: e.id, space: e.space, doc: e.doc, kind: e.kind, device: e.device, seq: e.seq, time: e.time, bytes: e.bytes, ...(names && { names }) };
};

/**
 * The validating core of every replica, client or provider alike: identity logs of known accounts, the
 * membership graph of each space, and the rule that an entry is stored only after it is completely valid.
 */
export class Replica {
  /** Batches whose signatures are being checked ahead of their ingest (see prepare). */
  private readonly prepared = new WeakMap<Uint8Array[], ReturnType<typeof readEntries>>();
  private readonly accounts = new AccountIndex();
  private readonly graphs: LRUCache<string, Promise<SpaceGraph>>;
  contentCheck: ContentCheck | undefined;
  now: () => number = () => Date.now();
  /** Membership graphs read from the store so far (cache misses): what looking through spaces costs. */
  graphLoads = 0;
  /** Batches validated again because another process sharing the store changed what they were validated against. */
  staleRetries = 0;
  /** How far this replica has applied a shared store's authority changes (see Store.changesSince). */
  private authority = 0;
  /** Per space, how many times this replica changed what the store holds of it (see spaceVersion). */
  private readonly versions = new Map<string, number>();

  private constructor(
    readonly store: Store,
    private readonly opts: ReplicaOptions,
  ) {
    this.graphs = new LRUCache({ max: opts.graphCache ?? 10_000 });
  }

  static async open(store: Store, opts: ReplicaOptions = {}): Promise<Replica> {
    const r = new Replica(store, opts);
    await fillSpaceIndex(store);
    // Taken before the logs are read: a change committed meanwhile is applied again by the next catch-up.
    r.authority = (await store.changesSince?.())?.version ?? 0;
    await r.refresh();
    return r;
  }

  /**
   * Applies what other processes sharing the store (a provider's other nodes) changed since this replica last
   * looked: the membership graphs of changed spaces are dropped, to be read again when next needed, and changed
   * identity logs are read again. Nothing for a store only this replica writes.
   */
  async catchUp(): Promise<AuthorityChanges | undefined> {
    if (!this.store.changesSince) return undefined;
    const changes = await this.store.changesSince(this.authority);
    for (const space of changes.spaces) this.graphs.delete(toHex(space));
    for (const account of changes.accounts) {
      const card = await this.store.getCard(account);
      if (!card) continue;
      // Stored logs were verified when they were stored.
      const stored = decodeCard(card, account);
      const held = this.contact(account);
      this.accounts.set(held ? chooseLog(held, stored) : stored, true);
    }
    this.authority = Math.max(this.authority, changes.version);
    return changes;
  }

  /**
   * Forgets what was derived from the store and reloads identity logs: for when another process (a second
   * browser tab of the same device) wrote to the same store.
   */
  async refresh(): Promise<void> {
    this.graphs.clear();
    // Logs in the store were verified when they were stored.
    for (const { account, card } of await this.store.cards()) this.accounts.set(decodeCard(card, account), true);
  }

  contact(account: Uint8Array | string): IdentityState | undefined {
    return this.accounts.get(typeof account === 'string' ? account : toHex(account));
  }

  /** An account's newest log if this replica stores it (not one it only holds in memory for a while). */
  storedLog(account: Uint8Array): IdentityState | undefined {
    return this.accounts.isKept(toHex(account)) ? this.contact(account) : undefined;
  }

  /** Identity logs this replica stores (not those it only holds in memory for a while). */
  contacts(): IterableIterator<IdentityState> {
    return this.accounts.keptStates();
  }

  /** The account that owns a device key: the first that proved it (see AccountIndex). */
  authorOf(device: Uint8Array): Author | undefined {
    const account = this.accounts.owner(device);
    return account ? { account, device } : undefined;
  }

  /**
   * Verifies a contact card and merges it with what is held (the same fork choice on every replica). Entries
   * that a newly learnt device revocation disallows are dropped. Returns whether anything changed.
   */
  async addCard(card: Uint8Array): Promise<boolean> {
    const incoming = decodeCard(card);
    const held = this.contact(incoming.account);
    const chosen = held ? chooseLog(held, incoming) : incoming;
    const kept = this.accounts.isKept(toHex(chosen.account));
    const keep = kept || (this.opts.keepLog?.(chosen) ?? true);
    // A log held in memory only is stored once it is worth keeping, even if it did not change.
    if (held && chosen === held && (kept || !keep)) return false;
    if (keep) await this.commitIdentity(chosen);
    else this.accounts.set(chosen, false);
    return true;
  }

  /**
   * Stores an account's (grown) identity log and drops what its revoked devices signed after their cut. Only
   * devices this account owns count: no log can touch entries of a key it did not prove it holds.
   */
  async commitIdentity(state: IdentityState): Promise<void> {
    await this.store.putCard(state.account, encodeCard(state));
    this.accounts.set(state, true);
    await this.opts.onLogStored?.(state);
    for (const d of state.devices.values()) {
      if (!d.revoked || !this.owns(state, d.device)) continue;
      const late = await this.store.deviceEntries(null, d.device, d.revoked.cut);
      if (late.length) await this.store.deleteEntries(late.map((r) => r.id));
      this.changed(late);
    }
  }

  private owns(state: IdentityState, device: Uint8Array): boolean {
    const owner = this.authorOf(device);
    return owner !== undefined && equal(owner.account.account, state.account);
  }

  /** Stores the logs of accounts that something about to be stored needs (its author, a member it names). */
  private async keepLogs(entries: Entry[]): Promise<void> {
    const needed = new Map<string, IdentityState>();
    const need = (s: IdentityState | undefined) => s && !this.accounts.isKept(toHex(s.account)) && needed.set(toHex(s.account), s);
    for (const e of entries) {
      need(this.authorOf(e.device)?.account);
      if (e.kind === Kind.membership) {
        const op = readMembershipOp(e.payload);
        need(this.contact(op.account ?? op.creator ?? new Uint8Array(0)));
      }
    }
    for (const s of needed.values()) await this.commitIdentity(s);
  }

  /**
   * The membership graph of a space, loaded once and kept in a bounded cache; concurrent callers share one
   * load. A space this replica holds nothing of is not cached, so asking about unknown spaces costs no memory.
   */
  graph(space: Uint8Array): Promise<SpaceGraph> {
    const key = toHex(space);
    let g = this.graphs.get(key);
    if (!g) {
      const loading = this.loadGraph(space);
      this.graphs.set(key, (g = loading));
      const forget = () => this.graphs.get(key) === loading && this.graphs.delete(key);
      loading.then((graph) => !graph.created && forget(), forget);
    }
    return g;
  }

  /**
   * Grows each time this replica stores or drops entries of the space: a reader that kept something it read
   * there (an opened document) may keep using it while the number is the same.
   */
  spaceVersion(space: Uint8Array): number {
    return this.versions.get(toHex(space)) ?? 0;
  }

  private changed(rows: { space: Uint8Array }[]): void {
    for (const k of new Set(rows.map((r) => toHex(r.space)))) this.versions.set(k, (this.versions.get(k) ?? 0) + 1);
  }

  /** Drops the cached membership graph of a space whose entries were deleted; the next use reads the store. */
  forget(space: Uint8Array): void {
    this.graphs.delete(toHex(space));
  }

  private async loadGraph(space: Uint8Array): Promise<SpaceGraph> {
    this.graphLoads++;
    const g = new SpaceGraph(space);
    const decoded = (await this.store.spaceEntries(space, Kind.membership)).map(storedEntry);
    // An author whose log another process stored after this replica last caught up (an account registered through
    // another node): its log is in the store, and catching up reads it.
    if (this.store.changesSince && decoded.some((e) => !this.authorOf(e.device))) await this.catchUp();
    const ops = decoded.map(({ id, device, payload }) => ({ id, author: this.authorOf(device)?.account.account ?? device, op: readMembershipOp(payload) }));
    // Stored ops were valid when stored; replay them in dependency order.
    for (const { id, author, op } of dependencyOrder(ops, (o) => toHex(o.id), (o) => o.op.deps.map(toHex))) {
      if (op.deps.every((d) => g.nodes.has(toHex(d)))) g.add(id, op, author);
    }
    return g;
  }

  /** Role of an account in the current membership state of a space. */
  async roleOf(space: Uint8Array, account: Uint8Array): Promise<Role | undefined> {
    return (await this.graph(space)).current().roles.get(toHex(account));
  }

  /**
   * Starts decoding a batch about to be ingested and checking its signatures (which needs nothing this replica
   * holds), so that the checks run while the batch before it is stored; ingesting the same array takes the result.
   */
  prepare(batch: Uint8Array[]): void {
    if (!this.prepared.has(batch)) this.prepared.set(batch, readEntries(batch));
  }

  /**
   * Validates and stores a batch. Membership ops go first (retrying those whose dependencies arrive later in the
   * same batch), then content. Each entry gets a result; a rejected entry changes nothing.
   */
  async ingest(batch: Uint8Array[], opts: IngestOptions = {}): Promise<IngestResult[]> {
    return this.ingestFrames([batch], opts);
  }

  /**
   * Like ingest for the batches of several frames at once, as one batch (one pass of validation, one write to
   * the store): results in the order of the frames' entries.
   */
  async ingestFrames(frames: Uint8Array[][], opts: IngestOptions = {}): Promise<IngestResult[]> {
    const reads = frames.map((batch) => {
      const read = this.prepared.get(batch) ?? readEntries(batch);
      this.prepared.delete(batch);
      return read;
    });
    const results: IngestResult[] = new Array(frames.reduce((n, batch) => n + batch.length, 0));
    const parsed: { i: number; e: Entry }[] = [];
    let i = 0;
    for (const read of await Promise.all(reads)) {
      for (const r of read) {
        if ('entry' in r) parsed.push({ i, e: r.entry });
        else results[i] = failure(r.error);
        i++;
      }
    }
    return this.ingestVerified(parsed, results, opts);
  }

  /** Like ingest for one entry this replica's device just signed (so not verified again): a rejection is thrown. */
  async ingestOwn(e: Entry): Promise<void> {
    const [r] = await this.ingestVerified([{ i: 0, e }], new Array(1), {});
    if (!r!.ok) throw new FreeholdError(r!.reason!, r!.message!);
  }

  /**
   * Validates and stores; a batch a shared store finds validated against authority that changed meanwhile (a
   * member removed, a device revoked through another node) is validated again once this replica caught up.
   */
  private async ingestVerified(parsed: { i: number; e: Entry }[], results: IngestResult[], opts: IngestOptions): Promise<IngestResult[]> {
    for (let attempt = 1; ; attempt++) {
      const out = await this.ingestOnce(parsed, [...results], opts);
      const stale = parsed.some((p) => out[p.i]!.reason === 'stale');
      if (!stale) return out;
      this.staleRetries++;
      if (attempt === STALE_ATTEMPTS) {
        const message = 'what this entry depends on keeps changing through other nodes; try again';
        for (const p of parsed) if (out[p.i]!.reason === 'stale') out[p.i] = { id: toHex(p.e.id), ok: false, reason: 'unavailable', message };
        return out;
      }
      await this.catchUp();
    }
  }

  private async ingestOnce(parsed: { i: number; e: Entry }[], results: IngestResult[], opts: IngestOptions): Promise<IngestResult[]> {
    const version = this.authority;
    // The entry at each (device, seq) this batch takes or follows: stored before it, then accepted in it.
    const seen = await storedSeqs(this.store, parsed.map((p) => p.e));
    const accepted: { i: number; e: Entry; charge: Charge | undefined }[] = [];
    // One graph per space for the whole batch, even for a space the cache would not keep (one created here).
    const used = new Map<string, Promise<SpaceGraph>>();
    const graphOf = (space: Uint8Array) => {
      const k = toHex(space);
      let g = used.get(k);
      if (!g) used.set(k, (g = this.graph(space)));
      return g;
    };
    // The prunes held in each space a blob chunk of the batch is in, read once for the whole batch.
    const pruneSets = new Map<string, Promise<Prune[]>>();
    const prunesOf = (graph: SpaceGraph) => {
      const k = toHex(graph.space);
      let p = pruneSets.get(k);
      if (!p) pruneSets.set(k, (p = prunesIn(this.store, graph, this.ownerOf)));
      return p;
    };
    const tryOne = async (e: Entry, i: number): Promise<IngestResult> => {
      try {
        const charge = await this.validate(e, seen, { graphOf, prunesOf }, opts.host);
        seen.set(`${toHex(e.device)}:${e.seq}`, e.id);
        accepted.push({ i, e, charge });
        return { id: toHex(e.id), ok: true, entry: e };
      } catch (err) {
        return { id: toHex(e.id), ...failure(err) };
      }
    };
    // Dependencies first, so one pass adds a log that arrived in any order.
    const membership = parsed.filter((p) => p.e.kind === Kind.membership);
    for (const p of dependencyOrder(membership, (m) => toHex(m.e.id), (m) => membershipDeps(m.e))) results[p.i] = await tryOne(p.e, p.i);
    for (const p of parsed) if (p.e.kind !== Kind.membership) results[p.i] = await tryOne(p.e, p.i);
    if (accepted.length) {
      try {
        await this.keepLogs(accepted.map((a) => a.e));
        const authors = new Map(accepted.map(({ e }) => this.authorOf(e.device)!.account.account).map((a) => [toHex(a), a]));
        await this.store.putEntries(
          accepted.map((a) => (a.charge ? { ...rowOf(a.e), charge: a.charge } : rowOf(a.e))),
          { version, accounts: [...authors.values()] },
        );
        this.changed(accepted.map((a) => a.e));
      } catch (err) {
        // The graphs already took in ops that are not durable: rebuild them from the store next time.
        if (isFreeholdError(err, 'stale')) for (const k of used.keys()) this.graphs.delete(k);
        else this.graphs.clear();
        if (!(err instanceof FreeholdError)) throw err;
        for (const a of accepted) results[a.i] = { id: toHex(a.e.id), ...failure(err) };
        return results;
      }
      // A graph that took in this batch's ops but is no longer the cached one (evicted, or replaced by a
      // concurrent load) may lack another batch's ops: drop the cached one so the next use reads the store.
      for (const [k, g] of used) if (this.graphs.peek(k) !== g) this.graphs.delete(k);
    }
    for (const { e } of accepted) {
      if (e.kind === Kind.membership) await this.evictAfterDemotion(e);
      if (e.kind === Kind.prune) await this.applyPrune(e, opts.refund);
    }
    return results;
  }

  private readonly ownerOf = (device: Uint8Array): Uint8Array | undefined => this.authorOf(device)?.account.account;

  /** A prune just stored takes out the chunks it covers that were here already (see prune.ts). */
  private async applyPrune(e: Entry, refund: RefundPolicy | undefined): Promise<void> {
    const graph = await this.graph(e.space);
    const p = pruneOf(e, graph, this.ownerOf);
    const rows = p ? await prunedBy(this.store, p, this.ownerOf) : [];
    if (!rows.length) return;
    await this.store.pruneEntries(rows.map((r) => ({ id: r.id, refund: refund?.(r, graph) })));
    this.changed(rows);
  }

  /** Throws the reason an entry is invalid; returns what hosting it costs (on a provider). */
  private async validate(
    e: Entry,
    seen: Map<string, Uint8Array>,
    batch: { graphOf: (space: Uint8Array) => Promise<SpaceGraph>; prunesOf: (graph: SpaceGraph) => Promise<Prune[]> },
    host: HostPolicy | undefined,
  ): Promise<Charge | undefined> {
    if (e.time > this.now() + MAX_CLOCK_SKEW_MS) reject('clock-skew', 'entry is dated in the future');
    const deviceHex = toHex(e.device);
    const held = seen.get(`${deviceHex}:${e.seq}`);
    if (held) {
      if (toHex(held) === toHex(e.id)) reject('duplicate', 'entry is already held');
      reject('fork', `device already signed a different entry with sequence ${e.seq}`);
    }
    if (e.seq > 1) {
      const before = seen.get(`${deviceHex}:${e.seq - 1}`);
      if (before && toHex(before) !== toHex(e.prev)) reject('bad-chain', 'entry does not link to its author’s previous entry');
    }
    const author = this.authorOf(e.device);
    if (!author) reject('unknown-author', 'entry is signed by a device of no known account (add its contact card)');
    const info = deviceOf(author.account, e.device)!;
    if (info.revoked && e.seq > info.revoked.cut) reject('revoked-device', 'entry was signed by a revoked device after its revocation');
    const accountHex = toHex(author.account.account);
    const graph = await batch.graphOf(e.space);

    if (e.kind === Kind.membership) {
      const op = readMembershipOp(e.payload);
      const isAdmin = (r: Role | undefined) => r === 'admin';
      let charge: Charge | undefined | Promise<Charge | undefined>;
      graph.add(e.id, op, author.account.account, (node) => {
        if (op.t !== 'create' && graph.isCut(accountHex, e.device, e.seq, node, isAdmin)) {
          reject('removed-member', 'the author was demoted before this operation');
        }
        // Last, so a refused op never enters the graph.
        charge = host?.(e, graph);
      });
      return charge;
    }
    if (!graph.created) reject('missing-dependency', 'the space is not known yet');
    const basis = graph.nodes.get(toHex(e.basis));
    if (!basis) reject('missing-dependency', 'entry refers to an unknown membership operation');
    const role = graph.roleAt(basis, accountHex, e.kind === Kind.append);
    const allowed = e.kind === Kind.append ? canAppend : canWrite;
    if (role === undefined) reject('not-member', 'the author is not a member of this space');
    if (!allowed(role)) reject('forbidden-role', `a ${role} may not write ${e.kind === Kind.append ? 'to' : 'in'} this space`);
    if (graph.isCut(accountHex, e.device, e.seq, basis, allowed)) reject('removed-member', 'the author lost write access before this entry');
    // A prune's payload is plaintext in every space (see prune.ts): checked here, by providers too.
    if (e.kind === Kind.prune) decodePrune(e.payload);
    else this.contentCheck?.(e, basis, graph);
    if (e.kind === Kind.blob && (await batch.prunesOf(graph)).some((p) => prunes(p, e, this.ownerOf))) {
      reject('pruned', 'this blob chunk was pruned from the space (the post naming it was deleted)');
    }
    return await host?.(e, graph);
  }

  /** A demotion removes what the demoted account's devices wrote after their cut (it may have arrived first). */
  private async evictAfterDemotion(e: Entry): Promise<void> {
    const op = readMembershipOp(e.payload);
    if (!op.account || (op.t === 'set-role' && canWrite(op.role))) return;
    const account = this.contact(op.account);
    if (!account) return;
    const drop = await demotedEntries(this.store, e.space, await this.graph(e.space), op, account, (d) => this.owns(account, d));
    if (!drop.length) return;
    await this.store.deleteEntries(drop);
    this.changed([e]);
  }
}

function failure(err: unknown): IngestResult {
  if (err instanceof FreeholdError) return { ok: false, reason: err.reason, message: err.message };
  return { ok: false, reason: 'malformed', message: err instanceof Error ? err.message : String(err) };
}
