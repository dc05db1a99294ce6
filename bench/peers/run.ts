// Runs the same scenarios against Freehold and the systems people would pick instead, in one run on this
// machine, and writes the tables to stdout and docs/BENCHMARKS.md.
// `npm run bench:peers [-- --quick] [-- --only=websocket,jazz] [-- --scenarios=cold,ingest,fanout,idle] [-- --runs=N]`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CountingProxy } from './proxy.js';
import { departures, StampingRelay } from './relay.js';
import { limitsTable, physicalLimits } from './limits.js';
import { sleep, type Server } from './process.js';
import type { Loaded, System } from './system.js';
import { freehold } from './systems/freehold.js';
import { yjs } from './systems/yjs.js';
import { automerge } from './systems/automerge.js';
import { jazz } from './systems/jazz.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = flag('only')?.split(',');
// Scenario groups, as each shares a server: cold runs (a), (d) and (f).
const groups = flag('scenarios')?.split(',');
const runs = Number(flag('runs') ?? 5);
const P = quick
  ? { runs, docs: 1000, clients: 10, ingestMs: 1500, subscribers: 50, writes: 5, idle: 200 }
  : { runs, docs: 10_000, clients: 50, ingestMs: 3000, subscribers: 500, writes: 10, idle: 1000 };

type Scenario = 'cold' | 'ingest' | 'fanout-p50' | 'fanout-p99' | 'fanout-server-p50' | 'fanout-server-p99' | 'reconnect-bytes' | 'reconnect-ms' | 'idle' | 'idle-more' | 'disk';
const SCENARIOS: { key: Scenario; title: string; unit: string; higherIsBetter?: boolean }[] = [
  { key: 'cold', title: `(a) Cold sync: ${P.docs.toLocaleString('en')} small documents from the server to a fresh client`, unit: 'ms' },
  { key: 'ingest', title: `(b) ${P.clients} clients writing at once: acknowledged writes per second`, unit: '/s', higherIsBetter: true },
  { key: 'fanout-p50', title: `(c) Fan-out from one writer to ${P.subscribers} subscribers: p50 latency`, unit: 'ms' },
  { key: 'fanout-p99', title: `(c) Fan-out from one writer to ${P.subscribers} subscribers: p99 latency`, unit: 'ms' },
  { key: 'fanout-server-p50', title: `(c) Fan-out, server side: p50 until each subscriber's copy leaves the server`, unit: 'ms' },
  { key: 'fanout-server-p99', title: `(c) Fan-out, server side: p99 until each subscriber's copy leaves the server`, unit: 'ms' },
  { key: 'reconnect-bytes', title: `(d) Reconnect when already up to date, ${P.docs.toLocaleString('en')} documents: bytes on the wire`, unit: 'B' },
  { key: 'reconnect-ms', title: `(d) Reconnect when already up to date, ${P.docs.toLocaleString('en')} documents: time until the wire is quiet`, unit: 'ms' },
  { key: 'idle', title: `(e) Server memory per idle connection (${P.idle.toLocaleString('en')} connections)`, unit: 'KiB' },
  { key: 'idle-more', title: `(e) Server memory per idle connection, the next ${P.idle.toLocaleString('en')} (with ${P.idle.toLocaleString('en')} open)`, unit: 'KiB' },
  { key: 'disk', title: `(f) Bytes on disk for the same ${P.docs.toLocaleString('en')} documents`, unit: 'B' },
];

// automerge-repo's WebSocket adapter throws from a socket's error handler when a connection drops; that must not
// end the whole run.
process.on('uncaughtException', (e) => console.error(`  uncaught in a client library: ${e.message}`));

const systems = [freehold('sqlite'), freehold('postgres'), automerge(), yjs(), jazz()].filter((s) => !only || only.some((o) => s.name.toLowerCase().includes(o.toLowerCase())));
const results = new Map<string, Map<Scenario, number[] | string>>();
const work = mkdtempSync(join(tmpdir(), 'freehold-peers-'));
let dirs = 0;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const median = (xs: number[]) => pct(xs, 0.5);

async function withServer<T>(s: System, f: (server: Server) => Promise<T>): Promise<T> {
  const server = await s.start(join(work, `srv-${dirs++}`));
  try {
    return await f(server);
  } finally {
    await server.stop();
    await server.dispose?.();
  }
}

