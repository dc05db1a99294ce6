import {
  completeRecovery,
  Device,
  encodeCard,
  equal,
  exportReplica,
  FreeholdError,
  fromId,
  toId,
  type IdentityState,
} from '@freehold/core';
import { IndexedDbStore } from '@freehold/stores/indexeddb';
import {
  answered,
  CLIENT_BACKOFF,
  deleteAccount,
  Deliveries,
  findLog,
  hostOf,
  register,
  providerInfo,
  ProviderLink,
  Providers,
  resolveHandle,
  type LinkEvent,
  type WebSocketFactory,
} from '@freehold/client';
import type { LinkOffer, LinkRequest } from '@freehold/client/pairing';
import { closeAccount, Microblog, spacesOf, type Mirror } from '@freehold/microblog';
import { forgetIdentity, saveIdentity, type StoredIdentity } from './keys.js';
import { PROVIDER } from './site.js';
import { Reads } from './reads.js';

export const WS = WebSocket as unknown as WebSocketFactory;
export const STORE = 'freehold-replica';

export type Status = 'connecting' | 'online' | 'offline';

export interface ProviderView {
  host: string;
  status: Status;
  error?: string;
}

/**
 * The signed-in account in this browser: its device, its replica in IndexedDB, and one live link to each of the
 * account's providers (the one that serves this page first). Reads and writes hit the local replica; the links
 * only sync: each reconciles when it connects, then carries pushes both ways over the same socket.
 */
export class Session {
  private listeners = new Set<() => void>();
  private stopped = false;
  private readonly links: Providers;
  /** Why the links could not start yet (a new device without its identity log, and no provider reachable). */
  private bootError: string | undefined;
  private readonly channel = new BroadcastChannel('freehold');
  private readonly retry = () => this.links.retryNow();
  /** The latest pass folding the inbox in, and the one waiting behind it. */
  private absorbing: Promise<void> | undefined;
  private absorbQueued: Promise<void> | undefined;
  /** Bumped on every change, so views know to reload. */
  version = 0;

  readonly mb: Microblog;
  /** Likes, reposts and search, read again only after a change. */
  readonly reads: Reads;
  /** How far what this account sent to others got (see Deliveries); views track what they show. */
  readonly deliveries: Deliveries;

  private constructor(
    readonly device: Device,
    readonly identity: StoredIdentity,
  ) {
    this.mb = new Microblog(device, {
      resolve: async (handle) => this.resolve(handle),
      fetch: async (mirrors) => {
        await this.mirror(mirrors);
        await this.pushPull(mirrors.map((m) => m.space));
      },
    });
    this.reads = new Reads(this.mb, () => this.version);
    this.links = new Providers(device, {
      WebSocket: WS,
      interest: async () => [...(await this.mb.interest()), ...spaceList(device.account)],
    });
    this.links.listen((e) => this.onLink(e));
    this.deliveries = new Deliveries(device, this.links);
    this.deliveries.listen(() => this.changed());
    this.channel.onmessage = () => void this.reopen();
    window.addEventListener('online', this.retry);
  }

  /** Opens this browser's replica for an account it holds the keys of, and starts syncing. */
  static async start(id: StoredIdentity): Promise<Session> {
    const device = await Device.open(await IndexedDbStore.open(STORE), id.keys, id.account);
    const s = new Session(device, id);
    void s.connect();
    return s;
  }

  get account(): string {
    return toId(this.device.account);
  }

  get handle(): string | undefined {
    return this.device.replica.contact(this.device.account)?.handles[0];
  }

  /** Each provider's link; one still retrying after a failure shows as offline. */
  get providers(): ProviderView[] {
    const links = this.links.statuses();
    if (!links.length) {
      return [{ host: location.host, status: this.bootError ? 'offline' : 'connecting', error: this.bootError }];
    }
    return links.map(({ url, status, error }) => ({
      host: new URL(url).host,
      status: status === 'closed' || (status === 'connecting' && error) ? 'offline' : status,
      error,
    }));
  }

  /** Online while any provider is: what is written here reaches it, and it passes it on to the others. */
  get status(): Status {
    const all = this.providers.map((p) => p.status);
    return all.includes('online') ? 'online' : all.includes('connecting') ? 'connecting' : 'offline';
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    this.version++;
    for (const f of this.listeners) f();
  }

  /** Another tab wrote: reload the replica's in-memory state from IndexedDB. */
  private async reopen(): Promise<void> {
    await this.device.replica.refresh();
    this.changed();
  }

  private readonly lookedUp = new Set<string>();

  /**
   * Asks this account's providers to mirror what it follows and reads it through them: after a follow, so the
   * newly followed account's posts show without a reload.
   */
  async readFollowed(): Promise<void> {
    const mirrors = await this.mb.mirrors();
    await this.mirror(mirrors);
    await this.pushPull(mirrors.map((m) => m.space));
    this.changed();
  }

