import { equal, toHex } from './bytes.js';
import { reject, FreeholdError, type RejectReason } from './errors.js';
import { decodeEntry, Kind, readEntries, type Entry } from './entry.js';
import { chooseLog, decodeCard, deviceOf, encodeCard, type IdentityState } from './identity/state.js';
import { SpaceGraph, type OpNode } from './space/graph.js';
import { canAppend, canWrite, readMembershipOp, type Role } from './space/ops.js';
import { dependencyOrder, membershipDeps } from './space/topo.js';
import type { Charge, EntryRow, Store } from './store.js';

/** Entries dated further ahead than this are refused until their time comes (the author's clock is wrong). */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000;

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
 * thrown FreeholdError (not hosted here, rate limited) that refuses it.
 */
export type HostPolicy = (entry: Entry, graph: SpaceGraph) => Charge | undefined;

const rowOf = (e: Entry): EntryRow => ({
  id: e.id,
  space: e.space,
  doc: e.doc,
  kind: e.kind,
  device: e.device,
  seq: e.seq,
  time: e.time,
  bytes: e.bytes,
});

/**
 * The validating core of every replica, client or provider alike: identity logs of known accounts, the
 * membership graph of each space, and the rule that an entry is stored only after it is completely valid.
 */
export class Replica {
  readonly contacts = new Map<string, IdentityState>();
  private readonly devices = new Map<string, IdentityState>();
  private readonly graphs = new Map<string, Promise<SpaceGraph>>();
  contentCheck: ContentCheck | undefined;
  hostPolicy: HostPolicy | undefined;
  now: () => number = () => Date.now();

  private constructor(readonly store: Store) {}

  static async open(store: Store): Promise<Replica> {
    const r = new Replica(store);
    // Cards in the store were verified when they were stored.
    for (const { card } of await store.cards()) r.indexAccount(decodeCard(card, true));
    return r;
  }

  /**
   * Forgets what was derived from the store and reloads contact cards: for when another process (a second
   * browser tab of the same device) wrote to the same store.
   */
  async refresh(): Promise<void> {
    this.graphs.clear();
    for (const { card } of await this.store.cards()) this.indexAccount(decodeCard(card, true));
  }

  private indexAccount(s: IdentityState): void {
    this.contacts.set(toHex(s.account), s);
    for (const d of s.devices.values()) this.devices.set(toHex(d.device), s);
  }

  contact(account: Uint8Array | string): IdentityState | undefined {
    return this.contacts.get(typeof account === 'string' ? account : toHex(account));
  }

  authorOf(device: Uint8Array): Author | undefined {
    const account = this.devices.get(toHex(device));
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
    if (held && chosen === held) return false;
    await this.commitIdentity(chosen);
    return true;
  }

  /** Stores an account's (grown) identity log and drops entries its revoked devices signed after their cut. */
  async commitIdentity(state: IdentityState): Promise<void> {
    await this.store.putCard(state.account, encodeCard(state));
    this.indexAccount(state);
    for (const d of state.devices.values()) {
      if (!d.revoked) continue;
      for (const space of await this.store.spaces()) {
        const late = await this.store.deviceEntries(space, d.device, d.revoked.cut);
        if (late.length) await this.store.deleteEntries(late.map((r) => r.id));
      }
    }
  }

  /** The membership graph of a space, loaded once; concurrent callers share one load. */
  graph(space: Uint8Array): Promise<SpaceGraph> {
    const key = toHex(space);
    let g = this.graphs.get(key);
    if (!g) {
      const loading = this.loadGraph(space);
      this.graphs.set(key, (g = loading));
      loading.catch(() => this.graphs.get(key) === loading && this.graphs.delete(key));
    }
    return g;
  }

