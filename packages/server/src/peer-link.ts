import WebSocket from 'ws';
import {
  challengeMessage,
  decodeFrame,
  encodeFrame,
  FRAME_LIMITS,
  FreeholdError,
  lead,
  sign,
  SyncSession,
  type Channel,
  type Entry,
  type Frame,
  type SigningKey,
} from '@freehold/core';
import type { Logger } from 'pino';
import type { Provider } from './provider.js';
import { DeliveryTracker } from './delivery.js';

/** Reconnection delays: a short first retry, doubling, capped, reset once a session completes its first sync. */
export const PEER_BACKOFF = { firstMs: 500, maxMs: 5 * 60_000 };
/** How often a link pings its peer; one that heard nothing back by the next ping is closed and reconnects. */
export const PEER_HEARTBEAT_MS = 30_000;

/**
 * Entries frames a link pushes before waiting for the peer's acknowledgement. The peer handles a session's frames
 * one at a time and acknowledges each once durable, so while one is in flight new entries gather into the next:
 * one entry a frame at low load, batches under load, instead of a frame (validated and made durable on its own)
 * per entry at the peer. One frame in flight beat four under 50 writers (replication p50 16–23 ms against
 * 57–95 ms, p99 154–202 ms against 346–404 ms, same runs): a bigger batch costs the peer one fsync, not one each.
 */
export const PUSH_WINDOW = 1;
/** Entries gathered for a peer that does not keep up, past which the link reconciles instead (reconnects). */
export const PUSH_BACKLOG = 16_384;

/** Close code a provider ends a peer's session with to have it reconcile again at once (not a failure). */
export const RESYNC_CLOSE = 4000;

export type PeerState = 'connecting' | 'up' | 'down' | 'stopped';

const syncUrl = (base: string) => `${base.replace(/^http/, 'ws')}/v1/sync`;

/** A WebSocket as an ordered frame channel that rejects once closed. */
class SocketChannel implements Channel {
  private readonly inbox: Uint8Array[] = [];
  private waiter: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private closed: Error | undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      const b = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(b);
      } else this.inbox.push(b);
    });
    ws.on('close', (code, reason) => {
      this.closed = new FreeholdError('unavailable', `peer closed the session (${code}${reason.length ? `: ${reason.toString()}` : ''})`);
      this.waiter?.reject(this.closed);
      this.waiter = undefined;
    });
    ws.on('error', () => {});
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw this.closed;
    this.ws.send(frame);
  }

  next(): Promise<Uint8Array> {
    const b = this.inbox.shift();
    if (b) return Promise.resolve(b);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }
}

/**
 * This provider's link to one peer provider that is home to some of the same accounts. On every (re)connect it
 * authenticates with the provider key and reconciles every space both are home to, then pushes what this
 * provider stores in those spaces as it arrives. The peer runs the same link the other way, so each side pushes
 * its own news; reconciliation on reconnect is what guarantees convergence, pushes only save time. It never
 * gives up: failures back off from half a second, doubling, to five minutes.
 */
export class PeerLink {
  state: PeerState = 'connecting';
  private failures = 0;
  /** The socket of the current attempt, from its first byte: stopping or failing closes it in any phase. */
  private socket: WebSocket | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private channel: (Channel & { ws: WebSocket }) | undefined;
  private session: SyncSession | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private stopped = false;
  private kicked = false;
  private attempted: (() => void)[] = [];
  /** The outbox's deliveries over this session's entries frames. */
  private deliveries: DeliveryTracker;
  /**
   * Entries to push once the link is up and fewer than PUSH_WINDOW frames await acknowledgement. They wait here
   * across sessions: what users write into spaces mirrored from the peer (the outbox) crosses only by push, since
   * this provider is not home to those spaces and no reconciliation between the two carries them.
   */
  private pending: Entry[] = [];
  /** Entries pushed on this session that the peer may not have acknowledged yet: pending again if it ends first. */
  private pushed: Entry[] = [];
  lastError: string | undefined;

  constructor(
    readonly url: string,
    private readonly provider: Provider,
    private readonly key: SigningKey,
    private readonly log: Logger,
    private readonly heartbeatMs = PEER_HEARTBEAT_MS,
  ) {
    this.deliveries = new DeliveryTracker(provider, url);
  }

  start(): void {
    void this.run();
  }

