import { setImmediate as nextTurn } from 'node:timers/promises';
import type { WebSocket, RawData } from 'ws';
import { decodeFrame, type Frame } from '@freehold/core';

/** What the queue asks of the session it reads for. */
export interface QueueHost {
  /** A frame taken from the queue, counted as read; undefined when it does not decode (the host answered it). */
  decode(bytes: Uint8Array, decoded?: Frame): Frame | undefined;
  /** Pays for a frame from the session's work budget: milliseconds to wait before handling it. */
  pay(f: Frame, size: number): number;
  /** Whether frames may be decoded and checked ahead: only for sessions not held back by a small budget. */
  readsAhead(): boolean;
  /** Starts checking the signatures of the next frame's entries while this one is stored (Replica.prepare). */
  prepare(entries: Uint8Array[]): void;
  /** `joined`: the batches of entries frames stored with an entries frame `f` (`size` counts them too). */
  handle(f: Frame, size: number, joined: Uint8Array[][]): Promise<void>;
  /** The session queued more than it may keep unanswered; the socket is already dropped. */
  overrun(): void;
}

export interface QueueLimits {
  /** Frames queued for processing before the socket stops reading (TCP pushes back on the client). */
  maxQueued: number;
  /** Frames queued past which a session is closed: it sends without waiting for answers. */
  maxInFlight: number;
}

/**
 * A session's frames, handled strictly in order, one at a time. Each is paid for from the session's work budget
 * first (a session over budget waits, and its socket stops being read meanwhile), and the loop yields to the event
 * loop after each frame, so sessions take turns instead of one busy session holding the process. Entries frames
 * already read behind an entries frame are stored with it (see SyncSession.receiveEntries), each paid for.
 */
export class FrameQueue {
  private readonly queue: RawData[] = [];
  private busy = false;
  /** No frame is taken any more: the session overran its queue, or the node is stopping. */
  private stopped = false;
  /** The next queued frame, decoded ahead while the one before it was handled (see prepareNext). */
  private ahead: { data: RawData; bytes: Uint8Array; f: Frame } | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly limits: QueueLimits,
    private readonly host: QueueHost,
  ) {}

  push(data: RawData): void {
    if (this.stopped) return;
    this.queue.push(data);
    // Pausing stops the next read, not the frames already read: a flood of tiny frames arrives thousands to a
    // read. A session that keeps that many unanswered is not waiting for answers, so it is closed.
    if (this.queue.length > this.limits.maxInFlight) {
      this.stopped = true;
      this.queue.length = 0;
      // Dropped at once: a closing handshake would mean reading (and parsing) everything queued behind it.
      this.ws.terminate();
      return this.host.overrun();
    }
    if (this.queue.length >= this.limits.maxQueued) this.ws.pause();
    if (!this.busy) void this.drain();
  }

  /** Drops the frames not yet taken and waits for the one being handled to be answered. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.ws.pause();
    while (this.busy) await new Promise((r) => setTimeout(r, 5));
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.queue.length) {
      const first = this.next();
      const joined: Uint8Array[][] = [];
      let size = first?.size ?? 0;
      let wait = first ? this.host.pay(first.f, first.size) : 0;
      while (first?.f[0] === 'entries' && joined.length < JOIN_ENTRIES_FRAMES - 1 && this.entriesAhead()) {
        const more = this.next()!;
        if (more.f[0] === 'entries') joined.push(more.f[1]);
        size += more.size;
        wait = Math.max(wait, this.host.pay(more.f, more.size));
      }
      if (wait > 0) {
        this.ws.pause();
        await new Promise((r) => setTimeout(r, wait));
      }
      if (this.queue.length < this.limits.maxQueued / 2 && !this.stopped) this.ws.resume();
      if (first?.f[0] === 'entries') this.prepareNext();
      if (first) await this.host.handle(first.f, size, joined);
      await nextTurn();
    }
    this.busy = false;
  }

  /** The next queued frame, decoded (a frame that does not decode is answered with an error by the host). */
  private next(): { f: Frame; size: number } | undefined {
    const data = this.queue.shift()!;
    const ahead = this.ahead?.data === data ? this.ahead : undefined;
    this.ahead = undefined;
    const bytes = ahead?.bytes ?? toBytes(data);
    const f = this.host.decode(bytes, ahead?.f);
    return f && { f, size: bytes.length };
  }

  /** The next queued frame's entries, if it carries any, are checked while this one is stored: one frame ahead at most. */
  private prepareNext(): void {
    const f = this.entriesAhead() && this.ahead!.f;
    if (f && f[0] === 'entries') this.host.prepare(f[1]);
  }

  /** Whether the next queued frame carries entries (decoding it ahead). One that does not decode waits for its turn, so errors keep order. */
  private entriesAhead(): boolean {
    const data = this.queue[0];
    if (data === undefined || !this.host.readsAhead()) return false;
    if (this.ahead?.data === data) return this.ahead.f[0] === 'entries';
    const bytes = toBytes(data);
    try {
      const f = decodeFrame(bytes);
      if (f[0] !== 'entries') return false;
      this.ahead = { data, bytes, f };
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * At most this many entries frames are stored as one batch: enough that a copy between providers commits about a
 * thousand entries at a time (a quarter less SQLite work per row than 256), few enough that the sender, which
 * keeps LEAD_WINDOW frames unacknowledged, has the next ones on the way while these are stored.
 */
const JOIN_ENTRIES_FRAMES = 4;

function toBytes(data: RawData): Uint8Array {
  const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
