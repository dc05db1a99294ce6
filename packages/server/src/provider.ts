import {
  canRead,
  Kind,
  reject,
  Replica,
  toHex,
  toId,
  verifyRequest,
  type AccountRow,
  type Charge,
  type Entry,
  type SpaceGraph,
  type Store,
} from '@freehold/core';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { DEFAULT_HANDLE_POLICY, HANDLE_NAME, HandleDirectory, type HandlePolicy } from './handles.js';

/** Token bucket per sender: appends to other people's inboxes are cheap to send, so they are metered. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
  ) {}
  take(key: string, now: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 60_000) * this.perMinute);
    b.at = now;
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

export interface ProviderOptions {
  store: Store;
  /** Base URL people reach this provider at; its host names handles (name@host). */
  publicUrl: string;
  defaultQuota: number;
  appendsPerMinute?: number;
  handles?: Partial<HandlePolicy>;
  logger: Logger;
  metrics: Metrics;
}

/** Receives the entries of spaces a session subscribed to. */
export interface Subscriber {
  readonly account: Uint8Array | null;
  push(space: Uint8Array, entries: Uint8Array[]): void;
}

/**
 * What a co-operative runs: a replica that validates everything like any other, hosts registered accounts
 * within their quotas, keeps the handle directory, and fans new entries out to subscribed sessions.
 */
export class Provider {
  readonly host: string;
  private readonly registered = new Set<string>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly appends: RateLimiter;
  private readonly handles: HandleDirectory;

  private constructor(
    readonly replica: Replica,
    readonly opts: ProviderOptions,
  ) {
    this.host = new URL(opts.publicUrl).host;
    this.appends = new RateLimiter(opts.appendsPerMinute ?? 120, Math.max(10, (opts.appendsPerMinute ?? 120) / 2));
    replica.hostPolicy = (e, graph) => this.charge(e, graph);
    this.handles = new HandleDirectory(replica, this.host, {
      maxHandles: opts.handles?.maxHandles ?? DEFAULT_HANDLE_POLICY.maxHandles,
      graceMs: opts.handles?.graceMs ?? DEFAULT_HANDLE_POLICY.graceMs,
    });
  }

  static async open(opts: ProviderOptions): Promise<Provider> {
    const p = new Provider(await Replica.open(opts.store), opts);
    for (const a of await opts.store.accounts()) p.registered.add(toHex(a.account));
    return p;
  }

  get store(): Store {
    return this.replica.store;
  }

  isRegistered(account: Uint8Array): boolean {
    return this.registered.has(toHex(account));
  }

  /** Who pays for an entry: its author if hosted here, else the space's creator; otherwise it is not ours to keep. */
  private charge(e: Entry, graph: SpaceGraph): Charge {
    const author = this.replica.authorOf(e.device)!.account.account;
    const member = graph.nodes.size > 0 && graph.current().roles.has(toHex(author));
    if (e.kind === Kind.append && !member && !this.appends.take(toHex(author), Date.now())) {
      reject('rate-limited', 'too many messages to inboxes from this account; try again in a minute');
    }
    const bytes = e.bytes.length;
    if (this.isRegistered(author)) return { account: author, bytes };
    const creator = graph.creatorAccount;
    if (creator && this.isRegistered(creator)) return { account: creator, bytes };
    return reject('not-hosted', `account ${toId(author)} is not registered with ${this.host} (run \`freehold provider add ${this.opts.publicUrl}\`)`);
  }

  async register(request: Uint8Array): Promise<AccountRow> {
    const r = verifyRequest(request, 'register', this.host, Date.now());
    if (!r.account.providers.includes(this.opts.publicUrl)) {
      reject('invalid-argument', `the account's identity log does not list ${this.opts.publicUrl} as a provider`);
    }
    await this.replica.addCard(r.card);
    await this.handles.review(r.account.account);
    const held = await this.store.getAccount(r.account.account);
    if (!held) {
      await this.store.putAccount({ account: r.account.account, quota: this.opts.defaultQuota, used: 0, created: Date.now() });
      this.registered.add(toHex(r.account.account));
      this.opts.logger.info({ event: 'register', account: toId(r.account.account) }, 'account registered');
    }
    return (await this.store.getAccount(r.account.account))!;
  }

  async claimHandle(request: Uint8Array): Promise<string> {
    const r = verifyRequest(request, 'claim-handle', this.host, Date.now());
    const name = String(r.payload.name ?? '');
    if (!HANDLE_NAME.test(name)) reject('invalid-argument', 'a handle is 1-32 of a-z, 0-9, _ and -, starting with a letter or digit');
    if (!this.isRegistered(r.account.account)) reject('not-hosted', `register with this provider first (\`freehold provider add ${this.opts.publicUrl}\`)`);
    const handle = `${name}@${this.host}`;
    if (!r.account.handles.includes(handle)) reject('invalid-argument', `the account's identity log does not claim ${handle}`);
    await this.replica.addCard(r.card);
    await this.handles.claim(name, r.account.account);
    this.opts.logger.info({ event: 'handle', handle, account: toId(r.account.account) }, 'handle claimed');
    return handle;
  }

  /** The directory entry for a handle: the account and its whole signed log, which must list the handle. */
  async lookupHandle(name: string): Promise<{ handle: string; account: string; card: string } | undefined> {
    const account = await this.handles.lookup(name);
    const card = account && (await this.store.getCard(account));
    if (!account || !card) return undefined;
    return { handle: `${name}@${this.host}`, account: toId(account), card: Buffer.from(card).toString('base64') };
  }

  async canSubscribe(space: Uint8Array, account: Uint8Array | null): Promise<boolean> {
    const graph = await this.replica.graph(space);
    if (!graph.created) return false;
    return graph.isPublic || (account !== null && canRead(graph.current().roles.get(toHex(account))));
  }

  subscribe(space: Uint8Array, s: Subscriber): void {
    const k = toHex(space);
    let set = this.subscribers.get(k);
    if (!set) this.subscribers.set(k, (set = new Set()));
    set.add(s);
  }

  unsubscribeAll(s: Subscriber): void {
    for (const [k, set] of this.subscribers) {
      set.delete(s);
      if (set.size === 0) this.subscribers.delete(k);
    }
  }

  /** Live push: a hint that saves a reconciliation, never the only way an entry arrives. */
  async fanout(entries: Entry[], from: Subscriber): Promise<void> {
    const bySpace = new Map<string, Entry[]>();
    for (const e of entries) {
      const k = toHex(e.space);
      const list = bySpace.get(k) ?? [];
      list.push(e);
      bySpace.set(k, list);
    }
    for (const [k, list] of bySpace) {
      const set = this.subscribers.get(k);
      if (!set) continue;
      for (const s of set) {
        if (s === from || !(await this.canSubscribe(list[0]!.space, s.account))) continue;
        s.push(list[0]!.space, list.map((e) => e.bytes));
      }
    }
  }
}
