import {
  storedEntry,
  decodeFrame,
  encodeFrame,
  FRAME_LIMITS,
  FreeholdError,
  lead,
  reject,
  SyncSession,
  toHex,
  type Channel,
  type Device,
  type Entry,
  type Frame,
} from '@freehold/core';
import { ConnectionClosed, ProviderLink, RECONNECT_CLOSE } from './link.js';
import {
  CLIENT_BACKOFF,
  type LinkEvent,
  type LinkOptions,
  type LinkStatus,
  type PushReport,
  type Refusal,
  type SyncReport,
} from './link-options.js';
import { Turns } from './turns.js';
import { movedFrom, MovedError } from './moved.js';
import { providerInfo } from './provider-info.js';

/** What one open connection holds. */
interface Open {
  link: ProviderLink;
  turns: Turns;
  /** The session of the latest reconciliation: it applies pushes and frames what goes out. */
  session?: SyncSession;
  reconciling: boolean;
  /** This device's entries up to this sequence number are known to have reached the provider. */
  pushedSeq: number;
  subscribed: Set<string>;
  barriers: number;
  recheck?: ReturnType<typeof setTimeout>;
  heartbeat?: ReturnType<typeof setInterval>;
}

/** A session asked to reconnect elsewhere (RECONNECT_CLOSE) does so within this, at random. */
const RECONNECT_SPREAD_MS = 250;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A device's link to one provider that stays up by itself. Each connection authenticates, reconciles every space
 * (and what `interest` names) both ways, subscribes to every space this device can read, then applies live
 * pushes. `flush` sends this device's new entries over the open socket and resolves once the provider has
 * acknowledged them (durably); `reconcile` runs a reconciliation again over the same socket. A lost connection
 * is retried with backoff; whatever was written meanwhile is in the replica and goes out with the next
 * reconciliation. Status changes, reconciliations and new entries are reported to listeners.
 */
export class ReconnectingLink {
  status: LinkStatus = 'connecting';
  lastError: string | undefined;
  lastSync: SyncReport | undefined;
  private open: Open | undefined;
  private failures = 0;
  private wake: (() => void) | undefined;
  private readonly settledWaiters: (() => void)[] = [];
  private readonly listeners = new Set<(e: LinkEvent) => void>();
  private started = false;
  private queuedFlush: Promise<PushReport> | undefined;
  /** Aborts a handshake under way when the link is closed. */
  private readonly closing = new AbortController();

  constructor(
    readonly url: string,
    private readonly device: Device,
    private readonly opts: LinkOptions,
  ) {}

  /** Read through a getter, so TypeScript does not narrow `status` across the awaits that may change it. */
  private get closed(): boolean {
    return this.status === 'closed';
  }

  listen(f: (e: LinkEvent) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit(e: LinkEvent): void {
    for (const f of this.listeners) f(e);
  }

  start(): this {
    if (!this.started) {
      this.started = true;
      void this.run();
    }
    return this;
  }

  /** Stops for good: the socket closes and no attempt follows. */
  close(): void {
    if (this.closed) return;
    this.setStatus('closed');
    this.closing.abort();
    this.wake?.();
    this.open?.link.close(1000, 'closed by the client');
  }

  /** Skips the wait before the next attempt (the network came back, say). */
  retryNow(): void {
    if (this.status !== 'offline' || !this.wake) return;
    this.failures = 0;
    this.setStatus('connecting');
    this.wake();
  }

  /** Resolves once the current attempt has succeeded or failed (at once unless connecting). */
  settled(): Promise<void> {
    if (this.status !== 'connecting') return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private setStatus(status: LinkStatus, retryInMs?: number): void {
    if (status === this.status && retryInMs === undefined) return;
    this.status = status;
    if (status !== 'connecting') for (const f of this.settledWaiters.splice(0)) f();
    this.emit({ type: 'status', url: this.url, status, error: this.lastError, retryInMs });
  }

  private async run(): Promise<void> {
    const backoff = this.opts.backoff ?? CLIENT_BACKOFF;
    while (!this.closed) {
      this.setStatus('connecting');
      let error: unknown;
      try {
        error = await this.connection();
      } catch (e) {
        error = e;
      }
      this.stopTimers();
      this.open = undefined;
      if (error instanceof MovedError) this.leave(error);
      if (this.closed) return;
      // A node going away asks for a reconnect at once (a load balancer sends it to another node), spread over
      // a moment so that its sessions do not all arrive together.
      const elsewhere = error instanceof ConnectionClosed && error.code === RECONNECT_CLOSE;
      this.failures = elsewhere ? 0 : this.failures + 1;
      this.lastError = message(error);
      const wait = elsewhere ? Math.random() * Math.min(RECONNECT_SPREAD_MS, backoff.firstMs) : Math.min(backoff.maxMs, backoff.firstMs * 2 ** (this.failures - 1)) * (0.8 + Math.random() * 0.4);
      this.setStatus('offline', Math.round(wait));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => (clearTimeout(timer), resolve());
      });
      this.wake = undefined;
    }
  }

