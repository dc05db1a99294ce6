import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import WebSocket, { WebSocketServer } from 'ws';
import {
  addDevice,
  createEntry,
  decodeEntry,
  decodeFrame,
  Device,
  encodeCard,
  encodeFrame,
  Kind,
  newDeviceKeys,
  openDoc,
  type Entry,
  possessionProof,
} from '@freehold/core';
import { MemoryStore, PostgresStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';
import { ProviderLink, type WebSocketFactory } from '@freehold/client';
import { measure, median, type Row } from './table.js';
import { registered } from './accounts.js';

installNativeCrypto();
export const WS = WebSocket as unknown as WebSocketFactory;
const BIN = fileURLToPath(new URL('../packages/cli/bin/freehold.cjs', import.meta.url));
const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'freehold-bench-srv-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

export interface Server {
  url: string;
  child: ChildProcess;
  rss(): number;
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * `freehold serve` in its own process (`extra`: more flags, e.g. --port and --public-url); `onLog` sees each of
 * its JSON log lines.
 */
/** CPU time (utime + stime, in clock ticks of 10 ms on Linux) a process has used so far, in ms. */
export function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** FREEHOLD_BENCH_PROFILE=DIR writes a CPU profile of each server (and of the move's command) to DIR when it stops. */
export const profile = process.env.FREEHOLD_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.FREEHOLD_BENCH_PROFILE}`] : [];

export async function startServer(store: 'sqlite' | 'postgres', extra: string[] = [], onLog?: (line: string) => void): Promise<Server> {
  const schema = `fh_bench_${process.pid}_${n++}`;
  const args = store === 'sqlite' ? ['--data', join(dir, `srv${n++}`)] : ['--db', `${PG_URL}?schema=${schema}`];
  const child = spawn(process.execPath, [...profile, BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--quota', '10GiB', ...args, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const m = /"event":"start".*?"url":"([^"]+)"/.exec(line);
        if (m) resolve(m[1]!);
        onLog?.(line);
      }
    });
    child.on('exit', (c) => reject(new Error(`serve exited ${c}`)));
  });
  return {
    url,
    child,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
    cpuMs: () => cpuMs(child.pid!),
    async stop() {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
      if (store === 'postgres') {
        const s = await PostgresStore.open(PG_URL, schema);
        await s.drop();
        await s.close();
      }
    },
  };
}

export function publicEntries(d: Device, space: Uint8Array, basis: Uint8Array, startSeq: number, prev: Uint8Array, count: number, size = 200): Entry[] {
  const out: Entry[] = [];
  const payload = new Uint8Array(size).fill(1);
  for (let i = 0; i < count; i++) {
    const e = createEntry({ kind: Kind.blob, space, doc: new Uint8Array(16), device: d.id, seq: startSeq + i, prev, basis, time: Date.now() }, d.keys.sign, size, () => payload);
    prev = e.id;
    out.push(e);
  }
  return out;
}

/** A client ready to push: registered, with a public space and pre-signed entries. */
async function pusher(url: string, count: number) {
  const d = await registered(url);
  const space = await d.createSpace(true);
  const create = (await d.store.spaceEntries(space))[0]!;
  const frames = [[create.bytes], ...chunk(publicEntries(d, space, create.id, 2, create.id, count), 100).map((c) => c.map((e) => e.bytes))];
  // Encoded before the clock starts: the scenario measures the server, not the client's CBOR encoder.
  return { d, frames: frames.map((f) => ({ bytes: encodeFrame(['entries', f]), count: f.length })) };
}

export const chunk = <T>(xs: T[], k: number): T[][] => Array.from({ length: Math.ceil(xs.length / k) }, (_, i) => xs.slice(i * k, i * k + k));

/** Sends entries frames with a window of `inflight` unacknowledged, resolving when every frame is acknowledged. */
export async function pushAll(link: ProviderLink, frames: { bytes: Uint8Array }[], inflight = 4): Promise<number> {
  let next = 0;
  let acked = 0;
  let entries = 0;
  while (next < Math.min(inflight, frames.length)) link.send(frames[next++]!.bytes);
  while (acked < frames.length) {
    const f = decodeFrame(await link.next());
    if (f[0] !== 'ack') continue;
    if (f[2].length) throw new Error(`bench entries refused: ${f[2][0]![1]} ${f[2][0]![2]}`);
    entries += f[1];
    acked++;
    if (next < frames.length) link.send(frames[next++]!.bytes);
  }
  return entries;
}

/** What one ingest run measured: acknowledged entries a second, and the CPU each process spent per entry. */
interface IngestRun {
  rate: number;
  serverUs: number;
  clientUs: number;
  /** The local PostgreSQL server's processes (0 when there are none, as with SQLite). */
  databaseUs: number;
}

/** CPU time used so far by the processes of a PostgreSQL server on this machine, in ms (utime + stime). */
function postgresCpuMs(): number {
  let ms = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (!stat.includes(' (postgres) ')) continue;
    const f = stat.split(') ')[1]!.split(' ');
    ms += (Number(f[11]) + Number(f[12])) * 10;
  }
  return ms;
}

async function ingest(store: 'sqlite' | 'postgres', clients = 50, perClient = 600): Promise<IngestRun> {
  const server = await startServer(store);
  try {
    const ps = await Promise.all(Array.from({ length: clients }, () => pusher(server.url, perClient)));
    const links = await Promise.all(ps.map((p) => ProviderLink.connect(server.url, p.d, WS)));
    const cpu0 = server.cpuMs();
    const db0 = postgresCpuMs();
    const client0 = process.cpuUsage();
    const t = performance.now();
    const counts = await Promise.all(links.map((l, i) => pushAll(l, ps[i]!.frames)));
    const total = counts.reduce((a, b) => a + b, 0);
    const rate = total / ((performance.now() - t) / 1000);
    const client = process.cpuUsage(client0);
    const perEntry = (ms: number) => (ms * 1000) / total;
    const run = { rate, serverUs: perEntry(server.cpuMs() - cpu0), clientUs: (client.user + client.system) / total, databaseUs: perEntry(postgresCpuMs() - db0) };
    for (const l of links) l.close();
    return run;
  } finally {
    await server.stop();
  }
}

/** Each figure's median over the runs. */
const medianRun = (runs: IngestRun[]): IngestRun => ({
  rate: median(runs.map((r) => r.rate)),
  serverUs: median(runs.map((r) => r.serverUs)),
  clientUs: median(runs.map((r) => r.clientUs)),
  databaseUs: median(runs.map((r) => r.databaseUs)),
});

/** The raw baseline: the same 50 clients and frame sizes against a WebSocket server that only answers. */
async function echoRate(clients = 50, frames = 60, perFrame = 100): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', () => ws.send(encodeFrame(['ack', perFrame, []]))));
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  const body = encodeFrame(['entries', Array.from({ length: perFrame }, () => new Uint8Array(420))]);
  const t = performance.now();
  await Promise.all(
    Array.from(
      { length: clients },
      () =>
        new Promise<void>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}`);
          let sent = 0;
          let got = 0;
          ws.on('open', () => {
            for (; sent < 4; sent++) ws.send(body);
          });
          ws.on('message', () => {
            if (++got === frames) {
              ws.close();
              return resolve();
            }
            if (sent < frames) {
              ws.send(body);
              sent++;
            }
          });
        }),
    ),
  );
  const rate = (clients * frames * perFrame) / ((performance.now() - t) / 1000);
  await new Promise((r) => wss.close(r));
  return rate;
}

