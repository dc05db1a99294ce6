// The physical limits the per-entry costs of (b) and (c) are read against, measured in the same run on one core:
// native Ed25519 (what the Freehold server and its readers use), native ChaCha20-Poly1305, and SQLite inserting
// rows of Freehold's entries table with its pragmas, the work left once every check above it is free.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createCipheriv, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '@freehold/stores';

/**
 * Operations a second, per second of this process's CPU time (one core: everything below runs on the main
 * thread, so other work on the machine does not lower it) and per second of wall clock (what waiting on the disk
 * costs, which CPU time does not show).
 */
interface Rate {
  cpu: number;
  wall: number;
}

export interface Limit extends Rate {
  what: string;
  /** Bytes an operation handles, for a throughput. */
  size?: number;
}

/** How fast `op` runs, in rounds of `round` for about `ms`; each op counts as `per` operations. */
function rate(op: () => void, round = 100, ms = 1000, per = 1): Rate {
  for (let i = 0; i < round; i++) op();
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < round; i++) op();
    n += round * per;
  }
  const c = process.cpuUsage(c0);
  return { cpu: n / ((c.user + c.system) / 1e6), wall: n / ((performance.now() - t0) / 1000) };
}

/** An entry's size on the wire in (b) and (c), about: a small signed, encrypted CRDT update with its header. */
const ENTRY_BYTES = 300;

function ed25519(): Limit[] {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const message = randomBytes(ENTRY_BYTES);
  const signature = sign(null, message, privateKey);
  return [
    { what: `Ed25519 sign, ${ENTRY_BYTES} B (node:crypto)`, ...rate(() => sign(null, message, privateKey)) },
    { what: `Ed25519 verify, ${ENTRY_BYTES} B (node:crypto)`, ...rate(() => verify(null, message, publicKey, signature)) },
  ];
}

function chacha(size: number): Limit {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const plain = randomBytes(size);
  const r = rate(() => {
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    c.update(plain);
    c.final();
    c.getAuthTag();
  });
  return { what: `ChaCha20-Poly1305 seal, ${size.toLocaleString('en')} B (node:crypto)`, ...r, size };
}

/**
 * Rows of Freehold's entries table (schema from SqliteStore's migrations, the store's insert statement and
 * pragmas), `perTx` to a transaction as the server's group commit puts concurrent writers' entries in one, with
 * or without the fsync of the write-ahead log the server does before acknowledging. No savepoints, quota or
 * ledger updates: those are the server's own work.
 */
async function sqlite(perTx: number, fsync: boolean): Promise<Limit> {
  const dir = mkdtempSync(join(tmpdir(), 'freehold-limits-'));
  const path = join(dir, 'entries.db');
  await (new SqliteStore(path)).close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.pragma('wal_autocheckpoint = 4000');
  const insert = db.prepare('INSERT INTO entries (id, space, doc, kind, device, seq, time, basis, cut, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, ?) ON CONFLICT (id) DO NOTHING');
  // Spaces and devices are stored as numbers the refs table gives them, once each.
  const ref = (value: Uint8Array) => Number(db.prepare('INSERT INTO refs (value) VALUES (?)').run(value).lastInsertRowid);
  // 50 writers, each its own device writing one document of its own space, as in (b).
  const writers = Array.from({ length: 50 }, () => ({ space: ref(randomBytes(32)), doc: randomBytes(32), device: ref(randomBytes(32)), seq: 0 }));
  const body = randomBytes(ENTRY_BYTES);
  let next = 0;
  const tx = db.transaction(() => {
    for (let i = 0; i < perTx; i++) {
      const w = writers[next++ % writers.length]!;
      insert.run(randomBytes(32), w.space, w.doc, 1, w.device, ++w.seq, Date.now(), body);
    }
  });
  tx();
  const wal = openSync(`${path}-wal`, 'r');
  const r = rate(
    () => {
      tx();
      if (fsync) fsyncSync(wal);
    },
    1,
    1000,
    perTx,
  );
  closeSync(wal);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { what: `SQLite insert into entries, ${perTx} per transaction${fsync ? ', fsync of the WAL after each' : ', no fsync'} (better-sqlite3)`, ...r };
}

export async function physicalLimits(): Promise<Limit[]> {
  return [...ed25519(), chacha(ENTRY_BYTES), chacha(65_536), await sqlite(50, false), await sqlite(1, true), await sqlite(50, true)];
}

export function limitsTable(limits: Limit[]): string {
  const lines = ['### Physical limits, one core, same run', '', '| operation | per second of one core | CPU per operation | per second of wall clock |', '|---|---|---|---|'];
  const perSecond = (r: number, size?: number) => `${Math.round(r).toLocaleString('en')}/s${size ? ` (${((r * size) / 2 ** 20).toFixed(0)} MiB/s)` : ''}`;
  for (const l of limits) lines.push(`| ${l.what} | ${perSecond(l.cpu, l.size)} | ${(1e6 / l.cpu).toFixed(1)} µs | ${perSecond(l.wall, l.size)} |`);
  return [...lines, ''].join('\n');
}
