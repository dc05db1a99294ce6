import { afterAll, describe, expect, it } from 'vitest';
import {
  Device,
  encodeCard,
  fingerprint,
  fromId,
  signRequest,
  toHex,
  toId,
} from '@freehold/core';
import {
  claimHandle,
  entryCounts,
  fetchCard,
  fingerprints,
  hostOf,
  MovedError,
  ProviderLink,
  Providers,
  register,
  registrationTerms,
  resolveHandle,
  type LinkEvent,
} from '@freehold/client';
import type { RunningServer } from '@freehold/server';
import { freePort } from '../../../test-support/net.js';
import { RawSession } from '../../../test-support/raw-session.js';
import { join_, newDevice, put, secondDevice, startServer, syncWith, tempDir, until, WS } from './helpers.js';

const GRACE_MS = 4000;
const tmp = tempDir('retired');
afterAll(() => tmp.cleanup());

/** What `freehold provider move` does, as library calls: list TO, copy, claim the handle there, drop FROM. */
async function move(d: Device, from: string, to: string, name: string): Promise<void> {
  await d.setProviders([...d.identity().providers, to]);
  await register(to, d);
  await syncWith(d, from);
  await syncWith(d, to);
  await d.setHandles([...d.identity().handles, `${name}@${hostOf(to)}`]);
  await claimHandle(to, d, name);
  await d.setHandles(d.identity().handles.filter((h) => !h.endsWith(`@${hostOf(from)}`)));
  await d.setProviders(d.identity().providers.filter((u) => u !== from));
  await register(to, d);
}


