import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, Device, encodeCard, encodeFrame, decodeFrame, Kind, type EntryRow } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { ProviderLink, register } from '@freehold/client';
import { freePort } from '../test-support/net.js';
import { CountingProxy } from './peers/proxy.js';
import { chunk, publicEntries, pushAll, startServer, WS, type Server } from './server.js';
import { debug, entriesAt, median, until } from './federation-live.js';

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

export interface PeerUp {
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

/** A provider whose public URL is a counting relay, so every byte other providers exchange with it is counted. */
async function relayed(relay: { port: number; proxy: CountingProxy }, peerUps: PeerUp[]): Promise<Server> {
  return startServer('sqlite', ['--port', String(relay.port), '--public-url', `http://127.0.0.1:${relay.proxy.port}`], (line) => {
    if (line.includes('"event":"peer-up"')) peerUps.push(JSON.parse(line) as PeerUp);
    if (process.env.FREEHOLD_BENCH_DEBUG && !/"level":30/.test(line)) console.log(line.slice(0, 400));
  });
}

export interface ReconnectResult {
  peerBytes: number;
  peerRoundTrips: number;
  peerMs: number;
  perLink: PeerUp[];
  clientBytes: number;
  clientRoundTrips: number;
  clientMs: number;
  clientBy: Map<string, number>;
  ingestRate: number;
  replicationRate: number;
}

/**
 * An account on P1 and P2 with `spaces` spaces of `perSpace` entries, written through P1 and replicated to P2
 * by its live pushes; then the links between the two are cut while nothing differs, and reconnect. Bytes are counted at relays that stand for
 * each provider's public URL (both links: each provider leads its own); round trips and time come from each
 * side's peer-up log line. The baseline is the account's own device, holding the same data, reconnecting to P1.
 */
export async function reconnect(spaces = 1000, perSpace = 100, runs = 3): Promise<ReconnectResult> {
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
    for (const relay of relays) servers.push(await relayed(relay, ups));
    const direct = relays.map((r) => `http://127.0.0.1:${r.port}`);
    await register(direct[0]!, d);
    const rows = await bigAccount(d, spaces, perSpace);
    // Written through P1 (creations first, then four sessions at once), replicated to P2 by its live pushes.
    const frames = (list: EntryRow[]) => chunk(list, 100).map((c) => ({ bytes: encodeFrame(['entries', c.map((r) => r.bytes)]) }));
    const links = await Promise.all(Array.from({ length: 4 }, () => ProviderLink.connect(direct[0]!, d, WS)));
    const t = performance.now();
    await pushAll(links[0]!, frames(rows.filter((r) => r.kind === Kind.membership)));
    const rest = frames(rows.filter((r) => r.kind !== Kind.membership));
    const share = Math.ceil(rest.length / links.length);
    await Promise.all(links.map((l, i) => pushAll(l, rest.slice(i * share, (i + 1) * share))));
    const ingested = performance.now() - t;
    for (const l of links) l.close();
    const held = await entriesAt(direct[0]!);
    await until('P2 to replicate the account', async () => (await entriesAt(direct[1]!)) >= held, 240_000);
    const replicated = performance.now() - t;
    debug(`P1 acknowledged ${rows.length} entries in ${ingested.toFixed(0)} ms; P2 held them after ${replicated.toFixed(0)} ms`);
    // Both links up and quiet (P2's own link may still be reconnecting after its first try found P1 empty).
    await until('the providers to link up', () => ups.length >= 2, 60_000);
    await Promise.all(relays.map((r) => r.proxy.quiet(1000)));

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
      ingestRate: rows.length / (ingested / 1000),
      replicationRate: rows.length / (replicated / 1000),
    };
  } finally {
    for (const s of servers) await s.stop();
    for (const r of relays) await r.proxy.close();
    await store.close();
  }
}

