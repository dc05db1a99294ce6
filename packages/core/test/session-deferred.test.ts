import { describe, expect, it } from 'vitest';
import { encodeFrame, Kind, SyncSession, type Device, type EntryRow } from '@freehold/core';
import { introduce, newUser, put } from './helpers.js';

/** A public space of `docs` documents, as its creator's store holds it: the create op and the content. */
async function space(d: Device, docs: number): Promise<{ create: EntryRow; content: EntryRow[] }> {
  const s = await d.createSpace(true);
  for (let i = 0; i < docs; i++) await put(d, s, `doc ${i}`, { i });
  const rows = await d.store.spaceEntries(s);
  return { create: rows.find((r) => r.kind === Kind.membership)!, content: rows.filter((r) => r.kind !== Kind.membership) };
}

/** Bob's side of a session, counting every entry it hands to validation. */
function counted(bob: Device) {
  const seen = { validated: 0 };
  const session = new SyncSession(bob.replica, {
    account: bob.account,
    ingest: (frames) => {
      seen.validated += frames.reduce((n, f) => n + f.length, 0);
      return bob.replica.ingestFrames(frames);
    },
  });
  const send = (rows: EntryRow[]) => session.receive(encodeFrame(['entries', rows.map((r) => r.bytes)]));
  return { session, seen, send };
}

describe('entries waiting for a membership operation', () => {
  it('are validated again when one of their space arrives, not on every ingest', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const waiting = await space(alice.device, 20);
    const other = await space(alice.device, 10);
    const { seen, send } = counted(bob.device);

    await send(waiting.content);
    expect(seen.validated).toBe(20);
    // Each of these is stored, and none can be what the waiting entries lack.
    await send([other.create]);
    for (const row of other.content) await send([row]);
    expect(await bob.device.store.countEntries()).toBe(11);
    expect(seen.validated).toBe(20 + 11);

    await send([waiting.create]);
    expect(seen.validated).toBe(20 + 11 + 1 + 20);
    expect(await bob.device.store.countEntries()).toBe(11 + 21);
  });

  it('wait once however often they are sent, and count as refused once when the session ends', async () => {
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await introduce(alice.device, bob.device);
    const waiting = await space(alice.device, 5);
    const { session, seen, send } = counted(bob.device);

    await send(waiting.content);
    await send(waiting.content);
    await session.finish();
    expect(seen.validated).toBe(5 + 5 + 5);
    expect(session.stats.entriesRejected).toBe(5);
    expect(await bob.device.store.countEntries()).toBe(0);
  });
});
