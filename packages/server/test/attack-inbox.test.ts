import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kind, type Device } from '@freehold/core';
import { inboxSettings } from '@freehold/client';
import type { RunningServer } from '@freehold/server';
import { allowedUnderAttack, medianMs } from '../../../test-support/latency.js';
import { join_, newDevice, startServer, syncWith, tempDir } from './helpers.js';

const tmp = tempDir('attack-inbox');
let server: RunningServer;

beforeAll(async () => {
  // All test senders share 127.0.0.1: the per-address bucket is set out of the way to test the others.
  server = await startServer({ data: tmp.dir, inbox: { strangerAppendsPerMinute: 20, sourceAppendsPerMinute: 100_000, strangerBytes: 64 << 10 } });
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

async function ownerWithInbox(name: string): Promise<{ owner: Device; inbox: Uint8Array }> {
  const owner = await newDevice(tmp.dir, name);
  await join_(owner, server.url);
  const inbox = await owner.createSpace(false, { inbox: true });
  await syncWith(owner, server.url);
  return { owner, inbox };
}

/** A sender writes `n` messages to the inbox and pushes them; returns what the provider refused, by reason. */
async function send(sender: Device, inbox: Uint8Array, n: number, size = 100): Promise<Map<string, number>> {
  await syncWith(sender, server.url, [inbox]);
  for (let i = 0; i < n; i++) await sender.write(inbox, Kind.append, new Uint8Array(16), new Uint8Array(size).fill(i));
  const reasons = new Map<string, number>();
  for (const [, reason] of (await syncWith(sender, server.url)).rejected) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  return reasons;
}

const held = async (inbox: Uint8Array) => (await server.provider.store.spaceEntries(inbox, Kind.append)).length;

describe('strangers cannot fill someone’s inbox or quota', () => {
  it('fresh accounts together get no more than the inbox’s share, and the owner’s sync is not slowed', async () => {
    const { owner, inbox } = await ownerWithInbox('owner');
    const baseline = await medianMs(9, () => syncWith(owner, server.url));
    const usedBefore = (await server.provider.store.getAccount(owner.account))!.used;
    let refused = 0;
    for (let i = 0; i < 3; i++) {
      const r = await send(await newDevice(tmp.dir, `fresh${i}`), inbox, 60);
      expect([...r.keys()]).toEqual(['rate-limited']);
      refused += r.get('rate-limited')!;
    }
    const stored = await held(inbox);
    console.log(`inbox flood: ${stored} of 180 stored, ${refused} refused`);
    // The shared bucket for senders hosted elsewhere (burst 10, 20 a minute), not 60 per fresh account.
    expect(stored).toBeLessThanOrEqual(14);
    expect(stored + refused).toBe(180);
    expect((await server.provider.store.getAccount(owner.account))!.used - usedBefore).toBeLessThan(14 * 400);
    const during = await medianMs(9, () => syncWith(owner, server.url));
    console.log(`owner's sync: ${baseline.toFixed(1)} ms before, ${during.toFixed(1)} ms after the flood`);
    expect(during).toBeLessThan(allowedUnderAttack(baseline));
  });

  it('what strangers leave stays within the cap the owner sets; a sender hosted here pays for itself', async () => {
    const { owner, inbox } = await ownerWithInbox('capped');
    expect(await inboxSettings(server.url, owner, inbox, { cap: 2000 })).toEqual({ cap: 2000, purged: 0 });
    const r = await send(await newDevice(tmp.dir, 'stranger'), inbox, 8, 300);
    expect(r.get('quota-exceeded')).toBeGreaterThan(0);
    const bytes = (await server.provider.store.spaceEntries(inbox, Kind.append)).reduce((n, row) => n + row.bytes.length, 0);
    expect(bytes).toBeLessThanOrEqual(2000);
    // A sender registered here is charged, not the owner.
    const neighbour = await newDevice(tmp.dir, 'neighbour');
    await join_(neighbour, server.url);
    const ownerUsed = (await server.provider.store.getAccount(owner.account))!.used;
    const theirs = (await server.provider.store.getAccount(neighbour.account))!.used;
    expect((await send(neighbour, inbox, 3, 300)).size).toBe(0);
    expect((await server.provider.store.getAccount(owner.account))!.used).toBe(ownerUsed);
    expect((await server.provider.store.getAccount(neighbour.account))!.used).toBeGreaterThan(theirs);
  });

  it('the owner purges; a copy offered again is refused; nobody else may purge or cap', async () => {
    const { owner, inbox } = await ownerWithInbox('purger');
    await send(await newDevice(tmp.dir, 'chatty'), inbox, 5);
    await syncWith(owner, server.url);
    expect(await held(inbox)).toBe(5);
    const other = await newDevice(tmp.dir, 'other');
    await join_(other, server.url);
    await expect(inboxSettings(server.url, other, inbox, { purge: true })).rejects.toMatchObject({ reason: 'forbidden-role' });
    await expect(inboxSettings(server.url, other, inbox, { cap: 1 })).rejects.toMatchObject({ reason: 'forbidden-role' });
    expect((await inboxSettings(server.url, owner, inbox, { purge: true })).purged).toBe(5);
    expect(await held(inbox)).toBe(0);
    // The owner's device still holds the copies and offers them back: they stay out.
    const again = await syncWith(owner, server.url);
    expect(again.rejected.map((x) => x[1])).toEqual(Array(5).fill('purged'));
    expect(await held(inbox)).toBe(0);
  });

  it('one network address cannot spread a flood over many inboxes with fresh accounts', async () => {
    const strict = await startServer({ data: `${tmp.dir}/strict`, inbox: { sourceAppendsPerMinute: 20 } });
    try {
      const inboxes: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        const owner = await newDevice(tmp.dir, `target${i}`);
        await join_(owner, strict.url);
        inboxes.push(await owner.createSpace(false, { inbox: true }));
        await syncWith(owner, strict.url);
      }
      let stored = 0;
      for (const inbox of inboxes) {
        for (let i = 0; i < 3; i++) {
          const sender = await newDevice(tmp.dir, `spray${i}`);
          await syncWith(sender, strict.url, [inbox]);
          for (let j = 0; j < 8; j++) await sender.write(inbox, Kind.append, new Uint8Array(16), new Uint8Array(50).fill(j));
          const r = await syncWith(sender, strict.url);
          expect(new Set(r.rejected.map((x) => x[1])).has('not-hosted')).toBe(false);
          stored += 8 - r.rejected.length;
        }
      }
      console.log(`spray: ${stored} of 72 stored`);
      expect(stored).toBeLessThanOrEqual(12);
    } finally {
      await strict.close();
    }
  });
});