async function post(url: string, path: string, body: Uint8Array): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', body: body.slice().buffer as ArrayBuffer });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('a provider an account moved away from', () => {
  it('answers for it through the grace period (its log, its handle, where its sessions should go), then stops hosting it', async () => {
    const port = await freePort();
    const data = tempDir('retired-p1').dir;
    let p1: RunningServer = await startServer({ port, data, retiredGraceMs: GRACE_MS });
    const p4 = await startServer({ data: tempDir('retired-p4').dir });
    const closing = [p4];
    try {
      const alice = await newDevice(tmp.dir, 'alice');
      await join_(alice, p1.url);
      await alice.setHandles([`alice@${hostOf(p1.url)}`]);
      await claimHandle(p1.url, alice, 'alice');
      const space = await alice.createSpace(true);
      await put(alice, space, 'hello', { text: 'before the move' });
      await syncWith(alice, p1.url);
      const phone = await secondDevice(alice, tmp.dir);
      await syncWith(alice, p1.url);
      // The phone stays linked to P1 the whole time, subscribed to the account's spaces.
      const events: LinkEvent[] = [];
      const links = new Providers(phone, { WebSocket: WS, recheckMs: 0 });
      links.listen((e) => events.push(e));
      links.set([p1.url]);
      await links.settled();
      expect(links.statuses()).toEqual([{ url: p1.url, status: 'online', error: undefined }]);
      // Someone with no account asks P1 for the space: subscribed before the move.
      const { session: stranger } = await RawSession.open(p1.url);
      stranger.send(['sub', [space]]);
      expect((await stranger.next())[0]).toBe('subbed');

      await move(alice, p1.url, p4.url, 'alice');
      // P1 is told by a session of the account, which it refuses with the newest log and `moved`.
      const told = await ProviderLink.connect(p1.url, alice, WS).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(told).toBeInstanceOf(MovedError);
      expect((told as MovedError).providers).toEqual([p4.url]);

      // Its well-known log is the newest, naming P4.
      const card = await fetchCard(p1.url, alice.account);
      const res = (await (await fetch(`${p1.url}/.well-known/freehold/accounts/${toId(alice.account)}`)).json()) as { providers: string[] };
      expect(res.providers).toEqual([p4.url]);
      expect(card).toBeDefined();
      // Its handle still resolves, to the newest log, which once claimed it and now names P4 and alice@P4.
      const resolved = await resolveHandle(`alice@${hostOf(p1.url)}`);
      expect(toId(resolved.account)).toBe(toId(alice.account));
      expect(resolved.providers).toEqual([p4.url]);
      expect(resolved.handles).toEqual([`alice@${hostOf(p4.url)}`]);
      expect(toId((await resolveHandle(`alice@${hostOf(p4.url)}`)).account)).toBe(toId(alice.account));

      // The stranger subscribed to the account's space was sent the new log and told where it went.
      const pushed = [await stranger.next(), await stranger.next()];
      expect(pushed[0]![0]).toBe('cards');
      expect(pushed[1]).toEqual(['error', 'moved', expect.stringContaining(p4.url)]);
      stranger.ws.close();
      // So was the phone: its link left P1 for P4, with one event saying so, and it syncs there.
      await until(() => links.statuses().some((s) => s.url === p4.url && s.status === 'online'), 10_000);
      expect(links.statuses().map((s) => s.url)).toEqual([p4.url]);
      expect(events.filter((e) => e.type === 'moved')).toEqual([{ type: 'moved', url: p1.url, providers: [p4.url] }]);
      expect(phone.identity().providers).toEqual([p4.url]);
      links.close();

      // Still within the grace period after a restart: the retirement was recorded, not reset.
      await p1.close();
      p1 = await startServer({ port, data, retiredGraceMs: GRACE_MS });
      expect(p1.provider.isRegistered(alice.account)).toBe(true);
      expect((await resolveHandle(`alice@${hostOf(p1.url)}`)).providers).toEqual([p4.url]);

      // After it, P1 no longer hosts the account: the handle goes, sessions are still pointed to P4.
      await until(() => !p1.provider.isRegistered(alice.account), GRACE_MS + 5000);
      await expect(resolveHandle(`alice@${hostOf(p1.url)}`)).rejects.toMatchObject({ reason: 'not-found' });
      await expect(ProviderLink.connect(p1.url, alice, WS)).rejects.toBeInstanceOf(MovedError);
      await until(() => !p1.provider.peering.status().some((l) => l.url === p4.url), 5000);
    } finally {
      await p1.close();
      for (const s of closing) await s.close();
    }
  }, 60_000);

  it('goes back to hosting an account whose log lists it again', async () => {
    const p1 = await startServer({ data: tempDir('retired-back').dir });
    const p4 = await startServer({ data: tempDir('retired-back4').dir });
    try {
      const alice = await newDevice(tmp.dir, 'alice');
      await join_(alice, p1.url);
      await move(alice, p1.url, p4.url, 'alice');
      await expect(ProviderLink.connect(p1.url, alice, WS)).rejects.toBeInstanceOf(MovedError);
      await alice.setProviders([p4.url, p1.url]);
      await register(p1.url, alice);
      (await ProviderLink.connect(p1.url, alice, WS)).close();
      expect(p1.provider.movedAway(alice.account)).toBeUndefined();
    } finally {
      await p1.close();
      await p4.close();
    }
  });
});

