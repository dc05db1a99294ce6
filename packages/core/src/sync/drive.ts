import { decodeFrame, encodeFrame } from './protocol.js';
import type { SyncSession } from './session.js';

/** An ordered, reliable frame channel: a WebSocket, or memory. */
export interface Channel {
  send(frame: Uint8Array): void;
  /** The next frame from the peer; rejects if the channel closes. */
  next(): Promise<Uint8Array>;
}

/**
 * Drives the leading side of a sync in rounds: send everything it has to say followed by a barrier, answer what
 * comes back until the barrier's echo, repeat until a round has nothing to say. Ends with every reconciliation
 * settled and every entry sent acknowledged.
 */
export async function lead(session: SyncSession, channel: Channel): Promise<{ roundTrips: number }> {
  let out = await session.start();
  let roundTrips = 0;
  while (out.length) {
    roundTrips++;
    for (const f of out) channel.send(f);
    channel.send(encodeFrame(['sync', roundTrips]));
    out = [];
    for (;;) {
      const bytes = await channel.next();
      const f = decodeFrame(bytes);
      if (f[0] === 'synced' && f[1] === roundTrips) break;
      const { acks, rest } = await session.answer(f, bytes.length);
      for (const a of acks) channel.send(a);
      out.push(...rest);
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

