import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { pino } from 'pino';
import { blobId, createAccount, createEntry, Device, encodeBlobChunk, encodeCard, Kind, newDeviceKeys, openDoc, possessionProof, type Entry } from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { ProviderLink, register, type WebSocketFactory } from '@freehold/client';
import { serve, type RunningServer, type ServeOptions } from '@freehold/server';

export const WS = WebSocket as unknown as WebSocketFactory;
export const PG_URL = process.env.FREEHOLD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `freehold-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startServer(opts: Partial<ServeOptions> & { data?: string }): Promise<RunningServer> {
  return serve({ port: 0, host: '127.0.0.1', quota: 1 << 30, logger: pino({ level: 'silent' }), ...opts });
}

/** A second device of the account, with the account's log as it is now. */
export async function secondDevice(d: Device, dir: string): Promise<Device> {
  const keys = newDeviceKeys();
  await d.addDevice({ sign: keys.sign.publicKey, box: keys.box.publicKey, name: 'phone', proof: possessionProof(d.account, keys) });
  const store = new SqliteStore(join(dir, `phone-${Math.random().toString(36).slice(2)}.db`));
  await store.putCard(d.account, encodeCard(d.identity()));
  return Device.open(store, keys, d.account);
}

export async function newDevice(dir: string, name: string): Promise<Device> {
  const store = new SqliteStore(join(dir, `${name}-${Math.random().toString(36).slice(2)}.db`));
  const acct = createAccount(`${name}'s laptop`, Date.now());
  await store.putCard(acct.state.account, encodeCard(acct.state));
  return Device.open(store, acct.device, acct.state.account);
}

/** A blob chunk holding all of `bytes`, as every device that reads a blob entry checks it to be. */
export const chunkOf = (bytes: Uint8Array): Uint8Array => encodeBlobChunk({ blob: blobId(bytes), offset: 0, size: bytes.length, bytes });

/** Signed entries in a public space, continuing the device's chain (fast: no encryption). */
export async function blobEntries(d: Device, space: Uint8Array, count: number): Promise<Entry[]> {
  const basis = (await d.replica.graph(space)).latest!.entryId;
  let seq = (await d.store.maxSeq(d.id)) + 1;
  let prev = (await d.store.idBySeq(d.id, seq - 1))!;
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const p = chunkOf(new TextEncoder().encode(`entry ${i} ${'x'.repeat(100)}`));
    const e = createEntry({ kind: Kind.blob, space, doc: new Uint8Array(16), device: d.id, seq: seq++, prev, basis, time: Date.now() }, d.keys.sign, p.length, () => p);
    prev = e.id;
    out.push(e);
  }
  return out;
}

/** `freehold provider add`, as a library call. */
export async function join_(device: Device, url: string): Promise<void> {
  await device.setProviders([...device.identity().providers, url]);
  await register(url, device);
}

export async function syncWith(device: Device, url: string, interest: Uint8Array[] = []) {
  const link = await ProviderLink.connect(url, device, WS);
  try {
    const rejected: [number, string, string][] = [];
    const r = await link.sync(device, { interest, onAck: (_n, rej) => rejected.push(...rej) });
    return { ...r, rejected };
  } finally {
    link.close();
  }
}

export async function put(d: Device, space: Uint8Array, doc: string, fields: Record<string, unknown>) {
  const h = await openDoc(d, space, doc);
  h.merge(fields);
  return (await h.flush())!;
}

export async function get(d: Device, space: Uint8Array, doc: string) {
  return (await openDoc(d, space, doc)).toJSON();
}

export async function until<T>(f: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