/** Runs one scenario group; a failure marks its scenarios n/a with the reason instead of stopping the run. */
async function attempt(system: System, keys: Scenario[], f: (record: (k: Scenario, v: number) => void) => Promise<void>): Promise<void> {
  const mine = results.get(system.name)!;
  const record = (k: Scenario, v: number) => {
    const held = mine.get(k);
    mine.set(k, [...(Array.isArray(held) ? held : []), v]);
  };
  try {
    await f(record);
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0]!.slice(0, 160);
    console.error(`  ${system.name}: ${keys.join(', ')} failed: ${reason}`);
    for (const k of keys) mine.set(k, `n/a: ${reason}`);
  }
}

const progress = (system: System, what: string) => console.error(`  ${system.name}: ${what}`);

console.error('# physical limits');
const limits = await physicalLimits();
const selected = (group: string) => !groups || groups.includes(group);

for (const system of systems) {
  console.error(`# ${system.name}`);
  results.set(system.name, new Map());
  if (selected('cold')) await attempt(system, ['cold', 'reconnect-bytes', 'reconnect-ms', 'disk'], (record) =>
    withServer(system, async (server) => {
      progress(system, `seeding ${P.docs} documents`);
      const seeded = await system.seed(server, P.docs);
      let loaded: Loaded | undefined;
      for (let r = 0; r < P.runs; r++) {
        await loaded?.close();
        const proxy = await CountingProxy.start(server.port);
        const t = performance.now();
        loaded = await system.coldLoad(proxy.port, seeded);
        record('cold', performance.now() - t);
        progress(system, `cold sync ${r + 1}/${P.runs}: ${(performance.now() - t).toFixed(0)} ms`);
        await proxy.close();
      }
      const proxy = await CountingProxy.start(server.port);
      for (let r = 0; r < P.runs; r++) {
        await sleep(500);
        proxy.reset();
        const t = performance.now();
        const how = await loaded!.reconnect(proxy.port);
        const synced = performance.now();
        const last = await proxy.quiet(1000);
        const ms = (how === 'synced' ? synced : Math.max(synced, last)) - t;
        record('reconnect-ms', ms);
        // Bytes until the wire is quiet: what the reconnection cost, whatever signalled its end.
        record('reconnect-bytes', proxy.bytes);
        progress(system, `reconnect ${r + 1}/${P.runs}: ${proxy.bytes} B, ${ms.toFixed(0)} ms`);
      }
      await loaded!.close();
      await proxy.close();
      await server.stop();
      record('disk', await server.diskBytes());
    }),
  );
  if (selected('ingest')) await attempt(system, ['ingest'], (record) =>
    withServer(system, async (server) => {
      for (let r = 0; r < P.runs; r++) {
        const rate = await system.ingest(server, P.clients, P.ingestMs);
        record('ingest', rate);
        progress(system, `ingest ${r + 1}/${P.runs}: ${rate.toFixed(0)}/s`);
      }
    }),
  );
  if (selected('fanout')) await attempt(system, ['fanout-p50', 'fanout-p99', 'fanout-server-p50', 'fanout-server-p99'], (record) =>
    withServer(system, async (server) => {
      for (let r = 0; r < P.runs; r++) {
        // Subscribers connect through the relay, which stamps when each copy leaves the server.
        const relay = await StampingRelay.start(server.port, system.keepalive);
        try {
          const { latencies: lat, writes } = await system.fanout(server, relay.port, P.subscribers, P.writes);
          const { latencies: left, extra } = departures(await relay.stamps(), writes);
          if (left.length !== P.subscribers * P.writes) throw new Error(`the relay saw ${left.length} copies leave the server, not ${P.subscribers * P.writes}`);
          record('fanout-p50', pct(lat, 0.5));
          record('fanout-p99', pct(lat, 0.99));
          record('fanout-server-p50', pct(left, 0.5));
          record('fanout-server-p99', pct(left, 0.99));
          progress(
            system,
            `fan-out ${r + 1}/${P.runs}: p50 ${pct(lat, 0.5).toFixed(1)} ms, p99 ${pct(lat, 0.99).toFixed(1)} ms; leaving the server p50 ${pct(left, 0.5).toFixed(1)} ms, p99 ${pct(left, 0.99).toFixed(1)} ms (${extra} messages beyond the copies)`,
          );
        } finally {
          await relay.close();
        }
      }
    }),
  );
  // The first connections also pay for what the process grows once (V8's young generation reaching its working
  // size, allocator arenas); the next as many, with those still open, pay only for what each connection holds.
  if (selected('idle')) await attempt(system, ['idle', 'idle-more'], async (record) => {
    for (let r = 0; r < P.runs; r++) {
      await withServer(system, async (server) => {
        await sleep(1000);
        const perConn = async () => {
          const before = server.rss();
          const close = await system.idle(server, P.idle);
          await sleep(2000);
          return { kib: (server.rss() - before) / P.idle / 1024, close };
        };
        const first = await perConn();
        const more = await perConn();
        await first.close();
        await more.close();
        record('idle', first.kib);
        record('idle-more', more.kib);
        progress(system, `idle ${r + 1}/${P.runs}: ${first.kib.toFixed(1)} KiB per connection, ${more.kib.toFixed(1)} KiB for the next ${P.idle}`);
      });
    }
  });
}
rmSync(work, { recursive: true, force: true });

