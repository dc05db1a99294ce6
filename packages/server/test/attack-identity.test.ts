import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, encodeCard, toId, type Device } from '@freehold/core';
import { ProviderLink } from '@freehold/client';
import type { RunningServer } from '@freehold/server';
import { ForgedLog } from '../../../test-support/forge.js';
import { RawSession } from '../../../test-support/raw-session.js';
import { join_, newDevice, put, startServer, syncWith, tempDir, WS } from './helpers.js';

const tmp = tempDir('attack-identity');
let server: RunningServer;
let alice: Device;
let written: Uint8Array[];

beforeAll(async () => {
  server = await startServer({ data: tmp.dir });
  alice = await newDevice(tmp.dir, 'alice');
  await join_(alice, server.url);
  const space = await alice.createSpace(true);
  written = [];
  for (let i = 0; i < 5; i++) written.push((await put(alice, space, `post/${i}`, { text: `hello ${i}` })).id);
  await syncWith(alice, server.url);
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

/** A stranger hands the provider a log in an anonymous session, the way a script would. */
async function deliver(log: ForgedLog): Promise<void> {
  const { session } = await RawSession.open(server.url);
  session.send(['hello', new Uint8Array(0), [], []]);
  session.send(['cards', [encode(log.records)]]);
  await session.barrier(1);
  session.close();
}

describe('a stranger cannot take over or revoke someone else’s device', () => {
  it('a log that adds Alice’s device (proof lifted from her log) and revokes it with cut 0 changes nothing', async () => {
    const attacker = new ForgedLog().addForeignDevice(alice.identity(), alice.id, true).revoke(alice.id, 0);
    await deliver(attacker);
    for (const id of written) expect(await server.provider.store.hasEntry(id)).toBe(true);
    const card = await fetch(`${server.url}/.well-known/freehold/accounts/${toId(attacker.account)}`);
    expect(card.status).toBe(404);
    // Alice still signs in as herself, and her sync is clean.
    const link = await ProviderLink.connect(server.url, alice, WS);
    expect(toId(link.account!)).toBe(toId(alice.account));
    link.close();
    expect((await syncWith(alice, server.url)).rejected).toEqual([]);
  });

  it('without the revoke, Alice’s device still signs in as Alice', async () => {
    await deliver(new ForgedLog().addForeignDevice(alice.identity(), alice.id, false));
    await deliver(new ForgedLog().addForeignDevice(alice.identity(), alice.id, true));
    const link = await ProviderLink.connect(server.url, alice, WS);
    expect(toId(link.account!)).toBe(toId(alice.account));
    link.close();
    // And the provider serves her real log.
    const res = (await (await fetch(`${server.url}/.well-known/freehold/accounts/${toId(alice.account)}`)).json()) as { card: string };
    expect(res.card).toBe(Buffer.from(encodeCard(alice.identity())).toString('base64'));
  });

  it('a session cannot authenticate with a forged log naming Alice’s device', async () => {
    const attacker = new ForgedLog().addForeignDevice(alice.identity(), alice.id, true);
    const { session, challenge } = await RawSession.open(server.url);
    expect(challenge[0]).toBe('challenge');
    session.send(['auth', encode(attacker.records), alice.id, new Uint8Array(64)]);
    const answer = await session.next();
    expect(answer[0]).toBe('error');
    session.close();
  });
});
