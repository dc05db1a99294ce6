import {
  challengeMessage,
  decodeFrame,
  encodeCard,
  encodeFrame,
  FreeholdError,
  isRejectReason,
  lead,
  reject,
  sign,
  SyncSession,
  toHex,
  type Channel,
  type Device,
  type Frame,
  type SessionOptions,
  type SyncStats,
} from '@freehold/core';
import { movedFrom } from './moved.js';
import { providerInfo } from './provider-info.js';

/** The part of the WebSocket API both browsers and the `ws` package provide. */
export interface WebSocketLike {
  binaryType: string;
  readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketFactory = new (url: string) => WebSocketLike;

export const syncUrl = (provider: string): string => `${provider.replace(/^http/, 'ws').replace(/\/$/, '')}/v1/sync`;

function asBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) {
    const parts = data as Uint8Array[];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  return reject('malformed', 'provider sent a non-binary frame');
}

/**
 * The close code (1012, "service restart") a provider's node uses when it goes away (draining before a stop) or
 * when the session may have missed live pushes: reconnect at once, to whichever node answers, and reconcile.
 */
export const RECONNECT_CLOSE = 1012;

/** The connection closed; `code` is the WebSocket close code. */
export class ConnectionClosed extends FreeholdError {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super('unavailable', message);
  }
}

/**
 * A session with one provider: authenticated by signing its challenge with this device's key, then sync rounds
 * (`sync`), live subscriptions (`watch`), all over one ordered WebSocket.
 */
export class ProviderLink implements Channel {
  private readonly inbox: Uint8Array[] = [];
  private waiter: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private closedWith: Error | undefined;
  account: Uint8Array | null = null;

