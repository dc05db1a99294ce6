import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, Device, encodeCard, encodeFrame, decodeEntry, decodeFrame, Kind, toHex, type EntryRow } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { openStore } from '@freehold/server';
import { ProviderLink, register } from '@freehold/client';
import { freePort } from '../test-support/net.js';
import { CountingProxy } from './peers/proxy.js';
import { newDevice, registered } from './accounts.js';
import { chunk, publicEntries, pushAll, startServer, WS, type Server } from './server.js';
import type { Row } from './table.js';

const debug = (s: string) => process.env.FREEHOLD_BENCH_DEBUG && console.log(`${new Date().toISOString()} ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const entriesAt = async (url: string): Promise<number> => ((await (await fetch(`${url}/healthz`)).json()) as { entries: number }).entries;

async function until(what: string, f: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!(await f())) {
    if (performance.now() > end) throw new Error(`federation bench: timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Notes when each entry pushed to `link` arrives (by entry id, on this process's clock) until the link closes. */
function arrivals(link: ProviderLink): Map<string, number> {
  const at = new Map<string, number>();
  void (async () => {
    for (;;) {
      const f = decodeFrame(await link.next());
      if (f[0] !== 'entries') continue;
      const t = performance.now();
      for (const b of f[1]) at.set(toHex(decodeEntry(b).id), t);
    }
  })().catch(() => {});
  return at;
}

/** An anonymous reader on `url` subscribed to `spaces`, once the provider holds them all. */
async function reader(url: string, spaces: Uint8Array[]): Promise<{ link: ProviderLink; at: Map<string, number> }> {
  const link = await ProviderLink.connect(url, null, WS);
  for (let tries = 0; ; tries++) {
    if ((await link.subscribe(spaces)).subscribed.length === spaces.length) break;
    if (tries > 500) throw new Error(`federation bench: ${url} never held the writers' spaces`);
    await sleep(20);
  }
  return { link, at: arrivals(link) };
}

async function ackOf(link: ProviderLink): Promise<void> {
  for (;;) {
    const f = decodeFrame(await link.next());
    if (f[0] !== 'ack') continue;
    if (f[2].length) throw new Error(`bench entry refused: ${f[2][0]![1]} ${f[2][0]![2]}`);
    return;
  }
}

interface WritersResult {
  /** Per entry: P1's ack → a reader on P2 has it (federated), or the write → a reader on P1 has it (single). */
  lag: number[];
  /** Federated only, per entry: P1's ack → a reader on P1 has it (the part of the lag spent before the peer hop). */
  local: number[];
  missing: number;
  cpuUs: { p1: number; p2: number };
}

/**
 * 50 accounts each write one entry at a time into a public space through P1, paced at `perSecond` entries a
 * second each. Federated: their identity logs list P1 and P2, so P1 pushes every entry to P2, whose reader
 * receives it; single: they live at P1 only and a reader on P1 receives it.
 */
async function writers(federated: boolean, count = 50, perSecond = Number(process.env.FED_RATE ?? 10), seconds = 5): Promise<WritersResult> {
  const p1 = await startServer('sqlite');
  const p2 = federated ? await startServer('sqlite') : undefined;
  try {
    const homes = p2 ? [p1.url, p2.url] : [p1.url];
    const perWriter = perSecond * seconds;
    const ws = await Promise.all(
      Array.from({ length: count }, async () => {
        const d = await newDevice();
        await d.setProviders(homes);
        await register(p1.url, d);
        const space = await d.createSpace(true);
        const create = (await d.store.spaceEntries(space))[0]!;
        const link = await ProviderLink.connect(p1.url, d, WS);
        await pushAll(link, [{ bytes: encodeFrame(['entries', [create.bytes]]) }]);
        const entries = publicEntries(d, space, create.id, 2, create.id, perWriter, 200);
        return { space, link, frames: entries.map((e) => ({ id: toHex(e.id), bytes: encodeFrame(['entries', [e.bytes]]) })) };
      }),
    );
    const spaces = ws.map((w) => w.space);
    const local = await reader(p1.url, spaces);
    const remote = p2 ? await reader(p2.url, spaces) : undefined;
    const sent = new Map<string, number>();
    const acked = new Map<string, number>();
    const cpu0 = { p1: p1.cpuMs(), p2: p2?.cpuMs() ?? 0 };
    const bench0 = process.cpuUsage();
    const interval = 1000 / perSecond;
    const t0 = performance.now() + 50;
    await Promise.all(
      ws.map(async (w, k) => {
        for (let i = 0; i < w.frames.length; i++) {
          const wait = t0 + (k / count) * interval + i * interval - performance.now();
          if (wait > 0) await sleep(wait);
          const f = w.frames[i]!;
          sent.set(f.id, performance.now());
          w.link.send(f.bytes);
          await ackOf(w.link);
          acked.set(f.id, performance.now());
        }
      }),
    );
    const total = count * perWriter;
    const readerAt = remote?.at ?? local.at;
    await until('the readers to receive every entry', () => readerAt.size >= total || performance.now() - t0 > seconds * 1000 + 30_000, 60_000);
    const cpuUs = { p1: ((p1.cpuMs() - cpu0.p1) * 1000) / total, p2: p2 ? ((p2.cpuMs() - cpu0.p2) * 1000) / total : 0 };
    // Loss is counted in the stores, not at the reader: a live push is a hint, the store is the guarantee.
    let missing = 0;
    if (p2) {
      const want = await entriesAt(p1.url);
      await until('P2 to hold what P1 acknowledged', async () => (await entriesAt(p2.url)) >= want, 60_000).catch(() => {});
      missing = Math.max(0, want - (await entriesAt(p2.url)));
    }
    const lag: number[] = [];
    const localLag: number[] = [];
    for (const [id, at] of acked) {
      const there = readerAt.get(id);
      if (there !== undefined) lag.push(there - (p2 ? at : sent.get(id)!));
      const here = local.at.get(id);
      if (p2 && here !== undefined) localLag.push(here - at);
    }
    for (const l of [...ws.map((w) => w.link), local.link, ...(remote ? [remote.link] : [])]) l.close();
    const ms = (xs: number[]) => !xs.length ? "-" : `p50 ${pct(xs, 0.5).toFixed(1)} p90 ${pct(xs, 0.9).toFixed(1)} p99 ${pct(xs, 0.99).toFixed(1)} max ${pct(xs, 1).toFixed(1)}`;
    debug(`${p2 ? 'federated' : 'single'}: lag ${ms(lag)}; P1 ack → P1 reader ${ms(localLag)}; CPU/entry P1 ${cpuUs.p1.toFixed(0)} µs P2 ${cpuUs.p2.toFixed(0)} µs; bench ${((process.cpuUsage(bench0).user + process.cpuUsage(bench0).system) / total).toFixed(0)} µs`);
    return { lag, local: localLag, missing, cpuUs };
  } finally {
    await p1.stop();
    await p2?.stop();
  }
}

interface DmResult {
  p50: number;
  p99: number;
}

/**
 * Alice (on P1) reads her inbox through a subscription on P1; the sender writes to it one message at a time,
 * either from P3 (its provider mirrors the inbox and delivers to P1) or as another account on P1.
 */
async function directMessages(p1: Server, p3: Server | undefined, messages = 20): Promise<DmResult> {
  const alice = await registered(p1.url);
  const inbox = await alice.createSpace(false, { inbox: true });
  const aliceLink = await ProviderLink.connect(p1.url, alice, WS);
  await aliceLink.sync(alice);
  await aliceLink.subscribe([inbox]);
  const got = arrivals(aliceLink);
  const home = p3?.url ?? p1.url;
  const sender = await registered(home);
  await sender.replica.addCard(encodeCard(alice.identity()));
  const link = await ProviderLink.connect(home, sender, WS);
  if (p3) await link.mirror(sender, [{ space: inbox, owner: alice.account }]);
  // The sender needs the inbox's membership log to write to it: through its own provider, from the mirror.
  await until('the sender to see the inbox', async () => {
    await link.sync(sender, { interest: [inbox] });
    return (await sender.replica.graph(inbox)).created;
  }, 20_000);
  const latencies: number[] = [];
  for (let i = 0; i < messages; i++) {
    const e = await sender.write(inbox, Kind.append, new Uint8Array(16), new TextEncoder().encode(`message ${i}`));
    const id = toHex(e.id);
    const t = performance.now();
    link.send(encodeFrame(['entries', [e.bytes]]));
    await ackOf(link);
    await until('the message to reach Alice', () => got.has(id), 20_000);
    latencies.push(got.get(id)! - t);
    // Paced like a conversation, and within the inbox's limits on senders from other providers.
    await sleep(200);
  }
  link.close();
  aliceLink.close();
  return { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) };
}

/** Bytes on the wire by frame kind, for a session driven from this process (where reconnect bytes go). */
function tally(link: ProviderLink): { by: Map<string, number>; stop(): void } {
  const by = new Map<string, number>();
  const add = (b: Uint8Array) => {
    const k = decodeFrame(b)[0];
    by.set(k, (by.get(k) ?? 0) + b.length);
  };
  const send = link.send.bind(link);
  const next = link.next.bind(link);
  link.send = (b) => {
    add(b);
    send(b);
  };
  link.next = async () => {
    const b = await next();
    add(b);
    return b;
  };
  return { by, stop: () => Object.assign(link, { send, next }) };
}

interface PeerUp {
  ms: number;
  bytesSent: number;
  bytesReceived: number;
  reconcileMessages: number;
  roundTrips: number;
  entriesSent: number;
  entriesReceived: number;
}

const dataDir = mkdtempSync(join(tmpdir(), 'freehold-bench-fed-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
let stores = 0;

/**
 * One account's `spaces` public spaces of `perSpace` entries each (the creation included), all signed by its
 * device `d`, which holds them too (its reconnect is an up-to-date one). Returns every row.
 */
async function bigAccount(d: Device, spaces: number, perSpace: number): Promise<EntryRow[]> {
  for (let s = 0; s < spaces; s++) await d.createSpace(true);
  let seq = (await d.store.maxSeq(d.id)) + 1;
  let prev = (await d.store.idBySeq(d.id, seq - 1))!;
  const rows: EntryRow[] = [];
  for (const space of await d.store.spaces()) {
    const create = (await d.store.spaceEntries(space))[0]!;
    rows.push(create);
    const entries = publicEntries(d, space, create.id, seq, prev, perSpace - 1, 200);
    seq += entries.length;
    prev = entries.at(-1)!.id;
    for (const e of entries) rows.push({ id: e.id, space: e.space, doc: e.doc, kind: e.kind, device: e.device, seq: e.seq, time: e.time, bytes: e.bytes });
  }
  // The creations are in the device's store already (it made them).
  await d.store.putEntries(rows.filter((r) => r.kind !== Kind.membership));
  return rows;
}

/**
 * A provider's data folder holding the account and its rows, written through the store the provider opens: the
 * rows it would have stored had they arrived over the network (which takes minutes for 100k entries per provider
 * on this machine; the scenario measures what follows, not the filling).
 */
async function providerData(d: Device, rows: EntryRow[]): Promise<string> {
  const data = join(dataDir, `p${stores++}`);
  const store = await openStore({ data });
  await store.putCard(d.account, encodeCard(d.identity()));
  await store.putAccount({ account: d.account, quota: 10 * 2 ** 30, used: rows.reduce((n, r) => n + r.bytes.length, 0), created: Date.now() });
  for (const c of chunk(rows, 5000)) await store.putEntries(c);
  await store.close();
  return data;
}

/** A provider on `data` whose public URL is a counting relay, so every byte other providers exchange with it is counted. */
async function relayed(relay: { port: number; proxy: CountingProxy }, data: string, peerUps: PeerUp[]): Promise<Server> {
  return startServer('sqlite', ['--port', String(relay.port), '--data', data, '--public-url', `http://127.0.0.1:${relay.proxy.port}`], (line) => {
    if (line.includes('"event":"peer-up"')) peerUps.push(JSON.parse(line) as PeerUp);
    if (process.env.FREEHOLD_BENCH_DEBUG && !/"level":30/.test(line)) console.log(line.slice(0, 400));
  });
}

interface ReconnectResult {
  peerBytes: number;
  peerRoundTrips: number;
  peerMs: number;
  perLink: PeerUp[];
  clientBytes: number;
  clientRoundTrips: number;
  clientMs: number;
  clientBy: Map<string, number>;
}

/**
 * An account on P1 and P2 with `spaces` spaces of `perSpace` entries, both providers holding all of it; the
 * links between them are cut while nothing differs, and reconnect. Bytes are counted at relays that stand for
 * each provider's public URL (both links: each provider leads its own); round trips and time come from each
 * side's peer-up log line. The baseline is the account's own device, holding the same data, reconnecting to P1.
 */
async function reconnect(spaces = 1000, perSpace = 100, runs = 3): Promise<ReconnectResult> {
  const relays = await Promise.all([0, 1].map(async () => {
    const port = await freePort();
    return { port, proxy: await CountingProxy.start(port) };
  }));
  const ups: PeerUp[] = [];
  const servers: Server[] = [];
  // On SQLite, as the CLI keeps a replica (the in-memory store scans every entry per query).
  const store = new SqliteStore(join(dataDir, 'device.db'));
  try {
    const acct = createAccount('bench', Date.now());
    await store.putCard(acct.state.account, encodeCard(acct.state));
    const d = await Device.open(store, acct.device, acct.state.account);
    await d.setProviders(relays.map((r) => `http://127.0.0.1:${r.proxy.port}`));
    const rows = await bigAccount(d, spaces, perSpace);
    debug(`built ${rows.length} entries`);
    for (const relay of relays) servers.push(await relayed(relay, await providerData(d, rows), ups));
    const direct = relays.map((r) => `http://127.0.0.1:${r.port}`);
    for (const url of direct) if ((await entriesAt(url)) < rows.length) throw new Error(`federation bench: ${url} does not hold the account`);
    await until('the providers to link up', () => ups.length >= 2, 60_000);
    await Promise.all(relays.map((r) => r.proxy.quiet(1000)));
    debug('linked');

    const peer: { bytes: number; ups: PeerUp[] }[] = [];
    for (let i = 0; i < runs; i++) {
      const seen = ups.length;
      for (const r of relays) r.proxy.reset();
      for (const r of relays) r.proxy.drop();
      await until('both peer links to reconcile again', () => ups.length >= seen + 2, 60_000);
      await Promise.all(relays.map((r) => r.proxy.quiet(1000)));
      peer.push({ bytes: relays[0]!.proxy.bytes + relays[1]!.proxy.bytes, ups: ups.slice(seen, seen + 2) });
    }
    const client: { bytes: number; roundTrips: number; ms: number; by: Map<string, number> }[] = [];
    const toClient = await CountingProxy.start(relays[0]!.port);
    try {
      for (let i = 0; i < runs; i++) {
        toClient.reset();
        const s = performance.now();
        const link = await ProviderLink.connect(`http://127.0.0.1:${toClient.port}`, d, WS);
        const frames = tally(link);
        const { roundTrips, stats } = await link.sync(d);
        const ms = performance.now() - s;
        frames.stop();
        link.close();
        await toClient.quiet(1000);
        if (stats.entriesReceived || stats.entriesSent) throw new Error('federation bench: the device was not up to date');
        client.push({ bytes: toClient.bytes, roundTrips, ms, by: frames.by });
      }
    } finally {
      await toClient.close();
    }
    const moved = peer.flatMap((p) => p.ups).reduce((n, u) => n + u.entriesSent + u.entriesReceived, 0);
    if (moved) throw new Error(`federation bench: an up-to-date reconnect moved ${moved} entries`);
    const mid = peer.find((p) => p.bytes === median(peer.map((x) => x.bytes)))!;
    return {
      peerBytes: mid.bytes,
      peerRoundTrips: median(peer.flatMap((p) => p.ups.map((u) => u.roundTrips))),
      peerMs: median(peer.flatMap((p) => p.ups.map((u) => u.ms))),
      perLink: mid.ups,
      clientBytes: median(client.map((c) => c.bytes)),
      clientRoundTrips: median(client.map((c) => c.roundTrips)),
      clientMs: median(client.map((c) => c.ms)),
      clientBy: client[0]!.by,
    };
  } finally {
    for (const s of servers) await s.stop();
    for (const r of relays) await r.proxy.close();
    await store.close();
  }
}

const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

/** Every scenario, or only the one named (`npm run bench -- federation dm`). */
export async function federationBench(only?: string): Promise<Row[]> {
  const rows: Row[] = [];
  const want = (name: string) => !only || only === name;
  if (want('replication')) {
    const runs = 3;
    const single: WritersResult[] = [];
    const fed: WritersResult[] = [];
    for (let i = 0; i < runs; i++) {
      single.push(await writers(false));
      fed.push(await writers(true));
    }
    const m = (rs: WritersResult[], f: (r: WritersResult) => number) => median(rs.map(f));
    const lag50 = m(fed, (r) => pct(r.lag, 0.5));
    const lag99 = m(fed, (r) => pct(r.lag, 0.99));
    const load = '50 writers × 10 entries/s through P1';
    rows.push({ name: `(a) replication lag P1→P2 (P1's ack → a reader on P2), ${load}: p50`, value: lag50, unit: 'ms', baselineName: 'same provider, write → reader on P1', baseline: m(single, (r) => pct(r.lag, 0.5)), lowerIsBetter: true });
    rows.push({ name: '(a) replication lag P1→P2: p99', value: lag99, unit: 'ms', baselineName: 'same provider', baseline: m(single, (r) => pct(r.lag, 0.99)), target: '≤ 100 ms', lowerIsBetter: true });
    if (lag99 > 100) {
      const note =
        `missed: P1's ack → its own reader p99 ${m(fed, (r) => pct(r.local, 0.99)).toFixed(1)} ms; CPU/entry P1 ${m(fed, (r) => r.cpuUs.p1).toFixed(0)} µs ` +
        `(alone: ${m(single, (r) => r.cpuUs.p1).toFixed(0)} µs), P2 ${m(fed, (r) => r.cpuUs.p2).toFixed(0)} µs`;
      rows.push({ name: '(a) where the time goes', value: lag99, unit: 'ms', note });
    }
    rows.push({ name: '(a) entries P1 acknowledged that P2 lacks afterwards', value: Math.max(...fed.map((r) => r.missing)), unit: '', target: '0', lowerIsBetter: true });
  }
  if (want('dm')) {
    const p1 = await startServer('sqlite');
    const p3 = await startServer('sqlite');
    try {
      const cross: DmResult[] = [];
      const same: DmResult[] = [];
      for (let i = 0; i < 3; i++) {
        same.push(await directMessages(p1, undefined));
        cross.push(await directMessages(p1, p3));
      }
      rows.push({ name: '(b) direct message across providers (Bob on P3 → Alice reading on P1): p50', value: median(cross.map((r) => r.p50)), unit: 'ms', baselineName: 'sender on P1 too', baseline: median(same.map((r) => r.p50)), lowerIsBetter: true });
      rows.push({ name: '(b) direct message across providers: p99', value: median(cross.map((r) => r.p99)), unit: 'ms', baselineName: 'sender on P1 too', baseline: median(same.map((r) => r.p99)), lowerIsBetter: true });
    } finally {
      await p1.stop();
      await p3.stop();
    }
  }
  if (want('reconnect')) {
    const r = await reconnect();
    const what = 'up-to-date P1↔P2 reconnect, 1k spaces / 100k entries';
    rows.push({ name: `(c) ${what}: bytes on the wire (both links)`, value: r.peerBytes / 1024, unit: ' KiB', baselineName: "the account's device reconnecting to P1", baseline: r.clientBytes / 1024, target: '< 50 KB', lowerIsBetter: true });
    if (r.peerBytes >= 50_000) {
      const links = r.perLink.map((u) => `${kib(u.bytesSent)} out / ${kib(u.bytesReceived)} in, ${u.reconcileMessages} rec frames`).join('; ');
      const client = [...r.clientBy].sort((a, b) => b[1] - a[1]).map(([k, b]) => `${k} ${kib(b)}`).join(', ');
      rows.push({ name: '(c) where the bytes go', value: r.peerBytes / 1024, unit: ' KiB', note: `missed: per link ${links}; the device's frames: ${client}` });
    }
    rows.push({ name: `(c) ${what}: round trips (each link)`, value: r.peerRoundTrips, unit: '', baselineName: 'device', baseline: r.clientRoundTrips, lowerIsBetter: true });
    rows.push({ name: `(c) ${what}: time to reconcile (each link)`, value: r.peerMs, unit: 'ms', baselineName: 'device', baseline: r.clientMs, lowerIsBetter: true });
  }
  return rows;
}