describe('fingerprints of an account’s spaces, for a device to verify a move', () => {
  it('answers the hosted account what it holds of each space it created, in bounded pages, and no one else', async () => {
    const p = await startServer({ data: tempDir('fp').dir, fingerprintPage: { spaces: 2 } });
    try {
      const alice = await newDevice(tmp.dir, 'alice');
      await join_(alice, p.url);
      const spaces = [await alice.createSpace(true), await alice.createSpace(false), await alice.createSpace(false)];
      for (const s of spaces) await put(alice, s, 'doc', { n: 1 });
      await syncWith(alice, p.url);
      // A space it only writes in is not one of its own.
      const bob = await newDevice(tmp.dir, 'bob');
      await join_(bob, p.url);
      const bobs = await bob.createSpace(false);
      await bob.replica.addCard(encodeCard(alice.identity()));
      await bob.setRole(bobs, alice.account, 'writer');
      await syncWith(bob, p.url);
      await syncWith(alice, p.url, [bobs]);

      const held = await fingerprints(p.url, alice);
      const mine = await Promise.all(
        spaces.map(async (s) => {
          const keys = await alice.store.keys(s);
          return { space: toId(s), entries: keys.length, fingerprint: toHex(fingerprint(keys, 0, keys.length)) };
        }),
      );
      expect(held).toEqual(mine.sort((a, b) => toHex(fromId(a.space, 'space')).localeCompare(toHex(fromId(b.space, 'space')))));
      // Two to a page here: the first answer says where to go on.
      const first = await post(p.url, '/v1/fingerprints', signRequest('fingerprints', hostOf(p.url), {}, encodeCard(alice.identity()), alice.keys.sign, Date.now()));
      expect((first.json.spaces as unknown[]).length).toBe(2);
      expect(first.json.next).toBe(held[1]!.space);
      // Counts alone, for watching a copy grow: the same counts, no fingerprints.
      expect(await entryCounts(p.url, alice)).toEqual(held.map(({ space, entries }) => ({ space, entries })));
      const notTrue = await post(p.url, '/v1/fingerprints', signRequest('fingerprints', hostOf(p.url), { counts: 1 }, encodeCard(alice.identity()), alice.keys.sign, Date.now()));
      expect(notTrue).toMatchObject({ status: 400, json: { error: 'invalid-argument' } });

      // Not hosted here, or not signed by the account: typed refusals.
      const carol = await newDevice(tmp.dir, 'carol');
      const stranger = await post(p.url, '/v1/fingerprints', signRequest('fingerprints', hostOf(p.url), {}, encodeCard(carol.identity()), carol.keys.sign, Date.now()));
      expect(stranger).toMatchObject({ status: 403, json: { error: 'not-hosted' } });
      const forged = await post(p.url, '/v1/fingerprints', signRequest('fingerprints', hostOf(p.url), {}, encodeCard(alice.identity()), carol.keys.sign, Date.now()));
      expect(forged).toMatchObject({ status: 401, json: { error: 'unknown-author' } });
      const stale = await post(p.url, '/v1/fingerprints', signRequest('fingerprints', hostOf(p.url), {}, encodeCard(alice.identity()), alice.keys.sign, Date.now() - 3600_000));
      expect(stale).toMatchObject({ status: 400, json: { error: 'clock-skew' } });
      const bad = await post(p.url, '/v1/fingerprints', signRequest('fingerprints', hostOf(p.url), { after: 'x' }, encodeCard(alice.identity()), alice.keys.sign, Date.now()));
      expect(bad).toMatchObject({ status: 400, json: { error: 'malformed' } });
      // Each answer reads every key of its spaces: an account may ask 30 times a minute, in bursts of 20.
      let limited: { status: number; json: Record<string, unknown> } | undefined;
      for (let i = 0; i < 25 && !limited; i++) {
        const r = await post(p.url, '/v1/fingerprints', signRequest('fingerprints', hostOf(p.url), {}, encodeCard(alice.identity()), alice.keys.sign, Date.now()));
        if (r.status !== 200) limited = r;
      }
      expect(limited).toMatchObject({ status: 429, json: { error: 'rate-limited' } });
    } finally {
      await p.close();
    }
  });

  it('tells a device what it would get before its log names the provider, storing nothing', async () => {
    const p = await startServer({ data: tempDir('terms').dir, quota: 5000 });
    try {
      const alice = await newDevice(tmp.dir, 'alice');
      expect(await registrationTerms(p.url, alice)).toEqual(expect.objectContaining({ quota: 5000, used: 0 }));
      expect(await p.provider.store.getAccount(alice.account)).toBeUndefined();
      expect(p.provider.isRegistered(alice.account)).toBe(false);
      await expect(register(p.url, alice)).rejects.toMatchObject({ reason: 'invalid-argument' });
    } finally {
      await p.close();
    }
  });
});
