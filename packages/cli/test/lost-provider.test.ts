import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromId } from '@freehold/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ProviderNode } from '../../server/test/provider-node.js';

const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'freehold-cli-lost-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * The real `freehold` binary in its own process. Asynchronous: the providers' proxies run in this process and
 * must keep relaying while a command runs.
 */
function fh(home: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args, '--home', join(root, home)], { cwd: root, env: { ...process.env, FREEHOLD_HOME: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out: out.trim(), err: err.trim() });
    }),
  );
}
async function ok(home: string, args: string[]): Promise<string> {
  const r = await fh(home, args);
  expect(r.code, `freehold ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
/** Asks again, as a person would, until the output shows `want`. */
async function eventually(home: string, args: string[], want: RegExp): Promise<string> {
  let out = '';
  await until(async () => want.test((out = await ok(home, args))), `\`freehold ${args.join(' ')}\` shows ${want}`).catch((e: Error) => {
    throw new Error(`${e.message}; it shows:\n${out}`);
  });
  return out;
}

type SpaceRow = { id: string; role: string | null; entries: number };

describe('losing a provider without warning', () => {
  it('Alice on P1+P2 loses P1 and its data: she and Bob carry on through P2, and a new P5 fills from P2', async () => {
    const nodes = await Promise.all(['P1', 'P2', 'P3', 'P5'].map((n) => ProviderNode.create(n, { dir: join(root, n.toLowerCase()) }, Math.random)));
    const [p1, p2, p3, p5] = nodes as [ProviderNode, ProviderNode, ProviderNode, ProviderNode];
    try {
      await Promise.all([p1.start(), p2.start(), p3.start()]);
      const h1 = new URL(p1.url).host;
      const h3 = new URL(p3.url).host;
      await ok('alice', ['init', '--name', 'alice']);
      await ok('alice', ['provider', 'add', p1.url]);
      await ok('alice', ['provider', 'add', p2.url]);
      await ok('alice', ['handle', 'claim', 'alice', '--provider', p1.url]);
      await ok('alice', ['profile', '--name', 'Alice']);
      const alice = JSON.parse(await ok('alice', ['whoami', '--json'])).account as string;
      await ok('alice', ['space', 'create', 'notes']);
      await ok('alice', ['doc', 'put', 'notes', 'todo', '--json', '{"title":"milk"}']);
      await ok('alice', ['post', 'Before the loss']);
      await ok('alice', ['post', 'Friends, before the loss', '--friends']);
      await ok('bob', ['init', '--name', 'bob']);
      await ok('bob', ['provider', 'add', p3.url]);
      await ok('bob', ['handle', 'claim', 'bob']);
      const bob = JSON.parse(await ok('bob', ['whoami', '--json'])).account as string;
      await ok('bob', ['follow', `alice@${h1}`]);
      await eventually('alice', ['inbox'], /asked to follow you/);
      await ok('alice', ['followers', 'approve', bob]);
      await ok('alice', ['follow', `bob@${h3}`]);
      await ok('bob', ['dm', alice, 'psst']);
      await eventually('bob', ['feed'], /Friends, before the loss/);

      // P1 dies without warning and its data folder is gone.
      await p1.stop('SIGKILL');
      rmSync(join(root, 'p1'), { recursive: true, force: true });

      const list = JSON.parse(await ok('alice', ['provider', 'list', '--json'])) as { url: string; status: string }[];
      expect(list.map((x) => [x.url, x.status])).toEqual([
        [p1.url, 'unreachable'],
        [p2.url, 'current'],
      ]);
      const text = await ok('alice', ['provider', 'list']);
      expect(text).toMatch(new RegExp(`${p1.url}  unreachable: no answer .*Nothing is lost: the other providers hold the account and serve its contacts`));
      expect(text).toMatch(new RegExp(`${p2.url}  current: holds this account`));

      // Alice carries on: one warning line about P1, and everything goes through P2.
      const posted = await fh('alice', ['post', 'After the loss']);
      expect(posted.code).toBe(0);
      expect(posted.err).toMatch(/warning: .*going on without it/);
      expect(await eventually('alice', ['inbox'], /message: psst/)).toMatch(/message: psst/);
      expect(await ok('alice', ['feed'])).toMatch(/Friends, before the loss[\s\S]*Before the loss/);
      expect(JSON.parse(await ok('alice', ['doc', 'get', 'notes', 'todo', '--json']))).toEqual({ title: 'milk' });
      // Her contacts notice nothing: Bob reads old and new posts, and messages go both ways (by account id:
      // the handle was P1's, and contacts follow the account).
      const feed = await eventually('bob', ['feed'], /After the loss/);
      expect(feed).toMatch(/Before the loss/);
      expect(feed).toMatch(/Friends, before the loss/);
      await ok('bob', ['dm', alice, 'still there?']);
      expect(await eventually('alice', ['inbox'], /still there\?/)).toMatch(/still there\?/);
      await ok('alice', ['dm', bob, 'yes, through P2']);
      expect(await eventually('bob', ['inbox'], /yes, through P2/)).toMatch(/yes, through P2/);

      // Bob writes again while Alice's device is not syncing: only the providers have it.
      await ok('bob', ['dm', alice, 'sent while you were away']);
      const before = (JSON.parse(await ok('alice', ['space', 'list', '--json'])) as SpaceRow[]).filter((s) => s.role === 'admin');
      const held = (node: ProviderNode, id: string) => node.peek(fromId(id, 'space'));
      const beyondDevice = async (node: ProviderNode) => {
        let n = 0;
        for (const s of before) n += (await held(node, s.id)).size - s.entries;
        return n;
      };
      await until(async () => (await beyondDevice(p2)) > 0, 'P2 holds Bob\u2019s latest message, which Alice\u2019s device has not seen');

      // A new provider: nobody uploads anything by hand; P5 takes the account from P2.
      await p5.start();
      // What Alice wrote in Bob's spaces goes to P5 as part of its mirrors of them, not refused as Bob's.
      expect(await ok('alice', ['provider', 'add', p5.url])).not.toMatch(/refused/);
      await until(async () => {
        for (const s of before) {
          const [a, b] = await Promise.all([held(p2, s.id), held(p5, s.id)]);
          if (a.size !== b.size || [...a].some((id) => !b.has(id))) return false;
        }
        return true;
      }, 'P5 holds every entry of every space of Alice that P2 holds');
      for (const s of before) {
        const [a, b] = await Promise.all([held(p2, s.id), held(p5, s.id)]);
        expect(b.size, `entries of ${s.id}`).toBe(a.size);
        expect(b, s.id).toEqual(a);
      }
      // P5 holds what the device never had: it came from the other providers.
      expect(await beyondDevice(p5)).toBeGreaterThan(0);
      const after = JSON.parse(await ok('alice', ['provider', 'list', '--json'])) as { url: string; status: string }[];
      expect(after.map((x) => x.status)).toEqual(['unreachable', 'current', 'current']);
    } finally {
      await Promise.all(nodes.map((n) => n.dispose()));
    }
  }, 300_000);
});
