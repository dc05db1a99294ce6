import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink } from '@freehold/client';
import { blobEntries, join_, newDevice, syncWith, tempDir, until, WS } from './helpers.js';
import { refusedStart, spawnServer } from './process.js';
import Database from 'better-sqlite3';

installNativeCrypto();
const tmp = tempDir('integrity');
afterAll(() => tmp.cleanup());

const FILES = ['provider.db', 'provider.db-wal', 'provider.db-shm', 'provider.db.commit'];
let n = 0;

/** A copy of the data folder the crashed server left, for one case to damage. */
function copyOf(base: string): string {
  const dir = join(tmp.dir, `case${n++}`);
  mkdirSync(dir);
  for (const f of FILES) if (existsSync(join(base, f))) copyFileSync(join(base, f), join(dir, f));
  return dir;
}

/** The acknowledged entries a data folder lacks, as SQLite itself reads it (which replays and removes the log). */
async function missingFrom(dir: string, acked: Uint8Array[]): Promise<number> {
  const store = new SqliteStore(join(dir, 'provider.db'));
  let missing = 0;
  for (const id of acked) if (!(await store.hasEntry(id))) missing++;
  await store.close();
  return missing;
}

function pageSize(file: string): number {
  const fd = openSync(file, 'r');
  const b = Buffer.alloc(2);
  readSync(fd, b, 0, 2, 16);
  closeSync(fd);
  return b.readUInt16BE(0);
}

type Server = Awaited<ReturnType<typeof spawnServer>>;

/**
 * Moves what the log holds into the database file, so that damage to the file's pages is damage to data (a
 * stopped server's log is not always checkpointed away, and reads take pages from the log first).
 */