const fmt = (v: number, unit: string) =>
  unit === 'ms' ? `${v.toFixed(v < 100 ? 1 : 0)} ms` : unit === 'B' ? (v >= 1e6 ? `${(v / 2 ** 20).toFixed(1)} MiB` : v >= 1e4 ? `${(v / 1024).toFixed(1)} KiB` : `${Math.round(v)} B`) : unit === 'KiB' ? `${v.toFixed(1)} KiB` : `${Math.round(v).toLocaleString('en')}/s`;

const reference = systems[0]!.name;
const tables: string[] = [];
for (const sc of SCENARIOS.filter((sc) => [...results.values()].some((m) => m.has(sc.key)))) {
  const lines = [`### ${sc.title}`, '', `| system | median | min – max | × ${reference} |`, '|---|---|---|---|'];
  const ref = results.get(reference)?.get(sc.key);
  for (const s of systems) {
    const v = results.get(s.name)!.get(sc.key);
    if (!Array.isArray(v)) {
      lines.push(`| ${s.name} | ${v ?? 'n/a'} | | |`);
      continue;
    }
    const ratio = Array.isArray(ref) ? (median(v) / median(ref)).toFixed(2) : '';
    lines.push(`| ${s.name} | ${fmt(median(v), sc.unit)} | ${fmt(Math.min(...v), sc.unit)} – ${fmt(Math.max(...v), sc.unit)} | ${ratio} |`);
  }
  lines.push('', sc.higherIsBetter ? 'Higher is better.' : 'Lower is better.', '');
  tables.push(lines.join('\n'));
}

const version = (pkg: string) => (JSON.parse(readFileSync(fileURLToPath(new URL(`./node_modules/${pkg}/package.json`, import.meta.url)), 'utf8')) as { version: string }).version;
const versions = ['@automerge/automerge-repo', '@automerge/automerge-repo-network-websocket', '@automerge/automerge-repo-storage-nodefs', 'yjs', 'y-websocket', '@y/websocket-server', 'y-leveldb', 'jazz-run', 'cojson', 'cojson-transport-ws'].map((p) => `${p} ${version(p)}`);
const header = [
  `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${quick ? ' (quick sizes)' : ''}.`,
  `Each figure is the median of ${P.runs} runs, with their minimum and maximum. Packages: ${versions.join(', ')}.`,
].join('\n');
const report = `${header}\n\n${tables.join('\n')}\n${limitsTable(limits)}`;
console.log(report);
if (!quick && !only && !groups && runs === 5) {
  const doc = fileURLToPath(new URL('../../docs/BENCHMARKS.md', import.meta.url));
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- results -->';
  const end = '<!-- /results -->';
  writeFileSync(doc, `${text.slice(0, text.indexOf(start) + start.length)}\n${report}\n${text.slice(text.indexOf(end))}`);
  console.error(`written to ${doc}`);
}
// Some client libraries keep timers alive after shutdown.
process.exit(0);
