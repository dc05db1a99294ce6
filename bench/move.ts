import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount, createEntry, encodeFrame, Kind, type EntryRow } from '@freehold/core';
import { ProviderLink, register } from '@freehold/client';
import { Profile } from '../packages/cli/src/profile.js';
import { freePort } from '../test-support/net.js';
import { CountingProxy } from './peers/proxy.js';
import { chunk, cpuMs, profile, pushAll, startServer, WS, type Server } from './server.js';
import { debug, entriesAt, until } from './federation-live.js';
import { median, type Row } from './table.js';

const BIN = fileURLToPath(new URL('../packages/cli/bin/freehold.cjs', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'freehold-bench-move-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));

/**
 * `spaces` private spaces of `docs` documents with `perDoc` entries each, signed by the profile's device and put
 * in its replica: what a device holds. Payloads are random bytes of `size`, as ciphertext looks to a provider
 * (which never decrypts); the device does not read them back here.
 */
async function privateAccount(p: Profile, spaces: number, docs: number, perDoc: number, size = 200): Promise<EntryRow[]> {
  const d = p.device;
  for (let s = 0; s < spaces; s++) await d.createSpace(false);
  let seq = (await d.store.maxSeq(d.id)) + 1;
  let prev = (await d.store.idBySeq(d.id, seq - 1))!;
  const rows: EntryRow[] = [];
  for (const space of await d.store.spaces()) {
    const create = (await d.store.spaceEntries(space))[0]!;
    rows.push(create);
    for (let doc = 0; doc < docs; doc++) {
      const id = randomBytes(16);
      for (let i = 0; i < perDoc; i++) {
        const payload = randomBytes(size);
        const e = createEntry({ kind: Kind.update, space, doc: id, device: d.id, seq: seq++, prev, basis: create.id, time: Date.now() }, d.keys.sign, size, () => payload);
        prev = e.id;
        rows.push({ id: e.id, space, doc: e.doc, kind: e.kind, device: e.device, seq: e.seq, time: e.time, bytes: e.bytes });
      }
    }
  }
  await d.store.putEntries(rows.filter((r) => r.kind !== Kind.membership));
  return rows;
}

/** A provider whose public URL is a counting relay, so what others exchange with it is counted. */
async function relayed(): Promise<{ server: Server; proxy: CountingProxy; url: string }> {
  const port = await freePort();
  const proxy = await CountingProxy.start(port);
  const url = `http://127.0.0.1:${proxy.port}`;
  const server = await startServer('sqlite', ['--port', String(port), '--public-url', url], (line) => {
    if (process.env.FREEHOLD_BENCH_DEBUG && (process.env.FREEHOLD_BENCH_DEBUG === 'all' || !/"level":30/.test(line))) console.log(`${url} ${line.slice(0, 600)}`);
  });
  return { server, proxy, url };
}

interface MoveResult {
  ms: number;
  wire: number;
  entryBytes: number;
  entries: number;
  /** CPU each process spent during the move, in ms. */
  cpu: { from: number; to: number; cli: number };
}

/**
 * An account holding `spaces` × `docs` documents of `perDoc` entries on FROM moves to TO with `freehold provider
 * move` (a process of its own, as a person runs it). Time is the command's, start to exit; bytes are everything
 * FROM and TO exchanged with anyone meanwhile (the device and each other), counted at relays standing for them.
 */
export async function moveAccount(spaces = 10, docs = 1000, perDoc = 10): Promise<MoveResult> {
  const from = await relayed();
  const to = await relayed();
  const home = join(dataDir, `home-${Date.now()}`);
  const acct = createAccount('bench', Date.now());
  const p = await Profile.create(home, acct.state.account, acct.device, 'bench');
  try {
    await p.device.replica.commitIdentity(acct.state);
    await p.device.setProviders([from.url]);
    await register(from.url, p.device);
    const rows = await privateAccount(p, spaces, docs, perDoc);
    const links = await Promise.all(Array.from({ length: 4 }, () => ProviderLink.connect(from.url, p.device, WS)));
    const frames = (list: EntryRow[]) => chunk(list, 100).map((c) => ({ bytes: encodeFrame(['entries', c.map((r) => r.bytes)]) }));
    await pushAll(links[0]!, frames(rows.filter((r) => r.kind === Kind.membership)));
    const rest = frames(rows.filter((r) => r.kind !== Kind.membership));
    const share = Math.ceil(rest.length / links.length);
    await Promise.all(links.map((l, i) => pushAll(l, rest.slice(i * share, (i + 1) * share))));
    for (const l of links) l.close();
    await until('FROM to hold the account', async () => (await entriesAt(from.url)) >= rows.length, 120_000);
    await p.close();
    await Promise.all([from.proxy.quiet(1000), to.proxy.quiet(1000)]);
    from.proxy.reset();
    to.proxy.reset();
    debug(`moving ${rows.length} entries`);
    const t = performance.now();
    const cpu0 = { from: from.server.cpuMs(), to: to.server.cpuMs() };
    let cli = 0;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [...profile, BIN, 'provider', 'move', from.url, to.url, '--json', '--home', home], { stdio: ['ignore', 'pipe', 'inherit'] });
      // Read while it runs: a process that has exited has no /proc entry left to read.
      const sample = setInterval(() => (cli = cpuMs(child.pid!)), 100);
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('exit', (code) => {
        clearInterval(sample);
        if (code === 0) resolve(text);
        else reject(new Error(`provider move exited ${code}: ${text}`));
      });
    });
    const ms = performance.now() - t;
    const cpu = { from: from.server.cpuMs() - cpu0.from, to: to.server.cpuMs() - cpu0.to, cli };
    const report = JSON.parse(out) as { spaces: { complete: boolean }[] };
    if (!report.spaces.every((s) => s.complete)) throw new Error('move bench: the move finished without every space verified');
    await Promise.all([from.proxy.quiet(1000), to.proxy.quiet(1000)]);
    return { ms, wire: from.proxy.bytes + to.proxy.bytes, entryBytes: rows.reduce((n, r) => n + r.bytes.length, 0), entries: rows.length, cpu };
  } finally {
    for (const r of [from, to]) {
      await r.server.stop();
      await r.proxy.close();
    }
  }
}


/** Medians of three moves. */
export async function moveBench(): Promise<Row[]> {
  const runs: MoveResult[] = [];
  for (let i = 0; i < 3; i++) runs.push(await moveAccount());
  const r = runs[0]!;
  const perEntry = (ms: number[]) => `${((median(ms) * 1000) / r.entries).toFixed(0)} µs an entry`;
  const what = `move an account of ${r.entries.toLocaleString('en')} entries in 10k documents between two providers`;
  return [
    { name: `${what}: time (\`freehold provider move\`, start to exit)`, value: median(runs.map((x) => x.ms)), unit: 'ms', target: '≤ 15 s', lowerIsBetter: true },
    {
      name: `${what}: bytes on the wire (FROM's and TO's, with the device and each other)`,
      value: median(runs.map((x) => x.wire)) / 2 ** 20,
      unit: ' MiB',
      baselineName: "the entries' own bytes",
      baseline: r.entryBytes / 2 ** 20,
      target: '≤ 1.30',
      lowerIsBetter: true,
    },
    {
      name: `${what}: CPU during the move, TO / FROM / the command`,
      value: median(runs.map((x) => x.cpu.to)),
      unit: 'ms',
      note: `TO ${perEntry(runs.map((x) => x.cpu.to))}, FROM ${perEntry(runs.map((x) => x.cpu.from))}, the command ${perEntry(runs.map((x) => x.cpu.cli))}`,
    },
  ];
}