  /** Fetches someone's public space (profile and posts) once, so they show by name rather than by id. */
  lookUp(account: string): void {
    if (this.lookedUp.has(account)) return;
    this.lookedUp.add(account);
    const owner = fromId(account, 'account');
    const space = spacesOf(owner).public;
    void (equal(owner, this.device.account) ? Promise.resolve() : this.mirror([{ space, owner }])).then(() => this.pushPull([space])).then(
      () => this.changed(),
      () => this.lookedUp.delete(account),
    );
  }

  /**
   * Looks up name@host at its provider. While that provider cannot be reached, someone this account already
   * follows under that handle can still be written to: this account's providers deliver it later.
   */
  async resolve(handle: string): Promise<IdentityState> {
    let state: IdentityState;
    try {
      state = await resolveHandle(handle);
    } catch (e) {
      const known = e instanceof FreeholdError && e.reason === 'unavailable' ? await this.mb.knownHandle(handle) : undefined;
      if (!known) throw e;
      return known;
    }
    await this.device.replica.addCard(encodeCard(state));
    return state;
  }

  /** What to call an account without a profile here: the handle its identity log claims, if this replica has it. */
  nameless(account: string): string {
    return this.device.replica.contact(fromId(account, 'account'))?.handles[0] ?? 'Someone without a profile yet';
  }

  /**
   * Runs a change under a lock shared by every tab of this browser (one device, one sequence of entries), then
   * tells the other tabs and sends it over the open links. Offline, the change stays local and goes out when a
   * link is back.
   */
  async write<T>(f: (mb: Microblog) => Promise<T>): Promise<T> {
    // Another tab may have written since: `locked` sees its entries (and its sequence numbers) first.
    const result = await this.locked(() => f(this.mb));
    void this.flush();
    return result;
  }

  private async flush(): Promise<void> {
    for (const r of await this.links.flush()) {
      if (!r.refused.length) continue;
      console.warn(`freehold: ${r.url} refused entries:`, r.refused.map((x) => `${x.reason}: ${x.message}`).join('; '));
    }
  }

  /**
   * Asks this account's providers to mirror spaces of other accounts (what it follows or writes to), so this
   * browser reads and writes them through its own providers only. A provider that does not answer is skipped.
   */
  async mirror(mirrors: Mirror[]): Promise<void> {
    const theirs = mirrors.filter((m) => !equal(m.owner, this.device.account));
    if (!theirs.length) return;
    for (const url of await this.addresses()) {
      try {
        const link = await ProviderLink.connect(url, this.device, WS);
        try {
          await link.mirror(this.device, theirs);
        } finally {
          link.close();
        }
      } catch (e) {
        console.warn(`freehold: ${url} did not take the mirrors:`, (e as Error).message);
      }
    }
  }

  /** One reconciliation with every provider over the open links, asking also for `extra`; fails if none answers. */
  async pushPull(extra: Uint8Array[]): Promise<void> {
    answered(await this.links.reconcile(extra));
  }

  private onLink(e: LinkEvent): void {
    // What a flush sent is already shown; how far it got comes from the deliveries.
    if (e.type === 'pushed') return;
    if (e.type === 'synced') {
      // The first sync also creates the account's spaces if no provider had them.
      if (e.report.stats.entriesReceived || !this.absorbing) void this.absorb();
      // The log may name other providers by now.
      void this.addresses().then((urls) => !this.stopped && this.links.set(urls));
    } else if (e.type === 'entries' && e.live && e.entries.some((x) => equal(x.space, this.mb.spaces.inbox))) {
      void this.absorb();
    }
    this.changed();
  }

  /**
   * After a sync, and when something lands in the inbox: creates the account's spaces if no provider had them, and
   * folds new likes and replies into our own posts (so every reader sees the counts), then sends what that wrote.
   */
  private absorb(): Promise<void> {
    // A burst of pushes needs one pass after the one under way, not one each.
    if (this.absorbQueued) return this.absorbQueued;
    const run = async () => {
      this.absorbQueued = undefined;
      await navigator.locks.request('freehold-write', async () => {
        await this.device.replica.refresh();
        await this.mb.ensure();
        await this.mb.absorbInbox();
      });
      this.changed();
      await this.flush();
    };
    const next = (this.absorbing ?? Promise.resolve())
      .then(run)
      .catch((e: Error) => console.warn('freehold: could not fold the inbox in:', e.message));
    this.absorbing = this.absorbQueued = next;
    return next;
  }

  /**
   * The account's providers, as this page reaches them: the one serving it by the name it was opened at (the log
   * lists its canonical name, which a page opened at another name may not connect to), then the others. Once the
   * account moved away from the provider serving the page, the page syncs with the new ones only.
   */
  private async addresses(): Promise<string[]> {
    const home = await this.home();
    const listed = this.device.identity().providers.map((u) => (u === home ? PROVIDER : u));
    return home ? [PROVIDER, ...listed.filter((u) => u !== PROVIDER)] : listed;
  }