  /**
   * Reconciles again now (new spaces to share): the session is closed and opened again without waiting. A
   * session still connecting or reconciling may have listed the spaces to share before they changed, so it is
   * opened again as soon as its reconciliation ends. Resolves once that reconciliation is done or has failed.
   */
  resync(): Promise<void> {
    const done = this.nextAttempt();
    this.kicked = true;
    if (this.state === 'up') this.channel?.ws.close(1000, 'resync');
    else this.wake?.();
    return done;
  }

  /** Resolves when the next connection attempt has reconciled or failed. */
  nextAttempt(): Promise<void> {
    return new Promise((r) => this.attempted.push(r));
  }

  private settle(): void {
    for (const r of this.attempted.splice(0)) r();
  }

  stop(): void {
    this.stopped = true;
    this.state = 'stopped';
    // Nothing waits for an attempt that will not come.
    this.settle();
    clearTimeout(this.timer);
    this.wake?.();
    this.socket?.terminate();
  }

  /**
   * Sends entries this provider just stored, if the peer is home to their spaces. Entries stored while the link
   * reconciles are queued and sent once it is up: the reconciliation may have read their space before they arrived.
   */
  async push(entries: Entry[]): Promise<void> {
    if (this.stopped) return;
    const mine: Entry[] = [];
    for (const e of entries) if (await this.provider.shares.pushedTo(e, this.url)) mine.push(e);
    if (!mine.length) return;
    this.pending.push(...mine);
    if (this.pending.length > PUSH_BACKLOG) {
      // The peer is far behind (or away): one reconciliation costs less than queueing more here. It carries the
      // spaces both are home to; the outbox's entries, which only a push carries, stay.
      this.pending = this.pending.filter((e) => this.provider.mirrors.get(e.space));
      if (this.state !== 'up') return;
      this.log.warn({ event: 'peer-backlog', peer: this.url, entries: this.pending.length }, 'peer provider is not keeping up; reconciling');
      return this.resync();
    }
    this.flush();
  }

  /** Sends what is pending, in frames of up to FRAME_LIMITS.entries, while the window allows. */
  private flush(): void {
    const channel = this.channel;
    const session = this.session;
    if (this.state !== 'up' || !channel || !session) return;
    while (this.pending.length && this.deliveries.inFlight < PUSH_WINDOW) {
      const batch = this.pending.splice(0, FRAME_LIMITS.entries);
      this.pushed.push(...batch);
      try {
        for (const f of session.entryFrames(batch)) channel.send(encodeFrame(f));
      } catch {
        // The session is closing: the batch is pending again (see `requeue`), for the next one.
        return;
      }
    }
  }

  /** Once the peer acknowledged entries, they need not be pushed again. */
  private settlePushes(): void {
    this.pushed = this.pushed.filter((e) => this.deliveries.carries(e));
  }