  /** One connection, from handshake to loss; answers why it ended. */
  private async connection(): Promise<unknown> {
    const { WebSocket, connectTimeoutMs } = this.opts;
    const link = await ProviderLink.connect(this.url, this.device, WebSocket, connectTimeoutMs, this.closing.signal);
    if (this.closed) return link.close(1000, 'closed by the client');
    const turns: Turns = new Turns(link, (b) => this.live(open, b));
    const open: Open = { link, turns, reconciling: false, pushedSeq: 0, subscribed: new Set(), barriers: 0 };
    this.open = open;
    try {
      const report = await this.reconcileOn(open, []);
      if (this.closed) return link.close(1000, 'closed by the client');
      this.failures = 0;
      this.lastError = undefined;
      this.setStatus('online');
      this.emit({ type: 'synced', url: this.url, report });
      this.startHeartbeat(open);
    } catch (e) {
      link.close(4000, 'reconciliation failed');
      throw e;
    }
    return open.turns.ended;
  }

  /** The account no longer lives at this provider: the link says where it went and closes for good. */
  private leave(moved: MovedError): void {
    if (this.closed) return;
    this.lastError = moved.message;
    this.emit({ type: 'moved', url: this.url, providers: moved.providers });
    this.close();
  }

  /** After the provider said an account moved away: if it is this one (by its newest log), the link leaves. */
  private async checkHome(): Promise<void> {
    const canonical = await providerInfo(this.url).then(
      (i) => i.url,
      () => this.url,
    );
    const moved = movedFrom(this.device, canonical);
    if (moved) this.leave(moved);
  }

  private stopTimers(): void {
    clearTimeout(this.open?.recheck);
    clearInterval(this.open?.heartbeat);
  }

  /**
   * A connection can die without a close reaching us (a laptop asleep, a dropped route): on a link quiet for
   * `heartbeatMs` a barrier goes out, and a provider silent for twice that is taken for gone.
   */
  private startHeartbeat(open: Open): void {
    const every = this.opts.heartbeatMs ?? 30_000;
    if (!every) return;
    let probing = false;
    open.heartbeat = setInterval(() => {
      const quiet = Date.now() - open.turns.lastHeard;
      if (quiet >= 2 * every) return open.link.close(4000, 'provider stopped answering');
      if (quiet < every || probing) return;
      probing = true;
      open.turns.run((ch) => this.barrier(open, ch, () => false)).then(
        () => (probing = false),
        () => (probing = false),
      );
    }, every / 2);
  }

