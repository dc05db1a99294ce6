import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { createEntry, Kind, randomBytes, type EntryRow } from '@freehold/core';
import { Profile } from '../src/profile.js';

export const BIN = fileURLToPath(new URL('../bin/freehold.cjs', import.meta.url));

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** `freehold ARGS --home ROOT/HOME`, each a process of its own, as a person runs them. */
export function cli(root: string) {
  const args = (a: string[], home?: string) => [BIN, ...a, ...(home ? ['--home', join(root, home)] : [])];
  const fh = (a: string[], home?: string, input?: string): Run => {
    const r = spawnSync(process.execPath, args(a, home), { input, encoding: 'utf8', cwd: root });
    return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
  };
  const ok = (a: string[], home?: string): string => {
    const r = fh(a, home);
    expect(r.code, `freehold ${a.join(' ')}: ${r.err}`).toBe(0);
    return r.out;
  };
  /** Delivery between providers is asynchronous: asks again, as a person would, until the output shows `want`. */
  const eventually = async (a: string[], home: string, want: RegExp, ms = 30_000): Promise<string> => {
    const end = Date.now() + ms;
    for (;;) {
      const out = ok(a, home);
      if (want.test(out) || Date.now() > end) return out;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  /** Started without waiting, to be killed or awaited. */
  const start = (a: string[], home?: string) => {
    const child = spawn(process.execPath, args(a, home), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<Run>((r) => child.on('exit', (code) => r({ code: code ?? -1, out: out.trim(), err: err.trim() })));
    return { child, done, out: () => out };
  };
  /** Like fh without blocking this process: for tests whose providers run in it. */
  const run = (a: string[], home?: string): Promise<Run> => start(a, home).done;
  const okAsync = async (a: string[], home?: string): Promise<string> => {
    const r = await run(a, home);
    expect(r.code, `freehold ${a.join(' ')}: ${r.err}`).toBe(0);
    return r.out;
  };
  return { fh, ok, eventually, start, run, okAsync };
}

/** The account id of a profile. */
export const accountOf = (ok: (a: string[], home?: string) => string, home: string): string => (JSON.parse(ok(['whoami', '--json'], home)) as { account: string }).account;

/**
 * Puts `count` entries in a new private space of the profile at `home` (opened here, so no command may run on it
 * meanwhile), signed by its device: random payloads, as ciphertext looks to a provider. Returns how many entries
 * its account's spaces then hold.
 */
export async function fill(home: string, count: number): Promise<number> {
  const p = await Profile.open(home);
  try {
    const d = p.device;
    const space = await d.createSpace(false);
    const basis = (await d.store.spaceEntries(space))[0]!.id;
    let seq = (await d.store.maxSeq(d.id)) + 1;
    let prev = (await d.store.idBySeq(d.id, seq - 1))!;
    const rows: EntryRow[] = [];
    for (let i = 0; i < count; i++) {
      const payload = randomBytes(160);
      const e = createEntry({ kind: Kind.update, space, doc: randomBytes(16), device: d.id, seq: seq++, prev, basis, time: Date.now() }, d.keys.sign, payload.length, () => payload);
      prev = e.id;
      rows.push({ id: e.id, space, doc: e.doc, kind: e.kind, device: e.device, seq: e.seq, time: e.time, bytes: e.bytes });
    }
    await d.store.putEntries(rows);
    let held = 0;
    for (const n of await d.store.spacesOf(d.account)) if (n.creator) held += (await d.store.keys(n.space)).length;
    return held;
  } finally {
    await p.close();
  }
}
