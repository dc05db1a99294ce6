import { encodeCard, encodeFrame, decodeEntry, decodeFrame, Kind, toHex } from '@freehold/core';
import { ProviderLink, register } from '@freehold/client';
import { newDevice, registered } from './accounts.js';
import { publicEntries, pushAll, startServer, WS, type Server } from './server.js';

/** Live federation scenarios: replication lag under load, and direct messages across providers. */

export const debug = (s: string) => process.env.FREEHOLD_BENCH_DEBUG && console.log(`${new Date().toISOString()} ${s}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
export const entriesAt = async (url: string): Promise<number> => ((await (await fetch(`${url}/healthz`)).json()) as { entries: number }).entries;

export async function until(what: string, f: () => Promise<boolean> | boolean, ms: number): Promise<void> {
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

export async function ackOf(link: ProviderLink): Promise<void> {
  for (;;) {
    const f = decodeFrame(await link.next());
    if (f[0] !== 'ack') continue;
    if (f[2].length) throw new Error(`bench entry refused: ${f[2][0]![1]} ${f[2][0]![2]}`);
    return;
  }
}

export interface WritersResult {
  /** Per entry: P1's ack → a reader on P2 has it (federated), or the write → a reader on P1 has it (single). */
  lag: number[];
  /** Federated only, per entry: a reader on P1 has it → a reader on P2 has it (the hop between providers). */
  hop: number[];
  missing: number;
  /** CPU time per entry written: each provider's, and this process's (writers and readers). */
  cpuUs: { p1: number; p2: number; bench: number };
}

/**
 * 50 accounts each write one entry at a time into a public space through P1, paced at `perSecond` entries a
 * second each. Federated: their identity logs list P1 and P2, so P1 pushes every entry to P2, whose reader
 * receives it; single: they live at P1 only and a reader on P1 receives it.
 */
export async function writers(federated: boolean, count = 50, perSecond = 10, seconds = 5): Promise<WritersResult> {
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
    const bench = process.cpuUsage(bench0);
    const cpuUs = { p1: ((p1.cpuMs() - cpu0.p1) * 1000) / total, p2: p2 ? ((p2.cpuMs() - cpu0.p2) * 1000) / total : 0, bench: (bench.user + bench.system) / total };
    // Loss is counted in the stores, not at the reader: a live push is a hint, the store is the guarantee.
    let missing = 0;
    if (p2) {
      const want = await entriesAt(p1.url);
      await until('P2 to hold what P1 acknowledged', async () => (await entriesAt(p2.url)) >= want, 60_000).catch(() => {});
      missing = Math.max(0, want - (await entriesAt(p2.url)));
    }
    const lag: number[] = [];
    const hop: number[] = [];
    for (const [id, at] of acked) {
      const there = readerAt.get(id);
      if (there !== undefined) lag.push(there - (p2 ? at : sent.get(id)!));
      const here = local.at.get(id);
      if (p2 && here !== undefined && there !== undefined) hop.push(there - here);
    }
    for (const l of [...ws.map((w) => w.link), local.link, ...(remote ? [remote.link] : [])]) l.close();
    const ms = (xs: number[]) => (xs.length ? `p50 ${pct(xs, 0.5).toFixed(1)} p99 ${pct(xs, 0.99).toFixed(1)} max ${pct(xs, 1).toFixed(1)} ms` : '-');
    debug(`${p2 ? 'federated' : 'single'}: lag ${ms(lag)}; hop ${ms(hop)}; CPU/entry P1 ${cpuUs.p1.toFixed(0)} µs, P2 ${cpuUs.p2.toFixed(0)} µs, bench ${cpuUs.bench.toFixed(0)} µs`);
    return { lag, hop, missing, cpuUs };
  } finally {
    await p1.stop();
    await p2?.stop();
  }
}

export interface DmResult {
  p50: number;
  p99: number;
}

/**
 * Alice (on P1) reads her inbox through a subscription on P1; the sender writes to it one message at a time,
 * either from P3 (its provider mirrors the inbox and delivers to P1) or as another account on P1.
 */
export async function directMessages(p1: Server, p3: Server | undefined, messages = 20): Promise<DmResult> {
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