  /** The session ended: what it pushed and the peer did not acknowledge goes out on the next one, first. */
  private requeue(): void {
    this.pending = [...this.pushed.filter((e) => this.deliveries.carries(e)), ...this.pending];
    this.pushed = [];
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connectAndServe();
      } catch (e) {
        if (!this.stopped && !this.kicked) {
          this.failures++;
          this.lastError = e instanceof Error ? e.message : String(e);
          this.log.warn({ event: 'peer-down', peer: this.url, failures: this.failures, err: this.lastError }, 'peer provider unreachable');
        }
        // Only a failed attempt settles here: one resynced on purpose settles when its next session is up.
        if (!this.kicked) this.settle();
      }
      // A session that failed on this side (a refusal, a malformed frame) may still be open at the peer's.
      this.socket?.terminate();
      this.requeue();
      this.deliveries.close();
      this.socket = undefined;
      clearInterval(this.heartbeat);
      this.channel = undefined;
      this.session = undefined;
      if (this.stopped) return;
      this.state = 'down';
      if (this.kicked) {
        this.kicked = false;
        continue;
      }
      const wait = Math.min(PEER_BACKOFF.maxMs, PEER_BACKOFF.firstMs * 2 ** Math.max(0, this.failures - 1));
      await new Promise<void>((r) => {
        this.wake = r;
        this.timer = setTimeout(r, wait * (0.8 + Math.random() * 0.4));
      });
    }
  }

  private async connectAndServe(): Promise<void> {
    this.state = 'connecting';
    // This attempt lists the spaces to share afresh; a resync from here on means listing them again.
    this.kicked = false;
    const ws = new WebSocket(syncUrl(this.url), { maxPayload: 8 << 20, perMessageDeflate: false, handshakeTimeout: 10_000 });
    this.socket = ws;
    const socket = new SocketChannel(ws);
    // The peer let this side into a space it had asked for: reconnect at once, as after `resync`. Only a session
    // that reconciled counts, so a peer closing every session this way still meets the backoff.
    ws.on('close', (code) => {
      if (code === RESYNC_CLOSE && this.state === 'up') this.kicked = true;
    });
    this.deliveries = new DeliveryTracker(this.provider, this.url);
    // This session's reconciliation carries what waits in the spaces both are home to; the outbox's entries wait on.
    this.pending = this.pending.filter((e) => this.provider.mirrors.get(e.space));
    // Every frame goes out through here, so acks (answered in order) can be matched to the entries they cover.
    const channel: Channel & { ws: WebSocket } = {
      ws,
      send: (b) => {
        this.deliveries.sent(b);
        socket.send(b);
      },
      next: () => socket.next(),
    };
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e) => reject(new FreeholdError('unavailable', `cannot reach ${this.url}: ${e.message}`)));
    });
    // A peer can vanish without closing the connection (a NAT forgets it, its machine loses power); pushes into
    // such a connection would be lost until something else broke it.
    let heard = true;
    const alive = () => (heard = true);
    ws.on('pong', alive);
    ws.on('message', alive);
    this.heartbeat = setInterval(() => {
      if (!heard) return void ws.terminate();
      heard = false;
      ws.ping();
    }, this.heartbeatMs);
    const challenge = decodeFrame(await channel.next());
    if (challenge[0] !== 'challenge') throw new FreeholdError('malformed', `${this.url} did not open with a challenge`);
    const me = this.provider.document;
    channel.send(encodeFrame(['peer', me.url, this.key.publicKey, sign(challengeMessage(challenge[1], challenge[2]), this.key.seed)]));
    const answer = decodeFrame(await channel.next());
    if (answer[0] === 'error') throw new FreeholdError('unauthenticated', `${this.url} refused this provider: ${answer[2]}`);
    if (answer[0] !== 'authed') throw new FreeholdError('malformed', `${this.url} did not confirm the peer session`);
    const session = new SyncSession(this.provider.replica, {
      account: new Uint8Array(0),
      peer: null,
      offer: async (space) => ((await this.provider.shares.sharedWith(space, this.url)) ? 'all' : false),
      claim: (entries) => this.deliveries.claim(entries),
      onAck: (_stored, rejected) => {
        void this.deliveries.acked(rejected);
        this.settlePushes();
        this.flush();
      },
      offerable: () => this.provider.shares.spacesHomedAt(this.url),
      ingest: (frames) => this.provider.ingest(frames, { source: `provider:${this.url}` }),
      onStored: (entries) => void this.provider.fanout(entries, { peer: this.url }),
      onError: (reason, message) => this.log.info({ event: 'peer-error', peer: this.url, reason, message }, 'peer refused a frame'),
    });
    // This side's news stored meanwhile waits in `pending` (sent once reconciled); what is stored before is
    // reconciled.
    this.channel = channel;
    this.session = session;
    // The peer pushes what it stores in the spaces mirrored from it (it has no link of its own to here), from
    // before reconciliation starts: an entry it stores after reconciliation read its space still crosses.
    const mirrored = this.provider.mirrors.all().filter((m) => this.provider.shares.mirroredFrom(m.space, this.url)).map((m) => m.space);
    for (let i = 0; i < mirrored.length; i += FRAME_LIMITS.spaces) channel.send(encodeFrame(['sub', mirrored.slice(i, i + FRAME_LIMITS.spaces)]));
    const started = Date.now();
    const { roundTrips } = await lead(session, channel);
    this.state = 'up';
    if (!this.kicked) this.settle();
    this.failures = 0;
    this.lastError = undefined;
    this.log.info({ event: 'peer-up', peer: this.url, ms: Date.now() - started, roundTrips, ...session.stats }, 'peer provider reconciled');
    if (this.kicked) return;
    // What this provider's users wrote into evicted mirrors of the peer's spaces and it has not taken yet.
    this.pending.push(...(await this.provider.cache.owedTo(this.url)));
    this.flush();
    // Then answer what the peer sends (acknowledgements of pushes, errors) until the session ends.
    for (;;) {
      const bytes = await channel.next();
      const f: Frame = decodeFrame(bytes);
      for (const out of await session.receiveFrame(f, bytes.length)) channel.send(out);
    }
  }
}
