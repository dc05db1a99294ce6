import {
  beginRecovery,
  completeRecovery,
  createAccount,
  Device,
  encodeCard,
  encodeFrame,
  fromId,
  phraseToSecret,
  secretToPhrase,
  toId,
  type IdentityState,
} from '@freehold/core';
import { IndexedDbStore } from '@freehold/stores/indexeddb';
import {
  claimHandle,
  fetchCard,
  providerInfo,
  offerLink,
  ProviderLink,
  register,
  requestLink,
  resolveHandle,
  type LinkOffer,
  type LinkRequest,
  type PendingLink,
  type WebSocketFactory,
} from '@freehold/client';
import { Microblog, spacesOf } from '@freehold/microblog';
import { forgetIdentity, loadIdentity, saveIdentity, type StoredIdentity } from './keys.js';

const WS = WebSocket as unknown as WebSocketFactory;
const STORE = 'freehold-replica';
export const PROVIDER = location.origin;

export type Status = 'connecting' | 'online' | 'offline';

/**
 * The signed-in account in this browser: its device, its replica in IndexedDB, and a live link to the provider
 * that serves this page. Reads and writes hit the local replica; the provider only syncs.
 */
export class Session {
  private listeners = new Set<() => void>();
  status: Status = 'connecting';
  private stopped = false;
  private link: ProviderLink | undefined;
  private readonly channel = new BroadcastChannel('freehold');
  /** Bumped on every change, so views know to reload. */
  version = 0;

  readonly mb: Microblog;

  private constructor(
    readonly device: Device,
    readonly identity: StoredIdentity,
  ) {
    this.mb = new Microblog(device, {
      resolve: async (handle) => this.resolve(handle),
      fetch: async (spaces) => this.pushPull(spaces),
    });
    this.channel.onmessage = () => void this.reopen();
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
    void this.pushPull([spacesOf(fromId(account, 'account')).public]).then(
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
   * tells the other tabs and pushes to the provider. Offline, the change stays local and goes out on reconnect.
   */
  async write<T>(f: (mb: Microblog) => Promise<T>): Promise<T> {
    const result = await navigator.locks.request('freehold-write', async () => {
      // Another tab may have written since: see its entries (and its sequence numbers) first.
      await this.device.replica.refresh();
      return f(this.mb);
    });
    this.channel.postMessage('changed');
    this.changed();
    void this.refresh();
    return result;
  }

  /**
   * Push local changes, pull what this account reads, and (re)subscribe: a new follow or a new approval widens
   * what the live link should carry. Offline this fails quietly; the reconnect loop catches up.
   */
  private async refresh(): Promise<void> {
    try {
      const before = await this.device.store.countEntries();
      await this.pushPull([]);
      // Fold new likes and replies into our own posts, so everyone who reads them sees the counts.
      const pulled = await this.device.store.countEntries();
      await navigator.locks.request('freehold-write', async () => {
        await this.device.replica.refresh();
        await this.mb.absorbInbox();
      });
      if ((await this.device.store.countEntries()) !== pulled) await this.pushPull([]);
      if ((await this.device.store.countEntries()) !== before) this.changed();
      const spaces = [];
      for (const sp of await this.device.store.spaces()) if (await this.device.canRead(sp)) spaces.push(sp);
      this.link?.send(encodeFrame(['sub', spaces]));
    } catch (e) {
      console.warn('freehold: refresh failed:', (e as Error).message);
    }
  }

  /** One reconciliation with the provider, asking for what this account reads. */
  async pushPull(extra: Uint8Array[]): Promise<void> {
    const link = await ProviderLink.connect(PROVIDER, this.device, WS);
    try {
      await link.sync(this.device, {
        interest: [...(await this.mb.interest()), ...spaceList(this.device.account), ...extra],
        onAck: (_n, refused) => refused.length && console.warn('freehold: the provider refused entries:', refused.map((r) => `${r[1]}: ${r[2]}`).join('; ')),
      });
    } finally {
      link.close();
    }
  }

  /** Stays connected: reconcile, subscribe, apply live pushes; reconnect with backoff when the provider goes away. */
  private async connect(): Promise<void> {
    let backoff = 500;
    while (!this.stopped) {
      try {
        this.setStatus('connecting');
        await this.ensureIdentityLog();
        const link = await ProviderLink.connect(PROVIDER, this.device, WS);
        this.link = link;
        const { session } = await link.sync(this.device, { interest: [...(await this.mb.interest()), ...spaceList(this.device.account)] });
        await navigator.locks.request('freehold-write', async () => {
          await this.mb.ensure();
          await this.mb.absorbInbox();
        });
        const spaces = [];
        for (const s of await this.device.store.spaces()) if (await this.device.canRead(s)) spaces.push(s);
        await link.subscribe(spaces);
        this.setStatus('online');
        this.changed();
        backoff = 500;
        const timer = setInterval(() => void this.refresh(), 5000);
        try {
          await link.watch(session, (f) => {
            if (f[0] === 'entries') this.changed();
          });
        } finally {
          clearInterval(timer);
        }
      } catch (e) {
        // Offline: everything keeps working locally.
        console.warn('freehold: provider link lost:', (e as Error).message);
      }
      this.link = undefined;
      if (this.stopped) return;
      this.setStatus('offline');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 8000);
    }
  }

  /**
   * A new device (recovered from the phrase, or linked with a code) starts without its account's identity log:
   * it gets it from the provider, and a recovered one then adds itself to it.
   */
  private async ensureIdentityLog(): Promise<void> {
    if (!this.device.replica.contact(this.device.account)) {
      const card = await fetchCard(PROVIDER, this.device.account);
      if (!card) throw new Error('this provider does not know the account');
      await this.device.replica.addCard(card);
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

  private setStatus(s: Status): void {
    if (this.status !== s) {
      this.status = s;
      this.changed();
    }
  }

  async signOut(): Promise<void> {
    this.stopped = true;
    this.link?.close();
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
    const id: StoredIdentity = { account: pending.account, keys: pending.device, name, recovery: pending };
    await saveIdentity(id);
    return Session.start(id);
  }
}

function spaceList(account: Uint8Array): Uint8Array[] {
  const s = spacesOf(account);
  return [s.public, s.friends, s.inbox];
}
