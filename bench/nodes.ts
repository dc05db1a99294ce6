import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { decodeEntry, decodeFrame, encodeFrame } from '@freehold/core';
import { ProviderLink } from '@freehold/client';
import { Balancer } from '../test-support/balancer.js';
import { ensureNats, NATS_URL } from '../test-support/nats.js';
import { freePort } from '../test-support/net.js';
import { registered } from './accounts.js';
import { chunk, cpuMs, publicEntries, pushAll, WS } from './server.js';
import { median, type Row } from './table.js';

/*
 * One provider as several `freehold serve` nodes on one PostgreSQL schema, behind a TCP relay that stands for the
 * load balancer (every run goes through it, SQLite's too, so all pay the same hop). Everything runs on this
 * machine: the figures are CPU per entry on each tier, which add up across machines; the rates only compare runs
 * made here in turn, and say nothing of how far more machines would go.
 */

const BIN = fileURLToPath(new URL('../packages/cli/bin/freehold.cjs', import.meta.url));
const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'freehold-bench-nodes-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let runs = 0;

/** CPU time used so far by the processes of the PostgreSQL server on this machine, in ms. */
function postgresCpuMs(): number {
  let ms = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').includes(' (postgres) ')) ms += cpuMs(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

/** `n` nodes of one provider (SQLite: one node, its own folder), listening behind one relay. */
async function cluster(store: 'sqlite' | 'postgres', n: number) {
  const run = runs++;
  const schema = `fh_bench_nodes_${process.pid}_${run}`;
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const balancer = await Balancer.start(ports, await freePort());
  if (store === 'postgres') await ensureNats();
  const storage = store === 'sqlite' ? ['--data', join(dir, `run${run}`)] : ['--db', `${PG_URL}?schema=${schema}`];
  const children: ChildProcess[] = [];
  // One at a time: the first creates the schema, the others find it made.
  for (const [i, port] of ports.entries()) {
    // PostgreSQL nodes are deployed with their hints through NATS, so ingest pays for publishing them too.
    const nats = store === 'postgres' ? ['--nats', NATS_URL, '--node', `n${i + 1}`] : [];
    const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', String(port), '--public-url', balancer.url, '--quota', '10GiB', ...storage, ...nats], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('"event":"start"')) resolve();
      });
      child.on('exit', (c) => reject(new Error(`serve exited ${c}: ${out}`)));
    });
    children.push(child);
  }
  return {
    balancer,
    /** The entries table's bytes on disk (indexes and TOAST included) and its rows; SQLite: none. */
    async footprint(): Promise<{ bytes: number; rows: number }> {
      if (store === 'sqlite') return { bytes: 0, rows: 0 };
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      const { rows } = await c.query<{ bytes: string; rows: string }>(
        `SELECT pg_total_relation_size('${schema}.entries') AS bytes, (SELECT COUNT(*) FROM ${schema}.entries) AS rows`,
      );
      await c.end();
      return { bytes: Number(rows[0]!.bytes), rows: Number(rows[0]!.rows) };
    },
    cpuMs: () => children.map((c) => cpuMs(c.pid!)),
    async stop() {
      await Promise.all(children.map((c) => new Promise((r) => (c.on('exit', r), c.kill('SIGTERM')))));
      await balancer.close();
      if (store === 'postgres') {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      }
    },
  };
}

interface NodesRun {
  rate: number;
  /** CPU per acknowledged entry, summed over the nodes, and on the busiest node. */
  nodesUs: number;
  busiestUs: number;
  databaseUs: number;
  /** PostgreSQL's bytes on disk per entry stored, and the entries' own encoded size. */
  diskBytes: number;
  entryBytes: number;
}