  /** The replica's session with this provider; `live` marks entries pushed outside a reconciliation. */
  private session(open: Open, interest: Uint8Array[], refused: Refusal[]): SyncSession {
    return new SyncSession(this.device.replica, {
      account: this.device.account,
      peer: null,
      // A provider is home to everything this replica holds; it validates and hosts what its rules allow.
      offer: async () => 'all',
      interest,
      onAck: (_stored, rejected) => {
        for (const [, reason, msg] of rejected) refused.push({ reason, message: msg });
      },
      onStored: (entries) => this.emit({ type: 'entries', url: this.url, entries, live: !open.reconciling }),
      onError: (reason) => void (reason === 'moved' && this.checkHome()),
      onProgress: this.opts.onProgress && ((s) => this.opts.onProgress!(this.url, s)),
    });
  }

  /**
   * A full reconciliation over the open connection, both ways, then subscriptions to every space this device
   * can read. Waits for a connection being made (and makes one at once if it was waiting to retry); fails
   * (`unavailable`) when none can be made.
   */
  async reconcile(extra: Uint8Array[] = []): Promise<SyncReport> {
    // Asked for now: a link waiting to retry tries at once.
    this.retryNow();
    await this.settled();
    const open = this.open;
    if (this.status !== 'online' || !open) return reject('unavailable', `${this.url}: ${this.lastError ?? this.status}`);
    const report = await this.reconcileOn(open, extra);
    this.emit({ type: 'synced', url: this.url, report });
    return report;
  }

  private async reconcileOn(open: Open, extra: Uint8Array[]): Promise<SyncReport> {
    const interest = [...((await this.opts.interest?.()) ?? []), ...extra];
    const report = await open.turns.run(async (ch) => {
      const refused: Refusal[] = [];
      // Entries written from here on may miss this reconciliation; the next flush sends them.
      const before = await this.device.store.maxSeq(this.device.id);
      const session = this.session(open, interest, refused);
      open.reconciling = true;
      try {
        const { roundTrips } = await lead(session, ch);
        open.session = session;
        open.pushedSeq = Math.max(open.pushedSeq, before);
        await this.subscribe(open, ch, await this.device.store.spaces());
        return { url: this.url, stats: session.stats, roundTrips, refused, subscribed: open.subscribed.size, acked: open.pushedSeq };
      } finally {
        open.reconciling = false;
      }
    });
    this.lastSync = report;
    await this.scheduleRecheck(open, interest);
    return report;
  }

  private async scheduleRecheck(open: Open, interest: Uint8Array[]): Promise<void> {
    clearTimeout(open.recheck);
    const every = this.opts.recheckMs ?? 15_000;
    if (!every) return;
    let waiting = false;
    for (const s of interest) if (!(await this.device.replica.graph(s)).created) waiting = true;
    if (waiting && this.open === open) open.recheck = setTimeout(() => void this.reconcile().catch(() => {}), every);
  }

  /** Subscribes to those of `spaces` this device can read and the connection does not carry yet. */
  private async subscribe(open: Open, ch: Channel, spaces: Uint8Array[]): Promise<void> {
    const fresh = new Map<string, Uint8Array>();
    for (const s of spaces) {
      const k = toHex(s);
      if (!open.subscribed.has(k) && !fresh.has(k) && (await this.device.canRead(s))) fresh.set(k, s);
    }
    if (!fresh.size) return;
    const list = [...fresh.values()];
    const per = FRAME_LIMITS.spaces;
    for (let i = 0; i < list.length; i += per) ch.send(encodeFrame(['sub', list.slice(i, i + per)]));
    await this.barrier(open, ch, (f) => {
      if (f[0] === 'subbed') for (const s of f[1]) open.subscribed.add(toHex(s));
      // A provider refuses spaces it does not hold or will not show this session: not a failure.
      return f[0] === 'subbed' || f[0] === 'error';
    });
  }

  /**
   * Sends `sync(n)` and reads up to its answer, giving every other frame to `onFrame` (or applying it if
   * `onFrame` does not take it). Everything sent before has then been answered.
   */
  private async barrier(open: Open, ch: Channel, onFrame: (f: Frame) => boolean): Promise<void> {
    const n = ++open.barriers;
    ch.send(encodeFrame(['sync', n]));
    for (;;) {
      const b = await ch.next();
      const f = decodeFrame(b);
      if (f[0] === 'synced' && f[1] === n) return;
      if (!onFrame(f)) await this.apply(open, f, b.length);
    }
  }

