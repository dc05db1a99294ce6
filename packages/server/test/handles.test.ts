import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCard, signRequest, toHex, toId, type Device } from '@freehold/core';
import { claimHandle, hostOf } from '@freehold/client';
import type { RunningServer } from '@freehold/server';
import { join_, newDevice, startServer, syncWith, tempDir } from './helpers.js';
import { spawnServer } from './process.js';

const BIN = fileURLToPath(new URL('../../cli/bin/freehold.cjs', import.meta.url));
const GRACE_MS = 3000;
const tmp = tempDir('handles');
afterAll(() => tmp.cleanup());

/** POST /v1/handles as the client does, keeping the HTTP status. */
async function claim(url: string, d: Device, name: string): Promise<{ status: number; error?: string; message?: string }> {
  const body = signRequest('claim-handle', hostOf(url), { name }, encodeCard(d.identity()), d.keys.sign, Date.now());
  const res = await fetch(`${url}/v1/handles`, { method: 'POST', body: body.slice().buffer as ArrayBuffer });
  return { status: res.status, ...((await res.json()) as { error?: string; message?: string }) };
}

const lookup = async (url: string, name: string) => {
  const res = await fetch(`${url}/.well-known/freehold/handles/${name}`);
  return res.ok ? ((await res.json()) as { account: string; card: string }) : res.status;
};

describe('the handle directory: a cap per account, and dropped names released after a grace period', () => {
  let server: RunningServer;
  let host: string;
  const h = (name: string) => `${name}@${host}`;

  beforeAll(async () => {
    server = await startServer({ data: tempDir('handles-srv').dir, handleGraceMs: GRACE_MS });
    host = new URL(server.url).host;
  });
  afterAll(() => server.close());

  it('refuses a fourth handle to one account with a typed 403', async () => {
    const hoarder = await newDevice(tmp.dir, 'hoarder');
    await join_(hoarder, server.url);
    await hoarder.setHandles(['h1', 'h2', 'h3', 'h4', 'h5'].map(h));
    for (const n of ['h1', 'h2', 'h3']) expect(await claimHandle(server.url, hoarder, n)).toBe(h(n));
    const refused = await claim(server.url, hoarder, 'h4');
    expect(refused).toMatchObject({ status: 403, error: 'quota-exceeded' });
    expect(refused.message).toMatch(/at most 3 handles/);
    await expect(claimHandle(server.url, hoarder, 'h5')).rejects.toMatchObject({ reason: 'quota-exceeded' });
    expect(await lookup(server.url, 'h4')).toBe(404);
    // Claiming one it holds again is not a new handle.
    expect(await claimHandle(server.url, hoarder, 'h2')).toBe(h('h2'));
    expect((await server.provider.store.handlesOf(hoarder.account)).map((r) => r.name)).toEqual(['h1', 'h2', 'h3']);
  });

  it('stops answering a name its holder dropped, keeps it from others for the grace period, then gives it away', async () => {
    const alice = await newDevice(tmp.dir, 'alice');
    const bob = await newDevice(tmp.dir, 'bob');
    await join_(alice, server.url);
    await join_(bob, server.url);
    await alice.setHandles(['alice', 'al', 'ali'].map(h));
    for (const n of ['alice', 'al', 'ali']) await claimHandle(server.url, alice, n);
    await bob.setHandles([h('alice')]);
    expect(await claim(server.url, bob, 'alice')).toMatchObject({ status: 409, error: 'forbidden-role' });
    expect(await lookup(server.url, 'alice')).toMatchObject({ account: toId(alice.account) });

    // Alice's newer log drops "alice" and "al"; it reaches the provider in her next sync.
    await alice.setHandles(['ali', 'alicia'].map(h));
    await syncWith(alice, server.url);
    const dropped = Date.now();
    expect(await lookup(server.url, 'alice')).toBe(404);
    expect((await fetch(`${server.url}/@alice`)).status).toBe(404);
    // Within the grace period the name is nobody's to take, and still counts towards Alice's cap.
    const early = await claim(server.url, bob, 'alice');
    expect(early).toMatchObject({ status: 409, error: 'forbidden-role' });
    const freeAt = Date.parse(/free from (\S+)$/.exec(early.message!)![1]!);
    expect(freeAt).toBeGreaterThanOrEqual(dropped + GRACE_MS);
    expect(freeAt).toBeLessThanOrEqual(Date.now() + GRACE_MS);
    expect(await claim(server.url, alice, 'alicia')).toMatchObject({ status: 403, error: 'quota-exceeded' });
    // The test is only meaningful if all that happened inside the grace period.
    expect(Date.now()).toBeLessThan(freeAt);

    await new Promise((r) => setTimeout(r, freeAt - Date.now() + 100));
    expect(await claimHandle(server.url, bob, 'alice')).toBe(h('alice'));
    expect(await lookup(server.url, 'alice')).toMatchObject({ account: toId(bob.account) });
    expect(toHex((await server.provider.store.handle('alice'))!.account)).toBe(toHex(bob.account));
    // The name Bob took no longer counts towards Alice's cap.
    expect(await claimHandle(server.url, alice, 'alicia')).toBe(h('alicia'));
  }, 30_000);

  it('answers a dropped name again once its holder claims it again', async () => {
    const carol = await newDevice(tmp.dir, 'carol');
    await join_(carol, server.url);
    await carol.setHandles([h('carol')]);
    await claimHandle(server.url, carol, 'carol');
    await carol.setHandles([]);
    await syncWith(carol, server.url);
    expect(await lookup(server.url, 'carol')).toBe(404);
    expect((await server.provider.store.handle('carol'))!.dropped).toBeDefined();
    await carol.setHandles([h('carol')]);
    await syncWith(carol, server.url);
    expect(await lookup(server.url, 'carol')).toMatchObject({ account: toId(carol.account) });
    expect((await server.provider.store.handle('carol'))!.dropped).toBeUndefined();
  });
});

describe('`freehold serve --max-handles N --handle-grace DAYS`', () => {
  it('applies the cap and the grace period the operator set', async () => {
    const srv = await spawnServer(['--port', '0', '--data', join(tmp.dir, 'cli-srv'), '--max-handles', '1', '--handle-grace', '0']);
    try {
      const host = new URL(srv.url).host;
      const dan = await newDevice(tmp.dir, 'dan');
      const eve = await newDevice(tmp.dir, 'eve');
      await join_(dan, srv.url);
      await join_(eve, srv.url);
      await dan.setHandles([`dan@${host}`, `danny@${host}`]);
      await claimHandle(srv.url, dan, 'dan');
      expect(await claim(srv.url, dan, 'danny')).toMatchObject({ status: 403, error: 'quota-exceeded' });
      // With no grace, a dropped name is free as soon as the provider sees the drop, not before.
      await dan.setHandles([`danny@${host}`]);
      await eve.setHandles([`dan@${host}`]);
      expect(await claim(srv.url, eve, 'dan')).toMatchObject({ status: 409, message: expect.stringMatching(/already taken/) });
      await syncWith(dan, srv.url);
      expect(await claimHandle(srv.url, eve, 'dan')).toBe(`dan@${host}`);
      expect(await claimHandle(srv.url, dan, 'danny')).toBe(`danny@${host}`);
    } finally {
      await srv.stop();
    }
    for (const bad of [['--max-handles', 'lots'], ['--handle-grace', '-1']]) {
      const r = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--data', join(tmp.dir, 'bad'), ...bad], { encoding: 'utf8' });
      expect(r.status, bad.join(' ')).not.toBe(0);
      expect(r.stderr).toContain('[invalid-argument]');
    }
  }, 30_000);
});
