import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCard, encodeCard, equal, fromId, toHex, toId, type IdentityState } from '@freehold/core';
import { fingerprints } from '@freehold/client';
import { spacesOf as microblogSpaces } from '@freehold/microblog';
import type { RunningServer } from '@freehold/server';
import { spawnServer } from '../../server/test/process.js';
import { ProviderNode } from '../../server/test/provider-node.js';
import { startServer } from '../../server/test/helpers.js';
import { freePort } from '../../../test-support/net.js';
import { Profile } from '../src/profile.js';
import { accountOf, cli, fill } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-move-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const { ok, start, run, okAsync } = cli(root);

interface MoveJson {
  spaces: { space: string; local?: { entries: number; fingerprint: string }; to?: { entries: number; fingerprint: string }; from?: { entries: number; fingerprint: string }; complete: boolean }[];
  retired: { done: boolean; told: boolean };
}

const entriesAt = async (url: string): Promise<number> => ((await (await fetch(`${url}/healthz`)).json()) as { entries: number }).entries;
const providers = (home: string): string[] => (JSON.parse(ok(['provider', 'list', '--json'], home)) as { url: string }[]).map((p) => p.url);

async function until(f: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** What TO holds of each of the account's spaces, asked as the account (no command runs on the profile meanwhile). */
async function heldAt(url: string, home: string) {
  const p = await Profile.open(join(root, home));
  try {
    return new Map((await fingerprints(url, p.device)).map((f) => [f.space, f]));
  } finally {
    await p.close();
  }
}

describe('provider move: bad input and failure change nothing', () => {
  it('refuses an unreachable TO, one that is not a provider, one over quota, and a FROM the account does not use, in one line each', async () => {
    const p1 = await spawnServer(['--port', '0', '--data', join(root, 'bad-p1')]);
    const small = await spawnServer(['--port', '0', '--data', join(root, 'bad-small'), '--quota', '2KB']);
    const notProvider = createServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not-found"}'));
    await new Promise<void>((r) => notProvider.listen(0, '127.0.0.1', r));
    const stranger = `http://127.0.0.1:${(notProvider.address() as { port: number }).port}`;
    try {
      ok(['init', '--name', 'alice'], 'bad');
      ok(['provider', 'add', p1.url], 'bad');
      ok(['profile', '--name', 'Alice'], 'bad');
      for (let i = 0; i < 5; i++) ok(['post', `post ${i} ${'x'.repeat(200)}`], 'bad');
      const alice = accountOf(ok, 'bad');
      const cases: [string[], number, RegExp][] = [
        [[p1.url, `http://127.0.0.1:${await freePort()}`], 1, /cannot reach a Freehold provider at .* \[unavailable\]$/],
        [[p1.url, stranger], 1, /answered 404 for its provider document \(is it a Freehold provider\?\)/],
        [[p1.url, small.url], 1, /offers 2\.0 KiB and this account holds \d+(\.\d)? KiB; nothing was changed \[quota-exceeded\]$/],
        [[stranger, small.url], 1, /is not a provider of this account .*\[not-found\]$/],
        [[p1.url, p1.url.replace('localhost', '127.0.0.1')], 2, /is both where to move from and where to move to \[invalid-argument\]$/],
        [[p1.url, 'not a url'], 2, /is not a URL .*\[invalid-argument\]$/],
      ];
      for (const [args, code, message] of cases) {
        // Some of these providers run in this process: the command must not block it.
        const r = await run(['provider', 'move', ...args], 'bad');
        expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(code);
        expect(r.err.split('\n')).toHaveLength(1);
        expect(r.err).toMatch(message);
        expect(r.out).toBe('');
      }
      // Nothing was published: the log names P1 alone, and the provider over quota does not know the account.
      expect(providers('bad')).toEqual([p1.url]);
      expect((await fetch(`${small.url}/.well-known/freehold/accounts/${alice}`)).status).toBe(404);
      // The account keeps working on P1.
      ok(['post', 'still at home'], 'bad');
      expect(ok(['sync'], 'bad')).toMatch(/received/);
      expect(ok(['feed'], 'bad')).toMatch(/still at home/);
    } finally {
      notProvider.close();
      await p1.stop();
      await small.stop();
    }
  }, 120_000);
});

describe('provider move, interrupted, run again', () => {
  it('TO stopped mid-copy, then the command killed: FROM stays in the log until a run finds TO holding everything', async () => {
    const p1 = await spawnServer(['--port', '0', '--data', join(root, 'int-p1')]);
    const port = await freePort();
    const toArgs = ['--port', String(port), '--data', join(root, 'int-p4')];
    let p4 = await spawnServer(toArgs);
    try {
      ok(['init', '--name', 'alice'], 'int');
      ok(['provider', 'add', p1.url], 'int');
      ok(['post', 'hello'], 'int');
      const total = await fill(join(root, 'int'), 6000);
      ok(['sync'], 'int');

      // TO goes down while it fills: the command stops with one line, and FROM is still where the account lives.
      const first = start(['provider', 'move', p1.url, p4.url], 'int');
      await until(async () => (await entriesAt(p4.url).catch(() => 0)) > 0, 60_000);
      await p4.stop('SIGKILL');
      const failed = await first.done;
      expect(failed.code, failed.err).toBe(1);
      expect(failed.err.split('\n')).toHaveLength(1);
      expect(failed.err).toMatch(new RegExp(`${new URL(p4.url).host}.*\\[unavailable\\]$`));
      expect(providers('int')).toEqual([p1.url, p4.url]);
      ok(['post', 'meanwhile'], 'int');
      ok(['sync'], 'int');

      // Back up, and the command killed outright as soon as it has begun.
      p4 = await spawnServer(toArgs);
      const second = start(['provider', 'move', p1.url, p4.url], 'int');
      await until(async () => /registered with/.test(second.out()), 30_000);
      second.child.kill('SIGKILL');
      await second.done;
      expect(providers('int')).toContain(p1.url);

      // Run again: it finishes, and TO holds every entry.
      const moved = JSON.parse(ok(['provider', 'move', p1.url, p4.url, '--json'], 'int')) as MoveJson;
      expect(moved.spaces.every((s) => s.complete && s.to!.fingerprint === s.local!.fingerprint)).toBe(true);
      expect(moved.spaces.reduce((n, s) => n + s.local!.entries, 0)).toBeGreaterThan(total);
      expect(moved.retired).toEqual({ done: true, told: true });
      expect(providers('int')).toEqual([p4.url]);
      // Once more: there is nothing left to do but tell both again.
      expect(ok(['provider', 'move', p1.url, p4.url], 'int')).toMatch(/already out of this account's log/);
      expect(ok(['feed'], 'int')).toMatch(/meanwhile/);
    } finally {
      await p1.stop();
      await p4.stop();
    }
  }, 240_000);
});

describe('provider move away from a hostile provider', () => {
  it('FROM serves a stale log and drops entries: the move does not trust its copy, and FROM leaves the log only once TO verifiably holds everything', async () => {
    const p1: RunningServer = await startServer({ data: join(root, 'hostile-p1') });
    const p4 = await ProviderNode.create('p4', { dir: join(root, 'hostile-p4') }, Math.random);
    await p4.start();
    try {
      ok(['init', '--name', 'alice'], 'hostile');
      await okAsync(['provider', 'add', p1.url], 'hostile');
      await okAsync(['post', 'public and dropped'], 'hostile');
      const stale: IdentityState = decodeCard(encodeCard(p1.provider.replica.storedLog(fromId(accountOf(ok, 'hostile'), 'account'))!));
      await okAsync(['handle', 'claim', 'alice'], 'hostile');
      await okAsync(['post', 'friends only', '--friends'], 'hostile');
      await fill(join(root, 'hostile'), 300);
      await okAsync(['sync'], 'hostile');
      const account = stale.account;

      // P1 turns: it answers its stale log for the account, and hides every entry of its public space but the first.
      const spaces = await heldAt(p1.url, 'hostile');
      const pub = microblogSpaces(account).public;
      const hidden = new Set((await p1.provider.store.keys(pub)).slice(1).map((k) => toHex(k.id)));
      expect(hidden.size).toBeGreaterThan(0);
      const store = p1.provider.store;
      const keys = store.keys.bind(store);
      const getEntries = store.getEntries.bind(store);
      store.keys = async (space) => (await keys(space)).filter((k) => !hidden.has(toHex(k.id)));
      store.getEntries = async (ids) => (await getEntries(ids)).map((b, i) => (hidden.has(toHex(ids[i]!)) ? undefined : b));
      const replica = p1.provider.replica;
      const storedLog = replica.storedLog.bind(replica);
      replica.storedLog = (a) => (equal(a, account) ? stale : storedLog(a));
      const served = (await (await fetch(`${p1.url}/.well-known/freehold/accounts/${accountOf(ok, 'hostile')}`)).json()) as { providers: string[] };
      expect(served.providers).toEqual([p1.url]);

      // TO can be asked over HTTP but takes no sync session: all it gets is what P1 shows its peer link.
      p4.proxy.set({ refuseUpgrades: true });
      const refused = await run(['provider', 'move', p1.url, p4.url], 'hostile');
      expect(refused.code, refused.err).toBe(1);
      expect(refused.err.split('\n')).toEqual([expect.stringMatching(/cannot reach .*; .* stays in this account's log \[unavailable\]$/)]);
      expect(providers('hostile')).toEqual([p1.url, p4.url]);
      // TO was not sent what P1 withholds, and could not be verified: P1 stays.
      const pubId = toId(pub);
      expect((await heldAt(p4.url, 'hostile')).get(pubId)?.entries ?? 0).toBeLessThan(spaces.get(pubId)!.entries);

      // With TO reachable the move finishes: this device sends what P1 withheld, and the fingerprints agree.
      p4.proxy.set({ refuseUpgrades: false });
      const moved = JSON.parse(await okAsync(['provider', 'move', p1.url, p4.url, '--json'], 'hostile')) as MoveJson;
      for (const s of moved.spaces) expect(s.to!.fingerprint, s.space).toBe(s.local!.fingerprint);
      const row = moved.spaces.find((s) => s.space === pubId)!;
      expect(row.from!.entries).toBe(row.local!.entries - hidden.size);
      expect(row.from!.fingerprint).not.toBe(row.local!.fingerprint);
      // The log published is this device's, whatever P1 says.
      expect(providers('hostile')).toEqual([p4.url]);
      const atTo = (await (await fetch(`${p4.url}/.well-known/freehold/accounts/${accountOf(ok, 'hostile')}`)).json()) as { providers: string[] };
      expect(atTo.providers).toEqual([p4.url]);
      expect(JSON.parse(await okAsync(['resolve', `alice@${new URL(p4.url).host}`, '--json'])) as { providers: string[] }).toMatchObject({ providers: [p4.url] });
    } finally {
      await p1.close();
      await p4.dispose();
    }
  }, 180_000);
});