/** 50 clients spread evenly over the nodes push 600 entries each; acknowledged entries a second and CPU per entry. */
async function ingest(store: 'sqlite' | 'postgres', nodes: number, clients = 50, perClient = 600): Promise<NodesRun> {
  const c = await cluster(store, nodes);
  try {
    const links: ProviderLink[] = [];
    const frames: { bytes: Uint8Array; count: number }[][] = [];
    let entryBytes = 0;
    for (let i = 0; i < clients; i++) {
      await c.balancer.use(i % nodes, false);
      const d = await registered(c.balancer.url);
      const space = await d.createSpace(true);
      const create = (await d.store.spaceEntries(space))[0]!;
      const batches = [[create.bytes], ...chunk(publicEntries(d, space, create.id, 2, create.id, perClient), 100).map((b) => b.map((e) => e.bytes))];
      entryBytes = batches[1]![0]!.length;
      frames.push(batches.map((b) => ({ bytes: encodeFrame(['entries', b]), count: b.length })));
      links.push(await ProviderLink.connect(c.balancer.url, d, WS));
    }
    const cpu0 = c.cpuMs();
    const db0 = postgresCpuMs();
    const t = performance.now();
    const total = (await Promise.all(links.map((l, i) => pushAll(l, frames[i]!)))).reduce((a, b) => a + b, 0);
    const rate = total / ((performance.now() - t) / 1000);
    const spent = c.cpuMs().map((ms, i) => ms - cpu0[i]!);
    for (const l of links) l.close();
    const perEntry = (ms: number) => (ms * 1000) / total;
    const disk = await c.footprint();
    return {
      diskBytes: disk.rows ? disk.bytes / disk.rows : 0,
      entryBytes,
      rate,
      nodesUs: perEntry(spent.reduce((a, b) => a + b, 0)),
      busiestUs: perEntry(Math.max(...spent)),
      databaseUs: store === 'postgres' ? perEntry(postgresCpuMs() - db0) : 0,
    };
  } finally {
    await c.stop();
  }
}

const medianRun = (rs: NodesRun[]): NodesRun => ({
  rate: median(rs.map((r) => r.rate)),
  nodesUs: median(rs.map((r) => r.nodesUs)),
  busiestUs: median(rs.map((r) => r.busiestUs)),
  databaseUs: median(rs.map((r) => r.databaseUs)),
  diskBytes: median(rs.map((r) => r.diskBytes)),
  entryBytes: median(rs.map((r) => r.entryBytes)),
});

/** What one fan-out run measured: delivery latency, and node CPU per entry written. */
interface FanoutRun {
  p50: number;
  p99: number;
  /** Node CPU per entry written, summed over the nodes, and on the busiest node. */
  nodesUs: number;
  busiestUs: number;
}

/**
 * A writer on node 1 sends `messages` entries one at a time (the next once every subscriber has the last);
 * `subscribers` anonymous sessions spread evenly over the nodes take them live. Latency runs from sending to a
 * subscriber's receiving: on other nodes it includes the hint through NATS.
 */
