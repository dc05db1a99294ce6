import { decodeFrame, encodeFrame } from './protocol.js';
import type { SyncSession } from './session.js';

/** An ordered, reliable frame channel: a WebSocket, or memory. */
export interface Channel {
  send(frame: Uint8Array): void;
  /** The next frame from the peer; rejects if the channel closes. */
  next(): Promise<Uint8Array>;
}

/**
 * Entries frames a leading side has sent and the peer not yet acknowledged, past which the rest wait: the peer
 * stores one frame while the next crosses, and a large reconciliation is not buffered whole in the socket (where
 * it would also hold up the heartbeat behind it).
 */
export const LEAD_WINDOW = 8;

/**
 * Drives the leading side of a sync: what it has to say goes out as soon as it is made (so the peer stores one
 * space's entries while this side reads the next), entries frames within LEAD_WINDOW, and a barrier closes each
 * round: once the peer echoes it, everything sent before it has been answered. Ends after a round in which
 * nothing but acknowledgements was sent: every reconciliation settled and every entry sent acknowledged.
 */
export async function lead(session: SyncSession, channel: Channel): Promise<{ roundTrips: number }> {
  const waiting: Uint8Array[] = [];
  let unacked = 0;
  let said = false;
  const flush = () => {
    while (waiting.length && unacked < LEAD_WINDOW) {
      channel.send(waiting.shift()!);
      unacked++;
      said = true;
    }
  };
  const say = (rest: Uint8Array[], entries: Uint8Array[]) => {
    for (const r of rest) channel.send(r);
    if (rest.length) said = true;
    waiting.push(...entries);
    flush();
  };
  say(await session.start(), []);
  let roundTrips = 0;
  while (said || waiting.length) {
    roundTrips++;
    channel.send(encodeFrame(['sync', roundTrips]));
    said = false;
    for (;;) {
      const bytes = await channel.next();
      const f = decodeFrame(bytes);
      if (f[0] === 'synced' && f[1] === roundTrips) break;
      if (f[0] === 'ack') unacked = Math.max(0, unacked - 1);
      const { acks, rest, entries } = await session.answer(f, bytes.length);
      for (const a of acks) channel.send(a);
      say(rest, entries);
      flush();
    }
  }
  await session.finish();
  return { roundTrips };
}

/** Runs two sessions against each other in memory until neither has anything left to say. */
export async function syncPair(leader: SyncSession, follower: SyncSession): Promise<{ roundTrips: number }> {
  const toLeader: Uint8Array[] = [];
  const channel: Channel = {
    send: (b) => {
      pending = pending.then(async () => {
        toLeader.push(...(await follower.receive(b)));
      });
    },
    next: async () => {
      await pending;
      const b = toLeader.shift();
      if (!b) throw new Error('in-memory peer fell silent');
      return b;
    },
  };
  let pending: Promise<void> = Promise.resolve();
  const r = await lead(leader, channel);
  await follower.finish();
  return r;
}

