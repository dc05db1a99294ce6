import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink, register } from '@freehold/client';
import { encodeCard, Kind, toHex, toId, type Device } from '@freehold/core';
import { Microblog, spacesOf } from '@freehold/microblog';
import { get, newDevice, PG_URL, put, syncWith, tempDir, until, WS } from './helpers.js';
import { ProviderNode } from './provider-node.js';

installNativeCrypto();
const tmp = tempDir('fedcanary');
afterAll(() => tmp.cleanup());

const secret = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;

/** Which of the strings occur in these bytes. */
const found = (bytes: Buffer, strings: string[]) => strings.filter((s) => bytes.includes(s));

/** Every file of a SQLite data folder: its name and the secrets it holds (there must be none). */
function grepFolder(dir: string, strings: string[]): { files: number; hits: string[] } {
  const hits: string[] = [];
  const files = readdirSync(dir);
  for (const f of files) for (const s of found(readFileSync(join(dir, f)), strings)) hits.push(`${f}: ${s}`);
  return { files: files.length, hits };
}

/** Every row of every table of a PostgreSQL schema. */
async function grepSchema(schema: string, strings: string[]): Promise<{ rows: number; hits: string[] }> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows: tables } = await client.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema]);
    let rows = 0;
    const hits: string[] = [];
    for (const { table_name } of tables as { table_name: string }[]) {
      for (const row of (await client.query(`SELECT * FROM ${schema}.${table_name}`)).rows as Record<string, unknown>[]) {
        rows++;
        for (const v of Object.values(row)) {
          const b = Buffer.isBuffer(v) ? v : Buffer.from(typeof v === 'object' ? JSON.stringify(v) : String(v));
          for (const s of found(b, strings)) hits.push(`${table_name}: ${s}`);
        }
      }
    }
    return { rows, hits };
  } finally {
    await client.end();
  }
}

/** A client that talks only to its own provider: it asks it to mirror others' spaces, then syncs with it. */
async function mirrorVia(url: string, d: Device, mirrors: { space: Uint8Array; owner: Uint8Array }[]): Promise<void> {
  const link = await ProviderLink.connect(url, d, WS);
  try {
    await link.mirror(d, mirrors);
  } finally {
    link.close();
  }
}