  /** Gets the identity log a new device lacks, then keeps a link to each provider. */
  private async connect(): Promise<void> {
    for (let failures = 0; !this.stopped; failures++) {
      try {
        await this.ensureIdentityLog();
        break;
      } catch (e) {
        this.bootError = (e as Error).message;
        this.changed();
        await new Promise((r) => setTimeout(r, Math.min(CLIENT_BACKOFF.maxMs, CLIENT_BACKOFF.firstMs * 2 ** failures)));
      }
    }
    if (this.stopped) return;
    this.bootError = undefined;
    this.links.set(await this.addresses());
    // What this account follows is read through its own providers, which mirror it.
    void this.mb.mirrors().then((m) => this.mirror(m));
    this.changed();
  }

  /**
   * A new device (recovered from the phrase, or linked with a code) starts without its account's identity log:
   * it gets it from the provider, and a recovered one then adds itself to it.
   */
  private async ensureIdentityLog(): Promise<void> {
    if (!this.device.replica.contact(this.device.account)) {
      const { state } = await findLog(this.device.account, [PROVIDER]);
      if (!state) throw new Error('this provider does not know the account');
      await this.device.replica.addCard(encodeCard(state));
    }
    if (this.identity.recovery && (await completeRecovery(this.device.replica, this.identity.recovery))) {
      delete this.identity.recovery;
      await saveIdentity(this.identity);
    }
  }

  /** On this device: a new linking code, open at `provider` (this page's), for the new device to type. */
  async offerLink(provider = PROVIDER): Promise<LinkOffer> {
    // Fetched only here, not with the timeline (see @freehold/client/pairing).
    const { offerLink } = await import('@freehold/client/pairing');
    return offerLink(provider, this.device);
  }

  /** The canonical URL of the provider that serves this page, while the account still lives there. */
  async home(): Promise<string | undefined> {
    const url = await providerInfo(PROVIDER).then(
      (info) => info.url,
      () => undefined,
    );
    return url && this.device.identity().providers.includes(url) ? url : undefined;
  }

  /** Links to the providers the log names now (after the person added one, or moved). */
  async relink(): Promise<void> {
    this.links.set(await this.addresses());
    this.changed();
  }

  /** Runs `f` under the lock every tab of this browser writes under, then tells the other tabs. */
  async locked<T>(f: () => Promise<T>): Promise<T> {
    const result = await navigator.locks.request('freehold-write', async () => {
      await this.device.replica.refresh();
      return f();
    });
    this.channel.postMessage('changed');
    this.changed();
    return result;
  }

  /** Adds a device whose fingerprint the person confirmed, then tells it that it is in. */
  async addLinked(req: LinkRequest): Promise<void> {
    // Extend the newest identity log (another device may have just changed it), not a stale copy.
    await this.pushPull([]);
    await this.write(async () => this.device.addDevice(req.device));
    await this.pushPull([]);
    await req.accept();
  }

  /** Everything this browser holds of the account, as the file `freehold import` reads. */
  async exportAll(): Promise<{ bytes: Uint8Array; entries: number }> {
    return exportReplica(this.device.store, this.device.account);
  }

  /**
   * A new recovery phrase. The old one stops working where the log that says so is held: it is handed to every
   * provider at once (a registration carries it), so a recovery anywhere meets it.
   */
  async rotatePhrase(): Promise<string> {
    const secret = await this.locked(() => this.device.rotateRecovery());
    const told = await Promise.allSettled(this.device.identity().providers.map((p) => register(p, this.device)));
    if (told.length && told.every((t) => t.status === 'rejected')) {
      console.warn('freehold: no provider took the new log yet; it goes with the next sync');
    }
    // The word list is fetched only here, not with the timeline (see @freehold/core/words).
    const { secretToPhrase } = await import('@freehold/core/words');
    return secretToPhrase(secret);
  }

  /**
   * Deletes the account everywhere (see deleteAccount, packages/client), then this browser's copy; throws, with
   * the copy kept, while a provider still holds it (trying again asks only those).
   */
  async deleteAccount(): Promise<void> {
    const results = await deleteAccount(this.device, async () => {
      await this.locked(() => closeAccount(this.mb));
      await this.flush();
    });
    const failed = results.filter((r) => r.error !== undefined);
    if (failed.length) throw new Error(`${failed.map((r) => `${hostOf(r.provider)}: ${r.error}`).join('; ')} still hold your account: try again to finish.`);
    await this.signOut();
  }

  async signOut(): Promise<void> {
    this.stopped = true;
    this.deliveries.close();
    this.links.close();
    window.removeEventListener('online', this.retry);
    await this.device.store.close();
    await forgetIdentity();
    await IndexedDbStore.destroy(STORE);
  }
}

function spaceList(account: Uint8Array): Uint8Array[] {
  const s = spacesOf(account);
  return [s.public, s.friends, s.inbox, s.private];
}