async function fanout(nodes: number, subscribers = 300, messages = 100): Promise<FanoutRun> {
  const c = await cluster('postgres', nodes);
  try {
    await c.balancer.use(0, false);
    const writer = await registered(c.balancer.url);
    const space = await writer.createSpace(true);
    const create = (await writer.store.spaceEntries(space))[0]!;
    const setup = await ProviderLink.connect(c.balancer.url, writer, WS);
    await pushAll(setup, [{ bytes: encodeFrame(['entries', [create.bytes]]) }]);
    setup.close();
    // Subscribers dial their node directly, so that which node each reaches is certain; each node's share at once.
    const subs: ProviderLink[] = [];
    for (let n = 0; n < nodes; n++) {
      for (const group of chunk(Array.from({ length: Math.ceil((subscribers - n) / nodes) }), 50)) {
        subs.push(
          ...(await Promise.all(
            group.map(async () => {
              const l = await ProviderLink.connect(`http://127.0.0.1:${c.balancer.targets[n]}`, null, WS);
              const { refused } = await l.subscribe([space]);
              if (refused.length) throw new Error(`fan-out: subscription refused: ${refused[0]}`);
              return l;
            }),
          )),
        );
      }
    }
    // Connected last: a session with no subscription is closed once idle for two minutes.
    const wlink = await ProviderLink.connect(c.balancer.url, writer, WS);
    const latencies: number[] = [];
    const sentAt = new Map<number, number>();
    let received = 0;
    for (const l of subs) {
      void (async () => {
        for (;;) {
          const f = decodeFrame(await l.next());
          if (f[0] !== 'entries') continue;
          for (const b of f[1]) latencies.push(performance.now() - sentAt.get(decodeEntry(b).seq)!);
          received += f[1].length;
        }
      })().catch(() => {});
    }
    const entries = publicEntries(writer, space, create.id, 2, create.id, messages, 64);
    const cpu0 = c.cpuMs();
    for (let i = 0; i < messages; i++) {
      sentAt.set(entries[i]!.seq, performance.now());
      await pushAll(wlink, [{ bytes: encodeFrame(['entries', [entries[i]!.bytes]]) }]);
      const target = (i + 1) * subscribers;
      const deadline = performance.now() + 10_000;
      while (received < target) {
        if (performance.now() > deadline) throw new Error(`fan-out: ${received} of ${target} pushes arrived`);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const spent = c.cpuMs().map((ms, i) => ms - cpu0[i]!);
    for (const l of [...subs, wlink]) l.close();
    latencies.sort((a, b) => a - b);
    const perEntry = (ms: number) => (ms * 1000) / messages;
    return {
      p50: latencies[Math.floor(latencies.length * 0.5)]!,
      p99: latencies[Math.floor(latencies.length * 0.99)]!,
      nodesUs: perEntry(spent.reduce((a, b) => a + b, 0)),
      busiestUs: perEntry(Math.max(...spent)),
    };
  } finally {
    await c.stop();
  }
}

/** Live fan-out on one node and across three (hints through NATS), three rounds in turn. */
async function fanoutAcrossNodes(subscribers = 300): Promise<Row[]> {
  const one: FanoutRun[] = [];
  const three: FanoutRun[] = [];
  for (let i = 0; i < 3; i++) {
    one.push(await fanout(1, subscribers));
    three.push(await fanout(3, subscribers));
  }
  const m = (rs: FanoutRun[], k: keyof FanoutRun) => median(rs.map((r) => r[k]));
  const fmt = (r: FanoutRun[]) => r.map((x) => `p50 ${x.p50.toFixed(1)} p99 ${x.p99.toFixed(1)} ms ${x.nodesUs.toFixed(0)} µs`).join(', ');
  console.error(`nodes fanout runs: 1 node ${fmt(one)}; 3 nodes ${fmt(three)}`);
  const base = 'PostgreSQL, 1 node';
  return [
    { name: `fan-out to ${subscribers} subscribers, 1 node: p50 latency`, value: m(one, 'p50'), unit: 'ms', lowerIsBetter: true },
    { name: `fan-out to ${subscribers} subscribers, 3 nodes (writer on node 1): p50 latency`, value: m(three, 'p50'), unit: 'ms', baselineName: base, baseline: m(one, 'p50'), lowerIsBetter: true },
    { name: `fan-out to ${subscribers} subscribers, 1 node: p99 latency`, value: m(one, 'p99'), unit: 'ms', lowerIsBetter: true },
    { name: `fan-out to ${subscribers} subscribers, 3 nodes (writer on node 1): p99 latency`, value: m(three, 'p99'), unit: 'ms', baselineName: base, baseline: m(one, 'p99'), lowerIsBetter: true },
    { name: `fan-out node CPU per entry written (${subscribers} pushes), 1 node`, value: m(one, 'nodesUs'), unit: ' µs', lowerIsBetter: true },
    {
      name: `fan-out node CPU per entry written (${subscribers} pushes), 3 nodes (sum)`,
      value: m(three, 'nodesUs'),
      unit: ' µs',
      baselineName: base,
      baseline: m(one, 'nodesUs'),
      lowerIsBetter: true,
    },
    { name: `fan-out node CPU per entry written, 3 nodes: busiest node`, value: m(three, 'busiestUs'), unit: ' µs', baselineName: base, baseline: m(one, 'nodesUs'), lowerIsBetter: true },
  ];
}

/** `npm run bench -- nodes [ingest|fanout]`. */
export async function nodesBench(only?: string): Promise<Row[]> {
  const rows: Row[] = [];
  if (!only || only === 'ingest') {
    const rs = { sqlite: [] as NodesRun[], pg1: [] as NodesRun[], pg3: [] as NodesRun[] };
    // In turns, so each setup meets the same moments of a machine shared with other work.
    for (let i = 0; i < 3; i++) {
      rs.sqlite.push(await ingest('sqlite', 1));
      rs.pg1.push(await ingest('postgres', 1));
      rs.pg3.push(await ingest('postgres', 3));
    }
    const [sqlite, pg1, pg3] = [medianRun(rs.sqlite), medianRun(rs.pg1), medianRun(rs.pg3)];
    const us = (v: number) => `${v.toFixed(0)} µs`;
    rows.push({ name: 'ingest, 1 node, SQLite: acked entries/s', value: sqlite.rate, unit: '/s', note: `node CPU/entry ${us(sqlite.nodesUs)}` });
    rows.push({ name: 'ingest, 1 node, PostgreSQL: acked entries/s', value: pg1.rate, unit: '/s', baselineName: 'SQLite, 1 node', baseline: sqlite.rate });
    rows.push({ name: 'ingest, 3 nodes, PostgreSQL: acked entries/s (one machine)', value: pg3.rate, unit: '/s', baselineName: 'PostgreSQL, 1 node', baseline: pg1.rate });
    rows.push({ name: 'node CPU per entry, SQLite, 1 node', value: sqlite.nodesUs, unit: ' µs', lowerIsBetter: true });
    rows.push({ name: 'node CPU per entry, PostgreSQL, 1 node', value: pg1.nodesUs, unit: ' µs', baselineName: 'SQLite node', baseline: sqlite.nodesUs, lowerIsBetter: true });
    rows.push({
      name: 'node CPU per entry, PostgreSQL, 3 nodes (sum)',
      value: pg3.nodesUs,
      unit: ' µs',
      baselineName: 'PostgreSQL, 1 node',
      baseline: pg1.nodesUs,
      lowerIsBetter: true,
    });
    rows.push({ name: 'node CPU per entry, PostgreSQL, 3 nodes: busiest node', value: pg3.busiestUs, unit: ' µs', baselineName: 'PostgreSQL, 1 node', baseline: pg1.nodesUs, lowerIsBetter: true });
    rows.push({ name: 'PostgreSQL CPU per entry, 1 node', value: pg1.databaseUs, unit: ' µs', baselineName: 'PostgreSQL node', baseline: pg1.nodesUs, lowerIsBetter: true });
    rows.push({ name: 'PostgreSQL CPU per entry, 3 nodes', value: pg3.databaseUs, unit: ' µs', baselineName: 'PostgreSQL, 1 node', baseline: pg1.databaseUs, lowerIsBetter: true });
    rows.push({ name: 'PostgreSQL bytes on disk per entry (table, indexes, TOAST)', value: pg1.diskBytes, unit: 'B', baselineName: 'the entry itself', baseline: pg1.entryBytes });
    const fmt = (r: NodesRun[]) => r.map((x) => `${x.rate.toFixed(0)}/s ${x.nodesUs.toFixed(0)}+${x.databaseUs.toFixed(0)} µs`).join(', ');
    console.error(`nodes ingest runs: SQLite ${fmt(rs.sqlite)}; PostgreSQL 1 node ${fmt(rs.pg1)}; 3 nodes ${fmt(rs.pg3)}`);
  }
    if (!only || only === 'fanout') rows.push(...(await fanoutAcrossNodes()));
  return rows;
}