function sqliteInsertRate(rows = 20_000): number {
  const db = new Database(join(dir, `raw${n++}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id BLOB PRIMARY KEY, space BLOB, doc BLOB, kind INT, device BLOB, seq INT, time INT, bytes BLOB) WITHOUT ROWID');
  const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const payload = Buffer.alloc(420, 1);
  const tx = db.transaction((from: number) => {
    for (let i = from; i < from + 100; i++) ins.run(Buffer.from(`${i}`.padStart(32, '0')), payload.subarray(0, 32), payload.subarray(0, 16), 1, payload.subarray(0, 32), i, Date.now(), payload);
  });
  const t = performance.now();
  for (let i = 0; i < rows; i += 100) tx(i);
  const rate = rows / ((performance.now() - t) / 1000);
  db.close();
  return rate;
}

async function pgInsertRate(rows = 20_000): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const table = `fh_bench_raw_${process.pid}`;
  await client.query(`CREATE TABLE ${table} (id BYTEA PRIMARY KEY, space BYTEA, doc BYTEA, kind SMALLINT, device BYTEA, seq BIGINT, time BIGINT, bytes BYTEA)`);
  const payload = Buffer.alloc(420, 1);
  const t = performance.now();
  for (let i = 0; i < rows; i += 100) {
    const values: unknown[] = [];
    const tuples = [];
    for (let j = 0; j < 100; j++) {
      values.push(Buffer.from(`${i + j}`.padStart(32, '0')), payload.subarray(0, 32), payload.subarray(0, 16), 1, payload.subarray(0, 32), i + j, Date.now(), payload);
      tuples.push(`(${Array.from({ length: 8 }, (_, k) => `$${j * 8 + k + 1}`).join(',')})`);
    }
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${table} VALUES ${tuples.join(',')}`, values);
    await client.query('COMMIT');
  }
  const rate = rows / ((performance.now() - t) / 1000);
  await client.query(`DROP TABLE ${table}`);
  await client.end();
  return rate;
}