describe('no provider holds plaintext of private data: home, multi-home peer, mirror', () => {
  it('private documents, friends-only posts and direct messages cross three providers as ciphertext only', async () => {
    const secrets = { doc: secret('doc-canary'), post: secret('post-canary'), toDave: secret('dm-to-dave'), toAlice: secret('dm-to-alice') };
    const docName = secret('notes');
    // P1 is Alice's home, P2 (PostgreSQL) her second home, P3 Dave's home, which mirrors Alice's spaces for him.
    const p1 = await ProviderNode.create('P1', { dir: join(tmp.dir, 'p1') }, Math.random);
    const p2 = await ProviderNode.create('P2', { schema: `fh_fedcanary_${process.pid}` }, Math.random);
    const p3 = await ProviderNode.create('P3', { dir: join(tmp.dir, 'p3') }, Math.random);
    const nodes = [p1, p2, p3];
    try {
      await Promise.all(nodes.map((n) => n.start()));
      const alice = await newDevice(tmp.dir, 'alice');
      await alice.setProviders([p1.url, p2.url]);
      for (const n of [p1, p2]) await register(n.url, alice);
      const dave = await newDevice(tmp.dir, 'dave');
      await dave.setProviders([p3.url]);
      await register(p3.url, dave);
      await alice.replica.addCard(encodeCard(dave.identity()));
      await dave.replica.addCard(encodeCard(alice.identity()));
      const aliceSpaces = spacesOf(alice.account);
      const daveSpaces = spacesOf(dave.account);

      // Each client reaches the other's inbox through its own provider's mirror only.
      const blog = (d: Device, home: string) =>
        new Microblog(d, {
          resolve: () => Promise.reject(new Error('no handles here')),
          fetch: async (mirrors) => {
            const spaces = mirrors.map((m) => m.space);
            await mirrorVia(home, d, mirrors);
            await until(async () => {
              await syncWith(d, home, spaces);
              return (await Promise.all(spaces.map(async (s) => (await d.replica.graph(s)).created))).every(Boolean);
            }, 15_000);
          },
        });
      const aliceBlog = blog(alice, p1.url);
      const daveBlog = blog(dave, p3.url);
      await aliceBlog.ensure();
      await daveBlog.ensure();
      await syncWith(alice, p1.url);
      await syncWith(dave, p3.url);

      // Dave asks to follow; Alice, who only talks to P1, approves him into her friends space and posts to it.
      await daveBlog.follow(toId(alice.account));
      await syncWith(dave, p3.url);
      await until(async () => {
        await syncWith(alice, p1.url);
        return (await aliceBlog.followers()).some((f) => f.account === toId(dave.account));
      }, 15_000);
      await aliceBlog.approve(toId(dave.account));
      const post = await aliceBlog.post(`for friends only: ${secrets.post}`, { audience: 'friends' });
      // A private space of documents with Dave as a reader.
      const notes = await alice.createSpace(false);
      await put(alice, notes, docName, { body: `the canary is ${secrets.doc}` });
      await alice.setRole(notes, dave.account, 'reader');
      // Direct messages both ways.
      await aliceBlog.dm(toId(dave.account), secrets.toDave);
      await daveBlog.dm(toId(alice.account), secrets.toAlice);
      await syncWith(alice, p1.url);
      await syncWith(dave, p3.url);
      await mirrorVia(p3.url, dave, [
        { space: aliceSpaces.friends, owner: alice.account },
        { space: aliceSpaces.public, owner: alice.account },
        { space: notes, owner: alice.account },
      ]);

      // Everything arrives, through the providers: Dave reads Alice's post, notes and message from P3 alone;
      // Alice reads Dave's message from P2, her second home, which she never wrote to.
      await until(async () => {
        await syncWith(dave, p3.url, [aliceSpaces.friends, notes]);
        const read = await daveBlog.getPost(post).catch(() => undefined);
        const doc = await get(dave, notes, docName).catch(() => ({}) as Record<string, unknown>);
        const dm = (await daveBlog.inbox()).some((m) => m.message.type === 'dm' && m.message.text === secrets.toDave);
        return read?.post.text.includes(secrets.post) && String(doc.body).includes(secrets.doc) && dm;
      }, 20_000);
      await until(async () => {
        await syncWith(alice, p2.url);
        return (await aliceBlog.inbox()).some((m) => m.message.type === 'dm' && m.message.text === secrets.toAlice);
      }, 20_000);

      // Each provider holds the ciphertext: the whole friends space and notes (P3 as a mirror), and the messages
      // where they travelled: Alice's to Dave on P1 (outbox) and P3 (his home), her copy of it on her homes,
      // Dave's (and his follow request) on P3 (outbox) and her homes.
      const appends = async (reader: Device, inbox: Uint8Array, author: Device) =>
        (await reader.store.spaceEntries(inbox, Kind.append)).filter((r) => toHex(reader.replica.authorOf(r.device)!.account.account) === toHex(author.account)).map((r) => toHex(r.id));
      const ids = async (space: Uint8Array) => (await alice.store.keys(space)).map((k) => toHex(k.id));
      const held: [Uint8Array, string[], ProviderNode[]][] = [
        [aliceSpaces.friends, await ids(aliceSpaces.friends), nodes],
        [notes, await ids(notes), nodes],
        [daveSpaces.inbox, await appends(dave, daveSpaces.inbox, alice), [p1, p3]],
        [aliceSpaces.inbox, await appends(alice, aliceSpaces.inbox, alice), [p1, p2]],
        [aliceSpaces.inbox, await appends(alice, aliceSpaces.inbox, dave), nodes],
      ];
      for (const [, list] of held) expect(list.length).toBeGreaterThan(0);
      await until(async () => {
        for (const [space, list, at] of held) {
          for (const n of at) {
            const there = await n.peek(space);
            if (!list.every((id) => there.has(id))) return false;
          }
        }
        return true;
      }, 20_000);

      const strings = [...Object.values(secrets), docName, `post/${post.post}`];
      const check = async () => {
        for (const n of nodes) {
          const r = 'dir' in n.storage ? grepFolder(n.storage.dir, strings) : await grepSchema(n.storage.schema, strings);
          expect(r.hits, n.name).toEqual([]);
          expect('files' in r ? r.files : r.rows, n.name).toBeGreaterThan(0);
        }
      };
      await check();
      for (const n of nodes) await n.stop();
      await check();
    } finally {
      for (const n of nodes) await n.dispose();
    }
  }, 120_000);
});