function checkpointed(dir: string): void {
  const db = new Database(join(dir, 'provider.db'));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Runs `f` against a server on `dir`, then stops it cleanly (SIGTERM) whatever happened. */
async function withServer<T>(dir: string, f: (s: Server) => Promise<T>, flags: string[] = []): Promise<T> {
  const server = await spawnServer(['--port', '0', '--data', dir, ...flags]);
  try {
    return await f(server);
  } finally {
    await server.stop();
  }
}

const health = async (url: string) => (await fetch(`${url}/healthz`)).json() as Promise<{ ok: boolean; entries: number }>;

function overwrite(file: string, at: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
}

describe('damaged storage is refused at start, never served silently', () => {
  let base: string;
  let acked: Uint8Array[];
  let space: Uint8Array;
  let frameSize: number;

  beforeAll(async () => {
    // 3,000 entries acknowledged through a real client, then kill -9: the log is left as it was, not checkpointed.
    base = join(tmp.dir, 'base');
    const server = await spawnServer(['--port', '0', '--data', base]);
    const alice = await newDevice(tmp.dir, 'alice');
    await join_(alice, server.url);
    space = await alice.createSpace(true);
    await syncWith(alice, server.url);
    const all = await blobEntries(alice, space, 3000);
    const link = await ProviderLink.connect(server.url, alice, WS);
    for (let i = 0; i < all.length; i += 100) {
      link.send(encodeFrame(['entries', all.slice(i, i + 100).map((e) => e.bytes)]));
      const f = decodeFrame(await link.next());
      if (f[0] !== 'ack' || f[2].length) throw new Error(`not acknowledged: ${JSON.stringify(f)}`);
    }
    link.close();
    await server.stop('SIGKILL');
    acked = [...(await alice.store.spaceEntries(space)).map((r) => r.id), ...all.map((e) => e.id)];
    expect(acked.length).toBe(3001);
    frameSize = 24 + pageSize(join(base, 'provider.db'));
    // The log holds most of the writes: the cases below damage it.
    expect(statSync(join(base, 'provider.db-wal')).size).toBeGreaterThan(200 * frameSize);
  }, 120_000);

  it('an undamaged store starts and holds every acknowledged entry, also after a clean stop', async () => {
    const dir = copyOf(base);
    await withServer(dir, async (s) => expect(await health(s.url)).toMatchObject({ ok: true, entries: 3001 }));
    // A clean stop checkpoints and removes the log; the next start checks the database alone.
    expect(existsSync(join(dir, 'provider.db-wal'))).toBe(false);
    await withServer(dir, async (s) => expect(await health(s.url)).toMatchObject({ ok: true, entries: 3001 }));
    expect(await missingFrom(dir, acked)).toBe(0);
  });

  it('a deleted log is refused; --accept-data-loss starts from what is left, loudly, and sets a new baseline', async () => {
    const dir = copyOf(base);
    unlinkSync(join(dir, 'provider.db-wal'));
    const refused = await refusedStart(['--port', '0', '--data', dir]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`the write-ahead log ${join(dir, 'provider.db-wal')} is missing`);
    expect(refused.stderr).toContain('--accept-data-loss');
    expect(refused.stderr).toContain('[damaged]');

    const held = await withServer(
      dir,
      async (s) => {
        expect(s.output()).toContain('"event":"accept-data-loss"');
        return (await health(s.url)).entries;
      },
      ['--accept-data-loss'],
    );
    const missing = await missingFrom(dir, acked);
    expect(missing).toBe(3001 - held);
    // The refusal counted what was lost, exactly.
    expect(refused.stderr).toContain(`${missing.toLocaleString('en')} acknowledged entries`);
    // The loss is the new baseline: the next start passes without the flag.
    await withServer(dir, async () => {});
  });

  it('a log truncated in the middle of a frame is refused, naming the frame', async () => {
    const dir = copyOf(base);
    const wal = join(dir, 'provider.db-wal');
    const frames = Math.floor((statSync(wal).size - 32) / frameSize);
    const cut = Math.floor(frames / 2);
    truncateSync(wal, 32 + cut * frameSize + 1000);
    const refused = await refusedStart(['--port', '0', '--data', dir]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`it ends in the middle of frame ${cut + 1}`);
    const missing = await missingFrom(dir, acked);
    expect(missing).toBeGreaterThan(0);
    expect(refused.stderr).toContain(`${missing.toLocaleString('en')} acknowledged entries`);
  });

  it('a log with bytes flipped in a frame in its middle is refused, naming the frame', async () => {
    const dir = copyOf(base);
    const wal = join(dir, 'provider.db-wal');
    const frames = Math.floor((statSync(wal).size - 32) / frameSize);
    const bad = Math.floor(frames / 2);
    overwrite(wal, 32 + (bad - 1) * frameSize + 24 + 500, randomBytes(8));
    const refused = await refusedStart(['--port', '0', '--data', dir]);
    expect(refused.code).not.toBe(0);
    const named = `frame ${bad} \\(byte [0-9,]+\\) fails its checksum; SQLite stops reading there and drops the \\d+ frames`;
    expect(refused.stderr).toMatch(new RegExp(named));
    const missing = await missingFrom(dir, acked);
    expect(missing).toBeGreaterThan(0);
    expect(refused.stderr).toContain(`${missing.toLocaleString('en')} acknowledged entries`);
  });

  it('a damaged page in the database file is refused at start', async () => {
    const dir = copyOf(base);
    await withServer(dir, async () => {});
    checkpointed(dir);
    const db = join(dir, 'provider.db');
    const size = pageSize(db);
    const pages = statSync(db).size / size;
    overwrite(db, Math.floor(pages / 2) * size, randomBytes(size));
    const refused = await refusedStart(['--port', '0', '--data', dir]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`${db} is damaged: quick_check finds`);
  });

  it('a page damaged while the server runs fails /healthz with 503 and a log line once a read hits it', async () => {
    const dir = copyOf(base);
    await withServer(dir, async () => {});
    checkpointed(dir);
    await withServer(dir, async (server) => {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const db = join(dir, 'provider.db');
      const size = pageSize(db);
      const pages = statSync(db).size / size;
      for (let p = Math.floor(pages * 0.4); p < pages * 0.6; p++) overwrite(db, p * size, randomBytes(size));
      const reader = await newDevice(tmp.dir, 'reader');
      await syncWith(reader, server.url, [space]).catch(() => undefined);
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ ok: false, error: 'damaged' });
      // The log line travels through a pipe of its own: it may arrive after the answer.
      await until(() => server.output().includes('"event":"storage-fault"'));
    });
  });
});