async function fanout(subscribers = 500, messages = 100): Promise<{ p50: number; p99: number }> {
  const server = await startServer('sqlite');
  try {
    const writer = await registered(server.url);
    const space = await writer.createSpace(true);
    const create = (await writer.store.spaceEntries(space))[0]!;
    const wlink = await ProviderLink.connect(server.url, writer, WS);
    await pushAll(wlink, [{ bytes: encodeFrame(['entries', [create.bytes]]) }]);
    const subs: ProviderLink[] = [];
    for (const group of chunk(Array.from({ length: subscribers }, (_, i) => i), 50)) {
      subs.push(
        ...(await Promise.all(
          group.map(async () => {
            const l = await ProviderLink.connect(server.url, null, WS);
            await l.subscribe([space]);
            return l;
          }),
        )),
      );
    }
    const latencies: number[] = [];
    const sentAt = new Map<number, number>();
    let received = 0;
    const done = new Promise<void>((resolve) => {
      for (const l of subs) {
        void (async () => {
          for (;;) {
            const f = decodeFrame(await l.next().catch(() => new Uint8Array()));
            if (f[0] !== 'entries') continue;
            latencies.push(performance.now() - sentAt.get(decodeEntry(f[1][0]!).seq)!);
            if (++received === subscribers * messages) resolve();
          }
        })().catch(() => {});
      }
    });
    const entries = publicEntries(writer, space, create.id, 2, create.id, messages, 64);
    for (let i = 0; i < messages; i++) {
      sentAt.set(entries[i]!.seq, performance.now());
      wlink.send(encodeFrame(['entries', [entries[i]!.bytes]]));
      // One message in flight at a time, so each latency is one delivery, not a queue.
      for (;;) {
        const f = decodeFrame(await wlink.next());
        if (f[0] === 'ack') break;
      }
      const target = (i + 1) * subscribers;
      while (received < target) await new Promise((r) => setTimeout(r, 1));
    }
    await done;
    latencies.sort((a, b) => a - b);
    for (const l of [...subs, wlink]) l.close();
    return { p50: latencies[Math.floor(latencies.length * 0.5)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! };
  } finally {
    await server.stop();
  }
}

/** An account with `docs` documents on the provider; a new device of that account pulls it all. */
async function coldSync(docs = 10_000): Promise<{ ms: number; entries: number }> {
  const server = await startServer('sqlite');
  try {
    const owner = await registered(server.url);
    const space = await owner.createSpace(false);
    for (let i = 0; i < docs; i++) {
      const h = await openDoc(owner, space, `post-${i}`, { autoSnapshot: false });
      h.merge({ text: `post number ${i}`, at: i });
      await h.flush();
    }
    const upload = await ProviderLink.connect(server.url, owner, WS);
    await upload.sync(owner);
    upload.close();
    // The new device: added by the owner, starting from an empty replica.
    const keys = newDeviceKeys();
    addDevice(owner.identity(), owner.keys.sign, owner.currentAccountSecret(), { sign: keys.sign.publicKey, box: keys.box.publicKey, name: 'new', proof: possessionProof(owner.account, keys) }, Date.now());
    await owner.replica.commitIdentity(owner.identity());
    const push = await ProviderLink.connect(server.url, owner, WS);
    await push.sync(owner);
    push.close();
    const store = new MemoryStore();
    await store.putCard(owner.account, encodeCard(owner.identity()));
    const fresh = await Device.open(store, keys, owner.account);
    const t = performance.now();
    const link = await ProviderLink.connect(server.url, fresh, WS);
    const { stats } = await link.sync(fresh);
    const ms = performance.now() - t;
    link.close();
    if ((await openDoc(fresh, space, `post-${docs - 1}`)).toJSON().at !== docs - 1) throw new Error('cold sync incomplete');
    return { ms, entries: stats.entriesReceived };
  } finally {
    await server.stop();
  }
}

async function idleMemory(connections = 5000): Promise<number> {
  const server = await startServer('sqlite');
  try {
    await new Promise((r) => setTimeout(r, 500));
    const before = server.rss();
    const sockets: WebSocket[] = [];
    for (const group of chunk(Array.from({ length: connections }, (_, i) => i), 250)) {
      sockets.push(
        ...(await Promise.all(
          group.map(
            () =>
              new Promise<WebSocket>((resolve, reject) => {
                const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/sync`);
                ws.once('message', () => resolve(ws));
                ws.once('error', reject);
              }),
          ),
        )),
      );
    }
    await new Promise((r) => setTimeout(r, 1500));
    const after = server.rss();
    for (const ws of sockets) ws.terminate();
    return (after - before) / connections;
  } finally {
    await server.stop();
  }
}

/** Every scenario, or only the one named (`npm run bench -- server ingest`). */
export async function serverBench(only?: string): Promise<Row[]> {
  const rows: Row[] = [];
  const want = (name: string) => !only || only === name;
  if (want('ingest')) {
    const echo = await measure(() => echoRate(), 3);
    const sqliteRaw = await measure(() => sqliteInsertRate(), 3);
    const pgRaw = await measure(() => pgInsertRate(), 3);
    // In turns, so that both stores meet the same moments of a machine shared with other work.
    const runs = { sqlite: [] as IngestRun[], postgres: [] as IngestRun[] };
    for (let i = 0; i < 3; i++) for (const store of ['sqlite', 'postgres'] as const) runs[store].push(await ingest(store));
    const [sqlite, postgres] = [medianRun(runs.sqlite), medianRun(runs.postgres)];
    const us = (v: number) => `${v.toFixed(0)} µs`;
    rows.push({ name: '(a) ingest, 50 clients, SQLite: acked entries/s', value: sqlite.rate, unit: '/s', baselineName: 'raw SQLite insert', baseline: sqliteRaw, target: '≥ 10,000/s' });
    rows.push({ name: '(a) ingest, 50 clients, SQLite vs WebSocket echo', value: sqlite.rate, unit: '/s', baselineName: 'loopback WS echo', baseline: echo });
    rows.push({ name: '(a) ingest: where the time goes', value: sqlite.rate, unit: '/s', note: `CPU/entry: server ${us(sqlite.serverUs)}, load generator ${us(sqlite.clientUs)}` });
    rows.push({ name: '(a) ingest, 50 clients, PostgreSQL: acked entries/s', value: postgres.rate, unit: '/s', baselineName: 'raw PostgreSQL insert', baseline: pgRaw });
    rows.push({ name: '(a) ingest, 50 clients, PostgreSQL vs SQLite (runs in turn)', value: postgres.rate, unit: '/s', baselineName: 'SQLite', baseline: sqlite.rate, target: '≥ 1.00' });
    rows.push({
      name: '(a) ingest, PostgreSQL: where the time goes',
      value: postgres.rate,
      unit: '/s',
      note: `CPU/entry: server ${us(postgres.serverUs)}, PostgreSQL ${us(postgres.databaseUs)}, load generator ${us(postgres.clientUs)}`,
    });
    console.error(`ingest runs (entries/s): SQLite ${runs.sqlite.map((r) => r.rate.toFixed(0)).join(', ')}; PostgreSQL ${runs.postgres.map((r) => r.rate.toFixed(0)).join(', ')}`);
  }
  if (want('fanout')) {
    const fan = await fanout();
    rows.push({ name: '(b) fan-out to 500 subscribers: p50 latency', value: fan.p50, unit: 'ms', lowerIsBetter: true });
    rows.push({ name: '(b) fan-out to 500 subscribers: p99 latency', value: fan.p99, unit: 'ms', target: '≤ 50 ms', lowerIsBetter: true });
  }
  if (want('cold')) {
    const cold = await coldSync();
    rows.push({ name: `(c) cold sync of 10k documents (${cold.entries} entries)`, value: cold.ms, unit: 'ms', target: '≤ 2000 ms', lowerIsBetter: true });
  }
  if (want('memory')) {
    const mem = await idleMemory();
    rows.push({ name: '(d) server memory per idle connection (5k)', value: mem / 1024, unit: ' KiB', target: '≤ 30 KB', lowerIsBetter: true });
  }
  return rows;
}