  private constructor(
    private readonly ws: WebSocketLike,
    readonly url: string,
  ) {
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => {
      const b = asBytes(ev.data);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(b);
      } else this.inbox.push(b);
    };
    ws.onclose = (ev) => {
      this.closedWith ??= new ConnectionClosed(ev.code, `connection to ${url} closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
      this.waiter?.reject(this.closedWith);
      this.waiter = undefined;
    };
  }

  /**
   * Opens and authenticates a session; `timeoutMs` bounds the whole handshake, not only the TCP connection, and
   * `signal` abandons it.
   */
  static async connect(provider: string, device: Device | null, WebSocket: WebSocketFactory, timeoutMs = 10_000, signal?: AbortSignal): Promise<ProviderLink> {
    const ws = new WebSocket(syncUrl(provider));
    const link = new ProviderLink(ws, provider);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      link.close(4000, 'handshake timeout');
    }, timeoutMs);
    const abort = () => link.close(1000, 'abandoned');
    signal?.addEventListener('abort', abort, { once: true });
    try {
      if (signal?.aborted) abort();
      await new Promise<void>((resolve, rejectOpen) => {
        ws.onopen = () => resolve();
        ws.onerror = () => rejectOpen(new FreeholdError('unavailable', `cannot reach ${provider} (is it running?)`));
      });
      ws.onerror = () => {};
      const challenge = decodeFrame(await link.next());
      if (challenge[0] !== 'challenge') reject('malformed', 'provider did not open with a challenge');
      if (device) {
        const sig = sign(challengeMessage(challenge[1], challenge[2]), device.keys.sign.seed);
        link.send(encodeFrame(['auth', encodeCard(device.identity()), device.id, sig]));
        let answer = decodeFrame(await link.next());
        // A provider the account moved away from sends the newest log first, then refuses with `moved`.
        while (answer[0] === 'cards') {
          for (const card of answer[1]) await device.replica.addCard(card).catch(() => false);
          answer = decodeFrame(await link.next());
        }
        if (answer[0] === 'error' && answer[1] === 'moved') {
          // Believed only as far as the signed log goes: it must no longer list the provider's canonical name.
          const canonical = await providerInfo(provider).then((i) => i.url, () => provider);
          const moved = movedFrom(device, canonical);
          if (moved) throw moved;
          reject('unavailable', `${provider} says this account moved, but the account's log still lists it`);
        }
        if (answer[0] === 'error') throw new FreeholdError(isRejectReason(answer[1]) ? answer[1] : 'unauthenticated', `${provider}: ${answer[2]}`);
        if (answer[0] !== 'authed') reject('malformed', 'provider did not confirm authentication');
        link.account = answer[1];
      }
      return link;
    } catch (e) {
      link.close(4000, 'handshake failed');
      if (timedOut) throw new FreeholdError('unavailable', `${provider} did not answer within ${timeoutMs / 1000}s`);
      throw e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    }
  }

  send(frame: Uint8Array): void {
    if (this.closedWith) throw this.closedWith;
    this.ws.send(frame);
  }

  next(): Promise<Uint8Array> {
    const b = this.inbox.shift();
    if (b) return Promise.resolve(b);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, rejectNext) => (this.waiter = { resolve, reject: rejectNext }));
  }

  /** One full reconciliation of every space this account shares with the provider, both ways. */
  async sync(device: Device, opts: Partial<SessionOptions> = {}): Promise<{ stats: SyncStats; roundTrips: number; session: SyncSession }> {
    // A provider is home to everything this replica holds; it validates and hosts what its rules allow.
    const session = new SyncSession(device.replica, { account: device.account, peer: null, offer: async () => 'all', ...opts });
    const { roundTrips } = await lead(session, this);
    return { stats: session.stats, roundTrips, session };
  }

  /**
   * Asks the provider to mirror other accounts' spaces for this account (what it follows and writes to), with
   * the owners' identity logs, which name their providers. Resolves once the provider has taken the request;
   * the mirrors then fill from the owners' providers in the background.
   */
  async mirror(device: Device, mirrors: { space: Uint8Array; owner: Uint8Array }[]): Promise<void> {
    const owners = new Map(mirrors.map((m) => [toHex(m.owner), m.owner]));
    const cards = [...owners.values()].flatMap((o) => {
      const log = device.replica.contact(o);
      return log ? [encodeCard(log)] : [];
    });
    this.send(encodeFrame(['mirror', mirrors.map((m) => m.space), mirrors.map((m) => m.owner), cards]));
    const n = Date.now();
    this.send(encodeFrame(['sync', n]));
    for (;;) {
      const f = decodeFrame(await this.next());
      if (f[0] === 'error') throw new FreeholdError(isRejectReason(f[1]) ? f[1] : 'unavailable', `${this.url}: ${f[2]}`);
      if (f[0] === 'synced' && f[1] === n) return;
    }
  }

  async subscribe(spaces: Uint8Array[]): Promise<{ subscribed: Uint8Array[]; refused: string[] }> {
    this.send(encodeFrame(['sub', spaces]));
    const refused: string[] = [];
    for (;;) {
      const f = decodeFrame(await this.next());
      if (f[0] === 'subbed') return { subscribed: f[1], refused };
      if (f[0] === 'error') refused.push(f[2]);
    }
  }

  /**
   * Applies live entries as the provider pushes them, acknowledging each batch, until the connection closes or
   * `signal` aborts. Each frame is reported to `onFrame` after it has been applied.
   */
  async watch(session: SyncSession, onFrame?: (f: Frame) => void, signal?: AbortSignal): Promise<void> {
    const stop = new Promise<never>((_, rejectStop) => signal?.addEventListener('abort', () => rejectStop(new Error('aborted')), { once: true }));
    try {
      for (;;) {
        const bytes = await Promise.race([this.next(), stop]);
        const replies = await session.receive(bytes);
        // Reported once applied: a listener that reloads from the replica sees the new entries.
        onFrame?.(decodeFrame(bytes));
        for (const out of replies) this.send(out);
      }
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
  }

  /** Ends the session at once: what is waiting for a frame fails now, not when the provider answers the close. */
  close(code = 1000, reason = 'done'): void {
    this.closedWith ??= new FreeholdError('unavailable', `connection to ${this.url} closed (${reason})`);
    this.waiter?.reject(this.closedWith);
    this.waiter = undefined;
    // A close reason is at most 123 bytes on the wire.
    this.ws.close(code, reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 120));
  }
}
