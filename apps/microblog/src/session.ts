import {
  beginRecovery,
  completeRecovery,
  createAccount,
  Device,
  encodeCard,
  equal,
  fromId,
  phraseToSecret,
  requireCurrentPhrase,
  secretToPhrase,
  toId,
  type IdentityState,
} from '@freehold/core';
import { IndexedDbStore } from '@freehold/stores/indexeddb';
import {
  answered,
  claimHandle,
  CLIENT_BACKOFF,
  findLog,
  providerInfo,
  offerLink,
  ProviderLink,
  Providers,
  register,
  requestLink,
  resolveHandle,
  type LinkEvent,
  type LinkOffer,
  type LinkRequest,
  type PendingLink,
  type WebSocketFactory,
} from '@freehold/client';
import { Microblog, spacesOf, type Mirror } from '@freehold/microblog';
import { forgetIdentity, loadIdentity, saveIdentity, type StoredIdentity } from './keys.js';

const WS = WebSocket as unknown as WebSocketFactory;
const STORE = 'freehold-replica';
export const PROVIDER = location.origin;

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
    this.links = new Providers(device, {
      WebSocket: WS,
      interest: async () => [...(await this.mb.interest()), ...spaceList(device.account)],
    });
    this.links.listen((e) => this.onLink(e));
    this.channel.onmessage = () => void this.reopen();
    window.addEventListener('online', this.retry);
  }

  static async resume(): Promise<Session | undefined> {
    const id = await loadIdentity();
    if (!id) return undefined;
    return Session.start(id);
  }

  private static async start(id: StoredIdentity): Promise<Session> {
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

  async resolve(handle: string): Promise<IdentityState> {
    const state = await resolveHandle(handle);
    await this.device.replica.addCard(encodeCard(state));
    return state;
  }

  /**
   * Runs a change under a lock shared by every tab of this browser (one device, one sequence of entries), then
   * tells the other tabs and sends it over the open links. Offline, the change stays local and goes out when a
   * link is back.
   */
  async write<T>(f: (mb: Microblog) => Promise<T>): Promise<T> {
    const result = await navigator.locks.request('freehold-write', async () => {
      // Another tab may have written since: see its entries (and its sequence numbers) first.
      await this.device.replica.refresh();
      return f(this.mb);
    });
    this.channel.postMessage('changed');
    this.changed();
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
   * lists its canonical name, which a page opened at another name may not connect to), then the others.
   */
  private async addresses(): Promise<string[]> {
    const home = await providerInfo(PROVIDER).then(
      (info) => info.url,
      () => undefined,
    );
    const listed = this.device.identity().providers.map((u) => (u === home ? PROVIDER : u));
    return [PROVIDER, ...listed.filter((u) => u !== PROVIDER)];
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

  /** On this device: a new linking code, open at the provider, for the new device to type. */
  offerLink(): Promise<LinkOffer> {
    return offerLink(PROVIDER, this.device);
  }

  /** Adds a device whose fingerprint the person confirmed, then tells it that it is in. */
  async addLinked(req: LinkRequest): Promise<void> {
    // Extend the newest identity log (another device may have just changed it), not a stale copy.
    await this.pushPull([]);
    await this.write(async () => this.device.addDevice(req.device));
    await this.pushPull([]);
    await req.accept();
  }

  /** On the new device: offers keys under the code shown on the other device; shows the fingerprint next. */
  static requestLink(code: string): Promise<PendingLink> {
    return requestLink(PROVIDER, code, `${navigator.platform || 'browser'} (linked)`);
  }

  /** Once the other device has added this one: this browser joins that account. */
  static async joinLinked(link: PendingLink, signal: AbortSignal): Promise<Session> {
    await link.accepted(signal);
    const id: StoredIdentity = { account: link.account, keys: link.keys, name: 'linked' };
    await saveIdentity(id);
    return Session.start(id);
  }

  async signOut(): Promise<void> {
    this.stopped = true;
    this.links.close();
    window.removeEventListener('online', this.retry);
    await this.device.store.close();
    await forgetIdentity();
    await IndexedDbStore.destroy(STORE);
  }

  // ---- starting an account in this browser ----

  /** Step 1 of sign-up: keys and the phrase, nothing stored until the user has confirmed the phrase. */
  static draft(name: string): { phrase: string; finish(handle: string): Promise<Session> } {
    const acct = createAccount(`${name}'s browser`, Date.now());
    return {
      phrase: secretToPhrase(acct.recoverySecret),
      async finish(handle: string) {
        const store = await IndexedDbStore.open(STORE);
        const device = await Device.open(store, acct.device, acct.state.account);
        await device.replica.commitIdentity(acct.state);
        // The log names the provider by its canonical URL, whichever of its names this page was opened at.
        const home = await providerInfo(PROVIDER);
        await device.setProviders([home.url]);
        await register(PROVIDER, device);
        const full = `${handle}@${home.host}`;
        await device.setHandles([full]);
        await claimHandle(PROVIDER, device, handle).catch(async (e) => {
          await device.setHandles([]);
          throw e;
        });
        const id: StoredIdentity = { account: acct.state.account, keys: acct.device, name };
        await saveIdentity(id);
        await store.close();
        const s = await Session.start(id);
        await s.write(async (mb) => {
          await mb.ensure();
          await mb.setProfile({ name, handle: full });
        });
        return s;
      },
    };
  }

  /** Recovery: the phrase names the account and vouches for this browser as a new device of it. */
  static async recover(phrase: string, name: string): Promise<Session> {
    const pending = beginRecovery(phraseToSecret(phrase), `${name}'s browser`);
    // Nothing is kept until a provider knows the account: a mistyped phrase that still checks out names another.
    const found = await findLog(pending.account, [PROVIDER]);
    if (!found.state) {
      throw new Error(
        found.answered.length
          ? 'No provider knows the account this phrase names. Check the words and their order.'
          : `Cannot reach ${location.host} to look the account up; try again when it is back.`,
      );
    }
    requireCurrentPhrase(found.state, pending);
    const id: StoredIdentity = { account: pending.account, keys: pending.device, name, recovery: pending };
    await saveIdentity(id);
    return Session.start(id);
  }
}

function spaceList(account: Uint8Array): Uint8Array[] {
  const s = spacesOf(account);
  return [s.public, s.friends, s.inbox];
}
