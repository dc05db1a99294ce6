import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createAccount, fromBase64, fromId, signRequest } from '@freehold/core';
import { spacesOf } from '@freehold/microblog';
import { spawnServer } from '../../server/test/process.js';
import { accountOf, cli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'freehold-cli-delete-'));
const { fh, ok, eventually } = cli(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface DeviceJson {
  device: string;
}

/** What a provider's store holds of an account: entries in the spaces it created, and entries its devices signed. */
function heldOf(data: string, account: string, devices: string[]) {
  const db = new Database(join(data, 'provider.db'), { readonly: true });
  try {
    const spaces = Object.values(spacesOf(fromId(account, 'account'))).map((s) => Buffer.from(s));
    const inSpaces = spaces.reduce((n, s) => n + (db.prepare('SELECT COUNT(*) FROM entries WHERE space = (SELECT n FROM refs WHERE value = ?)').pluck().get(s) as number), 0);
    const signed = devices.reduce((n, d) => n + (db.prepare('SELECT COUNT(*) FROM entries WHERE device = (SELECT n FROM refs WHERE value = ?)').pluck().get(Buffer.from(fromId(d, 'device'))) as number), 0);
    const registered = db.prepare('SELECT COUNT(*) FROM accounts WHERE account = ?').pluck().get(Buffer.from(fromId(account, 'account'))) as number;
    const card = db.prepare('SELECT COUNT(*) FROM cards WHERE account = ?').pluck().get(Buffer.from(fromId(account, 'account'))) as number;
    return { inSpaces, signed, registered, card };
  } finally {
    db.close();
  }
}

describe('deleting an account from the CLI, with a contact on another provider', () => {
  it('its provider keeps no entry of it, its names stop resolving, and the contact sees a deleted account, not its posts', async () => {
    const p1 = await spawnServer(['--port', '0', '--data', join(root, 'p1')]);
    const p2 = await spawnServer(['--port', '0', '--data', join(root, 'p2')]);
    try {
      const [h1, h2] = [new URL(p1.url).host, new URL(p2.url).host];
      const phrase = join(root, 'alice.phrase');
      for (const [who, url] of [['alice', p1.url], ['bob', p2.url]] as const) {
        ok(['init', '--name', who, ...(who === 'alice' ? ['--phrase-file', phrase] : [])], who);
        ok(['provider', 'add', url], who);
        ok(['handle', 'claim', who], who);
        ok(['profile', '--name', who === 'alice' ? 'Alice' : 'Bob'], who);
      }
      const alice = accountOf(ok, 'alice');
      // A second device of hers, which will not hear of the deletion until it connects again.
      ok(['recover', '--provider', p1.url, '--phrase-file', phrase], 'alice-laptop');
      // Bob follows Alice and is approved; they write to each other; Alice posts in public and to friends.
      ok(['follow', `alice@${h1}`], 'bob');
      await eventually(['followers', '--json'], 'alice', new RegExp(accountOf(ok, 'bob')));
      ok(['followers', 'approve', `bob@${h2}`], 'alice');
      ok(['follow', `bob@${h2}`], 'alice');
      ok(['post', 'Public words of Alice'], 'alice');
      ok(['post', 'Friends-only words of Alice', '--friends'], 'alice');
      ok(['dm', `bob@${h2}`, 'A message from Alice'], 'alice');
      ok(['dm', `alice@${h1}`, 'A message to Alice'], 'bob');
      await eventually(['feed'], 'bob', /Friends-only words of Alice/);
      await eventually(['conversations'], 'alice', /A message to Alice/);
      const devices = [...new Set(['alice', 'alice-laptop'].flatMap((home) => (JSON.parse(ok(['device', 'list', '--json'], home)) as DeviceJson[]).map((d) => d.device)))];
      expect(devices).toHaveLength(2);
      const before = heldOf(join(root, 'p1'), alice, devices);
      expect(before.inSpaces).toBeGreaterThan(0);
      expect(before.signed).toBeGreaterThan(0);

      // No one else can: a request with her log, signed by a key her log does not list, is refused.
      const card = fromBase64(((await (await fetch(`${p1.url}/.well-known/freehold/accounts/${alice}`)).json()) as { card: string }).card);
      const stranger = createAccount('mallory', Date.now());
      const forged = signRequest('delete-account', h1, {}, card, stranger.device.sign, Date.now());
      const refused = await fetch(`${p1.url}/v1/accounts/delete`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: Buffer.from(forged) });
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ error: 'unknown-author' });
      expect(heldOf(join(root, 'p1'), alice, devices)).toEqual(before);

      // Not without saying so.
      const unsure = fh(['account', 'delete'], 'alice');
      expect(unsure.code).toBe(2);
      expect(unsure.err).toMatch(/cannot be undone.*--yes/);
      expect(heldOf(join(root, 'p1'), alice, devices).inSpaces).toBe(before.inSpaces);

      const report = JSON.parse(ok(['account', 'delete', '--yes', '--json'], 'alice')) as { posts: number; complete: boolean; providers: { provider: string; entries: number }[] };
      expect(report).toMatchObject({ posts: 2, complete: true });
      expect(report.providers).toEqual([expect.objectContaining({ provider: p1.url })]);
      expect(report.providers[0]!.entries).toBeGreaterThanOrEqual(before.inSpaces);

      // P1 holds nothing of Alice: no entry in her spaces (Bob's message to her included), none signed by her
      // devices anywhere (her message to Bob's inbox is at P2, his provider), no registration, no identity log.
      expect(heldOf(join(root, 'p1'), alice, devices)).toEqual({ inSpaces: 0, signed: 0, registered: 0, card: 1 });
      // What it keeps is her newest signed log, which lists no provider and no handle: anyone who looks her up
      // learns she is gone, and no older copy of the log (which lists P1) can register her again.
      const looked = (await (await fetch(`${p1.url}/.well-known/freehold/accounts/${alice}`)).json()) as { providers: string[] };
      expect(looked.providers).toEqual([]);
      expect((await fetch(`${p1.url}/.well-known/freehold/handles/alice`)).status).toBe(404);
      // This device says where the account stands; the other one, which was not told, is refused at P1.
      expect(fh(['post', 'Anyone there?'], 'alice').err).toMatch(/lists no provider/);
      // It is told, in one line, that P1 refused its post (P1 no longer holds the space), and keeps the post.
      const late = fh(['post', 'Anyone there?'], 'alice-laptop');
      expect(late.code, late.err).toBe(1);
      expect(late.err).toMatch(new RegExp(`^freehold: ${h1} refused post \\w+: .*; it is kept on this device and goes out once a provider accepts it .*\\[[a-z-]+\\]$`));
      fh(['sync'], 'alice-laptop');
      expect(heldOf(join(root, 'p1'), alice, devices)).toEqual({ inSpaces: 0, signed: 0, registered: 0, card: 1 });

      // Bob, through his own provider's copy: the profile says deleted, and nothing Alice posted shows.
      const feed = await eventually(['feed'], 'bob', /^(?![\s\S]*words of Alice)/);
      expect(feed).not.toMatch(/words of Alice/);
      const found = JSON.parse(ok(['search', 'Deleted account', '--json'], 'bob')) as { people: { account: string; name: string | null }[]; posts: unknown[] };
      expect(found.people).toEqual([expect.objectContaining({ account: alice, name: 'Deleted account' })]);
      expect(JSON.parse(ok(['search', 'Alice', '--json'], 'bob'))).toMatchObject({ posts: [] });
    } finally {
      await p1.stop();
      await p2.stop();
    }
  }, 300_000);
});