  private async loadGraph(space: Uint8Array): Promise<SpaceGraph> {
    const g = new SpaceGraph(space);
    const rows = await this.store.spaceEntries(space, Kind.membership);
    const ops = rows.map((r) => {
      const { id, device, payload } = decodeEntry(r.bytes);
      return { id, author: this.authorOf(device)?.account.account ?? device, op: readMembershipOp(payload) };
    });
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
   * Validates and stores a batch. Membership ops go first (retrying those whose dependencies arrive later in the
   * same batch), then content. Each entry gets a result; a rejected entry changes nothing.
   */
  async ingest(batch: Uint8Array[]): Promise<IngestResult[]> {
    const results: IngestResult[] = new Array(batch.length);
    const parsed: { i: number; e: Entry }[] = [];
    (await readEntries(batch)).forEach((r, i) => {
      if ('entry' in r) parsed.push({ i, e: r.entry });
      else results[i] = failure(r.error);
    });
    return this.ingestVerified(parsed, results);
  }

  /** Like ingest for one entry this replica's device just signed (so not verified again): a rejection is thrown. */
  async ingestOwn(e: Entry): Promise<void> {
    const [r] = await this.ingestVerified([{ i: 0, e }], new Array(1));
    if (!r!.ok) throw new FreeholdError(r!.reason!, r!.message!);
  }

  private async ingestVerified(parsed: { i: number; e: Entry }[], results: IngestResult[]): Promise<IngestResult[]> {
    const seen = new Map<string, Uint8Array>();
    const accepted: { i: number; e: Entry }[] = [];
    const charges = new Map<string, Charge>();
    const tryOne = async (e: Entry, i: number): Promise<IngestResult> => {
      try {
        const charge = await this.validate(e, seen);
        if (charge) {
          const k = toHex(charge.account);
          charges.set(k, { account: charge.account, bytes: (charges.get(k)?.bytes ?? 0) + charge.bytes });
        }
        seen.set(`${toHex(e.device)}:${e.seq}`, e.id);
        accepted.push({ i, e });
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
        await this.store.putEntries(
          accepted.map((a) => rowOf(a.e)),
          [...charges.values()],
        );
      } catch (err) {
        // The graphs already took in ops that are not durable: rebuild them from the store next time.
        this.graphs.clear();
        if (!(err instanceof FreeholdError)) throw err;
        for (const a of accepted) results[a.i] = { id: toHex(a.e.id), ...failure(err) };
        return results;
      }
    }
    for (const { e } of accepted) if (e.kind === Kind.membership) await this.evictAfterDemotion(e);
    return results;
  }

  /** Throws the reason an entry is invalid; returns what hosting it costs (on a provider). */
  private async validate(e: Entry, seen: Map<string, Uint8Array>): Promise<Charge | undefined> {
    if (e.time > this.now() + MAX_CLOCK_SKEW_MS) reject('clock-skew', 'entry is dated in the future');
    const deviceHex = toHex(e.device);
    const held = seen.get(`${deviceHex}:${e.seq}`) ?? (await this.store.idBySeq(e.device, e.seq));
    if (held) {
      if (toHex(held) === toHex(e.id)) reject('duplicate', 'entry is already held');
      reject('fork', `device already signed a different entry with sequence ${e.seq}`);
    }
    if (e.seq > 1) {
      const before = seen.get(`${deviceHex}:${e.seq - 1}`) ?? (await this.store.idBySeq(e.device, e.seq - 1));
      if (before && toHex(before) !== toHex(e.prev)) reject('bad-chain', 'entry does not link to its author’s previous entry');
    }
    const author = this.authorOf(e.device);
    if (!author) reject('unknown-author', 'entry is signed by a device of no known account (add its contact card)');
    const info = deviceOf(author.account, e.device)!;
    if (info.revoked && e.seq > info.revoked.cut) reject('revoked-device', 'entry was signed by a revoked device after its revocation');
    const accountHex = toHex(author.account.account);
    const graph = await this.graph(e.space);

    if (e.kind === Kind.membership) {
      const op = readMembershipOp(e.payload);
      const isAdmin = (r: Role | undefined) => r === 'admin';
      let charge: Charge | undefined;
      graph.add(e.id, op, author.account.account, (node) => {
        if (op.t !== 'create' && graph.isCut(accountHex, e.device, e.seq, node, isAdmin)) {
          reject('removed-member', 'the author was demoted before this operation');
        }
        // Last, so a refused op never enters the graph.
        charge = this.hostPolicy?.(e, graph);
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
    this.contentCheck?.(e, basis, graph);
    return this.hostPolicy?.(e, graph);
  }

  /** A demotion removes what the demoted account's devices wrote after their cut (it may have arrived first). */
  private async evictAfterDemotion(e: Entry): Promise<void> {
    const op = readMembershipOp(e.payload);
    if (!op.account || (op.t === 'set-role' && canWrite(op.role))) return;
    const account = this.contact(op.account);
    if (!account) return;
    const graph = await this.graph(e.space);
    const drop: Uint8Array[] = [];
    for (const d of account.devices.values()) {
      // Entries up to the cut stay; any other demotion that cut them was applied when it arrived.
      const cut = op.cuts?.find(([device]) => equal(device, d.device))?.[1] ?? 0;
      for (const row of await this.store.deviceEntries(e.space, d.device, cut)) {
        if (row.kind === Kind.membership) continue;
        const entry = decodeEntry(row.bytes);
        const basis = graph.nodes.get(toHex(entry.basis));
        const allowed = entry.kind === Kind.append ? canAppend : canWrite;
        if (basis && graph.isCut(toHex(op.account), entry.device, entry.seq, basis, allowed)) drop.push(entry.id);
      }
    }
    if (drop.length) await this.store.deleteEntries(drop);
  }
}

function failure(err: unknown): IngestResult {
  if (err instanceof FreeholdError) return { ok: false, reason: err.reason, message: err.message };
  return { ok: false, reason: 'malformed', message: err instanceof Error ? err.message : String(err) };
}