  /**
   * Sends this device's entries the provider has not acknowledged yet over the open socket, and resolves once it
   * has answered every one (it acknowledges only what is durable). Calls made while one waits its turn share it.
   * Offline it resolves at once, undelivered: the entries go out with the next reconciliation.
   */
  flush(): Promise<PushReport> {
    if (!this.queuedFlush) {
      const run: Promise<PushReport> = this.flushOnce(() => {
        if (this.queuedFlush === run) this.queuedFlush = undefined;
      });
      this.queuedFlush = run;
    }
    return this.queuedFlush;
  }

  /** `started`: called once this flush stops taking company (it has its turn, or is over). */
  private async flushOnce(started: () => void): Promise<PushReport> {
    const undelivered = (error: string | undefined): PushReport => ({
      url: this.url,
      delivered: false,
      sent: 0,
      refused: [],
      error,
    });
    try {
      await this.settled();
      const open = this.open;
      if (this.status !== 'online' || !open) return undelivered(this.lastError ?? this.status);
      return await open.turns.run(async (ch) => {
        // From here on, a new flush takes its own turn: it may have entries this one does not.
        started();
        const rows = await this.device.store.deviceEntries(null, this.device.id, open.pushedSeq);
        if (!rows.length) return { url: this.url, delivered: true, sent: 0, refused: [], acked: open.pushedSeq };
        const entries = rows.map((r) => storedEntry(r));
        // The provider answers entries frames in order: what each carried names what an answer refused.
        const carried: Entry[][] = [];
        let framed = 0;
        for (const f of open.session!.entryFrames(entries)) {
          if (f[0] === 'entries') carried.push(entries.slice(framed, (framed += f[1].length)));
          ch.send(encodeFrame(f));
        }
        let answered = 0;
        const refused: Refusal[] = [];
        await this.barrier(open, ch, (f) => {
          if (f[0] === 'ack') {
            const batch = carried.shift() ?? [];
            answered += f[1] + f[2].length;
            for (const [i, reason, msg] of f[2]) refused.push({ reason, message: msg, entry: batch[i]?.id });
          } else if (f[0] === 'error') {
            // In place of an ack: the provider could not take a frame of ours.
            const batch = carried.shift() ?? [];
            refused.push(...(batch.length ? batch.map((e) => ({ reason: f[1], message: f[2], entry: e.id })) : [{ reason: f[1], message: f[2] }]));
          } else return false;
          return true;
        });
        const delivered = answered === entries.length;
        if (delivered) open.pushedSeq = Math.max(open.pushedSeq, ...rows.map((r) => r.seq));
        // A new space of ours (or one we were just let into) is carried live from now on.
        await this.subscribe(open, ch, entries.map((e) => e.space));
        const error = delivered ? undefined : 'the provider did not acknowledge every entry';
        const report: PushReport = { url: this.url, delivered, sent: entries.length, refused, error, acked: open.pushedSeq };
        this.emit({ type: 'pushed', url: this.url, report });
        return report;
      });
    } catch (e) {
      return undelivered(message(e));
    } finally {
      started();
    }
  }

  /** A frame outside any conversation of ours: live pushes (and the logs that precede them). */
  private async live(open: Open, bytes: Uint8Array): Promise<void> {
    await this.apply(open, decodeFrame(bytes), bytes.length);
  }

  private async apply(open: Open, f: Frame, size: number): Promise<void> {
    if (f[0] === 'error' && f[1] === 'moved') return this.checkHome();
    // Anything else outside a conversation of ours (a refusal of a push's ack, say) needs no answer.
    if (f[0] !== 'entries' && f[0] !== 'cards') return;
    if (!open.session) throw new FreeholdError('malformed', `${this.url} pushed entries before reconciling`);
    for (const out of await open.session.receiveFrame(f, size)) open.link.send(out);
  }
}
